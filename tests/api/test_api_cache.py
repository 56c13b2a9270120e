"""The API hot path's per-process caches (``app.api.cache``): API keys and webhook
subscriptions are answered without a query, yet a revocation, a suspension or a new
subscription is honoured in time, by this process and by the others."""

from __future__ import annotations

import contextlib
import time

import pytest
import sqlalchemy as sa

from app.api import cache, keys, webhooks
from app.api.models import ApiKey, WebhookDelivery
from app.extensions import Session, engine, redis
from tenants.scoping import tenant_scope
from tests.api.test_external_leads import guide_lead, post_lead


@contextlib.contextmanager
def statements():
    """The SQL the application sends inside the block."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(engine(), "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine(), "before_cursor_execute", record)


def another_process_changes(owner_engine, sql: str, params: dict) -> None:
    """What another server process does: change the rows and renew the stamp in Redis,
    without touching this process's memory."""
    with owner_engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    redis().set(cache.GENERATION_KEY, "renewed-elsewhere")


def test_a_cached_key_costs_no_query_and_last_use_is_written_once(client, api):
    assert post_lead(client, api.a.write_key, guide_lead(api.a.list_id)).status_code == 201
    with statements() as sql:
        for _ in range(3):
            assert post_lead(client, api.a.write_key, guide_lead(api.a.list_id)).status_code == 201
    assert not [s for s in sql if "api_keys" in s]
    # one statement per lead besides the transaction's tenant settings
    assert len([s for s in sql if "INSERT INTO leads" in s]) == 3
    assert len([s for s in sql if "set_config" not in s]) == 3


def test_a_key_revoked_here_is_refused_at_once_even_when_cached(client, api):
    assert post_lead(client, api.a.write_key, guide_lead(api.a.list_id)).status_code == 201
    with tenant_scope(api.a.tenant_id):
        key = Session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == keys.digest(api.a.write_key)))
        keys.revoke_api_key(key)
        Session.commit()
    response = post_lead(client, api.a.write_key, guide_lead(api.a.list_id))
    assert response.status_code == 401
    assert response.get_json() == {"success": False, "error": "API Key invalide ou manquante"}


def test_a_key_revoked_by_another_process_is_refused_within_the_stamp_refresh(client, api, owner_engine,
                                                                              monkeypatch):
    monkeypatch.setattr(cache, "STAMP_REFRESH_S", 0.3)
    assert post_lead(client, api.a.write_key, guide_lead(api.a.list_id)).status_code == 201
    another_process_changes(owner_engine, "UPDATE api_keys SET revoked_at = now() WHERE key_hash = :h",
                            {"h": keys.digest(api.a.write_key)})
    time.sleep(0.35)
    assert post_lead(client, api.a.write_key, guide_lead(api.a.list_id)).status_code == 401
    # the other keys are read again and still work
    assert client.get("/api/external/validate", headers={"X-API-Key": api.a.read_key}).status_code == 200


def test_a_suspended_tenant_reaches_cached_keys_within_their_max_age(client, api, owner_engine, monkeypatch):
    monkeypatch.setattr(keys._callers, "max_age_s", 0.3)
    assert post_lead(client, api.a.write_key, guide_lead(api.a.list_id)).status_code == 201
    with owner_engine.begin() as conn:  # no new stamp: only the entries' age applies
        conn.execute(sa.text("UPDATE tenants SET status = 'suspended' WHERE id = :t"), {"t": api.a.tenant_id})
    time.sleep(0.35)
    response = post_lead(client, api.a.write_key, guide_lead(api.a.list_id))
    assert response.status_code == 403
    assert response.get_json()["error"] == "Compte suspendu ou inactif"
    assert post_lead(client, api.b.write_key, guide_lead(api.b.list_id)).status_code == 201


def test_a_lost_stamp_invalidates_every_entry(client, api, owner_engine, monkeypatch):
    monkeypatch.setattr(cache, "STAMP_REFRESH_S", 0.0)
    assert post_lead(client, api.a.write_key, guide_lead(api.a.list_id)).status_code == 201
    with owner_engine.begin() as conn:
        conn.execute(sa.text("UPDATE api_keys SET revoked_at = now() WHERE key_hash = :h"),
                     {"h": keys.digest(api.a.write_key)})
    redis().delete(cache.GENERATION_KEY)  # Redis restarted or flushed
    assert post_lead(client, api.a.write_key, guide_lead(api.a.list_id)).status_code == 401


def test_a_subscription_made_by_another_process_gets_the_next_lead(client, api, owner_engine, monkeypatch,
                                                                  stub_worker):
    monkeypatch.setattr(cache, "STAMP_REFRESH_S", 0.3)
    assert post_lead(client, api.a.write_key, guide_lead(api.a.list_id)).status_code == 201  # "none" cached
    another_process_changes(
        owner_engine,
        "INSERT INTO webhook_endpoints (tenant_id, url, events, description, secret, active, created_at)"
        " VALUES (:t, 'http://127.0.0.1:9/x', '[\"lead.created\"]'::jsonb, '', 'whsec_x', true, now())",
        {"t": api.a.tenant_id})
    time.sleep(0.35)
    assert post_lead(client, api.a.write_key, guide_lead(api.a.list_id)).status_code == 201
    with tenant_scope(api.a.tenant_id):
        assert Session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 1
        Session.commit()


@pytest.mark.parametrize("events", [["lead.created"], ["call.ended"]])
def test_subscriptions_changed_here_apply_at_once(api, events):
    with tenant_scope(api.a.tenant_id):
        assert webhooks.subscribed_events(api.a.tenant_id) == frozenset()
        endpoint = webhooks.create_endpoint("http://127.0.0.1:9/x", events)
        assert webhooks.subscribed_events(api.a.tenant_id) == frozenset(events)
        webhooks.set_active(endpoint, False)
        assert webhooks.subscribed_events(api.a.tenant_id) == frozenset()
        Session.commit()
