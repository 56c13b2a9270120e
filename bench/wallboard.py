"""Wallboard benchmark (S1, N3): 500 agents and 50 campaigns changing state in Redis,
20 wallboards connected to the real SSE endpoint served by gunicorn with a gevent
worker on loopback; prints the update latency (state change published → row received
by the browser side) and the server's CPU.

    .venv/bin/python bench/wallboard.py [--agents 500] [--campaigns 50] [--wallboards 20] [--seconds 30]
                                        [--no-call-ends]

Events: every agent changes state on average every ``--change-every`` seconds (10 s:
50 agent events/s, busier than a real floor where a call cycle lasts minutes) and
every campaign publishes its counters each second (50 events/s), through the same
``app.realtime.bus`` functions the dialer uses. Calls end too: an agent leaving
``in_call`` ends a connected call, and each campaign ends an unanswered one with
probability 0.4 a second; each end moves the day counters through
``app.supervision.counters.add_to_day``, what a committed ``call.ended`` does. Both
latencies are printed: agent rows (state change → row received) and day counters
(increment → the campaign row with the new ``calls_today`` received). Baseline measured in the same run: the
naive design where each wallboard re-reads the whole live state from Redis every
second (no subscription, no batching), 20 pollers in their own process.

Uses DATABASE_URL (owner URL; database carillon_bench_wallboard is created and
dropped) and REDIS_URL's server with database 13 (flushed). Last line:
{"agents": 500, "wallboards": 20, "p99_ms": ..., "cpu_percent": ...}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import threading
import time

from _db import ROOT, bench_database, drop_database

DB = "carillon_bench_wallboard"
REDIS_DB = 13
# a throwaway account in a throwaway database, made per run
PASSWORD = secrets.token_urlsafe(16)
STATES = ("ready", "ringing", "in_call", "wrap_up", "paused")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def redis_url() -> str:
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    return re.sub(r"/\d*$", "", base.rstrip("/")) + f"/{REDIS_DB}"


def seed(agents: int, campaigns: int) -> tuple[int, str, list[int], list[int]]:
    import sqlalchemy as sa

    from app.auth.models import Role, User
    from app.auth.services import create_user
    from app.campaigns.models import Campaign
    from app.extensions import Session
    from app.runtime import boot_from_env
    from tenants.models import TenantStatus
    from tenants.scoping import tenant_scope, unscoped
    from tenants.services import create_tenant, default_reseller

    boot_from_env()
    with unscoped():
        # Pub/sub channels are shared by every Redis database: an id no dev tenant has
        Session.execute(sa.text("SELECT setval(pg_get_serial_sequence('tenants', 'id'), 900000)"))
        tenant = create_tenant("Bench Wallboard", reseller=default_reseller(), status=TenantStatus.ACTIVE)
        Session.commit()
    with tenant_scope(tenant.id):
        supervisor = create_user(email="supervisor@bench-wallboard.fr", display_name="Superviseur", password=PASSWORD,
                                 role=Role.SUPERVISOR, tenant_id=tenant.id)
        Session.execute(sa.insert(Campaign), [{"tenant_id": tenant.id, "name": f"Campagne {i:02d}"}
                                              for i in range(campaigns)])
        Session.execute(sa.insert(User), [
            {"tenant_id": tenant.id, "email": f"agent{i}@bench-wallboard.fr", "display_name": f"Agent {i:03d}",
             "password_hash": supervisor.password_hash, "role": Role.AGENT, "level": 1} for i in range(agents)])
        Session.commit()
        campaign_ids = list(Session.scalars(sa.select(Campaign.id).order_by(Campaign.id)))
        agent_ids = list(Session.scalars(sa.select(User.id).where(User.role == Role.AGENT).order_by(User.id)))
        email = supervisor.email
    Session.remove()
    return tenant.id, email, agent_ids, campaign_ids


def publisher(tenant_id: int, agent_ids: list[int], campaign_ids: list[int], seconds: float,
              change_every: float, counter, ends=None, call_ends: bool = True) -> None:
    """Agent state changes (Poisson, mean ``change_every`` s per agent), campaign
    counters every second and call ends, through the dialer's bus functions; the call
    ends' (campaign, calls today, time) go to ``ends`` when given."""
    import datetime as dt

    from app.realtime import bus
    from app.runtime import boot_from_env
    from app.supervision import counters

    boot_from_env()
    day = counters.local_day(dt.datetime.now(dt.UTC), counters.DEFAULT_ZONE)
    ended: list[tuple[int, int, float]] = []

    def end_call(campaign_id: int, agent_id: int | None, answered: bool) -> None:
        if not call_ends:
            return
        fields = counters.call_fields(campaign_id, agent_id, answered=answered, machine=False,
                                      abandoned=answered and rng.random() < 0.02,
                                      sale=answered and rng.random() < 0.1)
        sent = time.time()
        current = counters.add_to_day(tenant_id, day, fields)
        ended.append((campaign_id, current[f"c{campaign_id}:calls"], sent))

    rng = random.Random(7)
    home = {agent_id: campaign_ids[i % len(campaign_ids)] for i, agent_id in enumerate(agent_ids)}
    state = {agent_id: "ready" for agent_id in agent_ids}
    due = {agent_id: time.time() + rng.expovariate(1 / change_every) for agent_id in agent_ids}
    for agent_id in agent_ids:
        bus.publish_agent(tenant_id, agent_id, {"state": "ready", "since": time.time(), "campaign_id": home[agent_id],
                                                "pause_code": "", "call_id": "", "lead_id": "", "phone": "",
                                                "virtual": 1})
    end = time.time() + seconds
    next_stats = time.time()
    events = 0
    while time.time() < end:
        now = time.time()
        for agent_id, at in due.items():
            if at > now:
                continue
            new = rng.choice([s for s in STATES if s != state[agent_id]])
            if state[agent_id] == "in_call" and call_ends:
                end_call(home[agent_id], agent_id, True)
                events += 1
            state[agent_id] = new
            in_call = new == "in_call"
            bus.publish_agent(tenant_id, agent_id, {
                "state": new, "since": time.time(), "campaign_id": home[agent_id],
                "pause_code": "PAUSE" if new == "paused" else "", "call_id": f"c{agent_id}" if in_call else "",
                "lead_id": rng.randint(1, 10**6) if in_call else "", "phone": "+33612345678" if in_call else "",
                "virtual": 1})
            due[agent_id] = now + rng.expovariate(1 / change_every)
            events += 1
        if now >= next_stats:
            for campaign_id in campaign_ids:
                members = [a for a in agent_ids if home[a] == campaign_id]
                states = [state[a] for a in members]
                bus.publish_campaign(tenant_id, campaign_id, {
                    "agents": len(members), "ready": states.count("ready"), "paused": states.count("paused"),
                    "in_call": states.count("in_call"), "ringing": states.count("ringing"),
                    "wrap_up": states.count("wrap_up"), "dialling": rng.randint(0, 6), "waiting": rng.randint(0, 2),
                    "dials": 0, "answered": 0, "abandoned": 0, "abandon_rate": round(rng.uniform(0, 3.5), 2),
                    "answer_rate": round(rng.uniform(20, 40), 1), "dial_level": round(rng.uniform(1, 3), 2),
                    "mode": "predictive", "updated_at": round(time.time(), 3)})
                events += 1
                if rng.random() < 0.4 and call_ends:
                    end_call(campaign_id, None, False)
                    events += 1
            next_stats += 1.0
        time.sleep(0.02)
    counter.value = events
    if ends is not None:
        ends.put(ended)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    env = dict(os.environ, SESSION_COOKIE_SECURE="false", LOG_LEVEL="WARNING", LOG_JSON="false")
    env.setdefault("SECRET_KEY", "bench-" + os.urandom(8).hex())
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--worker-connections", "1000",
         "--graceful-timeout", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning", "app.wsgi:create()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)


def login(base: str, email: str):
    import requests

    session = requests.Session()
    page = session.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    answer = session.post(f"{base}/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.status_code
    return session


def wallboard_reader(session, url: str, stop: threading.Event, warmup_until: float, latencies: list[float],
                     gaps: list[float], counts_seen: list[dict[tuple[int, int], float]]) -> None:
    response = session.get(url, stream=True, timeout=30)
    event = None
    last = time.time()
    buffer = ""
    seen: dict[tuple[int, int], float] = {}
    counts_seen.append(seen)
    # an agent row also goes out when only its calls today changed: its state change is
    # timed once, by the first row carrying that state's ``since``
    since_seen: dict[str, float] = {}
    for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
        if stop.is_set():
            break
        buffer += chunk
        *lines, buffer = buffer.split("\n")
        now = time.time()
        for raw in lines:
            if raw.startswith("event: "):
                event = raw[7:]
            elif raw.startswith("data: "):
                if now > warmup_until:
                    gaps.append(now - last)
                last = now
                if event in ("delta", "snapshot"):
                    # a change may arrive in a periodic snapshot: it counts when first received
                    change = json.loads(raw[6:])
                    agents = change["agents"].items() if event == "delta" else \
                        ((str(row["id"]), row) for row in change["agents"])
                    campaigns = change["campaigns"].items() if event == "delta" else \
                        ((row["id"], row) for row in change["campaigns"])
                    for agent_id, row in agents:
                        if row is not None and since_seen.get(agent_id) != row["since"]:
                            since_seen[agent_id] = row["since"]
                            if now > warmup_until:
                                latencies.append(now - row["since"])
                    for campaign_id, row in campaigns:
                        seen.setdefault((int(campaign_id), row["calls_today"]), now)
    response.close()


def poller(tenant_id: int, wallboards: int, seconds: float, warmup: float, out) -> None:
    """Baseline: each wallboard re-reads the whole live state every second."""
    from app.realtime import bus
    from app.runtime import boot_from_env

    boot_from_env()
    latencies: list[float] = []
    seen: list[dict[int, float]] = [{} for _ in range(wallboards)]
    start = time.time()
    next_poll = [start + i / wallboards for i in range(wallboards)]
    while time.time() < start + seconds:
        i = min(range(wallboards), key=next_poll.__getitem__)
        time.sleep(max(0.0, next_poll[i] - time.time()))
        agents = bus.all_agents(tenant_id)
        bus.all_campaigns(tenant_id)
        now = time.time()
        for agent_id, state in agents.items():
            since = float(state.get("since") or 0)
            if seen[i].get(agent_id) != since:
                if agent_id in seen[i] and now > start + warmup:
                    latencies.append(now - since)
                seen[i][agent_id] = since
        next_poll[i] += 1.0
    out.put(latencies)


def measure_sse(base: str, email: str, wallboards: int, seconds: float, warmup: float,
                server: subprocess.Popen) -> tuple[list[float], list[float], float, list[dict]]:
    import psutil

    sessions = [login(base, email) for _ in range(2)]
    stop = threading.Event()
    latencies: list[float] = []
    gaps: list[float] = []
    counts_seen: list[dict[tuple[int, int], float]] = []
    warmup_until = time.time() + warmup
    readers = [threading.Thread(target=wallboard_reader, daemon=True,
                                args=(sessions[i % 2], f"{base}/supervision/wallboard/stream", stop, warmup_until,
                                      latencies, gaps, counts_seen)) for i in range(wallboards)]
    for reader in readers:
        reader.start()
    proc = psutil.Process(server.pid)
    workers = [proc, *proc.children(recursive=True)]
    time.sleep(warmup)
    for p in workers:
        p.cpu_percent(None)
    time.sleep(seconds - warmup)
    cpu = sum(p.cpu_percent(None) for p in workers)
    stop.set()
    return latencies, gaps, cpu, counts_seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--campaigns", type=int, default=50)
    parser.add_argument("--wallboards", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--change-every", type=float, default=10.0)
    parser.add_argument("--no-call-ends", action="store_true", help="agent and campaign events only")
    args = parser.parse_args()
    warmup = 5.0

    bench_database(DB)
    os.environ["REDIS_URL"] = redis_url()
    import redis as redis_lib

    redis_lib.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    server = None
    try:
        tenant_id, email, agent_ids, campaign_ids = seed(args.agents, args.campaigns)
        print(f"seeded tenant {tenant_id}: {len(agent_ids)} agents, {len(campaign_ids)} campaigns", flush=True)
        ctx = multiprocessing.get_context("spawn")

        # --- SSE endpoint under gunicorn + gevent
        port = free_port()
        server = start_server(port)
        base = f"http://127.0.0.1:{port}"
        import requests

        for _ in range(100):
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code in (200, 503):
                    break
            except requests.RequestException:
                time.sleep(0.2)
        events = ctx.Value("i", 0)
        ends = ctx.Queue()
        pub = ctx.Process(target=publisher, args=(tenant_id, agent_ids, campaign_ids, args.seconds + 3,
                                                  args.change_every, events, ends, not args.no_call_ends))
        pub.start()
        time.sleep(1.0)
        started_at = time.time()
        latencies, gaps, cpu, counts_seen = measure_sse(base, email, args.wallboards, args.seconds, warmup, server)
        ended = ends.get(timeout=60)
        pub.join()
        # day counters: increment → first delta carrying the campaign's new calls today, per wallboard
        counter_latencies = [seen[(campaign_id, calls)] - sent for seen in counts_seen
                             for campaign_id, calls, sent in ended
                             if sent > started_at + warmup and (campaign_id, calls) in seen]
        expected = sum(1 for _, _, sent in ended if started_at + warmup < sent < started_at + args.seconds - 1)
        rate = events.value / (args.seconds + 3)
        p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
        max_gap = max(gaps) * 1000 if gaps else float("nan")
        print(f"SSE (gunicorn gevent, 1 worker): {rate:.0f} bus events/s, {len(latencies)} row updates received, "
              f"latency p50 {p50:.0f} ms p99 {p99:.0f} ms, longest silence {max_gap:.0f} ms, "
              f"server CPU {cpu:.1f}% of one core", flush=True)
        if ended:
            print(f"day counters: {len(ended)} call ends, {len(counter_latencies)} counter updates received by "
                  f"{args.wallboards} wallboards (about {expected * args.wallboards} ends after the warm-up; ends of "
                  f"one campaign within a 0.2 s batch go out as one row), latency p50 "
                  f"{percentile(counter_latencies, 0.5) * 1000:.0f} ms "
                  f"p99 {percentile(counter_latencies, 0.99) * 1000:.0f} ms", flush=True)
        stop_server(server)
        server = None

        # --- baseline: every wallboard polls the whole state each second
        out = ctx.Queue()
        pub = ctx.Process(target=publisher, args=(tenant_id, agent_ids, campaign_ids, args.seconds + 1,
                                                  args.change_every, events))
        pol = ctx.Process(target=poller, args=(tenant_id, args.wallboards, args.seconds, warmup, out))
        pub.start()
        time.sleep(1.0)
        pol.start()
        import psutil

        poll_proc = psutil.Process(pol.pid)
        time.sleep(warmup)
        poll_proc.cpu_percent(None)
        time.sleep(args.seconds - warmup - 0.5)
        base_cpu = poll_proc.cpu_percent(None)
        base_latencies = out.get(timeout=60)
        pol.join()
        pub.join()
        print(f"baseline (each wallboard re-reads the Redis state every second): latency p50 "
              f"{percentile(base_latencies, 0.5) * 1000:.0f} ms p99 {percentile(base_latencies, 0.99) * 1000:.0f} ms, "
              f"poller CPU {base_cpu:.1f}% of one core (Redis reads only, no HTTP)", flush=True)
        counters_p99 = percentile(counter_latencies, 0.99) * 1000 if counter_latencies else None
        print(json.dumps({"agents": len(agent_ids), "wallboards": args.wallboards, "p99_ms": round(p99, 1),
                          "cpu_percent": round(cpu, 1),
                          "counters_p99_ms": round(counters_p99, 1) if counters_p99 is not None else None}))
    finally:
        if server is not None:
            stop_server(server)
            err = server.stderr.read().decode() if server.stderr else ""
            if err.strip():
                print(err[-2000:], file=sys.stderr)
        redis_lib.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
        drop_database(DB)


if __name__ == "__main__":
    main()
