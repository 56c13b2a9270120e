"""Server-Sent Events for the wallboard.

One ``TenantFeed`` per tenant and web process subscribes to the tenant's bus channel,
keeps a copy of the tenant's live state (read from Redis when it starts and again
every ``RESYNC_S``, then kept current by the events) and hands batches of changes
(every ``BATCH_S``) to the wallboards of that tenant open in this process. So twenty
wallboards cost one Redis subscription, one JSON decode per event and one state read
per resync, whatever their number. Each stream filters the batch and sends it as a
``delta``, sends a ``tick`` when it has had nothing to say for ``TICK_S``, and a full
``snapshot`` from the feed's copy when it opens and about every ``RESYNC_S`` (anything
a dropped batch missed). A call's end announces its day's new counters on the same
channel: the rows of its campaign and agent go out in the next batch. Plain threads and blocking queues:
gunicorn's gevent worker patches them into greenlets, the werkzeug server runs them
as threads."""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections.abc import Iterator

from app.extensions import redis
from app.realtime import bus
from app.supervision import counters as day_counters
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
    def __init__(self, tenant_id: int, zone: str = day_counters.DEFAULT_ZONE) -> None:
        self.tenant_id = tenant_id
        self.zone = zone
        self.subscribers: set[queue.Queue] = set()
        self.agents: dict[int, dict] = {}
        self.campaigns: dict[int, dict] = {}
        self.counters: dict = {}
        self.queues: dict[int, dict] = {}  # inbound queues: live state and today's counters
        self.thread: threading.Thread | None = None
        self.pubsub = None

    def start(self) -> None:
        """Subscribe first, then read the state: no change can fall in between."""
        self.pubsub = redis().pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(bus.events_channel(self.tenant_id))
        self.reload()
        self.thread = threading.Thread(target=self._run, name=f"wallboard-feed-{self.tenant_id}", daemon=True)
        self.thread.start()

    def reload(self) -> None:
        self.agents = bus.all_agents(self.tenant_id)
        self.campaigns = bus.all_campaigns(self.tenant_id)
        self.counters = day_counters.read_counters(self.tenant_id, self.zone)
        self.queues = bus.all_queues(self.tenant_id)

    def state(self) -> tuple[dict[int, dict], dict[int, dict], dict, dict[int, dict]]:
        # dict.copy() is atomic: safe while the feed thread updates the originals
        return self.agents.copy(), self.campaigns.copy(), self.counters, self.queues.copy()

    def _broadcast(self, item: object) -> None:
        for q in list(self.subscribers):
            try:
                q.put_nowait(item)
            except queue.Full:
                # a slow reader: drop its backlog, it resynchronises from the feed's copy
                while True:
                    try:
                        q.get_nowait()
                    except queue.Empty:
                        break
                q.put_nowait(RESYNC)

    def _apply(self, event: dict, agents: dict[int, dict], campaigns: dict[int, dict],
               queues: dict[int, dict] | None = None) -> None:
        kind = event.get("type")
        if kind == "agent" and "agent_id" in event:
            agent_id = int(event["agent_id"])
            agents[agent_id] = event
            if event.get("state") == "logged_out":
                self.agents.pop(agent_id, None)
            else:
                self.agents[agent_id] = event
        elif kind == "campaign" and "campaign_id" in event:
            campaign_id = int(event["campaign_id"])
            campaigns[campaign_id] = event
            self.campaigns[campaign_id] = {**self.campaigns.get(campaign_id, {}), **event}
        elif kind == "queue" and "queue_id" in event:
            queue_id = int(event["queue_id"])
            if queues is not None:
                queues[queue_id] = event
            self.queues[queue_id] = event  # each event carries the queue's whole state
        elif kind == "counters" and isinstance(event.get("fields"), dict):
            # a call ended (or the reconciliation corrected a count): its campaign's and
            # agent's rows go out with the new figures in this batch
            day = str(event.get("day", ""))
            if day > str(self.counters.get("day", "")):
                self.counters = day_counters.read_counters(self.tenant_id, self.zone)
            self.counters = day_counters.with_fields(self.counters, day, event["fields"])
            campaign_ids, agent_ids = day_counters.touched(event["fields"])
            for campaign_id in campaign_ids & self.campaigns.keys():
                campaigns[campaign_id] = self.campaigns[campaign_id]
            for agent_id in agent_ids & self.agents.keys():
                agents.setdefault(agent_id, self.agents[agent_id])

    def _run(self) -> None:
        agents: dict[int, dict] = {}
        campaigns: dict[int, dict] = {}
        queues: dict[int, dict] = {}
        last_flush = last_counters = last_reload = time.monotonic()
        idle_since: float | None = None
        try:
            while True:
                message = self.pubsub.get_message(timeout=BATCH_S)  # type: ignore[union-attr]
                if message is not None and message.get("type") == "message":
                    self._apply(json.loads(message["data"]), agents, campaigns, queues)
                now = time.monotonic()
                if now - last_reload >= RESYNC_S:
                    self.reload()
                    last_reload = last_counters = now
                elif now - last_counters >= COUNTERS_S:
                    # the reconciled figures and the day's change come from here
                    self.counters = day_counters.read_counters(self.tenant_id, self.zone)
                    last_counters = now
                if now - last_flush >= BATCH_S:
                    if agents or campaigns or queues:
                        self._broadcast((agents, campaigns, queues))
                        agents, campaigns, queues = {}, {}, {}
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
                if _FEEDS.get(self.tenant_id) is self:
                    _FEEDS.pop(self.tenant_id)
                self._broadcast(RESYNC)
        finally:
            self.pubsub.close()  # type: ignore[union-attr]


_LOCK = threading.Lock()
_FEEDS: dict[int, TenantFeed] = {}


def subscribe(tenant_id: int, zone: str = day_counters.DEFAULT_ZONE) -> tuple[TenantFeed, queue.Queue]:
    with _LOCK:
        feed = _FEEDS.get(tenant_id)
        if feed is None:
            feed = TenantFeed(tenant_id, zone)
            feed.start()
            _FEEDS[tenant_id] = feed
        q: queue.Queue = queue.Queue(maxsize=QUEUE_SIZE)
        feed.subscribers.add(q)
        return feed, q


def unsubscribe(feed: TenantFeed, q: queue.Queue) -> None:
    with _LOCK:
        feed.subscribers.discard(q)


def sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def wallboard_events(directory: Directory, filters: Filters, lifetime_s: float | None = None) -> Iterator[str]:
    """The body of one wallboard's event stream (uses no request or database)."""
    lifetime_s = STREAM_LIFETIME_S if lifetime_s is None else lifetime_s
    feed, q = subscribe(directory.tenant_id, directory.zone)
    try:
        started = last_sent = last_sync = time.monotonic()
        # streams opened together spread their resynchronisations
        resync_every = RESYNC_S * random.uniform(0.8, 1.2)
        yield "retry: 2000\n\n"
        yield sse("snapshot", snapshot(directory, filters, *feed.state()))
        while time.monotonic() - started < lifetime_s:
            try:
                item = q.get(timeout=max(0.05, TICK_S - (time.monotonic() - last_sent)))
            except queue.Empty:
                item = None
            now = time.monotonic()
            if item is RESYNC and _FEEDS.get(directory.tenant_id) is not feed:
                unsubscribe(feed, q)
                feed, q = subscribe(directory.tenant_id, directory.zone)
            if item is RESYNC or now - last_sync >= resync_every:
                yield sse("snapshot", snapshot(directory, filters, *feed.state()))
                last_sent = last_sync = now
                continue
            if item is not None:
                agents, campaigns, queues = item  # type: ignore[misc]
                change = delta(directory, filters, agents, campaigns, feed.counters, queues)
                if change is not None:
                    yield sse("delta", change)
                    last_sent = now
                    continue
            if now - last_sent >= TICK_S:
                yield sse("tick", {"now": round(time.time(), 3)})
                last_sent = now
    finally:
        unsubscribe(feed, q)
