"""The GDPR register of processing (L8, art. 30) through the screens: pre-filled with
the product's own activities (retention from the tenant's settings), create / edit /
delete with validation, audit, tenant isolation, PDF and CSV exports."""

import csv
import datetime as dt
import io
import re
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.extensions import Session
from app.leads import privacy, register
from app.leads.models import ProcessingActivity, ProcessingRegister
from app.recordings.models import RecordingSettings
from tenants.scoping import tenant_scope
from tests.factories import csrf_from, login

PRODUCT_KEYS = {"telephone_prospecting", "call_recording", "customer_management", "opposition_handling"}

GOOD = {
    "name": "Newsletter",
    "purpose": "Envoi de la lettre d'information mensuelle",
    "legal_basis": "consent",
    "data_categories": "Email, prénom",
    "data_subjects": "Abonnés",
    "recipients": "Service marketing",
    "transfers": "",
    "transfer_safeguards": "",
    "retention": "3 ans après le dernier clic",
    "security_measures": "Accès nominatif",
}


def admin(client, world, tenant="a"):
    login(client, getattr(world, tenant).users["admin"].email, world.password)
    page = client.get("/leads/register")
    assert page.status_code == 200
    return csrf_from(page.get_data(as_text=True))


def rows(tenant_id):
    with tenant_scope(tenant_id):
        # plain copies: the rows outlive this session
        result = {a.name: SimpleNamespace(**{c.key: getattr(a, c.key) for c in ProcessingActivity.__table__.c})
                  for a in Session.scalars(sa.select(ProcessingActivity))}
        Session.commit()
    return result


def audit_actions(tenant_id):
    with tenant_scope(tenant_id):
        actions = list(Session.scalars(sa.select(AuditEvent.action).where(AuditEvent.tenant_id == tenant_id,
                                                                          AuditEvent.action.like("gdpr.register.%"))
                                       .order_by(AuditEvent.id)))
        Session.commit()
    return actions


def test_first_view_prefills_product_activities_with_the_tenant_retention(client, world):
    with tenant_scope(world.a.id):
        privacy.set_retention(18)
        Session.add(RecordingSettings(retention_days=90))
        Session.commit()
    admin(client, world)
    page = client.get("/leads/register").get_data(as_text=True)
    assert "Telephone prospecting" in page or "Prospection" in page
    with tenant_scope(world.a.id):
        activities = {a.system_key: a for a in Session.scalars(sa.select(ProcessingActivity))}
        current = Session.scalar(sa.select(ProcessingRegister))
        Session.commit()
    assert set(activities) == PRODUCT_KEYS
    # today is after 11 August 2026: telephone prospecting rests on consent
    assert activities["telephone_prospecting"].legal_basis == "consent"
    assert "11 August 2026" in activities["telephone_prospecting"].purpose
    assert "18" in activities["telephone_prospecting"].retention
    assert "18" in activities["customer_management"].retention
    assert "90" in activities["call_recording"].retention
    assert activities["opposition_handling"].legal_basis == "legal_obligation"
    assert current.controller_name == world.a.tenant.name and current.prefilled_at is not None
    # a deleted product activity is not written again on the next view
    token = csrf_from(page)
    assert client.post(f"/leads/register/{activities['call_recording'].id}/delete",
                       data={"csrf_token": token}).status_code == 302
    client.get("/leads/register")
    assert "call_recording" not in {a.system_key for a in rows(world.a.id).values()}
    assert len(rows(world.a.id)) == 3
    # tenant B was not touched by A's views
    assert rows(world.b.id) == {}


def test_prefill_before_the_consent_rule_and_without_retention_settings(app, world):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("en"), tenant_scope(world.b.id):
        activities = register.product_activities(register.current_retention(365), dt.date(2026, 8, 10))
        Session.commit()
    by_key = {a["system_key"]: a for a in activities}
    assert by_key["telephone_prospecting"]["legal_basis"] == "legitimate_interest"
    assert "No automatic deletion" in by_key["telephone_prospecting"]["retention"]
    assert "365" in by_key["call_recording"]["retention"]
    with app.test_request_context():
        first = register.product_activities(register.Retention(None, 30), dt.date(2026, 8, 11))[0]
    assert first["legal_basis"] == "consent"


def test_create_edit_delete_are_audited(client, world):
    token = admin(client, world)
    response = client.post("/leads/register/new", data={**GOOD, "csrf_token": token})
    assert response.status_code == 302
    created = rows(world.a.id)["Newsletter"]
    assert created.legal_basis == "consent" and created.retention == "3 ans après le dernier clic"
    assert created.system_key is None
    edit = client.get(f"/leads/register/{created.id}").get_data(as_text=True)
    assert "3 ans après le dernier clic" in edit
    response = client.post(f"/leads/register/{created.id}",
                           data={**GOOD, "csrf_token": token, "transfers": "États-Unis (routage des emails)",
                                 "transfer_safeguards": "Clauses contractuelles types"})
    assert response.status_code == 302
    changed = rows(world.a.id)["Newsletter"]
    assert changed.transfers == "États-Unis (routage des emails)"
    assert client.post(f"/leads/register/{created.id}/delete", data={"csrf_token": token}).status_code == 302
    assert "Newsletter" not in rows(world.a.id)
    actions = audit_actions(world.a.id)
    assert actions[-3:] == ["gdpr.register.activity_created", "gdpr.register.activity_changed",
                            "gdpr.register.activity_deleted"]
    assert "gdpr.register.prefilled" in actions


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"name": ""}, "name", "This field is required."),
    ({"purpose": "   "}, "purpose", "This field is required."),
    ({"legal_basis": "because"}, "legal_basis", "Choose a legal basis from the list."),
    ({"legal_basis": ""}, "legal_basis", "This field is required."),
    ({"retention": ""}, "retention", "This field is required."),
    ({"transfers": "Maroc (centre d'appels)"}, "transfer_safeguards", "needs its safeguards"),
    ({"name": "x" * 201}, "name", "At most 200 characters."),
    ({"name": "Call recording"}, "name", "already in the register"),
])
def test_bad_input_is_refused_with_its_message_and_writes_nothing(client, world, change, field, message):
    token = admin(client, world)
    before = {name: (a.purpose, a.legal_basis) for name, a in rows(world.a.id).items()}
    audit_before = audit_actions(world.a.id)
    response = client.post("/leads/register/new", data={**GOOD, **change, "csrf_token": token})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'id="reg-{field}-error">[^<]*{re.escape(message)}', html), html[:2000]
    assert {name: (a.purpose, a.legal_basis) for name, a in rows(world.a.id).items()} == before
    # editing an existing activity with the same bad input changes nothing either
    target = rows(world.a.id)["Customer management"]
    response = client.post(f"/leads/register/{target.id}", data={**GOOD, **change, "csrf_token": token})
    assert response.status_code == 400
    after = rows(world.a.id)["Customer management"]
    assert (after.purpose, after.legal_basis, after.retention) == (target.purpose, target.legal_basis, target.retention)
    assert audit_actions(world.a.id) == audit_before


def test_controller_and_dpo(client, world):
    token = admin(client, world)
    bad = client.post("/leads/register/controller", data={"csrf_token": token, "controller_name": "",
                                                         "dpo_name": "Jeanne Délégué", "dpo_contact": ""})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert 'id="reg-controller_name-error"' in html and 'id="reg-dpo_contact-error"' in html
    with tenant_scope(world.a.id):
        assert Session.scalar(sa.select(ProcessingRegister.dpo_name)) == ""
        Session.commit()
    good = client.post("/leads/register/controller", data={
        "csrf_token": token, "controller_name": "Acme Centre d'appels SAS", "controller_address": "1 rue de la Paix\n75002 Paris",
        "controller_contact": "rgpd@acme.fr", "dpo_name": "Jeanne Délégué", "dpo_contact": "dpo@acme.fr"})
    assert good.status_code == 302
    with tenant_scope(world.a.id):
        current = Session.scalar(sa.select(ProcessingRegister))
        Session.commit()
    assert (current.controller_name, current.dpo_contact) == ("Acme Centre d'appels SAS", "dpo@acme.fr")
    assert audit_actions(world.a.id)[-1] == "gdpr.register.controller_changed"


def pdf_text(html):
    from weasyprint import HTML

    def walk(box):
        text = getattr(box, "text", None)
        if text:
            yield text
        for child in getattr(box, "children", []) or []:
            yield from walk(child)

    return " ".join(" ".join(walk(page._page_box)) for page in HTML(string=html).render().pages)


@pytest.fixture()
def rendered(monkeypatch):
    """The HTML each PDF export hands to WeasyPrint (which still writes the PDF)."""
    import weasyprint

    seen = []
    real = weasyprint.HTML

    def spy(*args, **kwargs):
        seen.append(kwargs.get("string"))
        return real(*args, **kwargs)

    monkeypatch.setattr(weasyprint, "HTML", spy)
    return seen


def test_exports_pdf_and_csv(client, world, rendered):
    token = admin(client, world)
    client.post("/leads/register/controller", data={"csrf_token": token, "controller_name": "Acme SAS",
                                                    "dpo_name": "Jeanne Délégué", "dpo_contact": "dpo@acme.fr"})
    client.post("/leads/register/new", data={**GOOD, "csrf_token": token, "transfers": "Maroc",
                                             "transfer_safeguards": "Clauses contractuelles types"})
    response = client.get("/leads/register/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    assert table[0][:3] == ["Activity", "Purpose of processing", "Legal basis"]
    by_name = {row[0]: row for row in table[1:]}
    assert set(by_name) == {"Telephone prospecting", "Call recording", "Customer management",
                            "Red lists and opposition", "Newsletter"}
    assert by_name["Newsletter"][2] == "Consent"
    assert by_name["Newsletter"][6:8] == ["Maroc", "Clauses contractuelles types"]
    assert by_name["Call recording"][6] == "None"

    pdf = client.get("/leads/register/export.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    body = pdf.get_data()
    assert body.startswith(b"%PDF")
    # no PDF text extractor is installed: the page text is read from WeasyPrint's own
    # layout of the HTML the export handed it (the spy below keeps the real PDF path)
    flat = " ".join(pdf_text(rendered[-1]).split())
    assert "Register of processing activities" in flat
    assert "Acme SAS" in flat and "Jeanne Délégué" in flat
    assert "Newsletter" in flat and "Clauses contractuelles types" in flat
    assert client.get("/leads/register/export.xlsx").status_code == 404


def test_tenant_isolation_and_permissions(app, client, world):
    admin(app.test_client(), world, "b")
    b_activity = next(iter(rows(world.b.id).values()))
    token = admin(client, world, "a")
    for url in (f"/leads/register/{b_activity.id}",):
        assert client.get(url).status_code == 404
        assert client.post(url, data={**GOOD, "csrf_token": token}).status_code == 404
    assert client.post(f"/leads/register/{b_activity.id}/delete", data={"csrf_token": token}).status_code == 404
    assert rows(world.b.id)[b_activity.name].purpose == b_activity.purpose
    # A's exports hold only A's register
    client.post("/leads/register/new", data={**GOOD, "name": "Seulement A", "csrf_token": token})
    assert "Seulement A" not in rows(world.b.id)
    other = app.test_client()
    admin(other, world, "b")
    assert "Seulement A" not in other.get("/leads/register/export.csv").get_data(as_text=True)
    assert "Seulement A" not in other.get("/leads/register").get_data(as_text=True)
    # the register is an administrator's page: a manager gets 403 and no nav entry
    client = app.test_client()
    login(client, world.a.users["manager"].email, world.password)
    assert client.get("/leads/register").status_code == 403
    assert client.get("/leads/register/export.csv").status_code == 403
    assert "/leads/register" not in client.get("/leads/lists").get_data(as_text=True)


def test_two_first_views_at_once_prefill_once(app, world):
    """The second first view waits for the first one's register row and reuses it:
    the product's activities are written in once (real PostgreSQL, two sessions)."""
    import threading
    import time

    first_flushed = threading.Event()
    failures = []

    def view(wait_for_first: bool) -> None:
        try:
            with app.test_request_context(), tenant_scope(world.a.id):
                if wait_for_first:
                    first_flushed.wait(10)
                register.ensure_prefilled("Alpha", 365)
                if not wait_for_first:
                    first_flushed.set()
                    time.sleep(0.5)  # the other view is now blocked on this row
                Session.commit()
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            failures.append(exc)
        finally:
            Session.remove()

    threads = [threading.Thread(target=view, args=(flag,)) for flag in (False, True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert failures == []
    with tenant_scope(world.a.id):
        assert Session.scalar(sa.select(sa.func.count()).select_from(ProcessingRegister)) == 1
        assert sorted(Session.scalars(sa.select(ProcessingActivity.system_key))) == sorted(PRODUCT_KEYS)
        Session.commit()
