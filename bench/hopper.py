"""Hopper refill benchmark (D1, N3): how many leads per second the hopper hands out,
compliance-screened and reserved, from a 10-million-lead table, with several dialer
processes taking leads at once.

    .venv/bin/python bench/hopper.py [--leads 10000000] [--processes 2] [--seconds 20]

Uses DATABASE_URL (owner URL; a database carillon_bench_hopper is created and dropped)
or an embedded PostgreSQL. Baseline measured in the same run: the naive path that
screens each lead with its own history and red-list queries (campaigns.compliance.
check_lead), on a sample. Last line: {"leads": ..., "leads_per_s": ..., "processes": ...}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import sys
import time

import sqlalchemy as sa
from _db import bench_database, drop_database

DB = "carillon_bench_hopper"
OPEN = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)  # a Tuesday, 10:30 in Paris
BATCH = 200


def seed(leads: int) -> tuple[int, int]:
    from app.campaigns.services import create_campaign
    from app.extensions import Session
    from app.leads.models import LeadList
    from app.runtime import boot_from_env
    from tenants.models import TenantStatus
    from tenants.scoping import tenant_scope, unscoped
    from tenants.services import create_tenant, default_reseller

    boot_from_env()
    with unscoped():
        tenant = create_tenant("Bench Hopper", reseller=default_reseller(), status=TenantStatus.ACTIVE)
        Session.commit()
    with tenant_scope(tenant.id):
        campaign = create_campaign("Bench", {"dial_mode": "AUTOMATIQUE3", "caller_id": "+33162000000"})
        campaign.active = True
        lead_list = LeadList(campaign_id=campaign.id, name="10M")
        Session.add(lead_list)
        Session.commit()
        ids = tenant.id, campaign.id, lead_list.id
    Session.remove()
    import os

    from app.extensions import sqlalchemy_url

    owner = sa.create_engine(sqlalchemy_url(os.environ["DATABASE_URL"]))
    started = time.perf_counter()
    chunk = 1_000_000
    with owner.begin() as conn:
        conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
    for start in range(0, leads, chunk):
        with owner.begin() as conn:
            conn.execute(sa.text("""
                INSERT INTO leads (tenant_id, list_id, first_name, last_name, phone_number, postal_code,
                                   country_code, vendor_lead_code, status, custom, attempts, recycles, priority,
                                   consent_source, consent_at, consent_text, consent_proof,
                                   consent_outside_hours, existing_contract, created_at, updated_at)
                SELECT :tenant, :list, 'Prénom', 'Nom' || g, '+336' || lpad(g::text, 8, '0'),
                       lpad((1000 + g % 94000)::text, 5, '0'), 'FR', 'B' || g, 'NEW', '{}', 0, 0, 0,
                       'bench', '2026-09-01', 'ok', 'proof', false, false, now(), now()
                FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) AS g
            """), {"tenant": ids[0], "list": ids[2], "a": start, "b": min(start + chunk, leads) - 1})
        print(f"  seeded {min(start + chunk, leads):,} leads ({time.perf_counter() - started:.0f} s)", flush=True)
    with owner.connect() as conn:
        conn.execute(sa.text("ANALYZE leads"))
        conn.commit()
    owner.dispose()
    return ids[0], ids[1]


def worker(tenant_id: int, campaign_id: int, seconds: float, queue: multiprocessing.Queue) -> None:
    from app.extensions import Session
    from app.runtime import boot_from_env
    from telephony.dialer.hopper import Hopper
    from tenants.scoping import tenant_scope

    boot_from_env()
    hopper = Hopper(campaign_id, clock=lambda: OPEN)
    taken = []
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        with tenant_scope(tenant_id):
            got = hopper.take(BATCH)
            Session.commit()
        taken.extend(lead.lead_id for lead in got)
        if not got:
            break
    queue.put((taken, time.perf_counter() - started))


def baseline(tenant_id: int, campaign_id: int, sample: int) -> float:
    """Per-lead screening with its own queries (the straightforward way)."""
    from app.campaigns.compliance import check_lead
    from app.campaigns.models import Campaign
    from app.extensions import Session
    from app.leads.models import Lead
    from app.runtime import boot_from_env
    from tenants.scoping import tenant_scope

    boot_from_env()
    with tenant_scope(tenant_id):
        campaign = Session.get(Campaign, campaign_id)
        leads = list(Session.scalars(sa.select(Lead).where(Lead.next_attempt_at.is_(None))
                                     .order_by(Lead.id.desc()).limit(sample)))
        started = time.perf_counter()
        for lead in leads:
            if check_lead(campaign, lead, OPEN).allowed:
                lead.next_attempt_at = OPEN + dt.timedelta(minutes=10)
        Session.commit()
        elapsed = time.perf_counter() - started
    Session.remove()
    return len(leads) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=10_000_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    bench_database(DB)
    try:
        print(f"seeding {args.leads:,} leads…", flush=True)
        tenant_id, campaign_id = seed(args.leads)
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        procs = [ctx.Process(target=worker, args=(tenant_id, campaign_id, args.seconds, queue))
                 for _ in range(args.processes)]
        for proc in procs:
            proc.start()
        results = [queue.get(timeout=args.seconds + 120) for _ in procs]
        for proc in procs:
            proc.join()
        # rate over the refill loops themselves (process start-up and boot excluded)
        elapsed = max(seconds for _, seconds in results)
        taken = [lead for got, _ in results for lead in got]
        duplicates = len(taken) - len(set(taken))
        rate = len(taken) / elapsed
        base = baseline(tenant_id, campaign_id, 2000)
        print(f"hopper: {len(taken):,} leads in {elapsed:.1f} s with {args.processes} processes "
              f"= {rate:,.0f} leads/s (batches of {BATCH}); duplicates handed out: {duplicates}")
        print(f"baseline (per-lead queries, 1 process, 2000 leads): {base:,.0f} leads/s; "
              f"ratio {rate / base:.1f}x")
        print(json.dumps({"leads": len(taken), "leads_per_s": round(rate), "processes": args.processes,
                          "table_rows": args.leads, "duplicates": duplicates,
                          "baseline_leads_per_s": round(base)}))
        if duplicates:
            sys.exit(1)
    finally:
        drop_database(DB)


if __name__ == "__main__":
    main()
