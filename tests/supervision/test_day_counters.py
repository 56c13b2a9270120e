"""The wallboard's per-day counters: moved by each call's end (once committed), shown
on open wallboards at once, corrected by the minute job's reconciliation."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest

from app.calls.models import Call
from app.core import signals
from app.extensions import Session, redis
from app.realtime import bus
from app.reports.rollup import day_bounds
from app.supervision import counters
from tenants.scoping import tenant_scope
from tests.reports.conftest import DAY, ZONE, at, calls  # noqa: F401  (the calls fixture)
from tests.supervision.conftest import agent_state
from tests.supervision.test_wallboard import read_events


def end_call(tenant_id: int, campaign_id: int, agent_id: int | None, started: dt.datetime, *,
             disposition: str = "VT", abandoned: bool = False, machine: bool = False) -> Call:
    """A call's end as the dialer records it: the CDR completed, then ``call.ended``
    sent in the same transaction (not committed here)."""
    call = Call(id=uuid.uuid4(), campaign_id=campaign_id, agent_id=None if abandoned else agent_id,
                phone_number="+33612345678", state="dispositioned", started_at=started,
                answered_at=started + dt.timedelta(seconds=8), ended_at=started + dt.timedelta(seconds=90),
                disposition=disposition, abandoned=abandoned, is_machine=machine, times={})
    Session.add(call)
    Session.flush()
    signals.call_ended.send("dialer", tenant_id=tenant_id, payload={"id": str(call.id)})
    return call


def test_a_calls_end_counts_once_committed_and_is_announced(world, camps, live):
    cid, agent = camps["a"].campaign_id, world.a.users["agent"].id
    now = dt.datetime.now(dt.UTC)
    day = counters.local_day(now, ZONE)
    pubsub = redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(bus.events_channel(world.a.id))
    try:
        with tenant_scope(world.a.id):
            end_call(world.a.id, cid, agent, now)
            assert redis().hgetall(counters.day_key(world.a.id, day)) == {}  # not before the commit
            Session.commit()
        assert counters.read_counters(world.a.id, ZONE)["today"] == {
            f"c{cid}:calls": 1, f"c{cid}:answered": 1, f"c{cid}:machines": 0, f"c{cid}:abandoned": 0,
            f"c{cid}:sales": 1, f"a{agent}:calls": 1}
        message = None
        deadline = time.monotonic() + 3
        while message is None and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.5)
        event = json.loads(message["data"])
        assert (event["type"], event["day"], event["fields"][f"c{cid}:calls"]) == ("counters", day, 1)
        with tenant_scope(world.a.id):
            end_call(world.a.id, cid, agent, now, disposition="ABD", abandoned=True)
            Session.rollback()  # an end that is rolled back counts nothing
            end_call(world.a.id, cid, agent, now, disposition="ABD", abandoned=True)
            Session.commit()
        figures = counters.campaign_figures(counters.read_counters(world.a.id, ZONE), cid)
        assert (figures["calls"], figures["answered"], figures["sales"], figures["abandon_rate"]) == (2, 2, 1, 50.0)
        assert counters.read_counters(world.b.id, ZONE)["today"] == {}
        assert redis().ttl(counters.day_key(world.a.id, day)) > 2 * 86400
    finally:
        pubsub.close()


def test_a_payload_without_a_call_counts_nothing(world, camps, live):
    with tenant_scope(world.a.id):
        signals.call_ended.send("api", tenant_id=world.a.id, payload={"state": "ended"})
        signals.call_ended.send("api", tenant_id=world.a.id, payload={"id": str(uuid.uuid4())})
        Session.commit()
    assert not list(redis().scan_iter(f"{bus.PREFIX}:t{world.a.id}:day:*"))


def test_the_day_is_the_tenants(world, camps, live):
    """A call started at 23:30 UTC on 26 Nov. is a call of 27 Nov. in Paris."""
    cid = camps["a"].campaign_id
    with tenant_scope(world.a.id):
        end_call(world.a.id, cid, None, dt.datetime(2026, 11, 26, 23, 30, tzinfo=dt.UTC))
        Session.commit()
    assert redis().hget(counters.day_key(world.a.id, "2026-11-27"), f"c{cid}:calls") == "1"
    assert not redis().exists(counters.day_key(world.a.id, "2026-11-26"))


def test_open_wallboard_shows_a_calls_end_at_once(client, world, camps, live, logged_in):
    cid, agent = camps["a"].campaign_id, world.a.users["agent"]
    bus.publish_agent(world.a.id, agent.id, agent_state(cid, "wrap_up"))
    bus.publish_campaign(world.a.id, cid, {"agents": 1, "wrap_up": 1})
    logged_in(client, world.a.users["supervisor"], world.password)
    response = client.get("/supervision/wallboard/stream", buffered=False)
    try:
        snap = read_events(response, "snapshot")[-1][1]
        assert (snap["campaigns"][0]["calls_today"], snap["agents"][0]["calls_today"]) == (0, 0)
        time.sleep(0.3)  # the tenant feed is subscribed
        started = time.monotonic()
        with tenant_scope(world.a.id):
            end_call(world.a.id, cid, agent.id, dt.datetime.now(dt.UTC))
            Session.commit()
        delta = read_events(response, "delta")[-1][1]
        assert time.monotonic() - started < 1.0
        row = delta["campaigns"][str(cid)]
        assert (row["calls_today"], row["sales_today"]) == (1, 1)
        assert delta["agents"][str(agent.id)]["calls_today"] == 1
    finally:
        response.close()
    other = client.application.test_client()
    logged_in(other, world.b.users["supervisor"], world.password)
    response = other.get("/supervision/wallboard/stream", buffered=False)
    try:
        snap = read_events(response, "snapshot")[-1][1]
        assert snap["campaigns"] == [] and snap["agents"] == []
    finally:
        response.close()


def test_reconciliation_corrects_drift_from_the_database(world, calls, live):  # noqa: F811
    """Tenant A's day (the ``calls`` fixture, all ended, no event counted): 10 calls, 9
    answered, 1 machine, 1 abandoned, 2 sales, 7 for its agent; the day before: 2
    answered. The hash has drifted: a call counted twice, one never, a stray field."""
    cid, agent = calls["a"].campaign_id, world.a.users["agent"].id
    day = DAY.isoformat()
    with tenant_scope(world.a.id):
        Session.add(Call(id=uuid.uuid4(), campaign_id=cid, phone_number="+33612345670", state="dialling",
                         started_at=at(16, 59), times={}))  # in flight: its end will count it
        Session.commit()
    counters.add_to_day(world.a.id, day, {f"c{cid}:calls": 11, f"c{cid}:answered": 8, f"c{cid}:sales": 3,
                                          f"a{agent}:calls": 7, "c999:calls": 2})
    counters.add_to_day(world.b.id, day, {f"c{calls['b'].campaign_id}:calls": 4})
    with tenant_scope(world.a.id):
        corrections = counters.reconcile(world.a.id, at(17), ZONE)
        Session.commit()
    assert corrections == {f"c{cid}:calls": -1, f"c{cid}:answered": 1, f"c{cid}:sales": -1,
                           f"c{cid}:machines": 1, f"c{cid}:abandoned": 1, "c999:calls": -2}
    today = counters.read_counters(world.a.id, ZONE, at(17))
    figures = counters.campaign_figures(today, cid)
    assert (figures["calls"], figures["answered"], figures["sales"]) == (10, 9, 2)
    assert figures["abandon_rate"] == round(100 / 8, 2)  # 1 abandoned of 8 live answers
    assert figures["abandon_rate_30d"] == round(100 / 10, 2)  # the day before adds 2 live answers
    assert counters.agent_calls(today, agent) == 7
    assert today["today"].get("c999:calls") == 0
    with tenant_scope(world.a.id):
        assert counters.reconcile(world.a.id, at(17, 1), ZONE) == {}  # nothing left to correct
        Session.rollback()
    # tenant B's day is its own: untouched by A's reconciliation
    assert counters.read_counters(world.b.id, ZONE, at(17))["today"] == {f"c{calls['b'].campaign_id}:calls": 4}


@pytest.mark.parametrize("stale", [True, False])
def test_reconciled_figures_of_another_day_are_not_todays(world, camps, live, stale):
    cid = camps["a"].campaign_id
    bus.store_wallboard_counters(world.a.id, {"day": "2026-11-23" if stale else "2026-11-24",
                                              "past": {str(cid): [100, 0, 9]}})
    figures = counters.campaign_figures(counters.read_counters(world.a.id, ZONE, at(12)), cid)
    assert figures["abandon_rate_30d"] == (0.0 if stale else 9.0)


def test_a_simulated_shift_keeps_the_counters_by_its_events_alone(world, live):
    """The dialer service (simulated backend, clock driven by the test) ends calls:
    their events alone make the day's counters, which the reconciliation then finds
    right (nothing to correct)."""
    from telephony.dialer.service import DialerService
    from tests.dialer_db.conftest import OPEN, make_campaign, released
    from tests.dialer_db.test_service import FakeClock, _run

    campaign = make_campaign(world.a.id, "Démo", leads=200)
    clock = FakeClock()
    service = DialerService(clock=clock, tenant_ids=[world.a.id], epoch_wall=OPEN.timestamp(), discover_every_s=30)
    with released(service):
        _run(service, clock, 600)
    day = counters.local_day(OPEN, ZONE)
    counted = counters.read_counters(world.a.id, ZONE, OPEN)
    assert counters.campaign_figures(counted, campaign.id)["calls"] >= 5
    assert counters.agent_calls(counted, world.a.users["agent"].id) >= 1
    with tenant_scope(world.a.id):
        start, end = day_bounds(dt.date.fromisoformat(day), ZONE)
        truth = counters.day_from_calls(start, end)
        assert {k: v for k, v in truth.items() if v} == {k: v for k, v in counted["today"].items() if v}
        assert counters.reconcile(world.a.id, OPEN + dt.timedelta(hours=1), ZONE) == {}
        Session.rollback()


def test_compliance_blocks_count_by_their_events_batched_per_commit_and_reconciled(world, camps, live):
    from app.campaigns.compliance import log_block
    from app.campaigns.models import ComplianceBlock
    from app.compliance import Reason
    from app.compliance.engine import RefusalRecord

    cid = camps["a"].campaign_id
    now = dt.datetime.now(dt.UTC)
    day = counters.local_day(now, ZONE)

    def block(n: int) -> None:
        for _ in range(n):
            log_block(RefusalRecord(tenant_id=world.a.id, campaign_id=cid, lead_id=None, phone_number="+33612345678",
                                    reason=Reason.WINDOW, at=now, next_allowed_at=None))

    pubsub = redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(bus.events_channel(world.a.id))
    try:
        with tenant_scope(world.a.id):
            block(3)
            Session.rollback()  # refusals rolled back count nothing, and do not leak into the next commit
            block(250)  # a hopper refill at night: one announcement for the whole batch
            assert redis().hgetall(counters.day_key(world.a.id, day)) == {}
            Session.commit()
        figures = counters.campaign_figures(counters.read_counters(world.a.id, ZONE), cid)
        assert figures["blocks"] == 250
        announced = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.2)
            if message is not None:
                announced.append(json.loads(message["data"]))
        assert [event["fields"] for event in announced if event["type"] == "counters"] == [{f"c{cid}:blocks": 250}]
        # a block written without its event (a crash between commit and count) is caught up
        with tenant_scope(world.a.id):
            Session.add(ComplianceBlock(campaign_id=cid, phone_number="+33612345678", reason="window", blocked_at=now))
            Session.commit()
            assert counters.reconcile(world.a.id, now, ZONE)[f"c{cid}:blocks"] == 1
            Session.rollback()
        assert counters.campaign_figures(counters.read_counters(world.a.id, ZONE), cid)["blocks"] == 251
        assert counters.read_counters(world.b.id, ZONE)["today"] == {}
    finally:
        pubsub.close()
