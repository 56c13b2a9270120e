import re

import pytest
import sqlalchemy as sa

from app.extensions import Session
from app.leads import imports, tasks
from app.leads.models import CustomField, ImportJob, ImportStatus, Lead, LeadList
from app.leads.readers import ImportFileError
from tenants.scoping import tenant_scope
from tests.leads.helpers import DATA, import_file, upload


def leads_of(tenant_id):
    with tenant_scope(tenant_id):
        rows = list(Session.scalars(sa.select(Lead).order_by(Lead.id)))
        Session.commit()
        return rows


def count_rows(owner_engine, table):
    with owner_engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def test_semicolon_utf8_end_to_end(world, lists):
    imp = import_file(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    assert (imp.encoding, imp.delimiter, imp.has_header) == ("utf-8", ";", True)
    assert imp.status == ImportStatus.DONE
    counts = imp.counts
    assert counts["rows"] == 8
    assert counts["invalid"] == {"phone:too_short": 1, "missing_name": 1, "email": 1}
    assert counts["duplicate_in_file"] == {"phone": 1}
    assert counts["inserted"] == 4
    leads = leads_of(world.a.id)
    assert [lead.phone_number for lead in leads] == ["+33612345678", "+33612345679", "+33781223344", "+33142685300"]
    first = leads[0]
    assert (first.first_name, first.last_name, first.email, first.postal_code, first.city) == (
        "Élodie", "Martin", "elodie.martin@example.fr", "75011", "Paris")
    assert leads[3].company == "Acmé SARL"
    assert all(re.fullmatch(r"EXT-\d{13}-[0-9a-f]{8}", lead.vendor_lead_code) for lead in leads)
    assert {lead.country_code for lead in leads} == {"FR"}
    assert {lead.list_id for lead in leads} == {lists["a"].list_id}
    assert leads_of(world.b.id) == []
    with tenant_scope(world.a.id):
        rejects = list(imports.iter_rejects(Session.get(ImportJob, imp.id)))
    assert rejects[0][:3] == ["line", "reason", "phone_number"]
    assert [(r[0], r[1], r[2]) for r in rejects[1:]] == [
        ("4", "phone:too_short", "12"), ("5", "duplicate_in_file:phone", "+33612345678"),
        ("7", "missing_name", "+33699887766"), ("8", "email", "+33611223344")]


def test_comma_windows_1252(world, lists):
    imp = import_file(world.a.id, lists["a"].list_id, "contacts_comma_cp1252.csv",
                      mapping={0: "last_name", 1: "first_name", 2: "phone_number", 3: "company", 4: "comments"})
    assert (imp.encoding, imp.delimiter) == ("windows-1252", ",")
    assert imp.counts["inserted"] == 3
    leads = leads_of(world.a.id)
    assert leads[0].last_name == "Cœur" and leads[0].company == "L’Oréal, Paris"
    assert leads[1].phone_number == "+33698765432" and leads[1].comments == "Prix en €"


def test_latin1_with_crlf(world, lists):
    imp = import_file(world.a.id, lists["a"].list_id, "contacts_latin1_crlf.csv")
    assert imp.encoding == "iso-8859-1"
    assert [lead.first_name for lead in leads_of(world.a.id)] == ["René"]


def test_xlsx_chosen_sheet(world, lists):
    imp = upload(world.a.id, lists["a"].list_id, "contacts.xlsx")
    with tenant_scope(world.a.id):
        view = imports.preview(Session.get(ImportJob, imp.id))
        Session.commit()
    assert view.sheets == ["Notes", "Contacts"]
    done = import_file(world.a.id, lists["a"].list_id, "contacts.xlsx", sheet="Contacts")
    assert done.file_format == "xlsx" and done.sheet == "Contacts"
    assert done.counts["inserted"] == 3
    assert done.counts["invalid"] == {"phone:too_short": 1}
    assert [lead.phone_number for lead in leads_of(world.a.id)] == ["+33612345678", "+33612345679", "+33781223344"]


def test_xls_legacy_workbook(world, lists):
    done = import_file(world.a.id, lists["a"].list_id, "contacts.xls")
    assert done.file_format == "xls" and done.sheet == "Contacts"
    assert done.counts["inserted"] == 3
    assert [lead.first_name for lead in leads_of(world.a.id)] == ["Élodie", "Loïc", "Zoé"]


def test_txt_tab_without_header(world, lists):
    imp = import_file(world.a.id, lists["a"].list_id, "contacts_tab_noheader.txt", has_header=False,
                      mapping={0: "last_name", 1: "first_name", 2: "phone_number", 3: "postal_code"})
    assert (imp.file_format, imp.delimiter, imp.has_header) == ("txt", "\t", False)
    assert imp.counts["inserted"] == 2
    assert imp.counts["invalid"] == {"phone:not_a_number": 1}


def test_custom_fields_are_typed(world, lists):
    with tenant_scope(world.a.id):
        Session.add_all([CustomField(key="cp_zone", label="Zone", kind="choice", choices=["Nord", "Sud"]),
                         CustomField(key="score", label="Score", kind="number")])
        Session.commit()
    import_file(world.a.id, lists["a"].list_id, "contacts_tab_noheader.txt", has_header=False,
                mapping={0: "last_name", 2: "phone_number", 3: "custom:score"})
    assert [lead.custom for lead in leads_of(world.a.id)] == [{"score": 44000}, {"score": 31000}]


def test_last_mapping_is_remembered(world, lists):
    mapping = {0: "last_name", 1: "first_name", 2: "phone_number", 3: "postal_code"}
    import_file(world.a.id, lists["a"].list_id, "contacts_tab_noheader.txt", has_header=False, mapping=mapping)
    imp = upload(world.a.id, lists["a"].list_id, "contacts_tab_noheader.txt")
    with tenant_scope(world.a.id):
        imp = Session.get(ImportJob, imp.id)
        view = imports.preview(imp)
        assert imports.suggest_mapping(imp, None, view.columns, []) == mapping
        Session.commit()


@pytest.mark.parametrize(("filename", "code", "kw"), [
    ("empty.csv", "empty", {}),
    ("binary_renamed.csv", "binary", {}),
    ("contacts_semicolon_utf8.csv", "too_large", {"max_bytes": 100}),
    ("merged_cells.xlsx", "merged_cells", {}),
])
def test_bad_files_write_nothing(world, lists, owner_engine, import_dir, filename, code, kw):
    with pytest.raises(ImportFileError) as caught:
        upload(world.a.id, lists["a"].list_id, filename, **kw)
    assert caught.value.code == code
    Session.rollback()
    assert count_rows(owner_engine, "lead_imports") == 0
    assert count_rows(owner_engine, "leads") == 0
    assert not any(p.is_file() for p in import_dir.rglob("*"))


def test_mapping_without_required_fields_is_refused(world, lists, owner_engine):
    imp = upload(world.a.id, lists["a"].list_id, "two_columns.csv")
    with tenant_scope(world.a.id):
        imp = Session.get(ImportJob, imp.id)
        with pytest.raises(imports.MappingError) as caught:
            imports.apply_mapping(imp, imports.ImportOptions({0: "city", 1: "postal_code"}, True), ["Ville", "CP"])
        Session.rollback()
    assert caught.value.codes == ["missing_phone", "missing_name"]
    assert count_rows(owner_engine, "leads") == 0


@pytest.fixture()
def second_file():
    """Writes a CSV next to the samples for one test; returns its name."""
    path = DATA / "_tmp_second.csv"

    def write(text):
        path.write_text(text, encoding="utf-8")
        return path.name

    yield write
    path.unlink(missing_ok=True)


@pytest.mark.parametrize(("strategy", "expected"), [
    ("ignore", ("Élodie", "elodie.martin@example.fr", "Paris")),
    ("replace", ("Élo", "new@example.fr", None)),
    ("merge", ("Élo", "new@example.fr", "Paris")),
])
def test_duplicate_strategies(world, lists, second_file, strategy, expected):
    import_file(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    name = second_file("Nom;Prénom;Téléphone;Email;Ville\nMartin;Élo;06 12 34 56 78;new@example.fr;\n"
                       "Neuf;Nina;0655555555;nina@example.fr;Nice\n")
    imp = import_file(world.a.id, lists["a"].list_id, name, strategy=strategy)
    assert imp.counts["existing"] == {"phone": 1}
    assert imp.counts["inserted"] == 1
    with tenant_scope(world.a.id):
        lead = Session.scalar(sa.select(Lead).where(Lead.phone_number == "+33612345678"))
        assert (lead.first_name, lead.email, lead.city) == expected
        assert Session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 5
        Session.commit()


def test_duplicates_by_email_and_name_and_scope(world, lists, second_file):
    import_file(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    name = second_file("Nom;Prénom;Téléphone;Email\nAutre;Personne;0600000001;LOIC@example.fr\n"
                       "petit;zoé;0600000002;\nNouveau;Contact;0600000003;\n")
    imp = import_file(world.a.id, lists["a"].other_list_id, name, dedup_keys=("phone", "email", "name"),
                      dedup_scope="campaign")
    assert imp.counts["existing"] == {"email": 1, "name": 1}
    assert imp.counts["inserted"] == 1
    # the same file into list scope of the other list finds nothing to deduplicate
    again = import_file(world.a.id, lists["a"].other_list_id, name, dedup_keys=("phone",), dedup_scope="list")
    assert again.counts["existing"] == {"phone": 1}
    assert again.counts["inserted"] == 2


def test_other_tenants_leads_are_not_duplicates(world, lists):
    import_file(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    imp = import_file(world.b.id, lists["b"].list_id, "contacts_semicolon_utf8.csv", dedup_scope="tenant")
    assert imp.counts["existing"] == {}
    assert imp.counts["inserted"] == 4
    assert len(leads_of(world.b.id)) == 4


def test_failure_mid_import_leaves_no_lead(world, lists, owner_engine, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(imports, "_write_rejects", broken)
    imp = upload(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    with tenant_scope(world.a.id):
        imp = Session.get(ImportJob, imp.id)
        view = imports.preview(imp)
        header = view.header(True)
        imports.apply_mapping(imp, imports.ImportOptions(
            imports.suggest_mapping(imp, header, view.columns, []), True), header)
        imports.mark_queued(imp, ImportStatus.QUEUED)
        Session.commit()
        with pytest.raises(RuntimeError):
            tasks.run_import.fn(imp.id)
        Session.rollback()
        imp = Session.get(ImportJob, imp.id, populate_existing=True)
        assert imp.status == ImportStatus.FAILED and "disk full" in imp.error
        Session.commit()
    assert count_rows(owner_engine, "leads") == 0


def test_job_waits_for_the_commit_and_is_idempotent(world, lists):
    imp = import_file(world.a.id, lists["a"].list_id, "contacts_latin1_crlf.csv")
    with tenant_scope(world.a.id):
        tasks.run_import.fn(imp.id)  # redelivered after success: nothing happens
        Session.commit()
        fresh = upload(world.a.id, lists["a"].list_id, "contacts_latin1_crlf.csv")
        with pytest.raises(tasks.ImportNotReadyError):
            tasks.run_import.fn(fresh.id)  # still "uploaded": the queuing request has not committed
        Session.rollback()
    assert len(leads_of(world.a.id)) == 1


def test_list_belongs_to_tenant(world, lists):
    with tenant_scope(world.b.id):
        assert Session.get(LeadList, lists["a"].list_id, populate_existing=True) is None
        Session.commit()


def test_encoding_override(world, lists, owner_engine):
    imp = upload(world.a.id, lists["a"].list_id, "contacts_comma_cp1252.csv")
    with tenant_scope(world.a.id):
        imp = Session.get(ImportJob, imp.id)
        imp.encoding = "utf-8"  # the user overrides the detection, wrongly
        with pytest.raises(ImportFileError) as caught:
            imports.preview(imp)
        assert caught.value.code == "encoding"
        imp.encoding = "iso-8859-1"  # readable, but the € and œ of Windows-1252 come out wrong
        assert "Cœur" not in str(imports.preview(imp).rows)
        imp.encoding = "windows-1252"
        assert "Cœur" in str(imports.preview(imp).rows)
        Session.rollback()
    assert count_rows(owner_engine, "leads") == 0


def test_failed_validation_is_reported_and_writes_nothing(world, lists, owner_engine):
    imp = upload(world.a.id, lists["a"].list_id, "contacts_comma_cp1252.csv")
    with tenant_scope(world.a.id):
        imp = Session.get(ImportJob, imp.id)
        imports.apply_mapping(imp, imports.ImportOptions({0: "last_name", 2: "phone_number"}, True,
                                                         encoding="utf-8"), None)
        imports.mark_queued(imp, ImportStatus.VALIDATING)
        Session.commit()
        tasks.validate_import.fn(imp.id)
        Session.commit()
        imp = Session.get(ImportJob, imp.id, populate_existing=True)
        assert (imp.status, imp.error) == (ImportStatus.FAILED, "encoding")
        Session.commit()
    assert count_rows(owner_engine, "leads") == 0


def test_values_too_long_for_their_column_are_rejected_rows(world, lists, second_file):
    name = second_file("Nom;Téléphone;CP;Code\nA;0611111111;" + "7" * 30 + ";X\nB;0622222222;75011;" + "Z" * 80 + "\n"
                       "C;0633333333;75011;OK-1\n")
    imp = import_file(world.a.id, lists["a"].list_id, name,
                      mapping={0: "last_name", 1: "phone_number", 2: "postal_code", 3: "vendor_lead_code"})
    assert imp.status == ImportStatus.DONE
    assert imp.counts["invalid"] == {"too_long:postal_code": 1, "too_long:vendor_lead_code": 1}
    assert [lead.vendor_lead_code for lead in leads_of(world.a.id)] == ["OK-1"]
