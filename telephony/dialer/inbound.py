"""Inbound queues in the dialer service (spec D5/D6): callers wait in a queue until
the longest-idle ready agent of a campaign that takes the queue is free.

The ``InboundRouter`` runs inside the ``DialerService`` once per step, before the
campaigns step:

1. it takes each queue it holds (a PostgreSQL advisory lock per queue, as for
   campaigns) and its new callers: from the media server's dialplan fetch (the web
   pushes them on the bus) or, on the simulated backend, Poisson arrivals at the
   queue's configured rate;
2. callers who hung up while waiting are abandoned, callers past the queue's maximum
   wait go to its overflow destination (or are hung up when it has none);
3. each waiting caller, queues by priority then oldest first, goes to the agent who
   has been ready longest among the agents of the accepting campaigns this process
   drives (and of the queue's groups, when it has some); the call then runs in that
   campaign's engine like an answered outbound call (bridge, wrap-up, disposition);
4. every engine learns how many inbound callers wait for its agents: the pacing
   counts them as calls waiting, so outbound dials leave those agents to inbound.

Every outcome writes the call's CDR row (direction ``in``, queue, DID, wait) and the
queue's per-day counters in Redis; the queue's live state (waiting now, oldest
arrival) is published for the wallboard.

Limit: a queue is served by the agents of the campaigns held by the same dialer
process (one process serves everything in a single-node install).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.auth.models import User
from app.calls.models import Call, CallDirection
from app.core import signals
from app.extensions import Session, engine
from app.inbound.models import DestinationKind, InboundQueue, QueueCampaign, QueueGroup
from app.leads.models import Lead, TimelineEvent
from app.realtime import bus
from telephony.callcontrol import CallControlError, CallEvent, EventKind, TransferKind
from telephony.dialer.calls import CallRecord, CallState, IllegalTransition
from telephony.dialer.outcomes import record_ending
from tenants.models import Tenant
from tenants.scoping import tenant_transaction, unscoped

if TYPE_CHECKING:
    from telephony.dialer.runner import CampaignRunner

log = logging.getLogger("carillon.dialer.inbound")

QUEUE_LOCK_NAMESPACE = 0x0CA9  # pg_try_advisory_lock(ns, queue id): the process serving the queue
TRANSFER_PICKUP_S = 30.0  # a customer transferred to a queue this process does not hold is dropped after
OUTCOME_ABANDONED = "abandoned"  # the caller hung up while waiting
OUTCOME_OVERFLOWED = "overflowed"  # the maximum wait passed: sent to the overflow destination


@dataclass(frozen=True, slots=True)
class Overflow:
    kind: DestinationKind
    target: int | None = None
    number: str | None = None


@dataclass(frozen=True, slots=True)
class QueueSettings:
    tenant_id: int
    queue_id: int
    name: str
    priority: int
    max_wait_s: float
    service_level_s: float
    campaign_ids: frozenset[int]
    agent_ids: frozenset[int] | None  # None: every agent of the campaigns; else the groups' members
    overflow: Overflow | None = None
    recording: bool = False
    wrapup_s: int = 30
    simulated_per_hour: float = 0.0
    time_zone: str = "Europe/Paris"

    def takes(self, agent_id: int) -> bool:
        return self.agent_ids is None or agent_id in self.agent_ids


@dataclass(slots=True)
class WaitingCall:
    call_id: str
    tenant_id: int
    queue_id: int
    caller: str
    arrived_at: float  # service clock
    did: str | None = None
    lead_id: int | None = None
    node: str | None = None
    data: dict[str, str] = field(default_factory=dict)
    channel: str = ""  # the media server's channel uuid when it is not the call id (FreeSWITCH)


def transferred_call(tenant_id: int, record: CallRecord, queue_id: int, now: float) -> WaitingCall:
    """The customer of a cold transfer to a queue waits there as a new inbound call: a
    call id (and CDR row) of its own, the original call id in its data, the same lead
    (the next agent's screen pops it). The original call stays with its first agent
    until their disposition."""
    return WaitingCall(str(uuid.uuid4()), tenant_id, queue_id, record.destination, now,
                       lead_id=record.lead_id, data={"transferred_from": record.call_id})


class InboundMedia(Protocol):
    """What the router asks of the media backend about callers in a queue."""

    name: str

    def arrivals(self, queue: QueueSettings, now: float) -> list[WaitingCall]: ...

    def accept(self, call: WaitingCall, now: float) -> None:
        """Start following the caller's channel (it is answered, hearing hold music)."""
        ...

    def gone(self, now: float) -> list[str]:
        """Call ids of waiting callers who hung up since the last step."""
        ...

    def overflow(self, call: WaitingCall, destination: Overflow | None) -> None: ...

    def present(self, runner: CampaignRunner, call: WaitingCall, queue: QueueSettings) -> None:
        """Let the runner's backend carry the call (before the engine bridges it)."""
        ...

    def after_bridge(self, runner: CampaignRunner, call: WaitingCall, queue: QueueSettings) -> None: ...


# -- queues ------------------------------------------------------------------------------


def load_queues(tenant_ids: Sequence[int] | None = None) -> dict[int, QueueSettings]:
    """Active queues of every tenant (the service works for all tenants on purpose,
    then inside each queue's tenant scope), with their accepting campaigns and the
    members of their groups."""
    with unscoped():
        stmt = sa.select(InboundQueue).where(InboundQueue.active)
        if tenant_ids is not None:
            stmt = stmt.where(InboundQueue.tenant_id.in_(tenant_ids))
        queues = list(Session.scalars(stmt))
        ids = [q.id for q in queues]
        campaigns: dict[int, set[int]] = {}
        groups: dict[int, set[int]] = {}
        members: dict[int, set[int]] = {}
        zones: dict[int, str] = {}
        if ids:
            for queue_id, campaign_id in Session.execute(
                    sa.select(QueueCampaign.queue_id, QueueCampaign.campaign_id).where(QueueCampaign.queue_id.in_(ids))):
                campaigns.setdefault(queue_id, set()).add(campaign_id)
            for queue_id, group_id in Session.execute(
                    sa.select(QueueGroup.queue_id, QueueGroup.group_id).where(QueueGroup.queue_id.in_(ids))):
                groups.setdefault(queue_id, set()).add(group_id)
            wanted_groups = set().union(*groups.values()) if groups else set()
            if wanted_groups:
                for user_id, group_id in Session.execute(
                        sa.select(User.id, User.group_id).where(User.group_id.in_(wanted_groups), User.active)):
                    members.setdefault(group_id, set()).add(user_id)
            zones = dict(Session.execute(sa.select(Tenant.id, Tenant.timezone).where(
                Tenant.id.in_({q.tenant_id for q in queues}))).all())
        settings = {}
        for q in queues:
            agent_ids = None
            if q.id in groups:
                agent_ids = frozenset(set().union(*(members.get(g, set()) for g in groups[q.id])))
            overflow = Overflow(DestinationKind(q.overflow_kind), q.overflow_target, q.overflow_number) \
                if q.overflow_kind else None
            settings[q.id] = QueueSettings(
                tenant_id=q.tenant_id, queue_id=q.id, name=q.name, priority=q.priority, max_wait_s=q.max_wait_s,
                service_level_s=q.service_level_s, campaign_ids=frozenset(campaigns.get(q.id, set())),
                agent_ids=agent_ids, overflow=overflow, recording=q.recording, wrapup_s=q.wrapup_s,
                simulated_per_hour=q.simulated_per_hour, time_zone=zones.get(q.tenant_id) or "Europe/Paris")
        Session.commit()
    return settings


def tenant_lead(lead_id: int | None) -> int | None:
    """``lead_id`` if it is a lead of the current tenant (scope), else None."""
    if lead_id is None:
        return None
    return Session.scalar(sa.select(Lead.id).where(Lead.id == lead_id))


def lead_for_caller(caller: str) -> int | None:
    """Screen pop: the tenant's most recent lead with this number (current scope)."""
    if not caller.startswith("+"):
        return None
    return Session.scalar(sa.select(Lead.id).where(Lead.phone_number == caller).order_by(Lead.id.desc()).limit(1))


# -- the router ------------------------------------------------------------------------


class InboundRouter:
    def __init__(
        self,
        media: InboundMedia,
        clock: Callable[[], float],
        *,
        epoch_wall: float | None = None,
        tenant_ids: Sequence[int] | None = None,
        refresh_every_s: float = 10.0,
        use_locks: bool = True,
    ) -> None:
        self.media = media
        self._clock = clock
        self._epoch_wall = epoch_wall
        self._tenant_ids = tenant_ids
        self._refresh_every_s = refresh_every_s
        self._refreshed_at = -math.inf
        self._use_locks = use_locks
        self.queues: dict[int, QueueSettings] = {}
        self.waiting: dict[int, deque[WaitingCall]] = {}
        self._locks: dict[int, sa.Connection] = {}
        self._published: dict[int, tuple] = {}
        self._counted: set[int] = set()  # queues whose day counters changed since published

    # ------------------------------------------------------------ time
    def wall(self, t: float) -> dt.datetime:
        if self._epoch_wall is None:
            return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self._clock() - t)
        return dt.datetime.fromtimestamp(self._epoch_wall + t, dt.UTC)

    def day(self, queue: QueueSettings, t: float) -> str:
        return self.wall(t).astimezone(ZoneInfo(queue.time_zone)).date().isoformat()

    # ------------------------------------------------------------ queues held
    def refresh(self) -> None:
        """Reload the queues' settings; take the lock of new ones, let go of removed ones."""
        self._refreshed_at = self._clock()
        wanted = load_queues(self._tenant_ids)
        for queue_id in list(self.queues):
            if queue_id not in wanted:
                self.release(queue_id)
        for queue_id, queue in wanted.items():
            if queue_id in self.queues or self._lock(queue_id):
                self.queues[queue_id] = queue
                self.waiting.setdefault(queue_id, deque())

    def _lock(self, queue_id: int) -> bool:
        if not self._use_locks:
            return True
        conn = engine().connect()
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:ns, :id)"),
                           {"ns": QUEUE_LOCK_NAMESPACE, "id": queue_id}).scalar()
        conn.commit()
        if not got:
            conn.close()
            return False
        self._locks[queue_id] = conn
        return True

    def release(self, queue_id: int) -> None:
        """Stop serving a queue; its callers still waiting go to the overflow."""
        queue = self.queues.pop(queue_id, None)
        now = self._clock()
        if queue is not None:
            with tenant_transaction(queue.tenant_id):
                for call in list(self.waiting.get(queue_id, ())):
                    self._overflow(queue, call, now)
            bus.clear_queue(queue.tenant_id, queue_id)
        self.waiting.pop(queue_id, None)
        self._published.pop(queue_id, None)
        conn = self._locks.pop(queue_id, None)
        if conn is not None:
            try:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:ns, :id)"), {"ns": QUEUE_LOCK_NAMESPACE, "id": queue_id})
                conn.commit()
            finally:
                conn.close()

    def close(self) -> None:
        for queue_id in list(self.queues):
            self.release(queue_id)

    # ------------------------------------------------------------ the step
    def step(self, runners: Mapping[int, CampaignRunner]) -> None:
        now = self._clock()
        if now - self._refreshed_at >= self._refresh_every_s:
            self.refresh()
        gone = set(self.media.gone(now))
        by_tenant: dict[int, list[QueueSettings]] = {}
        for queue in self.queues.values():
            by_tenant.setdefault(queue.tenant_id, []).append(queue)
        for tenant_id, queues in by_tenant.items():
            with tenant_transaction(tenant_id):
                self._transferred(tenant_id, runners, now)
                for queue in queues:
                    self._arrivals(queue, now)
                    self._expire(queue, gone, now)
                self.route(tenant_id, queues, runners, now)
        for runner in runners.values():
            runner.engine.inbound_waiting = sum(
                len(self.waiting[q.queue_id]) for q in self.queues.values()
                if q.tenant_id == runner.tenant_id and runner.campaign_id in q.campaign_ids)
        self.publish(runners, now)

    def _transferred(self, tenant_id: int, runners: Mapping[int, CampaignRunner], now: float) -> None:
        """Customers an agent transferred to one of this tenant's queues held here."""
        for runner in runners.values():
            pending = getattr(runner, "queue_transfers", None)
            if runner.tenant_id != tenant_id or not pending:
                continue
            for _ in range(len(pending)):
                call = pending.popleft()
                queue = self.queues.get(call.queue_id)
                if queue is None or queue.tenant_id != tenant_id:
                    if now - call.arrived_at < TRANSFER_PICKUP_S:
                        pending.append(call)  # not (yet) held here: kept for the next steps
                    else:
                        log.warning("transfer of %s to queue %s: the queue is not served here",
                                    call.data.get("transferred_from"), call.queue_id)
                    continue
                call.arrived_at = now
                self.arrive(queue, call, now)

    def _arrivals(self, queue: QueueSettings, now: float) -> None:
        for call in self.media.arrivals(queue, now):
            self.arrive(queue, call, now)

    def arrive(self, queue: QueueSettings, call: WaitingCall, now: float) -> None:
        """A caller entered the queue: its CDR row is written at once (a restarted
        service finds it open), then it waits."""
        call.lead_id = call.lead_id or lead_for_caller(call.caller)
        at = self.wall(now)
        row = Session.get(Call, uuid.UUID(call.call_id))
        if row is None:
            row = Call(id=uuid.UUID(call.call_id), direction=CallDirection.INBOUND, started_at=at,
                       backend=self.media.name, times={})
            Session.add(row)
        # a caller moved from another queue keeps one row, now in this queue
        row.queue_id, row.did, row.lead_id = queue.queue_id, call.did, call.lead_id
        row.phone_number, row.caller_id = call.caller[:20], (call.did or "")[:20] or None
        row.state, row.node = CallState.QUEUED.value, call.node
        if call.data.get("transferred_from"):
            row.data = {**(row.data or {}), "transferred_from": call.data["transferred_from"]}
        row.times = {**row.times, CallState.QUEUED.value: at.isoformat()}
        Session.flush()
        self.media.accept(call, now)
        self.waiting[queue.queue_id].append(call)
        self._count(queue, now, {"offered": 1})

    def _expire(self, queue: QueueSettings, gone: set[str], now: float) -> None:
        line = self.waiting[queue.queue_id]
        for call in list(line):
            if call.call_id in gone:
                line.remove(call)
                self._close(queue, call, now, OUTCOME_ABANDONED)
            elif now - call.arrived_at >= queue.max_wait_s:
                self._overflow(queue, call, now)

    def _overflow(self, queue: QueueSettings, call: WaitingCall, now: float) -> None:
        line = self.waiting.get(queue.queue_id)
        if line is not None and call in line:
            line.remove(call)
        try:
            self.media.overflow(call, queue.overflow)
        except (CallControlError, ValueError) as refused:
            log.warning("overflow of %s from queue %s failed: %s", call.call_id, queue.queue_id, refused)
        self._close(queue, call, now, OUTCOME_OVERFLOWED)

    def _close(self, queue: QueueSettings, call: WaitingCall, now: float, outcome: str) -> None:
        """The caller left the queue without an agent: abandoned or overflowed."""
        wait = round(now - call.arrived_at, 3)
        row = Session.get(Call, uuid.UUID(call.call_id))
        if row is not None:
            at = self.wall(now)
            row.state = outcome
            row.abandoned = outcome == OUTCOME_ABANDONED
            row.wait_s = wait
            row.ended_at = at
            row.cause = "ORIGINATOR_CANCEL" if outcome == OUTCOME_ABANDONED else "QUEUE_MAX_WAIT"
            row.times = {**row.times, outcome: at.isoformat()}
            if queue.overflow is not None and outcome == OUTCOME_OVERFLOWED:
                row.data = {**row.data, "overflow": f"{queue.overflow.kind}:{queue.overflow.target or queue.overflow.number}"}
            Session.flush()
            signals.call_ended.send("dialer", tenant_id=queue.tenant_id, payload=inbound_payload(row),
                                    recording_path=None)
        self._count(queue, now, {outcome: 1, "wait_s": wait})

    def _count(self, queue: QueueSettings, now: float, outcomes: dict[str, float]) -> None:
        bus.count_queue_calls(queue.tenant_id, queue.queue_id, self.day(queue, now), outcomes)
        self._counted.add(queue.queue_id)

    # ------------------------------------------------------------ routing
    def route(self, tenant_id: int, queues: list[QueueSettings], runners: Mapping[int, CampaignRunner],
              now: float) -> int:
        """Give waiting callers to the longest-idle ready agents; returns how many."""
        served = 0
        taken: set[int] = set()
        for queue in sorted(queues, key=lambda q: (-q.priority, self._oldest(q))):
            line = self.waiting[queue.queue_id]
            while line:
                choice = self._longest_idle(queue, runners, taken)
                if choice is None:
                    break
                runner, agent_id = choice
                call = line.popleft()
                taken.add(agent_id)
                if self._present(queue, runner, agent_id, call, now):
                    served += 1
        return served

    def _oldest(self, queue: QueueSettings) -> float:
        line = self.waiting[queue.queue_id]
        return line[0].arrived_at if line else math.inf

    def _longest_idle(self, queue: QueueSettings, runners: Mapping[int, CampaignRunner],
                      taken: set[int]) -> tuple[CampaignRunner, int] | None:
        best: tuple[float, CampaignRunner, int] | None = None
        for campaign_id in queue.campaign_ids:
            runner = runners.get(campaign_id)
            if runner is None or runner.tenant_id != queue.tenant_id:
                continue
            for agent_id, since in runner.engine.ready_agents():
                if agent_id in taken or not queue.takes(agent_id):
                    continue
                if best is None or since < best[0]:
                    best = (since, runner, agent_id)
                break  # the first taker in a campaign's idle order is its longest idle
        return (best[1], best[2]) if best else None

    def _present(self, queue: QueueSettings, runner: CampaignRunner, agent_id: int, call: WaitingCall,
                 now: float) -> bool:
        wait = round(now - call.arrived_at, 3)
        data = {**call.data, "queue_id": str(queue.queue_id), "wait_s": f"{wait:.3f}",
                "wrapup_s": str(queue.wrapup_s)}
        if call.did:
            data["did"] = call.did
        try:
            self.media.present(runner, call, queue)
            runner.engine.accept_inbound(call.call_id, call.caller, agent_id, call.lead_id, data)
        except IllegalTransition as refused:  # the agent left meanwhile: the caller waits on
            log.warning("inbound %s not presented to %s: %s", call.call_id, agent_id, refused)
            self.waiting[queue.queue_id].appendleft(call)
            return False
        row = Session.get(Call, uuid.UUID(call.call_id))
        if row is not None:
            at = self.wall(now)
            row.campaign_id, row.agent_id, row.wait_s = runner.campaign_id, agent_id, wait
            row.answered_at = at
            row.state = CallState.HUMAN.value
            row.times = {**row.times, "presented": at.isoformat()}
            Session.flush()
        outcomes = {"answered": 1, "wait_s": wait}
        if wait <= queue.service_level_s:
            outcomes["answered_in_sl"] = 1
        self._count(queue, now, outcomes)
        if queue.recording:
            self.media.after_bridge(runner, call, queue)
        return True

    # ------------------------------------------------------------ live state
    def publish(self, runners: Mapping[int, CampaignRunner], now: float) -> None:
        for queue in self.queues.values():
            line = self.waiting[queue.queue_id]
            agents = ready = 0
            for campaign_id in queue.campaign_ids:
                runner = runners.get(campaign_id)
                if runner is None or runner.tenant_id != queue.tenant_id:
                    continue
                agents += sum(1 for a in runner.engine.agents if queue.takes(a))
                ready += sum(1 for a, _ in runner.engine.ready_agents() if queue.takes(a))
            oldest = round(self.wall(line[0].arrived_at).timestamp(), 3) if line else ""
            live = {"waiting": len(line), "oldest_since": oldest, "agents": agents, "ready": ready,
                    "day": self.day(queue, now), "service_level_s": int(queue.service_level_s)}
            key = tuple(live.values())
            if self._published.get(queue.queue_id) == key and queue.queue_id not in self._counted:
                continue
            self._counted.discard(queue.queue_id)
            self._published[queue.queue_id] = key
            bus.publish_queue(queue.tenant_id, queue.queue_id, live)


# -- the CDR once the agent is done ----------------------------------------------------


def inbound_payload(call: Call) -> dict[str, object]:
    """The ``call.ended`` payload of an inbound call (the outbound one plus the queue)."""
    from telephony.dialer.backends import call_payload

    return {**call_payload(call), "queue_id": call.queue_id, "did": call.did, "wait_s": call.wait_s}


def finish_call(runner: CampaignRunner, record: CallRecord) -> Call | None:
    """Complete an inbound call's CDR after its agent's disposition (or an early
    hangup): no lead attempt is counted (the customer called), the lead's timeline
    gets the call. Called by the campaign runner in the tenant's scope."""
    call = Session.get(Call, uuid.UUID(record.call_id))
    if call is None:
        return None
    wall = runner.wall
    call.disposition = record.disposition or ("ABD" if record.state is CallState.ABANDONED else None)
    call.campaign_id = runner.campaign_id
    call.times = {**call.times, **{state.value: wall(t).isoformat() for state, t in record.times.items()}}
    record_ending(call, record, wall)
    if call.lead_id is not None:
        Session.add(TimelineEvent(lead_id=call.lead_id, kind="call", occurred_at=call.started_at,
                                  user_id=call.agent_id, summary=f"{call.disposition or '—'} · in",
                                  data={"call_id": str(call.id), "talk_s": call.talk_s, "queue_id": call.queue_id}))
    Session.flush()
    signals.call_ended.send("dialer", tenant_id=runner.tenant_id, payload=inbound_payload(call),
                            recording_path=record.data.get("path") or None)
    return call


# -- media: the simulated backend ------------------------------------------------------


class SimulatedInboundMedia:
    """Callers for the demo: Poisson arrivals at each queue's ``simulated_per_hour``,
    numbers drawn from the tenant's leads (so the agent's screen pops a record), and an
    exponential patience: a caller not served in time hangs up (abandon)."""

    name = "simulated"

    def __init__(self, seed: int = 0, patience_mean_s: float = 90.0, clock: Callable[[], float] | None = None) -> None:
        self._rng = random.Random(seed)
        self.patience_mean_s = patience_mean_s
        self._next: dict[int, float] = {}
        self._patience: dict[str, float] = {}
        self._numbers: dict[int, list[tuple[int, str]]] = {}

    def _draw_caller(self, tenant_id: int) -> tuple[int | None, str]:
        numbers = self._numbers.get(tenant_id)
        if numbers is None:
            numbers = [(lead_id, phone) for lead_id, phone in Session.execute(
                sa.select(Lead.id, Lead.phone_number).order_by(Lead.id.desc()).limit(500))]
            self._numbers[tenant_id] = numbers
        if numbers and self._rng.random() < 0.7:
            lead_id, phone = self._rng.choice(numbers)
            return lead_id, phone
        return None, f"+3361{self._rng.randrange(10**7):07d}"

    def arrivals(self, queue: QueueSettings, now: float) -> list[WaitingCall]:
        rate = queue.simulated_per_hour / 3600.0
        if rate <= 0:
            self._next.pop(queue.queue_id, None)
            return []
        due = self._next.setdefault(queue.queue_id, now + self._rng.expovariate(rate))
        calls = []
        while due <= now:
            lead_id, caller = self._draw_caller(queue.tenant_id)
            calls.append(WaitingCall(str(uuid.uuid4()), queue.tenant_id, queue.queue_id, caller, due,
                                     lead_id=lead_id, data={"simulated": "1"}))
            due += self._rng.expovariate(rate)
        self._next[queue.queue_id] = due
        return calls

    def accept(self, call: WaitingCall, now: float) -> None:
        self._patience[call.call_id] = call.arrived_at + self._rng.expovariate(1.0 / self.patience_mean_s)

    def gone(self, now: float) -> list[str]:
        left = [call_id for call_id, until in self._patience.items() if until <= now]
        for call_id in left:
            del self._patience[call_id]
        return left

    def overflow(self, call: WaitingCall, destination: Overflow | None) -> None:
        self._patience.pop(call.call_id, None)  # no media: the caller is simply gone

    def present(self, runner: CampaignRunner, call: WaitingCall, queue: QueueSettings) -> None:
        self._patience.pop(call.call_id, None)
        adopt = getattr(runner.backend, "adopt_inbound", None)
        if adopt is not None:
            adopt(call.call_id)

    def after_bridge(self, runner: CampaignRunner, call: WaitingCall, queue: QueueSettings) -> None:
        return None  # nothing is recorded on the simulated backend


# -- media: FreeSWITCH -------------------------------------------------------------------


class FreeSwitchInboundMedia:
    """Callers parked by the dialplan's queue extension (``render_queue``): the web
    pushes each arrival (the channel uuid, from mod_xml_curl's fetch) on the bus;
    the channel is tracked like the dialer's own calls, its hangup while waiting
    comes back through the link's unrouted events."""

    name = "freeswitch"

    ENDED_KEPT = 1000  # channels remembered as ended before their arrival was taken

    def __init__(self, link: object, sip_domain: str = "") -> None:
        self.link = link
        self.sip_domain = sip_domain
        self._hangups: deque[str] = deque()
        self._waiting: set[str] = set()
        # calls that ended before the router took their arrival (a customer handed to a
        # queue is tracked from the transfer on, and may hang up before the dialplan
        # fetch has reached the router)
        self._ended: dict[str, None] = {}
        link.unrouted = self._on_unrouted  # type: ignore[attr-defined]

    @property
    def control(self):  # noqa: ANN201 - FreeSwitchCallControl
        return self.link.control  # type: ignore[attr-defined]

    def _on_unrouted(self, event: CallEvent) -> None:
        # runs on an ESL greenlet: only append
        if event.kind is not EventKind.HANGUP:
            return
        if event.call_id in self._waiting:
            self._hangups.append(event.call_id)
        else:
            self._ended[event.call_id] = None
            while len(self._ended) > self.ENDED_KEPT:
                del self._ended[next(iter(self._ended))]

    def _node(self, arrival: Mapping[str, object]) -> str | None:
        nodes = self.control.nodes
        for key in ("node", "host"):
            value = str(arrival.get(key) or "")
            for name, node in nodes.items():
                if value and value in (name, getattr(node, "host", None)):
                    return name
        return next(iter(nodes)) if len(nodes) == 1 else None

    def arrivals(self, queue: QueueSettings, now: float) -> list[WaitingCall]:
        from telephony.freeswitch.commands import check_uuid

        calls = []
        for arrival in bus.pop_inbound_arrivals(queue.queue_id):
            if arrival.get("tenant_id") != queue.tenant_id:
                continue  # never another tenant's channel, whatever the list held
            call_id, channel = str(arrival.get("call_id") or ""), str(arrival.get("channel") or "")
            transferred_from = str(arrival.get("transferred_from") or "")
            try:
                check_uuid(call_id)
                for value in (channel, transferred_from):
                    if value:
                        check_uuid(value)
            except ValueError as bad:
                log.warning("queue %s: arrival ignored: %s", queue.queue_id, bad)
                continue
            lead = str(arrival.get("lead_id") or "")
            call = WaitingCall(call_id, queue.tenant_id, queue.queue_id, str(arrival.get("caller") or "anonymous"),
                               now, did=arrival.get("did") or None, node=self._node(arrival),
                               lead_id=tenant_lead(int(lead)) if lead.isdigit() else None,
                               channel=channel if channel != call_id else "")
            if transferred_from:  # a customer an agent handed to this queue
                call.data["transferred_from"] = transferred_from
            calls.append(call)
        return calls

    def accept(self, call: WaitingCall, now: float) -> None:
        from telephony.freeswitch.tracker import CallState as ChannelState
        from telephony.freeswitch.tracker import TrackedCall

        if call.call_id in self._ended:  # gone already: abandoned at the next step
            del self._ended[call.call_id]
            self._hangups.append(call.call_id)
            return
        node = call.node or ""
        if self.control.tracker.get(call.call_id) is None:  # (a customer handed over here is tracked already)
            self.control.tracker.add(TrackedCall(
                call_id=call.call_id, tenant_id=call.tenant_id, campaign_id=0, lead_id=call.lead_id, node=node,
                created_at=now, state=ChannelState.ANSWERED, channel_seen=True, channel=call.channel,
                esl_session=self.control.clients[node].connections_made if node in self.control.clients else 0))
        self._waiting.add(call.call_id)

    def gone(self, now: float) -> list[str]:
        left = list(self._hangups)
        self._hangups.clear()
        self._waiting.difference_update(left)
        return left

    def overflow(self, call: WaitingCall, destination: Overflow | None) -> None:
        from telephony.freeswitch import commands

        self._waiting.discard(call.call_id)
        control = self.control
        if destination is None:
            control.hangup(call.call_id, "NO_ANSWER")
        elif destination.kind is DestinationKind.QUEUE:
            control.transfer(call.call_id, TransferKind.QUEUE, str(destination.target))
        elif destination.kind is DestinationKind.EXTERNAL:
            control.transfer(call.call_id, TransferKind.EXTERNAL, destination.number or "")
        elif destination.kind is DestinationKind.MESSAGE:
            control.play_message(call.call_id, destination.number or "")
        else:  # an IVR menu or one agent: their dialplan extensions in the tenant's context
            extension = f"{destination.kind.value}-{int(destination.target or 0)}"
            tracked = control.tracker.get(call.call_id)
            if tracked is None:
                raise CallControlError(f"call {call.call_id} is gone")
            line = commands.uuid_transfer_extension(tracked.channel, extension, f"tenant-{call.tenant_id}")
            control._api(tracked, line)  # noqa: SLF001 - the backend's one command path

    def present(self, runner: CampaignRunner, call: WaitingCall, queue: QueueSettings) -> None:
        self._waiting.discard(call.call_id)
        tracked = self.control.tracker.get(call.call_id)
        if tracked is not None:
            tracked.campaign_id = runner.campaign_id
        runner.backend.adopt_inbound(call.call_id)  # type: ignore[attr-defined]

    def after_bridge(self, runner: CampaignRunner, call: WaitingCall, queue: QueueSettings) -> None:
        try:
            self.control.start_recording(call.call_id)
        except CallControlError as refused:
            log.warning("recording of inbound %s refused: %s", call.call_id, refused)


def make_router(backends: object, clock: Callable[[], float], *, epoch_wall: float | None = None,
                tenant_ids: Sequence[int] | None = None) -> InboundRouter:
    """The router for the dialer service's backend family."""
    name = getattr(backends, "name", "simulated")
    if name == "freeswitch":
        from app.runtime import current_config

        media: InboundMedia = FreeSwitchInboundMedia(backends, current_config().SIP_DOMAIN)
    else:
        media = SimulatedInboundMedia(seed=7)
    return InboundRouter(media, clock, epoch_wall=epoch_wall, tenant_ids=tenant_ids)
