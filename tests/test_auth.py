from __future__ import annotations

import datetime as dt
import re
import time

import pyotp
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.auth.models import User
from app.extensions import Session
from tenants.scoping import tenant_scope, unscoped
from tests.factories import csrf_from, login


def _audit_actions(tenant_id: int | None = None) -> list[str]:
    with unscoped():
        stmt = sa.select(AuditEvent.action).order_by(AuditEvent.id)
        if tenant_id is not None:
            stmt = stmt.where(AuditEvent.tenant_id == tenant_id)
        return list(Session.scalars(stmt))


def test_login_success_and_logout(client, world):
    agent = world.a.users["agent"]
    response = login(client, agent.email, world.password)
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert agent.display_name in home.get_data(as_text=True)
    token = csrf_from(home.get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302  # back to login
    assert "login.success" in _audit_actions(world.a.id)


def test_wrong_password_is_refused_and_audited(client, world):
    response = login(client, world.a.users["agent"].email, "wrong-password-1")
    assert response.status_code == 200
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert "login.failure" in _audit_actions(world.a.id)


def test_unknown_email_is_audited_without_tenant(client, world):
    login(client, "nobody@nowhere.fr", "whatever-123")
    with unscoped():
        event = Session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "login.failure")).one()
    assert event.tenant_id is None
    assert event.details["email"] == "nobody@nowhere.fr"


def test_lockout_after_five_failures(client, world):
    agent = world.a.users["agent"]
    for _ in range(5):
        login(client, agent.email, "bad-password-9")
    response = login(client, agent.email, world.password)
    assert response.status_code == 200, "the right password must not open a locked account"
    with unscoped():
        user = Session.get(User, agent.id, populate_existing=True)
        assert user.locked_until is not None
        # once the lock expires, the right password works again
        user.locked_until = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        Session.commit()
    assert login(client, agent.email, world.password).status_code == 302


def test_totp_enrolment_then_login_with_second_factor(client, world):
    admin = world.a.users["admin"]
    login(client, admin.email, world.password)
    page = client.get("/account/2fa").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    bad = client.post("/account/2fa", data={"csrf_token": csrf_from(page), "code": "000000"})
    assert bad.status_code == 200
    ok = client.post("/account/2fa", data={"csrf_token": csrf_from(page), "code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 302
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})

    response = login(client, admin.email, world.password)
    assert response.headers["Location"].endswith("/login/2fa")
    assert client.get("/").status_code == 302, "not logged in before the second factor"
    page = client.get("/login/2fa").get_data(as_text=True)
    wrong = client.post("/login/2fa", data={"csrf_token": csrf_from(page), "code": "123456"})
    assert wrong.status_code == 200
    right = client.post("/login/2fa", data={"csrf_token": csrf_from(page), "code": pyotp.TOTP(secret).now()})
    assert right.status_code == 302
    assert client.get("/").status_code == 200


def test_tenant_can_enforce_2fa(client, world):
    with tenant_scope(world.a.id):
        world.a.tenant.require_2fa = True
        Session.merge(world.a.tenant)
        Session.commit()
    response = login(client, world.a.users["manager"].email, world.password)
    assert response.headers["Location"].endswith("/account/2fa")


def test_password_reset_by_emailed_token(client, world, mail_dir, stub_worker):
    agent = world.a.users["agent"]
    page = client.get("/password/forgot").get_data(as_text=True)
    response = client.post("/password/forgot", data={"csrf_token": csrf_from(page), "email": agent.email})
    assert response.status_code == 302
    stub_worker()
    mails = list(mail_dir.glob("*.eml"))
    assert len(mails) == 1
    body = mails[0].read_text()
    link = re.search(r"http://[^/\s]+(/password/reset/[\w.\-=]+)", body.replace("=\n", "")).group(1)
    form = client.get(link)
    assert form.status_code == 200
    weak = client.post(link, data={"csrf_token": csrf_from(form.get_data(as_text=True)), "password": "short",
                                   "confirm": "short"})
    assert weak.status_code == 200 and "field-error" in weak.get_data(as_text=True)
    done = client.post(link, data={"csrf_token": csrf_from(form.get_data(as_text=True)),
                                   "password": "Brand-new-pass-7", "confirm": "Brand-new-pass-7"})
    assert done.status_code == 302
    assert login(client, agent.email, "Brand-new-pass-7").status_code == 302
    # the link works once
    assert client.get(link).status_code == 302


def test_forgot_password_does_not_reveal_unknown_addresses(client, world, mail_dir, stub_worker):
    page = client.get("/password/forgot").get_data(as_text=True)
    response = client.post("/password/forgot", data={"csrf_token": csrf_from(page), "email": "ghost@nowhere.fr"})
    assert response.status_code == 302
    stub_worker()
    assert list(mail_dir.glob("*.eml")) == []


def test_logout_everywhere_invalidates_other_sessions(app, world):
    first, second = app.test_client(), app.test_client()
    user = world.a.users["supervisor"]
    login(first, user.email, world.password)
    login(second, user.email, world.password)
    token = csrf_from(first.get("/").get_data(as_text=True))
    first.post("/logout/everywhere", data={"csrf_token": token})
    assert second.get("/").status_code == 302


def test_csrf_is_required_on_forms(client, world):
    response = client.post("/login", data={"email": world.a.users["agent"].email, "password": world.password})
    assert response.status_code in (200, 400)
    assert client.get("/").status_code == 302


def test_session_cookie_flags_in_production_config(world):
    from app import create_app
    from app.config import Config

    prod = create_app(Config.from_env(SESSION_COOKIE_SECURE=True))
    client = prod.test_client()
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post("/login", data={"email": world.a.users["agent"].email, "password": world.password,
                                           "csrf_token": token})
    cookie = response.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    from app.runtime import boot

    boot(Config.from_env())  # restore the session-wide app's handles


def test_deactivated_user_cannot_log_in(client, world):
    with tenant_scope(world.a.id):
        user = Session.get(User, world.a.users["agent"].id)
        user.active = False
        Session.commit()
    assert login(client, user.email, world.password).status_code == 200


def test_email_job_is_retried_when_smtp_fails(world, monkeypatch):
    """The mail job runs on the real Redis broker; an SMTP server that refuses the
    connection makes it fail, and Dramatiq schedules a retry with backoff."""
    import dramatiq

    import jobs  # noqa: F401
    from app.config import Config
    from app.core import tasks
    from app.runtime import current_config

    broker = dramatiq.get_broker()
    for queue in list(broker.get_declared_queues()):
        broker.flush(queue)
    refusing = Config.from_env(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=9)
    monkeypatch.setattr(tasks, "current_config", lambda: refusing)
    tasks.send_email.send("someone@alpha-appels.fr", "Sujet", "Corps")
    worker = dramatiq.Worker(broker, worker_timeout=100, worker_threads=1)
    worker.start()
    key = f"{broker.namespace}:mail.DQ.msgs"
    try:
        deadline = time.monotonic() + 15
        # join() would wait for the delayed retry too: wait for the retry to be queued
        while not broker.client.hlen(key) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    delayed = broker.client.hgetall(key)
    assert len(delayed) == 1
    message = dramatiq.Message.decode(next(iter(delayed.values())))
    assert message.options["retries"] == 1
    assert current_config().MAIL_BACKEND == "file"  # the real config is untouched
