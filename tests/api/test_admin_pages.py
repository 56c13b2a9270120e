"""Administration of the public APIs: API keys (shown once, hashed, revocable),
click-to-call tokens and line pool per group (level 9: own group, level 10 ADMIN:
any group), settings, statistics; the CLI command."""

from __future__ import annotations

import re

import sqlalchemy as sa
from click.testing import CliRunner

from app.api import keys
from app.api.models import ApiKey, Click2CallLine, Click2CallSettings, Click2CallToken
from app.auth.models import Role
from app.auth.services import create_user
from app.extensions import Session
from tenants.scoping import tenant_scope
from tests.factories import csrf_from, login


def admin_client(client, api, role: str = "admin"):
    login(client, api.world.a.users[role].email, api.world.password)
    client.get("/locale/en")  # the assertions read the English texts
    return client


def test_api_key_is_shown_once_and_stored_hashed(client, api):
    admin_client(client, api)
    page = client.get("/admin/api-keys")
    assert page.status_code == 200 and "API KEYS" in page.get_data(as_text=True)
    response = client.post("/admin/api-keys", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                     "name": "Formulaire web", "scope": "write"})
    html = response.get_data(as_text=True)
    secret = re.search(r"carillon_key_[A-Za-z0-9_-]{43}", html).group(0)
    assert secret not in client.get("/admin/api-keys").get_data(as_text=True)
    with tenant_scope(api.a.tenant_id):
        key = Session.scalar(sa.select(ApiKey).where(ApiKey.name == "Formulaire web"))
        assert key.key_hash == keys.digest(secret) and secret not in (key.prefix + key.key_hash)
        Session.commit()
    assert client.get("/api/external/validate", headers={"X-API-Key": secret}).status_code == 200
    token = csrf_from(client.get("/admin/api-keys").get_data(as_text=True))
    assert client.post(f"/admin/api-keys/{key.id}/revoke", data={"csrf_token": token}).status_code == 302
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/api/external/validate", headers={"X-API-Key": secret}).status_code == 401


def test_api_pages_need_level_9(client, api):
    admin_client(client, api, "manager")
    for path in ("/admin/api-keys", "/admin/click2call", "/admin/webhooks"):
        assert client.get(path).status_code == 403


def test_level_9_manages_own_group_only(client, api):
    admin_client(client, api)  # admin of tenant A, group VENTES
    with tenant_scope(api.a.tenant_id):
        from app.auth.models import UserGroup

        other = UserGroup(code="SAV", name="Service")
        Session.add(other)
        Session.commit()
        other_id = other.id
    page = client.get("/admin/click2call")
    assert page.status_code == 200 and "VENTES" in page.get_data(as_text=True)
    assert client.get(f"/admin/click2call?group={other_id}").status_code == 403
    token = csrf_from(page.get_data(as_text=True))
    assert client.post(f"/admin/click2call/{other_id}/tokens", data={"csrf_token": token}).status_code == 403
    generated = client.post(f"/admin/click2call/{api.a.group_id}/tokens", data={"csrf_token": token})
    assert re.search(r"carillon_VENTES_[A-Za-z0-9_-]{43}", generated.get_data(as_text=True))
    # tenant B's group is not even found
    assert client.get(f"/admin/click2call?group={api.b.group_id}").status_code == 404


def test_level_10_admin_manages_every_group(client, api):
    with tenant_scope(api.a.tenant_id):
        from app.auth.models import UserGroup

        boss = create_user(email="boss@alpha-appels.fr", display_name="Boss", password=api.world.password,
                           role=Role.ADMIN, level=10, tenant_id=api.a.tenant_id)
        other = UserGroup(code="SAV", name="Service")
        Session.add(other)
        Session.commit()
        other_id = other.id
    login(client, boss.email, api.world.password)
    page = client.get(f"/admin/click2call?group={other_id}")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    generated = client.post(f"/admin/click2call/{other_id}/tokens", data={"csrf_token": token})
    assert "carillon_SAV_" in generated.get_data(as_text=True)


def test_line_pool_and_settings(client, api, backend):
    admin_client(client, api)
    page = client.get(f"/admin/click2call?group={api.a.group_id}&tab=lines")
    html = page.get_data(as_text=True)
    assert "8001" in html and "8003" in html
    token = csrf_from(html)
    assert client.post(f"/admin/click2call/{api.a.group_id}/lines",
                       data={"csrf_token": token, "extension": "8010", "priority": "10"}).status_code == 302
    duplicate = client.post(f"/admin/click2call/{api.a.group_id}/lines",
                            data={"csrf_token": token, "extension": "8010", "priority": "1"})
    assert duplicate.status_code == 200 and "already in the pool" in duplicate.get_data(as_text=True)
    with tenant_scope(api.a.tenant_id):
        line = Session.scalar(sa.select(Click2CallLine).where(Click2CallLine.extension == "8001"))
        Session.commit()
    client.post(f"/admin/click2call/lines/{line.id}/toggle", data={"csrf_token": token})
    client.post(f"/admin/click2call/lines/{line.id}/priority", data={"csrf_token": token, "priority": "7"})
    saved = client.post(f"/admin/click2call/{api.a.group_id}/settings",
                        data={"csrf_token": token, "strategy": "priority", "rate_limit_per_hour": "50",
                              "cors_origins": "https://crm.example.fr, app.example.fr"})
    assert saved.status_code == 302
    with tenant_scope(api.a.tenant_id):
        line = Session.get(Click2CallLine, line.id, populate_existing=True)
        assert (line.active, line.priority) == (False, 7)
        settings = Session.scalar(sa.select(Click2CallSettings))
        assert (settings.strategy, settings.rate_limit_per_hour) == ("priority", 50)
        assert settings.cors_origins == "crm.example.fr, app.example.fr"
        Session.commit()
    response = client.post("/api/public/click2call", json={"number_to_call": "0601020304"},
                           headers={"Authorization": f"Bearer {api.a.token}"})
    assert response.get_json()["data"]["phone_line_used"] == "8010"  # priority 10 wins
    stats = client.get(f"/admin/click2call?group={api.a.group_id}&tab=stats").get_data(as_text=True)
    assert "0601020304" in stats and "8010" in stats
    tokens_tab = client.get(f"/admin/click2call?group={api.a.group_id}&tab=tokens").get_data(as_text=True)
    with tenant_scope(api.a.tenant_id):
        stored = Session.scalar(sa.select(Click2CallToken))
        assert stored.key_hash not in tokens_tab and api.a.token not in tokens_tab
        Session.commit()


def test_cli_creates_an_api_key(app, api):
    from app.cli import main

    result = CliRunner().invoke(main, ["create-api-key", "--tenant", api.world.a.tenant.slug, "--name", "ERP"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("carillon_key_")
    from flask import Flask  # noqa: F401  (the CLI made its own app; this one still answers)

    client = app.test_client()
    assert client.get("/api/external/validate", headers={"X-API-Key": secret}).status_code == 200
    bad = CliRunner().invoke(main, ["create-api-key", "--tenant", "nope", "--name", "x"])
    assert bad.exit_code != 0 and "no tenant" in bad.output
