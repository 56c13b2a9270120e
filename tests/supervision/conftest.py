from __future__ import annotations

import pytest

from app.extensions import redis
from app.realtime import bus
from app.supervision import stream
from tests.campaigns.conftest import camps  # noqa: F401  (fixture shared with campaigns)
from tests.factories import csrf_from, login


def _clear_tenant_keys(tenant_ids) -> None:
    r = redis()
    for tenant_id in tenant_ids:
        keys = list(r.scan_iter(f"{bus.PREFIX}:t{tenant_id}:*"))
        if keys:
            r.delete(*keys)


@pytest.fixture(autouse=True)
def _own_redis_database(app, monkeypatch):
    """Other test runs and the demo dialer share this Redis with the same small tenant
    and user ids: live state here goes to a database of its own, under a prefix of its
    own (pub/sub channels are shared by every database)."""
    import os

    monkeypatch.setattr(bus, "PREFIX", f"carillon-test-{os.getpid()}:rt")
    import redis as redis_lib

    from app import extensions

    original = extensions.redis()
    kwargs = dict(original.connection_pool.connection_kwargs)
    client = redis_lib.Redis(host=kwargs.get("host", "127.0.0.1"), port=kwargs.get("port", 6379),
                             db=(int(kwargs.get("db", 0)) + 7) % 16, decode_responses=True)
    extensions._state["redis"] = client
    yield client
    extensions._state["redis"] = original
    client.close()


@pytest.fixture()
def live(world):
    """Live state in Redis for both tenants, emptied before and after the test."""
    ids = (world.a.id, world.b.id)
    _clear_tenant_keys(ids)
    yield
    _clear_tenant_keys(ids)


@pytest.fixture(autouse=True)
def _quick_streams(monkeypatch):
    monkeypatch.setattr(stream, "STREAM_LIFETIME_S", 8.0)
    monkeypatch.setattr(stream, "TICK_S", 0.3)
    monkeypatch.setattr(stream, "FEED_IDLE_S", 0.2)
    yield
    for feed in list(stream._FEEDS.values()):
        if feed.thread is not None:
            feed.thread.join(timeout=3)


def agent_state(campaign_id: int, state: str = "ready", **extra) -> dict:
    import time

    return {"state": state, "since": time.time() - 5, "campaign_id": campaign_id, "pause_code": "",
            "call_id": "", "lead_id": "", "phone": "", "virtual": 0, **extra}


@pytest.fixture()
def logged_in():
    """Log a user in on a client and return a CSRF token for the session."""

    def log_in(client, user, password) -> str:
        assert login(client, user.email, password).status_code == 302
        with client.session_transaction() as session:
            session["locale"] = "en"  # the assertions read English messages
        return csrf_from(client.get("/").get_data(as_text=True))

    return log_in
