"""The screens through the test client: the import wizard end to end (the jobs run as
the worker would), list management, directory, contact page, red list, GDPR."""

import io
import re

import pytest
import sqlalchemy as sa

from app.extensions import Session
from app.leads import tasks
from app.leads.models import ImportJob, ImportStatus, Lead, RedListEntry
from tenants.scoping import tenant_scope
from tests.factories import csrf_from, login
from tests.leads.helpers import DATA, import_file


@pytest.fixture()
def queued(monkeypatch):
    """Messages the views send, run by hand in the tests (no worker)."""
    sent = []
    monkeypatch.setattr(tasks.validate_import, "send", lambda import_id: sent.append(("validate", import_id)))
    monkeypatch.setattr(tasks.run_import, "send", lambda import_id: sent.append(("run", import_id)))
    return sent


def run_jobs(sent, tenant_id):
    with tenant_scope(tenant_id):
        while sent:
            kind, import_id = sent.pop(0)
            (tasks.validate_import if kind == "validate" else tasks.run_import).fn(import_id)
            Session.commit()


def admin_client(client, world, tenant="a", role="manager"):
    """Logs in the tenant's manager (MANAGE_LEADS and EXPORT_DATA)."""
    login(client, getattr(world, tenant).users[role].email, world.password)
    token = csrf_from(client.get("/leads/lists").get_data(as_text=True))
    return token


def test_wizard_end_to_end(client, world, lists, queued):
    token = admin_client(client, world)
    list_id = lists["a"].list_id
    page = client.get(f"/leads/lists/{list_id}/import")
    assert page.status_code == 200
    with open(DATA / "contacts_semicolon_utf8.csv", "rb") as handle:
        response = client.post(f"/leads/lists/{list_id}/import", data={"csrf_token": token, "file": (handle, "c.csv")},
                               content_type="multipart/form-data")
    assert response.status_code == 302
    mapping_url = response.headers["Location"]
    page = client.get(mapping_url).get_data(as_text=True)
    assert "Élodie" in page and 'value="phone_number" selected' in page
    # an HTMX refresh (delimiter changed) returns only the form block
    fragment = client.post(mapping_url, data={"csrf_token": token, "delimiter": ";", "has_header": "1"},
                           headers={"HX-Request": "true", "HX-Target": "mapping-form"}).get_data(as_text=True)
    assert fragment.lstrip().startswith("<form") and "<html" not in fragment
    form = {"csrf_token": token, "step": "validate", "has_header": "1", "strategy": "ignore", "dedup_keys": "phone",
            "dedup_scope": "campaign", "col_0": "last_name", "col_1": "first_name", "col_2": "phone_number",
            "col_3": "email", "col_4": "postal_code", "col_5": "city", "col_6": "company"}
    response = client.post(mapping_url, data=form)
    assert response.status_code == 302
    status_url = response.headers["Location"]
    assert "every 1s" in client.get(status_url).get_data(as_text=True)  # polling while validating
    run_jobs(queued, world.a.id)
    page = client.get(status_url).get_data(as_text=True)
    assert "every 1s" not in page and "Import" in page
    import_id = int(status_url.rstrip("/").split("/")[-1])
    assert client.post(f"/leads/imports/{import_id}/start", data={"csrf_token": token, "strategy": "ignore"}).status_code == 302
    run_jobs(queued, world.a.id)
    page = client.get(status_url).get_data(as_text=True)
    assert "rejects.csv" in page
    rejects = client.get(f"/leads/imports/{import_id}/rejects.csv").get_data(as_text=True)
    assert "12" in rejects and len(rejects.strip().splitlines()) == 5
    listing = client.get(f"/leads/lists/{list_id}").get_data(as_text=True)
    assert "Martin" in listing and "06 12 34 56 78" in listing
    assert f"/leads/imports/{import_id}" in listing  # the list's recent imports


def test_wizard_refuses_bad_files_and_mappings(client, world, lists, owner_engine, queued):
    token = admin_client(client, world)
    list_id = lists["a"].list_id
    for name in ("empty.csv", "binary_renamed.csv", "merged_cells.xlsx"):
        with open(DATA / name, "rb") as handle:
            response = client.post(f"/leads/lists/{list_id}/import", data={"csrf_token": token, "file": (handle, name)},
                                   content_type="multipart/form-data")
        assert response.status_code == 400
        assert 'role="alert"' in response.get_data(as_text=True)
    with open(DATA / "two_columns.csv", "rb") as handle:
        response = client.post(f"/leads/lists/{list_id}/import", data={"csrf_token": token, "file": (handle, "t.csv")},
                               content_type="multipart/form-data")
    mapping_url = response.headers["Location"]
    response = client.post(mapping_url, data={"csrf_token": token, "step": "validate", "has_header": "1",
                                              "col_0": "city", "col_1": "postal_code", "strategy": "ignore",
                                              "dedup_keys": "phone", "dedup_scope": "campaign"})
    assert response.status_code == 400
    assert "Map a column to the phone number" in response.get_data(as_text=True) or "téléphone" in response.get_data(as_text=True)
    assert queued == []
    with owner_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM leads")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM lead_imports")).scalar() == 1


def test_lists_filters_bulk_and_exports(client, world, lists):
    import_file(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    token = admin_client(client, world)
    list_id = lists["a"].list_id
    page = client.get(f"/leads/lists/{list_id}?postal_code=750").get_data(as_text=True)
    assert "Martin" in page and "Bernard" not in page and "Acmé" in page
    with tenant_scope(world.a.id):
        ids = list(Session.scalars(sa.select(Lead.id).order_by(Lead.id)))
        Session.commit()
    response = client.post(f"/leads/lists/{list_id}/bulk", data={
        "csrf_token": token, "action": "assign", "assign_agent_id": world.a.users["agent"].id, "ids": [ids[0], ids[1]]})
    assert response.status_code == 302
    page = client.get(f"/leads/lists/{list_id}?agent_id={world.a.users['agent'].id}").get_data(as_text=True)
    assert "Bernard" in page and "Petit" not in page
    response = client.post(f"/leads/lists/{list_id}/bulk", data={
        "csrf_token": token, "action": "move", "target_list_id": lists["a"].other_list_id, "scope": "all",
        "postal_code": "13"})
    assert response.status_code == 302
    with tenant_scope(world.a.id):
        moved = Session.scalar(sa.select(Lead).where(Lead.last_name == "Petit"))
        assert moved.list_id == lists["a"].other_list_id
        Session.commit()
    csv_export = client.post(f"/leads/lists/{list_id}/bulk", data={"csrf_token": token, "action": "export_csv",
                                                                   "scope": "all"})
    assert csv_export.mimetype == "text/csv"
    assert csv_export.get_data(as_text=True).count("\n") == 4  # header + 3 leads left in the list
    xlsx_export = client.post(f"/leads/lists/{list_id}/bulk", data={"csrf_token": token, "action": "export_xlsx",
                                                                    "ids": [ids[0]]})
    assert xlsx_export.data[:2] == b"PK"
    response = client.post(f"/leads/lists/{list_id}/bulk", data={"csrf_token": token, "action": "delete",
                                                                 "ids": [ids[0]]})
    assert response.status_code == 302
    assert "Élodie" not in client.get(f"/leads/lists/{list_id}").get_data(as_text=True)
    response = client.post(f"/leads/lists/{list_id}/active", data={"csrf_token": token, "active": "0"})
    assert response.status_code == 302
    page = client.get("/leads/lists").get_data(as_text=True)
    # the badge follows the state (its French gender: tests/test_accounts.py)
    assert '<span class="badge badge-neutral">inactive</span>' in page
    client.post(f"/leads/lists/{list_id}/active", data={"csrf_token": token, "active": "1"})
    page = client.get("/leads/lists").get_data(as_text=True)
    assert '<span class="badge badge-success">active</span>' in page


def test_keyset_pagination(client, world, lists):
    with tenant_scope(world.a.id):
        Session.add_all([Lead(list_id=lists["a"].list_id, last_name=f"Nom{n:03d}", phone_number=f"+3361000{n:04d}",
                              vendor_lead_code=f"V{n}") for n in range(120)])
        Session.commit()
    admin_client(client, world)
    first = client.get(f"/leads/lists/{lists['a'].list_id}").get_data(as_text=True)
    assert "Nom000" in first and "Nom050" not in first and 'rel="next"' in first
    next_url = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = client.get(next_url).get_data(as_text=True)
    assert "Nom050" in second and "Nom000" not in second and 'rel="prev"' in second


def test_directory_and_contact_page(client, world, lists):
    import_file(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    token = admin_client(client, world)
    for query in ("06.12.34.56.78", "+33612345678", "elodie.martin@EXAMPLE.fr", "mart", "acmé"):
        page = client.get("/leads/contacts", query_string={"q": query}).get_data(as_text=True)
        assert ("Élodie" in page) or ("Acmé" in page), query
    with tenant_scope(world.a.id):
        lead_id = Session.scalar(sa.select(Lead.id).where(Lead.last_name == "Martin"))
        Session.commit()
    page = client.get(f"/leads/contacts/{lead_id}").get_data(as_text=True)
    assert "elodie.martin@example.fr" in page
    response = client.post(f"/leads/contacts/{lead_id}", data={"csrf_token": token, "city": "Lyon",
                                                               "phone_number": "07 81 00 00 01"})
    assert response.status_code == 302
    page = client.get(f"/leads/contacts/{lead_id}").get_data(as_text=True)
    assert "Lyon" in page and "city, phone_number" in page
    bad = client.post(f"/leads/contacts/{lead_id}", data={"csrf_token": token, "phone_number": "12"})
    assert bad.status_code == 400


def test_gdpr_export_oppose_erase(client, world, lists, owner_engine):
    import_file(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    token = admin_client(client, world)
    with tenant_scope(world.a.id):
        lead_id = Session.scalar(sa.select(Lead.id).where(Lead.last_name == "Martin"))
        Session.commit()
    data = client.get(f"/leads/contacts/{lead_id}/gdpr.json").get_json()
    assert data["records"][0]["phone_number"] == "+33612345678"
    assert "record" in client.get(f"/leads/contacts/{lead_id}/gdpr.csv").get_data(as_text=True)
    assert client.post(f"/leads/contacts/{lead_id}/oppose", data={"csrf_token": token}).status_code == 302
    with tenant_scope(world.a.id):
        assert Session.scalar(sa.select(RedListEntry.phone_number)) == "+33612345678"
        assert Session.get(Lead, lead_id, populate_existing=True).status == "DNC"
        Session.commit()
    assert client.post(f"/leads/contacts/{lead_id}/erase", data={"csrf_token": token}).status_code == 302
    with owner_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM leads WHERE phone_number = '+33612345678'")).scalar() == 0
        assert conn.execute(sa.text("SELECT erased_people FROM privacy_settings")).scalar() == 1


def test_redlist_screen(client, world, lists):
    token = admin_client(client, world)
    assert client.post("/leads/redlist/add", data={"csrf_token": token, "phone": "06 12 34 56 78",
                                                   "reason": "client"}).status_code == 302
    assert client.post("/leads/redlist/add", data={"csrf_token": token, "phone": "12"}).status_code == 302
    client.post("/leads/redlist/import", data={"csrf_token": token, "numbers": "0698765432\nbad\n",
                                               "campaign_id": lists["a"].campaign_id})
    page = client.get("/leads/redlist").get_data(as_text=True)
    assert "06 12 34 56 78" in page and "06 98 76 54 32" in page
    export = client.get("/leads/redlist/export.csv").get_data(as_text=True)
    assert "+33612345678" in export
    response = client.post("/leads/redlist/bloctel", data={
        "csrf_token": token, "file_date": "2026-11-01", "file": (io.BytesIO(b"0611111111\n0622222222\n"), "b.txt")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    assert "01/11/2026" in client.get("/leads/redlist").get_data(as_text=True)
    with tenant_scope(world.a.id):
        entry_id = Session.scalar(sa.select(RedListEntry.id).where(RedListEntry.phone_number == "+33612345678"))
        Session.commit()
    assert client.post(f"/leads/redlist/{entry_id}/delete", data={"csrf_token": token}).status_code == 302


def test_agents_cannot_open_contacts_screens(client, world, lists):
    login(client, world.a.users["agent"].email, world.password)
    for url in ("/leads/lists", f"/leads/lists/{lists['a'].list_id}", "/leads/contacts", "/leads/redlist"):
        assert client.get(url).status_code == 403


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_tenant_b_gets_404_on_every_tenant_a_id(client, world, lists, role):
    import_file(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    with tenant_scope(world.a.id):
        lead_id = Session.scalar(sa.select(Lead.id).order_by(Lead.id))
        import_id = Session.scalar(sa.select(ImportJob.id))
        entry = RedListEntry(phone_number="+33600000001")
        Session.add(entry)
        Session.flush()
        entry_id = entry.id
        Session.commit()
    token = admin_client(client, world, "b", role)
    list_id = lists["a"].list_id
    gets = [f"/leads/lists/{list_id}", f"/leads/lists/{list_id}/import", f"/leads/imports/{import_id}",
            f"/leads/imports/{import_id}/mapping", f"/leads/imports/{import_id}/rejects.csv",
            f"/leads/contacts/{lead_id}", f"/leads/contacts/{lead_id}/gdpr.json", f"/leads/contacts/{lead_id}/gdpr.csv"]
    for url in gets:
        assert client.get(url).status_code == 404, url
    posts = [f"/leads/lists/{list_id}/active", f"/leads/lists/{list_id}/bulk", f"/leads/lists/{list_id}/import",
             f"/leads/imports/{import_id}/mapping", f"/leads/imports/{import_id}/start", f"/leads/contacts/{lead_id}",
             f"/leads/contacts/{lead_id}/oppose", f"/leads/contacts/{lead_id}/erase", f"/leads/redlist/{entry_id}/delete"]
    for url in posts:
        assert client.post(url, data={"csrf_token": token, "action": "delete", "scope": "all"}).status_code == 404, url
    # B's own list may target A's list id in a bulk move: still 404
    response = client.post(f"/leads/lists/{lists['b'].list_id}/bulk", data={
        "csrf_token": token, "action": "move", "scope": "all", "target_list_id": list_id})
    assert response.status_code in (302, 404)
    # B's screens never show A's rows
    import_file(world.b.id, lists["b"].list_id, "contacts_tab_noheader.txt", has_header=False,
                mapping={0: "last_name", 1: "first_name", 2: "phone_number"})
    page = client.get(f"/leads/lists/{lists['b'].list_id}").get_data(as_text=True)
    assert "Moreau" in page and "Martin" not in page
    assert "elodie.martin@example.fr" not in client.get("/leads/contacts", query_string={"q": "Martin"}).get_data(as_text=True)
    assert "Élodie" not in client.get("/leads/contacts", query_string={"q": "0612345678"}).get_data(as_text=True)
    assert "06 00 00 00 01" not in client.get("/leads/redlist").get_data(as_text=True)
    assert "A fichier" not in client.get("/leads/lists").get_data(as_text=True)
    with tenant_scope(world.a.id):
        assert Session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 4
        assert Session.get(ImportJob, import_id).status == ImportStatus.DONE
        Session.commit()


def test_custom_fields_settings_and_directory_export(client, world, lists):
    token = admin_client(client, world)
    response = client.post("/leads/settings", data={"csrf_token": token, "form": "field", "key": "zone",
                                                    "label": "Zone", "kind": "choice", "choices": "Nord\nSud"})
    assert response.status_code == 302
    bad = client.post("/leads/settings", data={"csrf_token": token, "form": "field", "key": "9bad", "label": "x",
                                               "kind": "text"})
    assert bad.status_code == 400
    assert client.post("/leads/settings", data={"csrf_token": token, "form": "retention",
                                                "lead_retention_months": "24"}).status_code == 302
    page = client.get("/leads/settings").get_data(as_text=True)
    assert "zone" in page and 'value="24"' in page
    import_file(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    export = client.get("/leads/contacts/export.csv", query_string={"q": "Martin"}).get_data(as_text=True)
    assert "elodie.martin@example.fr" in export and "Bernard" not in export
    assert client.get("/leads/contacts/export.xlsx", query_string={"q": "Martin"}).data[:2] == b"PK"
    with tenant_scope(world.a.id):
        from app.leads.models import CustomField

        field_id = Session.scalar(sa.select(CustomField.id))
        Session.commit()
    login(client, world.b.users["manager"].email, world.password)
    token_b = csrf_from(client.get("/leads/settings").get_data(as_text=True))
    assert "zone" not in client.get("/leads/settings").get_data(as_text=True)
    assert client.post(f"/leads/settings/fields/{field_id}/delete", data={"csrf_token": token_b}).status_code == 404
    assert "elodie" not in client.get("/leads/contacts/export.csv", query_string={"q": "Martin"}).get_data(as_text=True)


WIZARD_CASES = [
    # file, form fields beyond the mapping, mapping, expected inserted, a name that must appear
    ("contacts_semicolon_utf8.csv", {"has_header": "1"},
     {0: "last_name", 1: "first_name", 2: "phone_number", 3: "email", 6: "company"}, 4, "Élodie"),
    ("contacts_comma_cp1252.csv", {"has_header": "1"},
     {0: "last_name", 1: "first_name", 2: "phone_number", 3: "company", 4: "comments"}, 3, "Cœur"),
    ("contacts_latin1_crlf.csv", {"has_header": "1"}, {0: "last_name", 1: "first_name", 2: "phone_number"}, 1, "René"),
    ("contacts.xlsx", {"has_header": "1", "sheet": "Contacts"},
     {0: "last_name", 1: "first_name", 2: "phone_number", 3: "email"}, 3, "Zoé"),
    ("contacts.xls", {"has_header": "1"}, {0: "last_name", 1: "first_name", 2: "phone_number"}, 3, "Loïc"),
    ("contacts_tab_noheader.txt", {"has_header": "0", "delimiter": "tab"},
     {0: "last_name", 1: "first_name", 2: "phone_number", 3: "postal_code"}, 2, "Julie"),
    ("contacts_semicolon_cp1252.csv", {"has_header": "1"},
     {0: "last_name", 1: "first_name", 2: "phone_number", 6: "company"}, 5, "Cœur"),
    ("contacts_pipe_noheader.txt", {"has_header": "0", "delimiter": "|"},
     {0: "last_name", 1: "first_name", 2: "phone_number", 4: "email"}, 3, "Chloé"),
]


@pytest.mark.parametrize(("filename", "extra", "mapping", "inserted", "name"), WIZARD_CASES)
def test_wizard_each_format(client, world, lists, queued, filename, extra, mapping, inserted, name):
    token = admin_client(client, world)
    list_id = lists["a"].list_id
    with open(DATA / filename, "rb") as handle:
        response = client.post(f"/leads/lists/{list_id}/import", data={"csrf_token": token, "file": (handle, filename)},
                               content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    mapping_url = response.headers["Location"]
    # choosing the sheet / delimiter refreshes the preview first
    preview = client.get(mapping_url, query_string={k: v for k, v in extra.items() if k != "has_header"})
    assert name in preview.get_data(as_text=True)
    form = {"csrf_token": token, "step": "validate", "strategy": "ignore", "dedup_keys": "phone",
            "dedup_scope": "campaign", **extra, **{f"col_{i}": f for i, f in mapping.items()}}
    response = client.post(mapping_url, data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    run_jobs(queued, world.a.id)
    import_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    client.post(f"/leads/imports/{import_id}/start", data={"csrf_token": token, "strategy": "ignore"})
    run_jobs(queued, world.a.id)
    with tenant_scope(world.a.id):
        imp = Session.get(ImportJob, import_id)
        assert imp.status == ImportStatus.DONE, imp.error
        assert imp.counts["inserted"] == inserted
        Session.commit()
    assert name in client.get(f"/leads/lists/{list_id}").get_data(as_text=True)


def test_contact_page_edits_custom_fields(client, world, lists):
    from app.leads.models import CustomField

    with tenant_scope(world.a.id):
        Session.add_all([CustomField(key="zone", label="Zone", kind="choice", choices=["Nord", "Sud"]),
                         CustomField(key="score", label="Score", kind="number"),
                         CustomField(key="rdv", label="Rendez-vous", kind="date")])
        lead = Lead(list_id=lists["a"].list_id, last_name="Durand", phone_number="+33611111111", vendor_lead_code="V1",
                    custom={"score": 3})
        Session.add(lead)
        Session.commit()
        lead_id = lead.id
    token = admin_client(client, world)
    page = client.get(f"/leads/contacts/{lead_id}").get_data(as_text=True)
    assert 'name="custom:zone"' in page and 'value="3"' in page
    response = client.post(f"/leads/contacts/{lead_id}", data={
        "csrf_token": token, "custom:zone": "sud", "custom:score": "4,5", "custom:rdv": "2026-12-01"})
    assert response.status_code == 302
    bad = client.post(f"/leads/contacts/{lead_id}", data={"csrf_token": token, "custom:score": "beaucoup"})
    assert bad.status_code == 400
    assert "score" in bad.get_data(as_text=True)
    with tenant_scope(world.a.id):
        assert Session.get(Lead, lead_id, populate_existing=True).custom == {"zone": "Sud", "score": 4.5, "rdv": "2026-12-01"}
        Session.commit()


def test_fragments_render_on_their_own(client, world, lists):
    """The blocks HTMX swaps in (list rows, directory rows, red-list rows, import
    status) render alone, with the macros they use, filled and empty."""
    import_file(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    token = admin_client(client, world)
    client.post("/leads/redlist/add", data={"csrf_token": token, "phone": "06 12 34 56 78"})
    list_id = lists["a"].list_id

    def fragment(url: str, target: str) -> str:
        response = client.get(url, headers={"HX-Request": "true", "HX-Target": target})
        assert response.status_code == 200, response.get_data(as_text=True)[-500:]
        text = response.get_data(as_text=True)
        assert f'id="{target}"' in text and "<html" not in text
        return text

    assert "Martin" in fragment(f"/leads/lists/{list_id}?postal_code=75", "lead-rows")
    assert "Martin" not in fragment(f"/leads/lists/{list_id}?postal_code=99", "lead-rows")
    assert "Martin" in fragment("/leads/contacts?q=Martin", "contact-rows")
    assert "Martin" not in fragment("/leads/contacts?q=Nobody", "contact-rows")
    assert "06 12 34 56 78" in fragment("/leads/redlist", "redlist-rows")
    assert "06 12 34 56 78" not in fragment("/leads/redlist?q=0699999999", "redlist-rows")
    with tenant_scope(world.a.id):
        import_id = Session.scalar(sa.select(ImportJob.id))
        Session.commit()
    for status in ImportStatus:
        with tenant_scope(world.a.id):
            Session.get(ImportJob, import_id).status = status
            Session.commit()
        text = fragment(f"/leads/imports/{import_id}", "import-status")
        assert f'data-status="{status.value}"' in text
        assert ('hx-trigger="every 1s"' in text) == (status in ("validating", "queued", "running"))


def test_mapping_is_guessed_again_for_another_sheet(client, world, lists, queued):
    token = admin_client(client, world)
    list_id = lists["a"].list_id
    with open(DATA / "contacts.xlsx", "rb") as handle:
        response = client.post(f"/leads/lists/{list_id}/import", data={"csrf_token": token, "file": (handle, "c.xlsx")},
                               content_type="multipart/form-data")
    mapping_url = response.headers["Location"]
    page = client.get(mapping_url).get_data(as_text=True)
    shape = re.search(r'name="shape" value="([^"]*)"', page).group(1)
    assert "Ce classeur" in page and 'value="phone_number" selected' not in page
    htmx = {"HX-Request": "true", "HX-Target": "mapping-form"}
    # the first sheet's form (one column, no header) posted with the other sheet chosen
    fragment = client.post(mapping_url, data={"csrf_token": token, "shape": shape, "sheet": "Contacts",
                                              "has_header": "0", "col_0": ""}, headers=htmx).get_data(as_text=True)
    assert 'value="phone_number" selected' in fragment and '<option value="1" selected' in fragment
    new_shape = re.search(r'name="shape" value="([^"]*)"', fragment).group(1)
    assert new_shape != shape
    # same sheet: what the user chose stays as chosen
    fragment = client.post(mapping_url, data={"csrf_token": token, "shape": new_shape, "sheet": "Contacts",
                                              "has_header": "1", "col_0": "city", "col_2": "phone_number"},
                           headers=htmx).get_data(as_text=True)
    assert re.search(r'id="col-0" name="col_0">.*?<option value="city" selected', fragment, re.S)
    assert 'value="last_name" selected' not in fragment
    # a check posted with the previous sheet's columns is not queued: the page shows the new columns
    response = client.post(mapping_url, data={"csrf_token": token, "shape": shape, "sheet": "Contacts", "step": "validate",
                                              "has_header": "1", "col_0": "phone_number", "col_1": "last_name",
                                              "strategy": "ignore", "dedup_keys": "phone", "dedup_scope": "campaign"})
    assert response.status_code == 200 and queued == []


def _campaign_statuses(tenant_id: int, campaign_id: int, codes: tuple[str, ...]) -> None:
    from app.campaigns.models import CampaignStatus

    with tenant_scope(tenant_id):
        Session.add_all([CampaignStatus(campaign_id=campaign_id, code=code, name=code) for code in codes])
        Session.commit()


def test_recycling_rules_screen(client, world, lists):
    from app.leads.models import RecycleRule

    _campaign_statuses(world.a.id, lists["a"].campaign_id, ("NA", "B"))
    token = admin_client(client, world)
    page = client.get("/leads/recycling").get_data(as_text=True)
    assert f'value="{lists["a"].campaign_id}:NA"' in page and "/leads/recycling" in page
    target = f"{lists['a'].campaign_id}:NA"
    response = client.post("/leads/recycling", data={"csrf_token": token, "target": target, "delay": "1440",
                                                     "max_recycles": "3", "priority": "high"})
    assert response.status_code == 302
    # the same status again changes the rule; a custom delay in hours
    response = client.post("/leads/recycling", data={"csrf_token": token, "target": target, "delay": "custom",
                                                     "delay_custom": "3", "delay_unit": "hours", "max_recycles": "10",
                                                     "priority": "low"})
    assert response.status_code == 302
    with tenant_scope(world.a.id):
        rules = Session.scalars(sa.select(RecycleRule)).all()
        assert [(r.status, r.delay_minutes, r.max_recycles, r.priority, r.active) for r in rules] == [
            ("NA", 180, 10, "low", True)]
        rule_id = rules[0].id
        Session.commit()
    page = client.get("/leads/recycling").get_data(as_text=True)
    assert "3 hours" in page and "10 times" in page
    assert client.post(f"/leads/recycling/{rule_id}/active", data={"csrf_token": token, "active": "0"}).status_code == 302
    with tenant_scope(world.a.id):
        assert Session.get(RecycleRule, rule_id, populate_existing=True).active is False
        Session.commit()
    assert client.post(f"/leads/recycling/{rule_id}/delete", data={"csrf_token": token}).status_code == 302
    with tenant_scope(world.a.id):
        assert Session.scalars(sa.select(RecycleRule)).all() == []
        Session.commit()


@pytest.mark.parametrize(("form", "message"), [
    ({"target": "{c}:XX"}, "Choose a status of this campaign."),
    ({"delay": "custom", "delay_custom": ""}, "The delay is between 1 minute and 90 days."),
    ({"delay": "custom", "delay_custom": "91", "delay_unit": "days"}, "The delay is between 1 minute and 90 days."),
    ({"max_recycles": "11"}, "The number of recycles is between 1 and 10."),
    ({"max_recycles": "0"}, "The number of recycles is between 1 and 10."),
    ({"priority": "urgent"}, "Choose a priority."),
])
def test_recycling_rules_refuse_bad_input(client, world, lists, form, message):
    from app.leads.models import RecycleRule

    _campaign_statuses(world.a.id, lists["a"].campaign_id, ("NA",))
    token = admin_client(client, world)
    data = {"csrf_token": token, "target": f"{lists['a'].campaign_id}:NA", "delay": "60", "max_recycles": "3",
            "priority": "normal", **{k: v.format(c=lists["a"].campaign_id) for k, v in form.items()}}
    response = client.post("/leads/recycling", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True) and 'role="alert"' in response.get_data(as_text=True)
    with tenant_scope(world.a.id):
        assert Session.scalars(sa.select(RecycleRule)).all() == []
        Session.commit()


def test_recycling_rules_are_tenant_isolated(client, world, lists):
    from app.leads.models import RecycleRule

    _campaign_statuses(world.a.id, lists["a"].campaign_id, ("NA",))
    with tenant_scope(world.a.id):
        rule = RecycleRule(campaign_id=lists["a"].campaign_id, status="NA", delay_minutes=60, max_recycles=2)
        Session.add(rule)
        Session.commit()
        rule_id = rule.id
    token = admin_client(client, world, tenant="b")
    assert "NA" not in client.get("/leads/recycling").get_data(as_text=True)
    assert client.post(f"/leads/recycling/{rule_id}/active", data={"csrf_token": token, "active": "0"}).status_code == 404
    assert client.post(f"/leads/recycling/{rule_id}/delete", data={"csrf_token": token}).status_code == 404
    response = client.post("/leads/recycling", data={"csrf_token": token, "target": f"{lists['a'].campaign_id}:NA",
                                                     "delay": "60", "max_recycles": "3", "priority": "normal"})
    assert response.status_code == 404
    with tenant_scope(world.a.id):
        kept = Session.get(RecycleRule, rule_id, populate_existing=True)
        assert (kept.active, kept.max_recycles) == (True, 2)
        Session.commit()


def test_directory_filters_by_last_call_and_agent(client, world, lists):
    import datetime as dt

    import_file(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    agent = world.a.users["agent"]
    with tenant_scope(world.a.id):
        leads = {lead.last_name: lead for lead in Session.scalars(sa.select(Lead))}
        leads["Martin"].last_attempt_at = dt.datetime(2026, 11, 2, 10, tzinfo=dt.UTC)
        leads["Martin"].user_aff = agent.id
        leads["Bernard"].last_attempt_at = dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
        Session.commit()
    admin_client(client, world)

    def names(**args) -> set[str]:
        page = client.get("/leads/contacts", query_string=args).get_data(as_text=True)
        rows = page.split('id="contact-rows"', 1)[1]  # the results, not the search box
        return {name for name in ("Martin", "Bernard", "Petit") if name in rows}

    assert names(called_from="2026-11-01", called_to="2026-11-02") == {"Martin"}
    assert names(called_from="2026-11-03") == {"Bernard"}
    assert names(agent_id=agent.id) == {"Martin"}
    assert names(q="Bernard", agent_id=agent.id) == set()
    export = client.get("/leads/contacts/export.csv", query_string={"called_from": "2026-11-03"}).get_data(as_text=True)
    assert "Bernard" in export and "Martin" not in export
    # another tenant's agent id finds nothing
    assert names(agent_id=world.b.users["agent"].id) == set()


def test_directory_quick_edit_in_place(client, world, lists, owner_engine):
    import_file(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    token = admin_client(client, world)
    with tenant_scope(world.a.id):
        lead_id = Session.scalar(sa.select(Lead.id).where(Lead.last_name == "Martin"))
        Session.commit()
    page = client.get("/leads/contacts", query_string={"q": "Martin"}).get_data(as_text=True)
    assert f'id="contact-{lead_id}"' in page and f"/leads/contacts/{lead_id}/row?edit=1" in page
    htmx = {"HX-Request": "true", "X-CSRF-Token": token}
    form = client.get(f"/leads/contacts/{lead_id}/row?edit=1", headers=htmx).get_data(as_text=True)
    assert form.lstrip().startswith(f'<tr id="contact-{lead_id}"') and 'name="phone_number"' in form
    response = client.post(f"/leads/contacts/{lead_id}/row", headers=htmx,
                           data={"first_name": "Élodie", "last_name": "Martin-Roux", "company": "Acmé",
                                 "phone_number": "07.81.00.00.02", "email": "elodie@example.fr"})
    assert response.status_code == 200
    row = response.get_data(as_text=True)
    assert "Martin-Roux" in row and "07 81 00 00 02" in row and "<form" not in row
    with owner_engine.connect() as conn:
        saved = conn.execute(sa.text("SELECT last_name, phone_number FROM leads WHERE id = :i"), {"i": lead_id}).one()
        edits = conn.execute(sa.text("SELECT count(*) FROM timeline_events WHERE lead_id = :i AND kind = 'edited'"),
                             {"i": lead_id}).scalar()
    assert tuple(saved) == ("Martin-Roux", "+33781000002") and edits == 1
    # a bad phone: the form comes back with the message (422), nothing is saved
    response = client.post(f"/leads/contacts/{lead_id}/row", headers=htmx,
                           data={"last_name": "Autre", "phone_number": "12"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'role="alert"' in text and 'value="12"' in text and 'value="Autre"' in text
    with owner_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT last_name, phone_number FROM leads WHERE id = :i"),
                            {"i": lead_id}).one() == ("Martin-Roux", "+33781000002")
    # another tenant: 404, nothing changed
    client.post("/logout", data={"csrf_token": token})
    token_b = admin_client(client, world, tenant="b")
    headers_b = {"HX-Request": "true", "X-CSRF-Token": token_b}
    assert client.get(f"/leads/contacts/{lead_id}/row?edit=1", headers=headers_b).status_code == 404
    assert client.post(f"/leads/contacts/{lead_id}/row", headers=headers_b, data={"last_name": "Pirate"}).status_code == 404
    with owner_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT last_name FROM leads WHERE id = :i"), {"i": lead_id}).scalar() == "Martin-Roux"
