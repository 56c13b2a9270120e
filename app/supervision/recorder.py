"""Records agent state changes from the live bus into ``agent_state_spans``.

Each agent event carries the state and when it began (``since``): the agent's open
span is closed at that instant and a new one opened. The listener runs as a minute job
(one at a time, under a Redis lock) subscribed to every tenant's channel; an event
missed between two runs only merges a short state into the one before it, since the
next event still closes the open span at the right time."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time

import sqlalchemy as sa

from app.extensions import Session, redis
from app.realtime import bus
from app.supervision.models import AgentStateSpan
from tenants.scoping import tenant_scope

log = logging.getLogger(__name__)

LOCK_KEY_SUFFIX = "recorder:lock"
_CHANNEL = re.compile(r":t(\d+):events$")


def apply_agent_event(event: dict) -> None:
    """One agent event, in the current tenant's scope (flushes)."""
    agent_id = int(event["agent_id"])
    state = str(event.get("state") or "logged_out")
    try:
        since = dt.datetime.fromtimestamp(float(event.get("since") or time.time()), dt.UTC)
    except (TypeError, ValueError):
        since = dt.datetime.now(dt.UTC)
    pause_code = (event.get("pause_code") or None) if state == "paused" else None
    try:
        campaign_id = int(event["campaign_id"]) if event.get("campaign_id") not in (None, "") else None
    except (TypeError, ValueError):
        campaign_id = None
    current = Session.scalars(sa.select(AgentStateSpan).where(
        AgentStateSpan.agent_id == agent_id, AgentStateSpan.ended_at.is_(None))).all()
    for span in current:
        if (span.state, span.pause_code, span.started_at) == (state, pause_code, since):
            return  # the same state announced again
        span.ended_at = max(since, span.started_at)
    if state != "logged_out":
        Session.add(AgentStateSpan(agent_id=agent_id, campaign_id=campaign_id, state=state, pause_code=pause_code,
                                   started_at=since))
    Session.flush()


def record(tenant_id: int, events: list[dict]) -> None:
    with tenant_scope(tenant_id):
        try:
            for event in events:
                apply_agent_event(event)
            Session.commit()
        except Exception:
            Session.rollback()
            log.exception("agent states of tenant %s not recorded", tenant_id)


def listen(seconds: float, batch_s: float = 0.5) -> int:
    """Record every tenant's agent events for ``seconds``; returns how many."""
    r = redis()
    lock = f"{bus.PREFIX}:{LOCK_KEY_SUFFIX}"
    if not r.set(lock, "1", nx=True, ex=int(seconds) + 5):
        return 0
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe(f"{bus.PREFIX}:t*:events")
    pending: dict[int, list[dict]] = {}
    count = 0
    end = last_flush = time.monotonic()
    end += seconds
    try:
        while True:
            now = time.monotonic()
            message = pubsub.get_message(timeout=min(batch_s, max(0.0, end - now)))
            if message is not None and message.get("type") == "pmessage":
                match = _CHANNEL.search(message["channel"])
                event = json.loads(message["data"])
                if match and event.get("type") == "agent" and "agent_id" in event:
                    pending.setdefault(int(match.group(1)), []).append(event)
            now = time.monotonic()
            if pending and (now - last_flush >= batch_s or now >= end):
                for tenant_id, events in pending.items():
                    record(tenant_id, events)
                    count += len(events)
                pending = {}
                last_flush = now
            if now >= end:
                return count
    finally:
        pubsub.close()
        r.delete(lock)
