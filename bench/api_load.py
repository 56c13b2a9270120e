"""Lead-import API load test: ``POST /api/external/leads`` at a fixed rate against
gunicorn (gevent workers) on real PostgreSQL and Redis, with a ``/healthz`` baseline
measured in the same run.

    .venv/bin/python bench/api_load.py [--rate 200] [--duration 60] [--workers 4]

Uses DATABASE_URL / REDIS_URL (a database ``carillon_bench_api_<pid>`` is created,
migrated and dropped), else embedded servers under ./var/bench-services. The load is
open-loop: requests are scheduled at fixed instants whatever the answers, and each
latency counts from the scheduled instant, so a server falling behind shows in the
figures instead of slowing the client down. Prints its figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import pathlib
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time

import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._db import bench_database, drop_database  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed() -> tuple[str, int]:
    """A tenant with a campaign, a list, the guide's group and a write API key."""
    from app.runtime import boot_from_env

    boot_from_env()
    from app.api.keys import create_api_key
    from app.auth.models import UserGroup
    from app.campaigns.models import Campaign
    from app.extensions import Session
    from app.leads.models import LeadList
    from tenants.models import TenantStatus
    from tenants.scoping import tenant_scope, unscoped
    from tenants.services import create_tenant, default_reseller

    with unscoped():
        tenant = create_tenant("Bench Appels", reseller=default_reseller(), status=TenantStatus.ACTIVE)
    with tenant_scope(tenant.id):
        campaign = Campaign(name="Bench")
        Session.add(campaign)
        Session.flush()
        lead_list = LeadList(campaign_id=campaign.id, name="NEW")
        Session.add_all([lead_list, UserGroup(code="1swis", name="Bench")])
        Session.flush()
        key = create_api_key("bench").secret
        list_id = lead_list.id
        Session.commit()
    return key, list_id


def start_server(port: int, workers: int) -> subprocess.Popen:
    env = dict(os.environ, LOG_LEVEL="WARNING", LOG_JSON="false", MAIL_BACKEND="file",
               MAIL_FILE_DIR=str(ROOT / "var" / "bench-mail"), SESSION_COOKIE_SECURE="false")
    env.setdefault("SECRET_KEY", secrets.token_hex(32))
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--worker-connections", "1000", "--log-level", "warning", "app.wsgi:create()"],
        cwd=ROOT, env=env, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz within 60 s")


class Result:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.statuses: dict[int, int] = {}
        self.lock = threading.Lock()

    def add(self, latency: float, status: int, ok: bool) -> None:
        with self.lock:
            self.latencies.append(latency)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if not ok:
                self.errors += 1

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def drive(rate: float, duration: float, send, threads: int = 128) -> tuple[Result, float]:
    """Open loop: request i is due at start + i / rate."""
    result = Result()
    local = threading.local()

    def one(index: int, due: float) -> None:
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = requests.Session()
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            status, ok = send(http, index)
        except requests.RequestException:
            status, ok = 0, False
        result.add(time.perf_counter() - due, status, ok)

    total = int(rate * duration)
    start = time.perf_counter() + 0.5
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        for index in range(total):
            due = start + index / rate
            # submit a little ahead of time; the worker waits for the due instant
            ahead = due - time.perf_counter() - 0.05
            if ahead > 0:
                time.sleep(ahead)
            pool.submit(one, index, due)
    elapsed = time.perf_counter() - start
    return result, total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--baseline-duration", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    # a terminated bench still stops its server and drops its database (finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    name = f"carillon_bench_api_{os.getpid()}"
    bench_database(name)
    server = None
    try:
        key, list_id = seed()
        port = free_port()
        server = start_server(port, args.workers)
        base = f"http://127.0.0.1:{port}"

        def healthz(http: requests.Session, index: int) -> tuple[int, bool]:
            response = http.get(f"{base}/healthz", timeout=10)
            return response.status_code, response.status_code == 200

        def lead(http: requests.Session, index: int) -> tuple[int, bool]:
            body = {"user_group": "1swis", "user_aff": "1swis", "status": "NEW", "first_name": "Jean",
                    "last_name": f"Dupont {index}", "phone_number": f"06{index % 100_000_000:08d}",
                    "email": f"jean.{index}@example.fr", "list_id": list_id, "comments": "bench"}
            response = http.post(f"{base}/api/external/leads", json=body, timeout=10,
                                 headers={"X-API-Key": key})
            return response.status_code, response.status_code == 201

        drive(50, 2, healthz)  # warm-up: every worker connected to PostgreSQL and Redis
        drive(50, 2, lead)
        baseline, baseline_rps = drive(args.rate, args.baseline_duration, healthz)
        print(f"/healthz baseline: {baseline_rps:.0f} req/s for {args.baseline_duration:.0f} s, "
              f"p50 {baseline.percentile(50):.1f} ms, p99 {baseline.percentile(99):.1f} ms, "
              f"errors {baseline.errors}")
        load, rps = drive(args.rate, args.duration, lead)
        print(f"POST /api/external/leads: {rps:.0f} req/s for {args.duration:.0f} s "
              f"({len(load.latencies)} requests, gunicorn gevent x{args.workers}), "
              f"p50 {load.percentile(50):.1f} ms, p99 {load.percentile(99):.1f} ms, errors {load.errors}, "
              f"statuses {dict(sorted(load.statuses.items()))}")
        print(json.dumps({"rps": round(rps, 1), "p50_ms": round(load.percentile(50), 1),
                          "p99_ms": round(load.percentile(99), 1), "errors": load.errors,
                          "baseline_p99_ms": round(baseline.percentile(99), 1)}))
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        drop_database(name)


if __name__ == "__main__":
    main()
