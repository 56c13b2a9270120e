"""Lead-import API load test: ``POST /api/external/leads`` at a fixed rate against
gunicorn on real PostgreSQL and Redis, with a ``/healthz`` baseline measured in the
same run.

    .venv/bin/python bench/api_load.py [--rate 200] [--duration 60] [--workers 2]
                                       [--pool api]

Uses DATABASE_URL / REDIS_URL (a database ``carillon_bench_api_<pid>`` is created,
migrated and dropped), else embedded servers under ./var/bench-services. The server
runs as in production: the API pool of ``carillon serve`` (``--pool web``: the gevent
pool of the screens instead), JSON request log at INFO, written to
var/bench-api-server.log. The load is open-loop: one asyncio client sends request i
at start + i / rate on an idle keep-alive connection or a new one, whatever the
answers, and each latency counts from that scheduled instant to the last byte of the
answer, so a server (or client) falling behind shows in the figures instead of
slowing the load down. An answer counts as an error unless it is the expected status
with the expected JSON. Also prints the CPU time the web server and the PostgreSQL
backends spent per request, then one JSON line. The PostgreSQL figure counts the
backends still connected when the phase ends: connections opened and closed during
the phase (the overflow of a collapsing gevent pool) are missed, and it reads low.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import secrets
import signal
import socket
import subprocess
import sys
import time

import requests
import sqlalchemy as sa

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.cli import POOLS, gunicorn_argv  # noqa: E402
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


SERVER_LOG = ROOT / "var" / "bench-api-server.log"


def start_server(port: int, workers: int, pool: str) -> subprocess.Popen:
    # Production logging (one JSON line per request, level INFO), written to a file.
    env = dict(os.environ, LOG_LEVEL="INFO", LOG_JSON="true", MAIL_BACKEND="file",
               MAIL_FILE_DIR=str(ROOT / "var" / "bench-mail"), SESSION_COOKIE_SECURE="false")
    env.setdefault("SECRET_KEY", secrets.token_hex(32))
    SERVER_LOG.parent.mkdir(parents=True, exist_ok=True)
    log = SERVER_LOG.open("w")
    server = subprocess.Popen(gunicorn_argv(pool, f"127.0.0.1:{port}", workers, "--log-level", "warning"),
                              cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
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


def server_cpu_seconds(master: int) -> float:
    """User + system CPU time of gunicorn's master and workers so far (Linux /proc)."""
    pids = [master]
    for task in pathlib.Path(f"/proc/{master}/task").iterdir():
        pids += [int(pid) for pid in (task / "children").read_text().split()]
    return cpu_seconds(pids)


def database_cpu_seconds(database: str) -> float:
    """CPU time so far of the PostgreSQL backends serving ``database`` (when the
    server runs on this machine and its processes are readable; else 0)."""
    from app.extensions import engine

    with engine().connect() as conn:
        pids = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": database}).scalars()
        return cpu_seconds(list(pids))


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


class Result:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.statuses: dict[int, int] = {}
        self.connections = 0
        self.client_cpu_s = 0.0

    def add(self, latency: float, status: int, ok: bool) -> None:
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if not ok:
            self.errors += 1

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


# gunicorn closes a keep-alive connection idle for 2 s (its default ``keepalive``)
IDLE_REUSE_S = 1.0


class Connection:
    """One keep-alive HTTP/1.1 connection: a request written whole, the answer read
    whole (status line, headers, Content-Length body)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, body, headers.get("connection", "").lower() != "close"

    def close(self) -> None:
        self.writer.close()


def drive(port: int, rate: float, duration: float, make_request, check) -> tuple[Result, float]:
    """Open loop: request i is due at start + i / rate and is sent then, on an idle
    keep-alive connection or on a new one (never queued behind a busy one). Its
    latency runs from the due instant to the last byte of the answer, so a server or
    a client falling behind shows in the figures."""
    cpu = time.process_time()
    result, rps = asyncio.run(_drive(port, rate, duration, make_request, check))
    result.client_cpu_s = time.process_time() - cpu
    return result, rps


async def _drive(port: int, rate: float, duration: float, make_request, check) -> tuple[Result, float]:
    loop = asyncio.get_running_loop()
    result = Result()
    idle: list[Connection] = []
    tasks: set[asyncio.Task] = set()

    async def exchange(connection: Connection | None, request: bytes) -> tuple[Connection, int, bytes, bool]:
        if connection is None:
            connection = Connection(*await asyncio.open_connection("127.0.0.1", port))
            result.connections += 1
        return connection, *await connection.exchange(request)

    async def one(index: int, due: float) -> None:
        connection = None
        while idle and connection is None:
            connection = idle.pop()
            if loop.time() - connection.idle_since > IDLE_REUSE_S:
                # the server may be closing it (keep-alive timeout): a request sent
                # now could be lost in the race, which would count as a false error
                connection.close()
                connection = None
        reused = connection
        try:
            # connecting counts in the latency and in the 10 s allowed
            connection, status, body, keep = await asyncio.wait_for(exchange(connection, make_request(index)),
                                                                    timeout=10)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            status, body, keep = 0, b"", False
            if reused is not None:
                reused.close()
            connection = None
        result.add(loop.time() - due, status, status != 0 and _checked(check, status, body))
        if connection is not None:
            if keep:
                connection.idle_since = loop.time()
                idle.append(connection)
            else:
                connection.close()

    total = int(rate * duration)
    start = loop.time() + 0.2
    for index in range(total):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = loop.create_task(one(index, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    # the rate achieved: good answers (errors excluded) over the time from the first
    # due instant to the last answer
    elapsed = loop.time() - start
    for connection in idle:
        connection.close()
    return result, (len(result.latencies) - result.errors) / elapsed


def settle(port: int, limit_s: float = 60.0) -> None:
    """Wait until the server answers a lone /healthz quickly again: what a phase left
    queued must not be charged to the next one."""
    deadline = time.monotonic() + limit_s
    quick = 0
    while time.monotonic() < deadline and quick < 3:
        started = time.monotonic()
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        except requests.RequestException:
            pass
        quick = quick + 1 if time.monotonic() - started < 0.05 else 0
        time.sleep(0.2)


def _checked(check, status: int, body: bytes) -> bool:
    try:
        return bool(check(status, body))
    except (ValueError, KeyError, TypeError):  # not the expected JSON answer
        return False


def http_request(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--baseline-duration", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--pool", default="api", choices=("api", "web"),
                        help="the web server's pool that serves the load (app.cli.POOLS)")
    args = parser.parse_args()

    # a terminated bench still stops its server and drops its database (finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    name = f"carillon_bench_api_{os.getpid()}"
    bench_database(name)
    server = None
    try:
        key, list_id = seed()
        port = free_port()
        server = start_server(port, args.workers, args.pool)
        healthz = http_request("GET", "/healthz")

        def healthy(status: int, body: bytes) -> bool:
            return status == 200 and json.loads(body)["status"] == "ok"

        def lead(index: int) -> bytes:
            body = {"user_group": "1swis", "user_aff": "1swis", "status": "NEW", "first_name": "Jean",
                    "last_name": f"Dupont {index}", "phone_number": f"06{index % 100_000_000:08d}",
                    "email": f"jean.{index}@example.fr", "list_id": list_id, "comments": "bench"}
            return http_request("POST", "/api/external/leads", {"X-API-Key": key, "Content-Type": "application/json"},
                                json.dumps(body).encode())

        def created(status: int, body: bytes) -> bool:
            answer = json.loads(body)
            return status == 201 and answer["success"] is True and answer["data"]["lead_id"] > 0

        drive(port, 50, 2, lambda _i: healthz, healthy)  # warm-up: every worker connected to PostgreSQL and Redis
        drive(port, 50, 2, lead, created)
        settle(port)
        cpu_before = server_cpu_seconds(server.pid)
        baseline, baseline_rps = drive(port, args.rate, args.baseline_duration, lambda _i: healthz, healthy)
        baseline_cpu = server_cpu_seconds(server.pid) - cpu_before
        print(f"/healthz baseline: {args.rate:.0f} req/s offered for {args.baseline_duration:.0f} s, "
              f"{baseline_rps:.0f} good answers/s, "
              f"p50 {baseline.percentile(50):.1f} ms, p99 {baseline.percentile(99):.1f} ms, "
              f"errors {baseline.errors}, "
              f"CPU per request: web server {baseline_cpu / max(1, len(baseline.latencies)) * 1000:.2f} ms")
        settle(port)
        cpu_before, db_cpu_before = server_cpu_seconds(server.pid), database_cpu_seconds(name)
        load, rps = drive(port, args.rate, args.duration, lead, created)
        cpu = server_cpu_seconds(server.pid) - cpu_before
        db_cpu = database_cpu_seconds(name) - db_cpu_before
        print(f"POST /api/external/leads: {args.rate:.0f} req/s offered for {args.duration:.0f} s, "
              f"{rps:.0f} good answers/s "
              f"({len(load.latencies)} requests, {args.pool} pool x{args.workers} ({' '.join(POOLS[args.pool])}), "
              f"{load.connections} connections), "
              f"p50 {load.percentile(50):.1f} ms, p90 {load.percentile(90):.1f} ms, "
              f"p99 {load.percentile(99):.1f} ms, max {load.percentile(100):.1f} ms, errors {load.errors}, "
              f"statuses {dict(sorted(load.statuses.items()))}, "
              f"CPU per request: web server {cpu / max(1, len(load.latencies)) * 1000:.2f} ms, "
              f"PostgreSQL {db_cpu / max(1, len(load.latencies)) * 1000:.2f} ms, "
              f"load client {load.client_cpu_s / max(1, len(load.latencies)) * 1000:.2f} ms")
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
