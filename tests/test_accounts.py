"""Signup, user management, audit viewer, permissions."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.auth.models import User
from app.extensions import Session
from tenants.models import Tenant
from tenants.scoping import tenant_scope, unscoped
from tests.factories import csrf_from, login

SIGNUP = {"company": "Gamma Relation Client", "country": "RE", "admin_name": "Gaëlle Gamma",
          "email": "gaelle@gamma-rc.fr", "password": "Signup-pass-2026", "accept": "y"}


def _count(model) -> int:
    with unscoped():
        return Session.scalar(sa.select(sa.func.count()).select_from(model))


def test_signup_creates_trial_tenant_and_unverified_admin(client, db, mail_dir, stub_worker):
    page = client.get("/signup").get_data(as_text=True)
    response = client.post("/signup", data={**SIGNUP, "csrf_token": csrf_from(page)})
    assert response.status_code == 200
    assert SIGNUP["email"] in response.get_data(as_text=True)
    with unscoped():
        tenant = Session.scalars(sa.select(Tenant)).one()
        admin = Session.scalars(sa.select(User)).one()
    assert (tenant.status, tenant.country, tenant.timezone) == ("trial", "RE", "Indian/Reunion")
    assert tenant.trial_ends_at is not None
    assert (admin.level, admin.role, admin.tenant_id, admin.email_verified) == (9, "admin", tenant.id, False)
    # no login before the address is confirmed
    assert login(client, SIGNUP["email"], SIGNUP["password"]).status_code == 200
    stub_worker()
    body = next(mail_dir.glob("*.eml")).read_text().replace("=\n", "")
    link = re.search(r"http://[^/\s]+(/verify/[\w.\-=]+)", body).group(1)
    assert client.get(link).status_code == 302
    assert login(client, SIGNUP["email"], SIGNUP["password"]).status_code == 302
    assert client.get("/admin/users").status_code == 200


def test_signup_bad_input_writes_nothing(client, db):
    page = client.get("/signup").get_data(as_text=True)
    bad = {**SIGNUP, "email": "not-an-email", "password": "short", "company": "", "csrf_token": csrf_from(page)}
    response = client.post("/signup", data=bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count("field-error") >= 3
    assert 'aria-invalid="true"' in html
    assert _count(Tenant) == 0 and _count(User) == 0


def test_signup_refuses_a_taken_email(client, world):
    page = client.get("/signup").get_data(as_text=True)
    before = _count(Tenant)
    response = client.post("/signup", data={**SIGNUP, "email": world.a.users["agent"].email.upper(),
                                            "csrf_token": csrf_from(page)})
    assert response.status_code == 200 and "field-error" in response.get_data(as_text=True)
    assert _count(Tenant) == before


def test_bad_verification_token_is_404(client, db):
    assert client.get("/verify/forged.token.value").status_code == 404


def _admin_client(client, world):
    login(client, world.a.users["admin"].email, world.password)
    return csrf_from(client.get("/admin/users").get_data(as_text=True))


def test_admin_creates_edits_and_deactivates_a_user(client, world):
    token = _admin_client(client, world)
    form = {"csrf_token": token, "display_name": "Nina Nouvelle", "email": "nina@alpha-appels.fr", "role": "agent",
            "level": "3", "group_id": str(world.a.group.id), "active": "y", "password": "Nina-pass-2026"}
    assert client.post("/admin/users/new", data=form).status_code == 302
    with tenant_scope(world.a.id):
        nina = Session.scalars(sa.select(User).where(User.email == "nina@alpha-appels.fr")).one()
        assert (nina.level, nina.group_id, nina.tenant_id) == (3, world.a.group.id, world.a.id)
    assert login(client.application.test_client(), "nina@alpha-appels.fr", "Nina-pass-2026").status_code == 302

    form.update(display_name="Nina Superviseure", role="supervisor", level="7", password="")
    assert client.post(f"/admin/users/{nina.id}", data=form).status_code == 302
    assert client.post(f"/admin/users/{nina.id}/deactivate", data={"csrf_token": token}).status_code == 302
    with tenant_scope(world.a.id):
        nina = Session.get(User, nina.id, populate_existing=True)
        assert (nina.role, nina.level, nina.active) == ("supervisor", 7, False)
        actions = list(Session.scalars(sa.select(AuditEvent.action).where(AuditEvent.target_id == str(nina.id))))
    assert actions.count("user.created") == 1 and actions.count("user.updated") == 2


def test_user_form_validates_server_side(client, world):
    token = _admin_client(client, world)
    form = {"csrf_token": token, "display_name": "", "email": world.a.users["agent"].email, "role": "agent",
            "level": "9", "group_id": "0", "password": ""}
    response = client.post("/admin/users/new", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.count("field-error") >= 2
    form.update(display_name="X", level="2")
    html = client.post("/admin/users/new", data=form).get_data(as_text=True)
    assert "field-error" in html  # email already used and password missing
    with tenant_scope(world.a.id):
        assert Session.scalar(sa.select(sa.func.count()).select_from(User)) == 4


def test_admin_cannot_demote_themselves(client, world):
    token = _admin_client(client, world)
    me = world.a.users["admin"]
    form = {"csrf_token": token, "display_name": me.display_name, "email": me.email, "role": "agent", "level": "1",
            "group_id": "0", "active": "y"}
    assert client.post(f"/admin/users/{me.id}", data=form).status_code == 200
    with tenant_scope(world.a.id):
        assert Session.get(User, me.id, populate_existing=True).role == "admin"


def test_permissions_by_role(client, world):
    login(client, world.a.users["agent"].email, world.password)
    for path in ("/admin/users", "/admin/audit", "/admin/groups", "/admin/settings", "/platform/tenants"):
        assert client.get(path).status_code == 403, path
    home = client.get("/").get_data(as_text=True)
    assert "/admin/users" not in home  # navigation shows only what the role may open


def test_groups_page_creates_and_validates(client, world):
    token = _admin_client(client, world)
    assert client.post("/admin/groups", data={"csrf_token": token, "code": "support", "name": "Support"}).status_code == 302
    dup = client.post("/admin/groups", data={"csrf_token": token, "code": "SUPPORT", "name": "Again"})
    assert dup.status_code == 200 and "field-error" in dup.get_data(as_text=True)
    assert "Support" in client.get("/admin/groups").get_data(as_text=True)


def test_audit_log_viewer_filters(client, world):
    _admin_client(client, world)
    page = client.get("/admin/audit?action=login").get_data(as_text=True)
    assert "<code>login.success</code>" in page and "<code>user.created</code>" not in page
    assert client.get("/admin/audit?day=not-a-date").status_code == 200


def test_platform_admin_impersonation_is_audited(client, world):
    login(client, world.platform_admin.email, world.password)
    page = client.get("/platform/tenants")
    assert page.status_code == 200 and world.b.tenant.name in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    assert client.post(f"/platform/tenants/{world.b.id}/impersonate", data={"csrf_token": token}).status_code == 302
    users = client.get("/admin/users").get_data(as_text=True)
    assert world.b.users["agent"].email in users and world.a.users["agent"].email not in users
    with unscoped():
        event = Session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "impersonation.start")).one()
    assert (event.tenant_id, event.actor_id) == (world.b.id, world.platform_admin.id)


def test_tenant_admin_cannot_reach_platform_console(client, world):
    login(client, world.a.users["admin"].email, world.password)
    assert client.get("/platform/tenants").status_code == 403
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.post(f"/platform/tenants/{world.b.id}/impersonate", data={"csrf_token": token}).status_code == 403


def test_settings_update_and_validation(client, world):
    login(client, world.a.users["admin"].email, world.password)
    page = client.get("/admin/settings").get_data(as_text=True)
    bad = client.post("/admin/settings", data={"csrf_token": csrf_from(page), "name": "Alpha", "country": "FR",
                                               "timezone": "Europe/Paris", "currency": "EUR", "brand_color": "red"})
    assert bad.status_code == 200 and "field-error" in bad.get_data(as_text=True)
    ok = client.post("/admin/settings", data={"csrf_token": csrf_from(page), "name": "Alpha Appels SA",
                                              "country": "FR", "timezone": "Indian/Reunion", "currency": "EUR",
                                              "brand_color": "#aa3300", "require_2fa": "y"})
    assert ok.status_code == 302
    with unscoped():
        tenant = Session.get(Tenant, world.a.id, populate_existing=True)
    assert (tenant.name, tenant.timezone, tenant.require_2fa, tenant.brand_color) == (
        "Alpha Appels SA", "Indian/Reunion", True, "#aa3300")


def test_healthz_checks_database_and_redis(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["checks"]) == ("ok", {"database": "ok", "redis": "ok"})


def test_scheduler_heartbeat_job_shows_in_healthz(client, db, stub_worker):
    from app.core.tasks import HEARTBEAT_KEY, scheduler_heartbeat
    from app.extensions import redis

    redis().delete(HEARTBEAT_KEY)
    assert client.get("/healthz").get_json()["scheduler_last_beat_s"] is None
    scheduler_heartbeat.send()
    stub_worker()
    assert client.get("/healthz").get_json()["scheduler_last_beat_s"] in (0, 1)


def test_french_by_default_english_on_request(app, world):
    client = app.test_client()  # no language chosen yet
    page = client.get("/login").get_data(as_text=True)
    assert 'lang="fr"' in page and "Connexion" in page
    client.get("/locale/en", headers={"Referer": "http://localhost/login"})
    page = client.get("/login").get_data(as_text=True)
    assert 'lang="en"' in page and "Log in" in page
    assert client.get("/locale/xx").status_code == 404


def test_french_state_badges_agree_in_gender(app):
    """une file, une liste, une campagne, une clé: "active"; un utilisateur: "actif"."""
    from flask import render_template_string
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("fr"):
        rendered = render_template_string(
            '{{ pgettext("feminine", "active") }}|{{ pgettext("feminine", "inactive") }}|'
            '{{ pgettext("feminine", "revoked") }}|{{ _("active") }}|{{ _("inactive") }}|{{ _("revoked") }}')
    assert rendered == "active|inactive|révoquée|actif|inactif|révoqué"


def test_platform_admin_gets_a_404_page_not_a_crash(client, world):
    login(client, world.platform_admin.email, world.password)
    response = client.get("/admin/users/123456")
    assert response.status_code in (403, 404)
    assert world.platform_admin.display_name in response.get_data(as_text=True)


def test_language_chosen_before_login_is_kept(client, world):
    client.get("/locale/en")
    login(client, world.a.users["admin"].email, world.password)
    assert 'lang="en"' in client.get("/").get_data(as_text=True)
