"""The register of processing in Debian Chromium: an administrator finds it in the
sidebar, sees the product's activities, adds one with a transfer outside the EU but no
safeguards (the error shows by the field, nothing is saved), corrects it, and the
export links answer. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import Session
from app.leads.models import ProcessingActivity
from tenants.scoping import tenant_scope
from tests.e2e.conftest import browser_page, live_server, shot  # noqa: F401  (fixtures)
from tests.e2e.test_agent_workspace import _login

pytestmark = pytest.mark.browser


def _names(tenant_id: int) -> set[str]:
    with tenant_scope(tenant_id):
        names = set(Session.scalars(sa.select(ProcessingActivity.name)))
        Session.commit()
    return names


def test_admin_keeps_the_register_in_the_browser(live_server, browser_page, world):  # noqa: F811
    page = browser_page
    _login(page, live_server, world.a.users["admin"].email, world.password)
    page.goto(f"{live_server}/leads/lists")
    page.click("nav a[href='/leads/register']")
    page.wait_for_selector("[data-testid=register-activity]")
    assert page.locator("[data-testid=register-activity]").count() == 4
    shot(page, "register-index")

    page.click("a[href='/leads/register/new']")
    page.fill("#reg-name", "Sondages de satisfaction")
    page.fill("#reg-purpose", "Mesurer la satisfaction des clients après un appel")
    page.select_option("#reg-legal_basis", "legitimate_interest")
    page.fill("#reg-data_categories", "Nom, téléphone, réponses")
    page.fill("#reg-data_subjects", "Clients")
    page.fill("#reg-retention", "1 an")
    page.fill("#reg-transfers", "Maroc (prestataire d'enquêtes)")
    page.click("main button[type=submit]")
    error = page.locator("#reg-transfer_safeguards-error")
    error.wait_for()
    assert "safeguards" in error.inner_text() or "garanties" in error.inner_text()
    assert page.locator("#reg-name").input_value() == "Sondages de satisfaction"
    shot(page, "register-activity-error")
    assert "Sondages de satisfaction" not in _names(world.a.id)

    page.fill("#reg-transfer_safeguards", "Clauses contractuelles types de la Commission")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    page.wait_for_selector("[data-testid=register-activity]")
    assert page.locator("[data-testid=register-activity]").count() == 5
    assert "Sondages de satisfaction" in _names(world.a.id)
    assert "Sondages de satisfaction" not in _names(world.b.id)
    for fmt, kind in (("pdf", "application/pdf"), ("csv", "text/csv")):
        response = page.request.get(f"{live_server}/leads/register/export.{fmt}")
        assert response.status == 200 and response.headers["content-type"].startswith(kind)
    shot(page, "register-index-after")
