"""A new customer signs up, confirms the email, turns on 2FA, logs in with it,
creates a user and reads the audit log — in a real browser."""

from __future__ import annotations

import re

import pyotp
import pytest

from tests.e2e.conftest import shot

pytestmark = pytest.mark.browser


def _submit(page, selector: str = "main button[type=submit]") -> None:
    with page.expect_navigation():
        page.click(selector)


def test_signup_2fa_users_audit(live_server, browser_page, mail_dir, stub_worker):
    page = browser_page
    page.goto(f"{live_server}/signup")
    shot(page, "signup")
    page.fill("input[name=company]", "Epsilon Télévente")
    page.select_option("select[name=country]", "FR")
    page.fill("input[name=admin_name]", "Emma Epsilon")
    page.fill("input[name=email]", "emma@epsilon-televente.fr")
    page.fill("input[name=password]", "Epsilon-pass-2026")
    page.check("input[name=accept]")
    _submit(page)
    assert "emma@epsilon-televente.fr" in page.content()

    stub_worker()
    body = next(mail_dir.glob("*.eml")).read_text().replace("=\n", "")
    path = re.search(r"http://[^/\s]+(/verify/[\w.\-=]+)", body).group(1)
    page.goto(live_server + path)
    page.fill("input[name=email]", "emma@epsilon-televente.fr")
    page.fill("input[name=password]", "Epsilon-pass-2026")
    _submit(page)
    assert "Bonjour Emma Epsilon" in page.content()
    shot(page, "home")

    page.goto(f"{live_server}/account/2fa")
    secret = page.inner_text("[data-testid=totp-secret]").strip()
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    _submit(page)
    page.locator("form[action='/logout'] button").first.evaluate("b => b.form.submit()")
    page.wait_for_url(re.compile(r".*/login.*"))

    page.fill("input[name=email]", "emma@epsilon-televente.fr")
    page.fill("input[name=password]", "Epsilon-pass-2026")
    _submit(page)
    shot(page, "login_second_factor")
    assert "/login/2fa" in page.url
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    _submit(page)
    assert "Bonjour Emma Epsilon" in page.content()

    page.goto(f"{live_server}/admin/users/new")
    page.fill("input[name=display_name]", "Paul Prospecteur")
    page.fill("input[name=email]", "paul@epsilon-televente.fr")
    page.select_option("select[name=role]", "agent")
    page.fill("input[name=level]", "2")
    page.fill("input[name=password]", "Paul-pass-20266")
    _submit(page)
    assert "Paul Prospecteur" in page.content()
    shot(page, "users")

    page.goto(f"{live_server}/admin/audit")
    text = page.content()
    for action in ("login.success", "user.2fa_enabled", "user.created", "user.email_verified"):
        assert action in text, action
    shot(page, "audit")
