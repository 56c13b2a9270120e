"""Fixtures of the public API tests: per tenant a campaign with a list, the guide's
group ``1swis``, API keys, a click-to-call token and a line pool."""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass, field

import pytest
from werkzeug.serving import make_server

from app.api import keys
from app.api.dialer import ClickToCallDialer, set_dialer
from app.api.models import ApiScope, Click2CallLine
from app.auth.models import UserGroup
from app.campaigns.models import Campaign, CampaignStatus
from app.extensions import Session, redis
from app.leads.models import LeadList
from tenants.scoping import tenant_scope


@dataclass
class ApiTenant:
    tenant_id: int
    campaign_id: int
    list_id: int
    list_name: str
    group_id: int
    group_code: str
    write_key: str
    read_key: str
    token: str
    lines: list[str] = field(default_factory=list)


def make_api_tenant(tenant_id: int, prefix: str, group: UserGroup) -> ApiTenant:
    with tenant_scope(tenant_id):
        campaign = Campaign(name=f"{prefix} Isolation")
        Session.add(campaign)
        Session.flush()
        Session.add(CampaignStatus(campaign_id=campaign.id, code="RAP", name="Rappel", category="commercial"))
        lead_list = LeadList(campaign_id=campaign.id, name="NEW")
        Session.add(lead_list)
        swis = UserGroup(code="1swis", name="Instance 1swis")
        Session.add(swis)
        Session.flush()
        write_key = keys.create_api_key(f"{prefix} site", ApiScope.WRITE).secret
        read_key = keys.create_api_key(f"{prefix} lecture", ApiScope.READ).secret
        token = keys.create_click2call_token(group).secret
        lines = ["8001", "8002", "8003"]
        for priority, extension in enumerate(lines):
            Session.add(Click2CallLine(group_id=group.id, extension=extension, priority=priority))
        Session.flush()
        made = ApiTenant(tenant_id, campaign.id, lead_list.id, lead_list.name, group.id, group.code, write_key,
                         read_key, token, lines)
    return made


@dataclass
class ApiWorld:
    a: ApiTenant
    b: ApiTenant
    world: object


@pytest.fixture()
def api(world) -> ApiWorld:
    a = make_api_tenant(world.a.id, "A", world.a.group)
    b = make_api_tenant(world.b.id, "B", world.b.group)
    Session.commit()
    return ApiWorld(a, b, world)


@pytest.fixture(autouse=True)
def _clean_redis_counters():
    """Rate-limit counters and alert gates live in Redis, keyed by ids that the
    truncated tables hand out again: start every test from zero."""
    client = redis()
    for pattern in ("carillon:c2c:*", "carillon:apikey:*", "carillon:webhooks:*"):
        for key in client.scan_iter(pattern):
            client.delete(key)
    yield
    set_dialer(None)
    gc.collect()


class RecordingControl:
    """A call-control backend that records originates, or refuses them."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.requests = []
        self._lock = threading.Lock()

    def originate(self, request) -> None:
        if self.fail:
            raise ConnectionError("Connection timeout")
        with self._lock:
            self.requests.append(request)

    def hangup(self, call_id: str, cause: str = "NORMAL_CLEARING") -> None:
        """Click-to-call never hangs up."""

    def bridge_to_agent(self, call_id: str, agent_id: int) -> None:
        """Click-to-call never bridges."""

    def play_message(self, call_id: str, audio: str) -> None:
        """Click-to-call never plays messages."""


@pytest.fixture()
def backend() -> RecordingControl:
    control = RecordingControl()
    set_dialer(ClickToCallDialer(control))
    return control


@pytest.fixture()
def live_server(app, db):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def count_leads(owner_engine, tenant_id: int | None = None) -> int:
    import sqlalchemy as sa

    with owner_engine.connect() as conn:
        if tenant_id is None:
            return conn.execute(sa.text("SELECT count(*) FROM leads")).scalar_one()
        return conn.execute(sa.text("SELECT count(*) FROM leads WHERE tenant_id = :t"), {"t": tenant_id}).scalar_one()
