"""Reports benchmark (S3, S4): a month of calls (5 million by default) for one tenant,
rolled up into the summary tables by the same code as the minute job, then every
ready-made report over the whole month, timed.

    .venv/bin/python bench/reports.py [--calls 5000000] [--agents 400] [--campaigns 40]

Baseline measured in the same run: the agent performance report computed straight
from the calls table (the query a report would run without summary tables).

Uses DATABASE_URL (owner URL; database carillon_bench_reports is created and dropped).
Last line: {"calls": ..., "slowest_report_s": ...}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time

import sqlalchemy as sa
from _db import bench_database, drop_database

DB = "carillon_bench_reports"
ZONE = "Europe/Paris"
FIRST = dt.date(2026, 10, 1)
LAST = dt.date(2026, 10, 31)


def seed(calls: int, agents: int, campaigns: int) -> int:
    from app.auth.models import Role, User
    from app.campaigns.services import create_campaign
    from app.extensions import Session, sqlalchemy_url
    from app.runtime import boot_from_env
    from tenants.models import TenantStatus
    from tenants.scoping import tenant_scope, unscoped
    from tenants.services import create_tenant, default_reseller

    boot_from_env()
    with unscoped():
        tenant = create_tenant("Bench Reports", reseller=default_reseller(), status=TenantStatus.ACTIVE)
        Session.commit()
    with tenant_scope(tenant.id):
        for i in range(campaigns):
            create_campaign(f"Campagne {i:02d}", {"caller_id": "+33162000000"})
        Session.execute(sa.insert(User), [
            {"tenant_id": tenant.id, "email": f"agent{i}@bench-reports.fr", "display_name": f"Agent {i:03d}",
             "password_hash": "x", "role": Role.AGENT, "level": 1} for i in range(agents)])
        Session.commit()
        campaign_ids = list(Session.scalars(sa.text("SELECT id FROM campaigns ORDER BY id")))
        agent_ids = list(Session.scalars(sa.text("SELECT id FROM users WHERE role = 'agent' ORDER BY id")))
    Session.remove()
    owner = sa.create_engine(sqlalchemy_url(os.environ["DATABASE_URL"]))
    started = time.perf_counter()
    # A month of weekday calling, 09:00-19:00 Paris time, spread evenly; outcomes drawn
    # from a plausible mix: 35% answered (6% of those machines), 2% of live answers
    # abandoned, dispositions among the campaign's statuses. Answered outbound calls
    # cost 0.012 EUR a started minute, unanswered ones 0; inbound calls and one in 97
    # (a number no carrier prices) have no cost.
    statuses = "ARRAY['VT','RDV','RP','RF','REP','INJ','HC','NRP','RF','RF','INJ','NRP']"
    chunk = 1_000_000
    with owner.begin() as conn:
        conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
    for start in range(0, calls, chunk):
        size = min(chunk, calls - start)
        with owner.begin() as conn:
            conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
            conn.execute(sa.text(f"""
                INSERT INTO calls (id, tenant_id, campaign_id, agent_id, direction, phone_number, state, disposition,
                                   is_machine, abandoned, started_at, answered_at, bridged_at, ended_at, ring_s,
                                   talk_s, wrapup_s, times, backend, data, billsec, cost)
                SELECT gen_random_uuid(), :tenant, c.campaign, CASE WHEN c.connected THEN c.agent END,
                       CASE WHEN c.n % 20 = 0 THEN 'in' ELSE 'out' END,
                       '+3361' || lpad((c.n % 10000000)::text, 7, '0'), 'ended',
                       CASE WHEN c.answered THEN ({statuses})[1 + (c.n % 12)] ELSE 'NRP' END,
                       c.machine, c.abandoned, c.at,
                       CASE WHEN c.answered THEN c.at + interval '12 seconds' END,
                       CASE WHEN c.connected THEN c.at + interval '13 seconds' END,
                       c.at + interval '12 seconds' + (c.talk || ' seconds')::interval,
                       12, CASE WHEN c.connected THEN c.talk END, CASE WHEN c.connected THEN 15 END,
                       '{{}}'::jsonb, 'simulated', '{{}}'::jsonb,
                       CASE WHEN c.answered THEN c.talk ELSE 0 END,
                       CASE WHEN c.n % 20 = 0 OR c.n % 97 = 1 THEN NULL
                            WHEN c.answered THEN round(0.012 * ceil(c.talk / 60.0), 6) ELSE 0 END
                FROM (
                    SELECT g AS n,
                           (CAST(:campaigns AS int[]))[1 + g % :ncampaigns] AS campaign,
                           (CAST(:agents AS int[]))[1 + g % :nagents] AS agent,
                           hash.r1 < 0.35 AS answered,
                           hash.r1 < 0.35 AND hash.r2 < 0.06 AS machine,
                           hash.r1 < 0.35 AND hash.r2 >= 0.06 AND hash.r2 < 0.08 AS abandoned,
                           hash.r1 < 0.35 AND hash.r2 >= 0.08 AS connected,
                           (20 + (g % 400)) AS talk,
                           day.d + interval '8 hours' + ((g / :ndays) % 36000) * interval '1 second' AS at
                    FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint)) AS g,
                         LATERAL (SELECT ((g * 2654435761) % 1000003) / 1000003.0 AS r1,
                                         ((g * 40503) % 999983) / 999983.0 AS r2) AS hash,
                         LATERAL (SELECT (CAST(:days AS timestamptz[]))[1 + g % :ndays] AS d) AS day
                ) AS c
            """), {"tenant": tenant.id, "campaigns": campaign_ids, "ncampaigns": len(campaign_ids),
                   "agents": agent_ids, "nagents": len(agent_ids), "start": start, "stop": start + size - 1,
                   "days": [f"{d.isoformat()}T00:00:00+00:00" for d in weekdays()], "ndays": len(weekdays())})
        print(f"  {start + size:>9} calls inserted ({time.perf_counter() - started:.0f} s)", flush=True)
    with owner.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE calls"))
    owner.dispose()
    return tenant.id


def weekdays() -> list[dt.date]:
    days = [FIRST + dt.timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    return [d for d in days if d.weekday() < 5]


def timed(label: str, action, results: dict[str, float]) -> object:
    """Wall time (what a user waits, PostgreSQL included) and this process's CPU time
    (the Python side: rows to tables, labels), which a busy machine disturbs less."""
    started, cpu = time.perf_counter(), time.process_time()
    value = action()
    results[label] = time.perf_counter() - started
    print(f"  {label:<48} {results[label]:7.3f} s  (Python CPU {time.process_time() - cpu:6.3f} s)", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5_000_000)
    parser.add_argument("--agents", type=int, default=400)
    parser.add_argument("--campaigns", type=int, default=40)
    args = parser.parse_args()

    bench_database(DB)
    try:
        started = time.perf_counter()
        tenant_id = seed(args.calls, args.agents, args.campaigns)
        print(f"seeded {args.calls} calls in {time.perf_counter() - started:.0f} s", flush=True)

        from app.extensions import Session
        from app.reports import compliance, custom, rollup, services
        from app.reports.models import SavedReport
        from tenants.scoping import tenant_scope

        with tenant_scope(tenant_id):
            started = time.perf_counter()
            rollup.rollup_range(FIRST, LAST, ZONE)
            Session.commit()
            hourly = Session.scalar(sa.text("SELECT count(*) FROM report_hourly"))
            daily = Session.scalar(sa.text("SELECT count(*) FROM report_daily"))
            print(f"rollup of the month: {time.perf_counter() - started:.1f} s "
                  f"({hourly} hourly rows, {daily} daily rows)", flush=True)
            Session.execute(sa.text("ANALYZE report_hourly"))
            Session.execute(sa.text("ANALYZE report_daily"))
            Session.commit()
            started = time.perf_counter()
            rollup.rollup_recent(dt.datetime.combine(dt.date(2026, 10, 30), dt.time(15, 30), dt.UTC), ZONE)
            Session.rollback()
            print(f"minute job's rollup (2 hours + today): {time.perf_counter() - started:.2f} s", flush=True)

            period = services.parse_period("custom", FIRST.isoformat(), LAST.isoformat(), ZONE)
            campaign_id = Session.scalar(sa.text("SELECT min(id) FROM campaigns"))
            report = SavedReport(name="bench", dimensions=["campaign", "agent", "day"],
                                 measures=["calls", "sales", "conversion", "talk_s"], period="month")
            results: dict[str, float] = {}
            print("reports over the month:", flush=True)
            timed("agent performance", lambda: services.agent_performance(period), results)
            timed("campaign results", lambda: services.campaign_results(period), results)
            timed("status breakdown", lambda: services.status_breakdown(period), results)
            timed("abandon per day", lambda: services.abandon_by_day(period), results)
            timed("hour by hour", lambda: services.by_hour(period), results)
            timed("hour by hour, one campaign", lambda: services.by_hour(period, campaign_id), results)
            timed("dashboard (agents + campaigns + hours)", lambda: (
                services.aggregate(period, ["agent"], ["calls", "connected", "sales", "callbacks", "talk_s"]),
                services.aggregate(period, ["campaign"], ["calls", "sales", "abandon_rate"]),
                services.by_hour(period)), results)
            timed("custom: campaign x agent x day", lambda: custom.run_report(report, period), results)
            timed("custom: postal area x status", lambda: services.aggregate(
                period, ["area", "status"], ["calls", "sales"]), results)
            timed("telecom costs (day x campaign)", lambda: services.telecom_costs(period), results)
            timed("compliance (all campaigns)", lambda: compliance.build(
                period, None, dt.datetime.combine(LAST, dt.time(18), dt.UTC)), results)
            timed("call search: month totals + first page", lambda: services.search_calls(
                services.CallFilters(period)), results)
            timed("call search: one campaign, talk 60-120 s", lambda: services.search_calls(
                services.CallFilters(period, campaign_id=campaign_id, min_s=60, max_s=120)), results)
            from app.supervision import counters

            day_start, day_end = rollup.day_bounds(dt.date(2026, 10, 30), ZONE)
            jobs: dict[str, float] = {}  # the minute job's, not a report's
            timed("wallboard reconciliation: a day's ended calls", lambda: counters.day_from_calls(
                day_start, day_end), jobs)
            start, end = period.bounds
            baseline: dict[str, float] = {}
            print("baseline, straight from the calls table:", flush=True)
            timed("agent performance from calls", lambda: Session.execute(sa.text("""
                SELECT c.agent_id, count(*), count(c.bridged_at), count(*) FILTER (WHERE s.sale),
                       count(*) FILTER (WHERE s.callback), sum(c.talk_s), sum(c.wrapup_s)
                FROM calls c LEFT JOIN campaign_statuses s ON s.campaign_id = c.campaign_id AND s.code = c.disposition
                WHERE c.started_at >= :start AND c.started_at < :end GROUP BY c.agent_id
            """), {"start": start, "end": end}).all(), baseline)
            Session.rollback()
        slowest = max(results.values())
        print(f"slowest report {max(results, key=results.get)}: {slowest:.3f} s; "
              f"baseline agent performance from calls: {baseline['agent performance from calls']:.3f} s "
              f"(summary table: {results['agent performance']:.3f} s)", flush=True)
        print(json.dumps({"calls": args.calls, "slowest_report_s": round(slowest, 3)}))
    finally:
        drop_database(DB)


if __name__ == "__main__":
    main()
