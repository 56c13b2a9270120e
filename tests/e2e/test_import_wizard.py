"""The lead import wizard in a real browser (Debian Chromium), on the samples committed
under tests/data/: a semicolon CSV in Windows-1252, a two-sheet XLSX and a headerless
pipe-delimited TXT. Each file goes through upload → preview (encoding, sheet or
delimiter chosen in the page) → column mapping → validation summary → duplicate
strategy → import with the live progress bar → report → rejected rows downloaded as
CSV; the leads are then read back from the database. A real Dramatiq worker (Redis
broker, in a thread of this process) runs the jobs; it is started only once the page
shows the queued job, so the page has to update itself to show the result. Bad files
get their message on the upload page and write nothing. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import csv
import pathlib
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import Session
from app.leads.models import Lead, LeadList
from tenants.scoping import tenant_scope
from tests.e2e.conftest import shot
from tests.leads.conftest import make_lists

pytestmark = pytest.mark.browser

DATA = pathlib.Path(__file__).resolve().parent.parent / "data"
E164 = re.compile(r"^\+[1-9]\d{7,14}$")


class ImportWorker:
    """A Dramatiq worker on the ``imports`` queue, started and stopped by the test."""

    def __init__(self) -> None:
        import dramatiq

        import jobs  # noqa: F401  (the broker and every actor)

        self.broker = dramatiq.get_broker()
        for queue in list(self.broker.get_declared_queues()):
            self.broker.flush(queue)
        self._worker = None

    def start(self) -> None:
        import dramatiq

        if self._worker is None:
            self._worker = dramatiq.Worker(self.broker, queues={"imports"}, worker_timeout=100, worker_threads=1)
            self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None


@pytest.fixture()
def import_worker():
    worker = ImportWorker()
    yield worker
    worker.stop()


@pytest.fixture()
def import_dir(tmp_path, monkeypatch):
    path = tmp_path / "imports"
    monkeypatch.setenv("LEADS_IMPORT_DIR", str(path))
    return path


@pytest.fixture()
def contacts(world, owner_engine):
    """Tenant A: a campaign with two lists, and one known contact in a third list of
    the same campaign (Dubœuf, +33 6 98 76 54 32, no email). Tenant B has a contact
    with a phone of the CSV: it must not count as a duplicate for tenant A."""
    setup = make_lists(world.a.id, "A")
    make_lists(world.b.id, "B")
    with tenant_scope(world.a.id):
        older = LeadList(campaign_id=setup.campaign_id, name="A fichier 2025")
        Session.add(older)
        Session.flush()
        Session.add(Lead(list_id=older.id, last_name="Dubœuf", first_name="Noël", phone_number="+33698765432",
                         vendor_lead_code="OLD-1"))
        Session.commit()
    with tenant_scope(world.b.id):
        b_list = Session.scalars(sa.select(LeadList)).first()
        Session.add(Lead(list_id=b_list.id, last_name="Autre", first_name="Client", phone_number="+33612345678",
                         vendor_lead_code="B-1"))
        Session.commit()
    return setup


def _login(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")


def _upload(page, base: str, list_id: int, sample: str) -> None:
    page.goto(f"{base}/leads/lists/{list_id}")
    page.click(f"a[href='/leads/lists/{list_id}/import']")
    page.wait_for_url(re.compile(rf".*/leads/lists/{list_id}/import$"))
    page.set_input_files("#import-file", str(DATA / sample))
    with page.expect_navigation():
        page.click("main form button[type=submit]")


def _refresh(page, selector: str, value: str) -> None:
    """Changes a preview setting; the form is swapped in place by HTMX."""
    with page.expect_response(lambda r: r.request.method == "POST" and "/mapping" in r.url):
        page.select_option(selector, value)
    # the response is in, but HTMX swaps and settles after it: a change made meanwhile
    # would land on the outgoing form (seen once under load: no request followed)
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)
    page.wait_for_selector(f"{selector} >> nth=0")


def _preview_text(page) -> str:
    return page.inner_text("#mapping-form table")


def _mapping(page) -> list[str]:
    return page.eval_on_selector_all("#mapping-form select[name^=col_]", "els => els.map(e => e.value)")


def _watch_page(page) -> None:
    """Marks the document (a reload would lose the mark) and records every value the
    progress bar shows while HTMX swaps the status in place."""
    page.evaluate("""() => {
        window.__sameDocument = true;
        window.__progress = [];
        const record = () => {
            const bar = document.querySelector('#import-status [role=progressbar]');
            if (bar) window.__progress.push(Number(bar.getAttribute('aria-valuenow')));
        };
        record();
        new MutationObserver(record).observe(document.body, {subtree: true, childList: true, attributes: true});
    }""")


def _stats(page, testid: str) -> list[int]:
    return [int(v.replace("\u202f", "").replace(" ", ""))
            for v in page.locator(f"[data-testid={testid}] .stat-value").all_inner_texts()]


def _validate(page, worker: ImportWorker, name: str) -> list[int]:
    """Clicks "check the file", sees the job waiting, lets the worker run it and
    waits for the summary to replace the progress bar. Returns the summary figures:
    rows, new, already known, duplicates in the file, invalid."""
    with page.expect_navigation():
        page.click("#mapping-form button[name=step][value=validate]")
    page.wait_for_selector("#import-status[data-status=validating] [role=progressbar]")
    _watch_page(page)
    shot(page, f"import_{name}_validating")
    worker.start()
    page.wait_for_selector("[data-testid=import-summary]", timeout=60_000)
    worker.stop()
    assert page.evaluate("window.__sameDocument") is True  # swapped by HTMX, not reloaded
    shot(page, f"import_{name}_summary")
    return _stats(page, "import-summary")


def _run(page, worker: ImportWorker, strategy: str, name: str) -> tuple[list[int], list[int]]:
    """Chooses the duplicate strategy, starts the import, watches the progress bar
    until the report. Returns the report figures (rows, added, updated, rejected) and
    the progress values the bar showed."""
    page.select_option("#s-strategy", strategy)
    page.click("[data-testid=import-summary] button[type=submit]")
    page.wait_for_selector("#import-status[data-status=queued] [role=progressbar]")
    _watch_page(page)
    shot(page, f"import_{name}_progress")
    worker.start()
    page.wait_for_selector("[data-testid=import-report]", timeout=60_000)
    worker.stop()
    assert page.evaluate("window.__sameDocument") is True
    shown = page.evaluate("window.__progress")
    shot(page, f"import_{name}_report")
    return _stats(page, "import-report"), shown


def _rejects(page, tmp_path: pathlib.Path, name: str) -> list[list[str]]:
    with page.expect_download() as info:
        page.click("[data-testid=import-report] a[href$='rejects.csv']")
    download = info.value
    assert re.fullmatch(r"rejets-import-\d+\.csv", download.suggested_filename)
    path = tmp_path / f"{name}-rejects.csv"
    download.save_as(path)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


def _leads(owner_engine, list_id: int) -> dict[str, dict]:
    with owner_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM leads WHERE list_id = :l"), {"l": list_id}).mappings().all()
    return {row["last_name"]: dict(row) for row in rows}


def test_import_wizard_csv_xlsx_txt(live_server, browser_page, world, contacts, import_worker, import_dir,
                                    owner_engine, tmp_path):
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _login(page, live_server, world.a.users["manager"].email, world.password)

    # ---- CSV: semicolons, Windows-1252, French accents, CRLF
    _upload(page, live_server, contacts.list_id, "contacts_semicolon_cp1252.csv")
    assert re.search(r"/leads/imports/\d+/mapping$", page.url)
    assert page.input_value("#m-encoding") == "windows-1252"
    assert page.input_value("#m-delimiter") == ";"
    assert page.input_value("#m-header") == "1"
    assert "Cœur" in _preview_text(page) and "L’Atelier Crème" in _preview_text(page)
    shot(page, "import_csv_mapping")
    # the wrong encoding garbles the accents; the detected one brings them back
    _refresh(page, "#m-encoding", "iso-8859-1")
    assert "Cœur" not in _preview_text(page) and "Hélène" in _preview_text(page)
    _refresh(page, "#m-encoding", "windows-1252")
    assert "Cœur" in _preview_text(page)
    assert _mapping(page) == ["last_name", "first_name", "phone_number", "email", "postal_code", "city", "company"]
    assert page.is_checked("input[name=dedup_keys][value=phone]")

    rows, new, known, in_file, invalid = _validate(page, import_worker, "csv")
    assert (rows, new, known, in_file, invalid) == (8, 4, 1, 1, 2)
    assert page.locator("[data-testid=invalid-reasons] li").count() == 2  # too short, not a number
    assert page.locator("[data-testid=existing-keys] li").count() == 1  # by phone
    with owner_engine.connect() as conn:  # validation writes no lead
        assert conn.execute(sa.text("SELECT count(*) FROM leads WHERE list_id = :l"),
                            {"l": contacts.list_id}).scalar() == 0

    report, shown = _run(page, import_worker, "merge", "csv")
    assert report == [8, 4, 1, 3]  # rows, added, updated (merged), rejected
    assert shown and shown == sorted(shown)  # the bar was shown, never went backwards
    assert not page.locator("#import-status[hx-trigger]").count()  # polling stopped at the end
    rejects = _rejects(page, tmp_path, "csv")
    assert rejects[0][:3] == ["line", "reason", "phone_number"]
    assert [(r[0], r[2]) for r in rejects[1:]] == [("5", "+33645678901"), ("6", "12"), ("7", "pas de numéro")]
    # reasons in words, in the French of the page
    assert [r[1] for r in rejects[1:]] == ["doublon dans le fichier (téléphone)", "téléphone : trop court",
                                           "téléphone : pas un numéro"]
    assert {"Faure", "Mercier", "Rousseau"} == {r[rejects[0].index("last_name")] for r in rejects[1:]}

    leads = _leads(owner_engine, contacts.list_id)
    assert {name: lead["phone_number"] for name, lead in leads.items()} == {
        "Cœur": "+33612345678", "Lefèvre": "+33645678901", "Garçon": "+33142685300", "Bonnet": "+33781223344"}
    assert leads["Cœur"]["first_name"] == "Anaïs" and leads["Cœur"]["company"] == "L’Atelier Crème"
    assert leads["Bonnet"]["email"] == "celine.bonnet@example.fr" and leads["Bonnet"]["postal_code"] == "67000"
    with owner_engine.connect() as conn:
        merged = conn.execute(sa.text("SELECT * FROM leads WHERE vendor_lead_code = 'OLD-1'")).mappings().one()
        other_tenant = conn.execute(sa.text("SELECT * FROM leads WHERE vendor_lead_code = 'B-1'")).mappings().one()
    # merge: the known contact keeps its list and gains the file's email and postal code
    assert merged["list_id"] != contacts.list_id
    assert (merged["email"], merged["postal_code"], merged["city"]) == ("noel.duboeuf@example.fr", "13001", "Marseille")
    assert (other_tenant["tenant_id"], other_tenant["last_name"]) == (world.b.id, "Autre")

    # ---- XLSX with two sheets: the contacts are on the second one
    _upload(page, live_server, contacts.list_id, "contacts.xlsx")
    assert page.input_value("#m-sheet") == "Notes"
    assert "Ce classeur contient" in _preview_text(page)
    _refresh(page, "#m-sheet", "Contacts")
    assert "Élodie" in _preview_text(page) and "Ce classeur" not in _preview_text(page)
    assert page.input_value("#m-header") == "1"
    # the list's last mapping, by column name
    assert _mapping(page) == ["last_name", "first_name", "phone_number", "email", "postal_code", "city"]
    shot(page, "import_xlsx_mapping")
    rows, new, known, in_file, invalid = _validate(page, import_worker, "xlsx")
    # Martin and Petit have the phones of Cœur and Bonnet imported above
    assert (rows, new, known, in_file, invalid) == (4, 1, 2, 0, 1)
    report, _shown = _run(page, import_worker, "ignore", "xlsx")
    assert report == [4, 1, 0, 3]
    rejects = _rejects(page, tmp_path, "xlsx")
    assert [(r[0], r[2]) for r in rejects[1:]] == [("1", "+33612345678"), ("3", "+33781223344"), ("4", "12")]
    assert [r[1] for r in rejects[1:]] == ["déjà en base (téléphone), ignoré"] * 2 + ["téléphone : trop court"]
    leads = _leads(owner_engine, contacts.list_id)
    assert leads["Bernard"]["phone_number"] == "+33612345679" and leads["Bernard"]["first_name"] == "Loïc"
    assert "Martin" not in leads and leads["Cœur"]["email"] == "anais.coeur@example.fr"  # ignored, untouched

    # ---- TXT without a header, pipe-delimited, into the second list
    _upload(page, live_server, contacts.other_list_id, "contacts_pipe_noheader.txt")
    assert page.input_value("#m-delimiter") == "|"
    assert page.input_value("#m-header") == "0"
    assert _mapping(page) == ["", "", "", "", ""]  # no header, no earlier import: mapped by hand
    _refresh(page, "#m-delimiter", "tab")
    assert page.locator("#mapping-form select[name^=col_]").count() == 1
    _refresh(page, "#m-delimiter", "|")
    assert page.locator("#mapping-form select[name^=col_]").count() == 5
    # checking with no phone mapped: the error sits on the form, nothing is queued
    page.select_option("#col-0", "last_name")
    with page.expect_navigation():
        page.click("#mapping-form button[name=step][value=validate]")
    assert page.locator("#mapping-form [role=alert]").is_visible()
    for index, field in enumerate(("last_name", "first_name", "phone_number", "postal_code", "email")):
        page.select_option(f"#col-{index}", field)
    shot(page, "import_txt_mapping")
    rows, new, known, in_file, invalid = _validate(page, import_worker, "txt")
    assert (rows, new, known, in_file, invalid) == (5, 3, 0, 1, 1)
    report, _shown = _run(page, import_worker, "replace", "txt")
    assert report == [5, 3, 0, 2]
    rejects = _rejects(page, tmp_path, "txt")
    assert [(r[0], r[2]) for r in rejects[1:]] == [("3", "numéro inconnu"), ("4", "+33611111111")]
    leads = _leads(owner_engine, contacts.other_list_id)
    assert {name: lead["phone_number"] for name, lead in leads.items()} == {
        "Moreau": "+33611111111", "Simon": "+33622222222", "Roux": "+32470123456"}
    assert all(E164.match(lead["phone_number"]) for lead in leads.values())
    assert leads["Roux"]["first_name"] == "Chloé" and leads["Roux"]["email"] == "chloe.roux@example.be"

    # the next file into this list gets the same mapping back, by column position
    _upload(page, live_server, contacts.other_list_id, "contacts_pipe_noheader.txt")
    assert _mapping(page) == ["last_name", "first_name", "phone_number", "postal_code", "email"]

    # the list screen shows the imported contacts in national format
    page.goto(f"{live_server}/leads/lists/{contacts.list_id}")
    assert "06 12 34 56 78" in page.inner_text("#lead-rows")
    shot(page, "import_list_after")

    # the directory finds an imported contact by phone in another format, and its
    # email is corrected in place (HTMX swaps the row; a bad phone is refused)
    page.goto(f"{live_server}/leads/contacts")
    with page.expect_response(lambda r: "/leads/contacts?" in r.url):
        page.fill("#q", "+33 6 45 67 89 01")
    row = page.locator("#contact-rows tbody tr").first
    assert "Lefèvre" in row.inner_text()
    row.locator("button").click()
    page.wait_for_selector("#contact-rows tr.is-editing input[name=email]")
    page.fill("#contact-rows tr.is-editing input[name=phone_number]", "12")
    page.click("#contact-rows tr.is-editing button[type=submit]")
    page.wait_for_selector("#contact-rows tr.is-editing [role=alert]")
    page.fill("#contact-rows tr.is-editing input[name=phone_number]", "06 45 67 89 01")
    page.fill("#contact-rows tr.is-editing input[name=email]", "helene.lefevre@exemple.fr")
    page.click("#contact-rows tr.is-editing button[type=submit]")
    page.wait_for_selector("#contact-rows tr:not(.is-editing) >> text=helene.lefevre@exemple.fr")
    shot(page, "contacts_quick_edit")
    assert _leads(owner_engine, contacts.list_id)["Lefèvre"]["email"] == "helene.lefevre@exemple.fr"
    assert errors == []


@pytest.mark.parametrize("sample", ["empty.csv", "binary_renamed.csv"])
def test_import_wizard_refuses_bad_files(live_server, browser_page, world, contacts, import_worker, import_dir,
                                         owner_engine, sample):
    page = browser_page
    _login(page, live_server, world.a.users["manager"].email, world.password)
    with owner_engine.connect() as conn:
        before = conn.execute(sa.text("SELECT (SELECT count(*) FROM leads), (SELECT count(*) FROM lead_imports)")).one()
    _upload(page, live_server, contacts.list_id, sample)
    alert = page.locator("main [role=alert]")
    assert alert.is_visible()
    message = alert.inner_text().strip()
    expected = {"empty.csv": ("vide", "empty"), "binary_renamed.csv": ("CSV, TXT, XLSX", "CSV, TXT, XLSX")}[sample]
    assert any(word in message for word in expected), message
    assert page.get_attribute("#import-file", "aria-invalid") == "true"
    assert page.url.endswith(f"/leads/lists/{contacts.list_id}/import")  # still on the upload step
    shot(page, f"import_refused_{sample.replace('.', '_')}")
    with owner_engine.connect() as conn:
        after = conn.execute(sa.text("SELECT (SELECT count(*) FROM leads), (SELECT count(*) FROM lead_imports)")).one()
    assert tuple(after) == tuple(before)
    assert not [p for p in import_dir.rglob("*") if p.is_file()]  # the upload was not kept either
