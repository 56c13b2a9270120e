"""The live bus between the web and the dialer service, on Redis.

- Commands (web → dialer): an agent's actions for a campaign (login, ready, pause,
  disposition, hangup, logout, dial, transfer) are pushed on the campaign's command list; the
  process that holds the campaign (advisory lock) pops and applies them each step.
- State (dialer → web): the dialer keeps each agent's state and each campaign's live
  counters in Redis hashes (the wallboard reads these, never the calls table), and
  publishes every change on the tenant's channel for Server-Sent Events.
- Presence: the agent's page refreshes a short-lived key (heartbeat over its SSE
  stream) and the softphone reports its registration; the dialer logs out an agent
  whose page is gone and does not present calls to one whose phone is down.

Keys carry the tenant id: a page subscribes only to its own tenant's channel.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from app.extensions import redis

PREFIX = "carillon:rt"
PRESENCE_TTL_S = 30  # the page beats every 10 s; three misses and the agent is gone
PHONE_TTL_S = 45


def events_channel(tenant_id: int) -> str:
    return f"{PREFIX}:t{tenant_id}:events"


def agent_key(tenant_id: int, agent_id: int) -> str:
    return f"{PREFIX}:t{tenant_id}:agent:{agent_id}"


def agents_set(tenant_id: int) -> str:
    return f"{PREFIX}:t{tenant_id}:agents"


def campaign_key(tenant_id: int, campaign_id: int) -> str:
    return f"{PREFIX}:t{tenant_id}:campaign:{campaign_id}"


def campaigns_set(tenant_id: int) -> str:
    return f"{PREFIX}:t{tenant_id}:campaigns"


def commands_key(campaign_id: int) -> str:
    return f"{PREFIX}:commands:campaign:{campaign_id}"


def presence_key(tenant_id: int, agent_id: int) -> str:
    return f"{PREFIX}:t{tenant_id}:alive:{agent_id}"


def phone_key(tenant_id: int, agent_id: int) -> str:
    return f"{PREFIX}:t{tenant_id}:phone:{agent_id}"


# ------------------------------------------------------------------ commands
COMMAND_KINDS = frozenset({"login", "ready", "pause", "disposition", "hangup", "logout",
                           # MANUEL / PREVIEW: place a call to a lead for this agent
                           "dial",
                           # hand the current call on (cold, or warm: consult, then complete or cancel)
                           "transfer", "transfer_complete", "transfer_cancel"})
TRANSFER_KINDS = frozenset({"agent", "external", "queue"})


@dataclass(frozen=True)
class AgentCommand:
    kind: str
    tenant_id: int
    campaign_id: int
    agent_id: int
    pause_code: str | None = None
    status: str | None = None  # disposition code
    call_id: str | None = None  # the call a disposition or hangup is about
    sent_at: float = field(default_factory=time.time)
    lead_id: int | None = None  # dial: the lead chosen (the dialer screens it again)
    target: str | None = None  # transfer: agent id, E.164 number or queue id
    transfer_kind: str | None = None  # transfer: agent | external | queue
    warm: bool = False  # transfer: consult the target first

    def __post_init__(self) -> None:
        if self.kind not in COMMAND_KINDS:
            raise ValueError(f"unknown agent command {self.kind!r}")
        if self.kind == "dial" and self.lead_id is None:
            raise ValueError("a dial command names its lead")
        if self.kind == "transfer" and (self.transfer_kind not in TRANSFER_KINDS or not self.target):
            raise ValueError("a transfer names its kind (agent, external, queue) and its target")


def send_command(command: AgentCommand) -> None:
    redis().rpush(commands_key(command.campaign_id), json.dumps(asdict(command)))


def pop_commands(campaign_id: int, limit: int = 200) -> list[AgentCommand]:
    key = commands_key(campaign_id)
    pipe = redis().pipeline()
    pipe.lrange(key, 0, limit - 1)
    pipe.ltrim(key, limit, -1)
    raw, _ = pipe.execute()
    return [AgentCommand(**json.loads(item)) for item in raw]


# --------------------------------------------------------------------- state
def publish(tenant_id: int, event: dict) -> None:
    redis().publish(events_channel(tenant_id), json.dumps(event, default=str))


def publish_agent(tenant_id: int, agent_id: int, state: dict) -> None:
    """Store the agent's state (the source of truth the pages resynchronise from) and
    announce it. ``state`` holds strings and numbers only."""
    r = redis()
    pipe = r.pipeline()
    key = agent_key(tenant_id, agent_id)
    if state.get("state") == "logged_out":
        pipe.delete(key)
        pipe.srem(agents_set(tenant_id), agent_id)
    else:
        pipe.delete(key)
        pipe.hset(key, mapping={k: "" if v is None else v for k, v in state.items()})
        pipe.sadd(agents_set(tenant_id), agent_id)
    pipe.publish(events_channel(tenant_id), json.dumps({"type": "agent", "agent_id": agent_id, **state},
                                                       default=str))
    pipe.execute()


def publish_campaign(tenant_id: int, campaign_id: int, stats: dict) -> None:
    r = redis()
    pipe = r.pipeline()
    pipe.hset(campaign_key(tenant_id, campaign_id), mapping=stats)
    pipe.sadd(campaigns_set(tenant_id), campaign_id)
    pipe.publish(events_channel(tenant_id), json.dumps({"type": "campaign", "campaign_id": campaign_id, **stats}))
    pipe.execute()


def agent_state(tenant_id: int, agent_id: int) -> dict[str, str]:
    state = redis().hgetall(agent_key(tenant_id, agent_id))
    return state or {"state": "logged_out"}


def all_agents(tenant_id: int) -> dict[int, dict[str, str]]:
    r = redis()
    ids = sorted(int(i) for i in r.smembers(agents_set(tenant_id)))
    pipe = r.pipeline()
    for agent_id in ids:
        pipe.hgetall(agent_key(tenant_id, agent_id))
    return {agent_id: state for agent_id, state in zip(ids, pipe.execute(), strict=True) if state}


def all_campaigns(tenant_id: int) -> dict[int, dict[str, str]]:
    r = redis()
    ids = sorted(int(i) for i in r.smembers(campaigns_set(tenant_id)))
    pipe = r.pipeline()
    for campaign_id in ids:
        pipe.hgetall(campaign_key(tenant_id, campaign_id))
    return {cid: stats for cid, stats in zip(ids, pipe.execute(), strict=True) if stats}


def clear_campaign(tenant_id: int, campaign_id: int, agent_ids: Iterable[int]) -> None:
    """The dialer stops driving a campaign: its live rows disappear from the wallboard."""
    r = redis()
    pipe = r.pipeline()
    pipe.delete(campaign_key(tenant_id, campaign_id))
    pipe.srem(campaigns_set(tenant_id), campaign_id)
    for agent_id in agent_ids:
        pipe.delete(agent_key(tenant_id, agent_id))
        pipe.srem(agents_set(tenant_id), agent_id)
    pipe.execute()


# ------------------------------------------------------------------ presence
def mark_alive(tenant_id: int, agent_id: int) -> None:
    redis().set(presence_key(tenant_id, agent_id), int(time.time()), ex=PRESENCE_TTL_S)


def is_alive(tenant_id: int, agent_id: int) -> bool:
    return bool(redis().exists(presence_key(tenant_id, agent_id)))


def set_phone_registered(tenant_id: int, agent_id: int, registered: bool) -> None:
    if registered:
        redis().set(phone_key(tenant_id, agent_id), int(time.time()), ex=PHONE_TTL_S)
    else:
        redis().delete(phone_key(tenant_id, agent_id))


def phone_registered(tenant_id: int, agent_id: int) -> bool:
    return bool(redis().exists(phone_key(tenant_id, agent_id)))


# ------------------------------------------------------------------ messages
def publish_message(tenant_id: int, message_id: int, recipient_id: int | None, sender_id: int | None) -> None:
    """A new internal message: ``recipient_id`` None is a broadcast to the tenant."""
    publish(tenant_id, {"type": "message", "message_id": message_id, "recipient_id": recipient_id,
                        "sender_id": sender_id})


def publish_refresh(tenant_id: int, agent_id: int, part: str) -> None:
    """Ask one agent's page to redraw a part (``callbacks``, ``indicators``)."""
    publish(tenant_id, {"type": "refresh", "agent_id": agent_id, "part": part})


# --------------------------------------------------------------- supervision
# Added for the wallboard and the supervisor's actions (app.supervision).
WALLBOARD_COUNTERS_TTL_S = 600


def wallboard_counters_key(tenant_id: int) -> str:
    return f"{PREFIX}:t{tenant_id}:wallboard:counters"


def store_wallboard_counters(tenant_id: int, counters: dict) -> None:
    """Per-day figures (calls today per agent, abandon today and over 30 days per
    campaign, blocks today) computed by the rollup job, read by every wallboard."""
    redis().set(wallboard_counters_key(tenant_id), json.dumps(counters, default=str), ex=WALLBOARD_COUNTERS_TTL_S)


def wallboard_counters(tenant_id: int) -> dict:
    raw = redis().get(wallboard_counters_key(tenant_id))
    return json.loads(raw) if raw else {}


def supervision_key(campaign_id: int) -> str:
    return f"{PREFIX}:supervision:campaign:{campaign_id}"


def send_supervision(tenant_id: int, campaign_id: int, request: dict) -> None:
    """A supervision request (listen, whisper, barge, take over) for the process that
    holds the campaign and its media backend."""
    redis().rpush(supervision_key(campaign_id), json.dumps({"tenant_id": tenant_id, **request}, default=str))


def pop_supervision(campaign_id: int, limit: int = 50) -> list[dict]:
    key = supervision_key(campaign_id)
    pipe = redis().pipeline()
    pipe.lrange(key, 0, limit - 1)
    pipe.ltrim(key, limit, -1)
    raw, _ = pipe.execute()
    return [json.loads(item) for item in raw]


# ------------------------------------------------------------ inbound queues
# Added for inbound calling (app.inbound, telephony.dialer.inbound): arrivals from the
# media server's dialplan fetch to the dialer, each queue's live state, and its
# per-day counters kept by the call events (the wallboard's queues section).
QUEUE_DAY_TTL_S = 3 * 86400
QUEUE_OUTCOMES = frozenset({"offered", "answered", "answered_in_sl", "abandoned", "overflowed"})


def inbound_arrivals_key(queue_id: int) -> str:
    return f"{PREFIX}:inbound:queue:{queue_id}:arrivals"


def queue_key(tenant_id: int, queue_id: int) -> str:
    return f"{PREFIX}:t{tenant_id}:queue:{queue_id}"


def queues_set(tenant_id: int) -> str:
    return f"{PREFIX}:t{tenant_id}:queues"


def queue_day_key(tenant_id: int, queue_id: int, day: str) -> str:
    return f"{PREFIX}:t{tenant_id}:queue:{queue_id}:day:{day}"


def push_inbound_arrival(queue_id: int, arrival: dict) -> None:
    """A caller entered queue ``queue_id`` on a media node (web → dialer)."""
    redis().rpush(inbound_arrivals_key(queue_id), json.dumps(arrival, default=str))


def pop_inbound_arrivals(queue_id: int, limit: int = 100) -> list[dict]:
    key = inbound_arrivals_key(queue_id)
    pipe = redis().pipeline()
    pipe.lrange(key, 0, limit - 1)
    pipe.ltrim(key, limit, -1)
    raw, _ = pipe.execute()
    return [json.loads(item) for item in raw]


def count_queue_calls(tenant_id: int, queue_id: int, day: str, outcomes: dict[str, float]) -> None:
    """Add to a queue's counters of ``day`` (the tenant's local date): ``offered``,
    ``answered``, ``answered_in_sl``, ``abandoned``, ``overflowed``, ``wait_s``."""
    key = queue_day_key(tenant_id, queue_id, day)
    pipe = redis().pipeline()
    for name, amount in outcomes.items():
        if name == "wait_s":
            pipe.hincrbyfloat(key, name, float(amount))
        elif name in QUEUE_OUTCOMES:
            pipe.hincrby(key, name, int(amount))
        else:
            raise ValueError(f"unknown queue counter {name!r}")
    pipe.expire(key, QUEUE_DAY_TTL_S)
    pipe.execute()


def queue_day_counts(tenant_id: int, queue_id: int, day: str) -> dict[str, str]:
    return redis().hgetall(queue_day_key(tenant_id, queue_id, day))


def publish_queue(tenant_id: int, queue_id: int, live: dict) -> dict:
    """Store a queue's live state (waiting now, oldest arrival, agents) and announce
    it with the day's counters; returns what was announced. ``live`` names its
    ``day``."""
    r = redis()
    day = str(live.get("day", ""))
    pipe = r.pipeline()
    pipe.delete(queue_key(tenant_id, queue_id))
    pipe.hset(queue_key(tenant_id, queue_id), mapping={k: "" if v is None else v for k, v in live.items()})
    pipe.sadd(queues_set(tenant_id), queue_id)
    pipe.hgetall(queue_day_key(tenant_id, queue_id, day))
    counts = pipe.execute()[-1]
    event = {"type": "queue", "queue_id": queue_id, **live, **counts}
    r.publish(events_channel(tenant_id), json.dumps(event, default=str))
    return event


def all_queues(tenant_id: int) -> dict[int, dict[str, str]]:
    """Every queue's live state merged with its counters of the day it names."""
    r = redis()
    ids = sorted(int(i) for i in r.smembers(queues_set(tenant_id)))
    pipe = r.pipeline()
    for queue_id in ids:
        pipe.hgetall(queue_key(tenant_id, queue_id))
    lives = pipe.execute()
    pipe = r.pipeline()
    for queue_id, live in zip(ids, lives, strict=True):
        pipe.hgetall(queue_day_key(tenant_id, queue_id, live.get("day", "")))
    return {queue_id: {**live, **counts} for queue_id, live, counts in zip(ids, lives, pipe.execute(), strict=True)
            if live}


def clear_queue(tenant_id: int, queue_id: int) -> None:
    """The dialer stops serving a queue: its live row leaves the wallboard."""
    pipe = redis().pipeline()
    pipe.delete(queue_key(tenant_id, queue_id))
    pipe.srem(queues_set(tenant_id), queue_id)
    pipe.execute()
