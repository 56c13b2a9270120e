from __future__ import annotations

import datetime as dt
import uuid

import pytest

from app.calls.models import Call
from app.extensions import Session
from app.reports import rollup
from tenants.scoping import tenant_scope
from tests.campaigns.conftest import camps  # noqa: F401  (fixture shared with campaigns)
from tests.factories import csrf_from, login

DAY = dt.date(2026, 11, 24)  # a Tuesday
ZONE = "Europe/Paris"


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    """A Paris wall-clock time as UTC (UTC+1 in November)."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC) - dt.timedelta(hours=1)


def make_call(campaign_id: int, agent_id: int | None, started: dt.datetime, *, answered: bool = True,
              bridged: bool = True, disposition: str | None = "INJ", abandoned: bool = False, machine: bool = False,
              talk: float = 60.0, lead_id: int | None = None, phone: str = "+33612345678",
              direction: str = "out") -> Call:
    call = Call(id=uuid.uuid4(), campaign_id=campaign_id, agent_id=agent_id if bridged else None, lead_id=lead_id,
                direction=direction, phone_number=phone, state="ended", started_at=started,
                answered_at=started + dt.timedelta(seconds=10) if answered else None,
                bridged_at=started + dt.timedelta(seconds=11) if bridged else None,
                ended_at=started + dt.timedelta(seconds=10 + talk), disposition=disposition, abandoned=abandoned,
                is_machine=machine, ring_s=10.0, talk_s=talk if bridged else None, wrapup_s=5.0 if bridged else None)
    Session.add(call)
    return call


@pytest.fixture()
def calls(world, camps):  # noqa: F811  (the camps fixture)
    """Tenant A: 10 calls on DAY (2 sales, 1 callback, 1 abandoned, 1 machine, 1 no
    answer) and 2 the day before; tenant B: 5 calls on DAY. Rolled up."""
    agent_a = world.a.users["agent"].id
    a, b = camps["a"], camps["b"]
    with tenant_scope(world.a.id):
        make_call(a.campaign_id, agent_a, at(10, 5), disposition="VT", talk=300, lead_id=a.lead_id)
        make_call(a.campaign_id, agent_a, at(10, 20), disposition="VT", talk=240, lead_id=a.lead_id)
        make_call(a.campaign_id, agent_a, at(11, 0), disposition="RP", talk=90)
        make_call(a.campaign_id, agent_a, at(11, 30), bridged=False, abandoned=True, disposition="ABD", talk=0)
        make_call(a.campaign_id, agent_a, at(14, 0), bridged=False, machine=True, disposition="REP", talk=0)
        make_call(a.campaign_id, agent_a, at(14, 10), answered=False, bridged=False, disposition="NRP", talk=0)
        for minute in range(4):
            make_call(a.campaign_id, agent_a, at(15, minute * 10), disposition="RF", talk=30,
                      phone=f"+3361111111{minute}")
        for minute in range(2):
            make_call(a.campaign_id, agent_a, at(16, minute, DAY - dt.timedelta(days=1)), disposition="RF")
        rollup.rollup_range(DAY - dt.timedelta(days=1), DAY, ZONE)
        Session.commit()
    with tenant_scope(world.b.id):
        for minute in range(5):
            make_call(b.campaign_id, world.b.users["agent"].id, at(10, minute), disposition="VT", talk=500,
                      phone="+33699999999")
        rollup.rollup_range(DAY - dt.timedelta(days=1), DAY, ZONE)
        Session.commit()
    return {"a": a, "b": b}


@pytest.fixture()
def logged_in():
    def log_in(client, user, password) -> str:
        assert login(client, user.email, password).status_code == 302
        with client.session_transaction() as session:
            session["locale"] = "en"  # the assertions read English text
        return csrf_from(client.get("/").get_data(as_text=True))

    return log_in
