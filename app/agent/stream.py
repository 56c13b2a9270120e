"""The agent page's Server-Sent Events stream.

Subscribes to the tenant's Redis channel, forwards what concerns this agent as
server-rendered fragments (named SSE events the page swaps with the htmx SSE
extension), sends the current state first (a reconnect resynchronises the page),
and beats presence every ``beat_s`` seconds with a comment that keeps proxies from
closing an idle connection. Blocking happens only in ``get_message(timeout=...)``,
a socket wait that gevent's monkey patching turns into a cooperative one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from app.extensions import redis
from app.realtime import bus

BEAT_S = 10.0


def sse_event(event: str, html: str) -> str:
    lines = html.splitlines() or [""]
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


@dataclass
class Renderers:
    """Callables turning live facts into (event name, html) pairs."""

    # (state, call changed?) -> parts; with a new call the lead screen comes first
    agent: Callable[[dict[str, str], bool], list[tuple[str, str]]]
    # after a new call's screen went out: the side panels (callbacks, indicators)
    side: Callable[[], list[tuple[str, str]]]
    refused: Callable[[dict], list[tuple[str, str]]]
    message: Callable[[dict], list[tuple[str, str]]]
    refresh: Callable[[str], list[tuple[str, str]]]
    # every beat: what time alone changed (a callback fell due)
    beat: Callable[[], list[tuple[str, str]]]


def _as_state(event: dict) -> dict[str, str]:
    return {key: "" if value is None else str(value) for key, value in event.items() if key not in ("type", "agent_id")}


def _concerns(event: dict, agent_id: int) -> bool:
    try:
        return int(event.get("agent_id")) == agent_id
    except (TypeError, ValueError):
        return False


def agent_events(tenant_id: int, agent_id: int, render: Renderers, *, beat_s: float = BEAT_S,
                 poll_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> Iterator[str]:
    pubsub = redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(bus.events_channel(tenant_id))
    try:
        # subscribed first, then read: no change can fall between the two
        state = bus.agent_state(tenant_id, agent_id)
        bus.mark_alive(tenant_id, agent_id)
        last_beat = clock()
        yield "retry: 1000\n\n"
        for name, html in render.agent(state, True) + render.side():
            yield sse_event(name, html)
        call_id = state.get("call_id", "")
        while True:
            raw = pubsub.get_message(timeout=poll_s)
            now = clock()
            if now - last_beat >= beat_s:
                bus.mark_alive(tenant_id, agent_id)
                if bus.phone_registered(tenant_id, agent_id):
                    # the softphone reported once; the live stream keeps that fresh
                    bus.set_phone_registered(tenant_id, agent_id, True)
                last_beat = now
                yield ": keep-alive\n\n"
                for name, html in render.beat():
                    yield sse_event(name, html)
            if raw is None or raw.get("type") != "message":
                continue
            try:
                event = json.loads(raw["data"])
            except (TypeError, ValueError):
                continue
            parts: list[tuple[str, str]] = []
            kind = event.get("type")
            if kind == "agent" and _concerns(event, agent_id):
                state = _as_state(event)
                changed = state.get("call_id", "") != call_id
                call_id = state.get("call_id", "")
                parts = render.agent(state, changed)
                if changed:
                    for name, html in parts:
                        yield sse_event(name, html)
                    parts = render.side()
            elif kind == "refused" and _concerns(event, agent_id):
                parts = render.refused(event)
            elif kind == "message" and event.get("sender_id") != agent_id and (
                    event.get("recipient_id") is None or event.get("recipient_id") == agent_id):
                parts = render.message(event)
            elif kind == "refresh" and _concerns(event, agent_id):
                parts = render.refresh(str(event.get("part", "")))
            for name, html in parts:
                yield sse_event(name, html)
    finally:
        pubsub.close()
