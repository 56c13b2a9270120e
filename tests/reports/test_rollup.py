"""The rollup (calls → hourly → daily) and the minute job."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.extensions import Session
from app.reports import rollup
from app.reports.models import ReportDaily, ReportHourly
from tenants.scoping import tenant_scope
from tests.reports.conftest import DAY, ZONE, at


def _sums(model, *where):
    cols = [sa.func.sum(getattr(model, m)) for m in ("calls", "answered", "connected", "abandoned", "machines",
                                                      "sales", "callbacks")]
    return tuple(int(v or 0) for v in Session.execute(sa.select(*cols).where(*where)).one())


def test_hourly_and_daily_rows_add_up_and_stay_per_tenant(world, calls):
    with tenant_scope(world.a.id):
        assert _sums(ReportDaily, ReportDaily.day == DAY) == (10, 9, 7, 1, 1, 2, 1)
        assert _sums(ReportHourly, ReportHourly.hour >= at(0)) == (10, 9, 7, 1, 1, 2, 1)
        assert _sums(ReportDaily, ReportDaily.day == DAY - dt.timedelta(days=1))[0] == 2
        talk = Session.scalar(sa.select(sa.func.sum(ReportDaily.talk_s)).where(ReportDaily.day == DAY))
        assert talk == 300 + 240 + 90 + 4 * 30
        area = Session.scalar(sa.select(ReportDaily.area).where(ReportDaily.disposition == "VT"))
        assert area == "75"
    with tenant_scope(world.b.id):
        assert _sums(ReportDaily, ReportDaily.day == DAY)[0] == 5


def test_rollup_is_idempotent(world, calls):
    with tenant_scope(world.a.id):
        before = Session.scalar(sa.select(sa.func.count()).select_from(ReportHourly))
        rollup.rollup_range(DAY, DAY, ZONE)
        rollup.rollup_recent(at(15, 30), ZONE)
        assert Session.scalar(sa.select(sa.func.count()).select_from(ReportHourly)) == before
        assert _sums(ReportDaily, ReportDaily.day == DAY)[0] == 10


def test_minute_job_rolls_up_and_stores_counters_for_every_tenant(world, calls, stub_worker, monkeypatch):
    import gc
    import os
    import warnings

    from app.db import utcnow
    from app.realtime import bus
    from app.reports.tasks import rollup_minute

    monkeypatch.setattr(bus, "PREFIX", f"carillon-test-{os.getpid()}:rt")
    now = utcnow()
    with tenant_scope(world.a.id):
        from tests.reports.conftest import make_call

        make_call(calls["a"].campaign_id, world.a.users["agent"].id, now - dt.timedelta(minutes=5), disposition="VT")
        Session.commit()
    rollup_minute.send()
    stub_worker()
    with warnings.catch_warnings():  # the worker's replaced engine is collected here
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    from app.supervision.counters import agent_calls, campaign_figures, read_counters

    # the reconciliation found the call no event had counted, in tenant A's day only
    counters_a, counters_b = read_counters(world.a.id, ZONE), read_counters(world.b.id, ZONE)
    assert campaign_figures(counters_a, calls["a"].campaign_id)["sales"] == 1
    assert agent_calls(counters_a, world.a.users["agent"].id) == 1
    assert counters_b["reconciled_at"] and counters_b["today"] == {}
