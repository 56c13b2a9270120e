from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from app.campaigns.models import Campaign
from app.campaigns.services import create_campaign
from app.extensions import Session
from app.inbound import services
from app.inbound.models import DestinationKind, InboundQueue
from tenants.scoping import tenant_scope

# A Tuesday, 10:30 in Paris.
OPEN = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@dataclass
class TenantSetup:
    tenant_id: int
    campaign_ids: list[int] = field(default_factory=list)
    queue_id: int = 0


def make_campaign(tenant_id: int, name: str, mode: str = "PROGRESSIF") -> Campaign:
    campaign = create_campaign(name, {"dial_mode": mode, "caller_id": "+33162000000"})
    campaign.active = True
    Session.flush()
    return campaign


def make_queue(name: str, campaign_ids: list[int], *, overflow: services.Destination | None = None,
               group_ids: list[int] = (), **settings) -> InboundQueue:
    return services.save_queue(None, name, {"max_wait_s": 60, "service_level_s": 20, **settings}, overflow,
                               campaign_ids, list(group_ids))


@pytest.fixture()
def setups(world) -> dict[str, TenantSetup]:
    """Tenant A: two campaigns taking one queue (overflow to an external number);
    tenant B: one campaign and its own queue."""
    out = {}
    for key, tenant in (("a", world.a), ("b", world.b)):
        with tenant_scope(tenant.id):
            first = make_campaign(tenant.id, f"{key} Service client")
            second = make_campaign(tenant.id, f"{key} Relance")
            queue = make_queue(f"{key} Accueil", [first.id, second.id],
                               overflow=services.Destination(DestinationKind.EXTERNAL, None, "+33145000000"))
            out[key] = TenantSetup(tenant.id, [first.id, second.id], queue.id)
            Session.commit()
    return out


@pytest.fixture(autouse=True)
def _clean_live_state():
    """Queue counters live in Redis by (tenant, queue, day): ids restart with every
    test's fresh tables, so each test starts without any queue keys (only those: a
    concurrent test session may share the Redis database)."""
    from app.extensions import redis

    r = redis()
    for pattern in ("carillon:rt:t*:queue*", "carillon:rt:inbound:*"):
        keys = list(r.scan_iter(match=pattern, count=500))
        if keys:
            r.delete(*keys)
    yield


def step_until(service, tenant_id: int, agent_ids, done, what: str, *, limit: int = 200,
               pause: float = 0.02) -> None:
    """Step the dialer service (its fake clock 0.25 s a step, the agents' pages kept
    alive) until ``done()``, failing with ``what`` after ``limit`` steps."""
    import gevent

    from app.realtime import bus

    for _ in range(limit):
        for agent_id in agent_ids:
            bus.mark_alive(tenant_id, agent_id)
        service.step()
        if done():
            return
        gevent.sleep(pause)
        service._clock.t += 0.25
    raise AssertionError(what)


def engine_state(service, campaign_id: int, agent_id: int) -> str:
    """The agent's state in the engine of the campaign the service holds."""
    agent = service.held[campaign_id].runner.engine.agents.get(agent_id)
    return agent.state.value if agent else "logged_out"
