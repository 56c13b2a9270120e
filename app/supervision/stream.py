"""Server-Sent Events for the wallboard.

One ``TenantFeed`` per tenant and web process subscribes to the tenant's bus channel
and hands batches of events (every ``BATCH_S``) to the wallboards of that tenant
open in this process, so 20 wallboards cost one Redis subscription and one JSON
decode per event. Each stream filters the batch, sends it as a ``delta``, sends a
``tick`` when it has had nothing to say for a second, and a full ``snapshot`` every
``RESYNC_S`` (per-day counters, anything a lost batch missed). Plain threads and
blocking queues: gunicorn's gevent worker patches them into greenlets, the werkzeug
test server runs them as threads."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator

from app.extensions import redis
from app.realtime import bus
from app.supervision.live import Directory, Filters, delta, snapshot

log = logging.getLogger(__name__)

BATCH_S = 0.2
TICK_S = 1.0
RESYNC_S = 15.0
COUNTERS_S = 5.0
STREAM_LIFETIME_S = 600.0  # the browser reconnects by itself; the session is checked again
FEED_IDLE_S = 10.0
QUEUE_SIZE = 50
RESYNC = object()  # put on a wallboard's queue when it fell behind and lost batches


class TenantFeed:
    def __init__(self, tenant_id: int) -> None:
        self.tenant_id = tenant_id
        self.subscribers: set[queue.Queue] = set()
        self.counters: dict = {}
        self.thread: threading.Thread | None = None

    # Called with _LOCK held.
    def _ensure_running(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._run, name=f"wallboard-feed-{self.tenant_id}", daemon=True)
            self.thread.start()

    def _broadcast(self, item: object) -> None:
        for q in list(self.subscribers):
            try:
                q.put_nowait(item)
            except queue.Full:
                # a slow reader: drop its backlog, it resynchronises from Redis
                while True:
                    try:
                        q.get_nowait()
                    except queue.Empty:
                        break
                q.put_nowait(RESYNC)

    def _run(self) -> None:
        pubsub = redis().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(bus.events_channel(self.tenant_id))
        agents: dict[int, dict] = {}
        campaigns: dict[int, dict] = {}
        last_flush = last_counters = time.monotonic()
        idle_since: float | None = None
        try:
            self.counters = bus.wallboard_counters(self.tenant_id)
            while True:
                message = pubsub.get_message(timeout=BATCH_S)
                if message is not None and message.get("type") == "message":
                    event = json.loads(message["data"])
                    kind = event.get("type")
                    if kind == "agent" and "agent_id" in event:
                        agents[int(event["agent_id"])] = event
                    elif kind == "campaign" and "campaign_id" in event:
                        campaigns[int(event["campaign_id"])] = event
                now = time.monotonic()
                if now - last_counters >= COUNTERS_S:
                    self.counters = bus.wallboard_counters(self.tenant_id)
                    last_counters = now
                if now - last_flush >= BATCH_S:
                    if agents or campaigns:
                        self._broadcast((agents, campaigns))
                        agents, campaigns = {}, {}
                    last_flush = now
                    with _LOCK:
                        if self.subscribers:
                            idle_since = None
                        elif idle_since is None:
                            idle_since = now
                        elif now - idle_since >= FEED_IDLE_S:
                            _FEEDS.pop(self.tenant_id, None)
                            return
        except Exception:
            log.exception("wallboard feed of tenant %s stopped", self.tenant_id)
            with _LOCK:
                _FEEDS.pop(self.tenant_id, None)
                self._broadcast(RESYNC)
        finally:
            pubsub.close()

    def subscribe(self) -> queue.Queue:
        q: queue.Queue = queue.Queue(maxsize=QUEUE_SIZE)
        self.subscribers.add(q)
        return q


_LOCK = threading.Lock()
_FEEDS: dict[int, TenantFeed] = {}


def subscribe(tenant_id: int) -> tuple[TenantFeed, queue.Queue]:
    with _LOCK:
        feed = _FEEDS.get(tenant_id)
        if feed is None:
            feed = _FEEDS[tenant_id] = TenantFeed(tenant_id)
        q = feed.subscribe()
        feed._ensure_running()
        return feed, q


def unsubscribe(feed: TenantFeed, q: queue.Queue) -> None:
    with _LOCK:
        feed.subscribers.discard(q)


def sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def wallboard_events(directory: Directory, filters: Filters, lifetime_s: float | None = None) -> Iterator[str]:
    """The body of one wallboard's event stream (uses no request or database)."""
    lifetime_s = STREAM_LIFETIME_S if lifetime_s is None else lifetime_s
    feed, q = subscribe(directory.tenant_id)
    try:
        started = last_sent = last_sync = time.monotonic()
        yield "retry: 2000\n\n"
        yield sse("snapshot", snapshot(directory, filters))
        while time.monotonic() - started < lifetime_s:
            try:
                item = q.get(timeout=max(0.05, TICK_S - (time.monotonic() - last_sent)))
            except queue.Empty:
                item = None
            now = time.monotonic()
            if item is RESYNC or now - last_sync >= RESYNC_S:
                yield sse("snapshot", snapshot(directory, filters))
                last_sent = last_sync = now
                continue
            if item is not None:
                agents, campaigns = item  # type: ignore[misc]
                change = delta(directory, filters, agents, campaigns, feed.counters)
                if change is not None:
                    yield sse("delta", change)
                    last_sent = now
                    continue
            if now - last_sent >= TICK_S:
                yield sse("tick", {"now": round(time.time(), 3)})
                last_sent = now
    finally:
        unsubscribe(feed, q)
