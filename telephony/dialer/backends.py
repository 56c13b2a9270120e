"""The dialer service's call-control backends: the simulated one (the demo) and
FreeSWITCH (one ESL link shared by every campaign), made by ``make_backends``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

import sqlalchemy as sa

from app.calls.models import Call
from app.calls.services import price_call
from app.campaigns.models import Campaign
from app.core import signals
from app.extensions import Session
from app.recordings import control as recording_control
from app.recordings.segments import PartClock, part_closed, tenant_limit
from telephony.callcontrol import (
    CallControl,
    CallControlError,
    CallEvent,
    EventKind,
    OriginateRequest,
    SupervisionMode,
    TransferKind,
)
from telephony.dialer.calls import CallRecord, CallState
from telephony.dialer.engine import BUSY_CAUSES, NO_ANSWER_CAUSES, CampaignEngine
from telephony.dialer.live import DEMO_PROFILE, LiveSimulator
from telephony.dialer.outcomes import billed_seconds, close_orphans, fail_open_calls

log = logging.getLogger("carillon.dialer")


class RunnerBackend(CallControl, Protocol):
    """What a campaign runner drives: the engine's call control, plus event delivery."""

    # A customer transferred to an inbound queue is announced by the media server's
    # dialplan (True: FreeSWITCH's queue extension, like any caller), or handed to the
    # inbound router by the runner itself (False: the simulator has no dialplan).
    queue_callers_from_media: bool

    def attach(self, engine: CampaignEngine) -> None: ...

    def set_time(self, t: float) -> None: ...

    def pump(self, until: float) -> int:
        """Deliver the events received so far into the engine; returns how many."""
        ...

    def take_cdr_data(self, call_id: str) -> dict[str, str]:
        """Media figures for the CDR (hangup cause, billsec, MOS...), once per call."""
        ...

    def recording_path(self, record: CallRecord) -> str | None:
        """Where the media server wrote the call's recording, if it was recorded."""
        ...

    def supervise(self, call_id: str, supervisor_id: int, endpoint: str, mode: SupervisionMode) -> str:
        """Call the supervisor's phone into the agent's call (wallboard actions)."""
        ...

    def control_recording(self, call_id: str, action: str) -> None:
        """Mask (``pause``) or unmask (``resume``) the recording: card payments;
        ``split``: close the current part and record on in a new file (transfers)."""
        ...


    def transfer(self, call_id: str, kind: TransferKind, target: str) -> None:
        """Cold transfer of an answered call (``CallControlError`` when refused)."""
        ...

    def consult(self, call_id: str, kind: TransferKind, target: str) -> None:
        """Warm transfer, first step: the customer waits, the agent talks with the target."""
        ...

    def complete_consult(self, call_id: str) -> None: ...

    def cancel_consult(self, call_id: str) -> None: ...


class Backends(Protocol):
    """Makes each campaign's backend; one per dialer service."""

    name: str
    virtual_agents_allowed: bool

    def runner_backend(
        self, campaign: Campaign, seed: int, human_codes: Sequence[str], virtual_agents: set[int]
    ) -> RunnerBackend: ...

    def recover_open_calls(self, campaign_id: int, backend: RunnerBackend, now: dt.datetime) -> int:
        """At takeover: deal with CDR rows a previous service left open; returns how
        many were closed."""
        ...

    def wait(self, stop: threading.Event, seconds: float) -> None: ...

    def close(self) -> None: ...


class _SimulatedBackend(LiveSimulator):
    """The simulator as a runner backend: no media, nothing recorded."""

    queue_callers_from_media = False

    def take_cdr_data(self, call_id: str) -> dict[str, str]:
        return {}

    def recording_path(self, record: CallRecord) -> str | None:
        return None

    def control_recording(self, call_id: str, action: str) -> None:
        log.info("simulated call %s: recording %s ignored (nothing is recorded)", call_id, action)

    def supervise(self, call_id: str, supervisor_id: int, endpoint: str, mode: SupervisionMode) -> str:
        raise CallControlError("the simulated backend carries no audio: supervision needs FreeSWITCH")


class SimulatedBackends:
    name = "simulated"
    virtual_agents_allowed = True

    def runner_backend(
        self, campaign: Campaign, seed: int, human_codes: Sequence[str], virtual_agents: set[int]
    ) -> RunnerBackend:
        return _SimulatedBackend(DEMO_PROFILE, seed, human_codes=human_codes, virtual_agents=virtual_agents)

    def recover_open_calls(self, campaign_id: int, backend: RunnerBackend, now: dt.datetime) -> int:
        # the simulator cannot tell what became of calls launched before the restart
        return close_orphans(campaign_id, now)

    def wait(self, stop: threading.Event, seconds: float) -> None:
        stop.wait(seconds)

    def close(self) -> None:
        return None


class _FreeSwitchCampaignBackend:
    """One campaign's side of the shared FreeSWITCH link. The ESL greenlets append
    events to ``inbox`` (the sink only appends: no engine or database work happens on
    them); the runner drains it into the engine at each step, in its tenant scope."""

    takes_queue_transfers = True
    queue_callers_from_media = True  # the customer enters the queue through the dialplan

    def __init__(self, link: FreeSwitchBackends, tenant_id: int, record: bool) -> None:
        self._link = link
        self.tenant_id = tenant_id
        self.record = record
        self.inbox: deque[CallEvent] = deque()
        self.adopted: set[str] = set()  # calls of a previous service, followed outside the engine
        self._cdr: dict[str, dict[str, str]] = {}
        self._engine: CampaignEngine | None = None
        self.wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        self.parts = PartClock(tenant_limit)  # recording parts: split at the tenant's maximum length

    def attach(self, engine: CampaignEngine) -> None:
        self._engine = engine

    def adopt_inbound(self, call_id: str) -> None:
        """An inbound caller given to this campaign's agent: its events come here now."""
        self._link.route(call_id, self)

    def set_time(self, t: float) -> None:
        return None  # FreeSWITCH keeps its own time; events carry no service time

    # CallControl
    def originate(self, request: OriginateRequest) -> None:
        self._link.route(request.call_id, self)
        self._link.control.originate(request)

    def hangup(self, call_id: str, cause: str = "NORMAL_CLEARING") -> None:
        self._link.control.hangup(call_id, cause)

    def bridge_to_agent(self, call_id: str, agent_id: int) -> None:
        self._link.control.bridge_to_agent(call_id, agent_id)

    def play_message(self, call_id: str, audio: str) -> None:
        self._link.control.play_message(call_id, audio)

    def supervise(self, call_id: str, supervisor_id: int, endpoint: str, mode: SupervisionMode) -> str:
        return self._link.control.supervise(call_id, supervisor_id, endpoint, mode)

    def transfer(self, call_id: str, kind: TransferKind, target: str) -> None:
        if kind is TransferKind.QUEUE:
            # a new inbound call on the customer's channel; this call ends (its HANGUP
            # reaches the engine at the next pump, the agent qualifies it from wrap-up)
            self._link.control.hand_to_queue(call_id, target)
        else:
            self._link.control.transfer(call_id, kind, target)

    def consult(self, call_id: str, kind: TransferKind, target: str) -> None:
        self._link.control.consult(call_id, kind, target)

    def complete_consult(self, call_id: str) -> None:
        self._link.control.complete_consult(call_id)

    def cancel_consult(self, call_id: str) -> None:
        self._link.control.cancel_consult(call_id)

    def control_recording(self, call_id: str, action: str) -> None:
        try:
            if action == recording_control.PAUSE:
                self._link.control.pause_recording(call_id)
            elif action == recording_control.RESUME:
                self._link.control.resume_recording(call_id)
            elif action == recording_control.SPLIT and self.record:
                closed, _ = self._link.control.split_recording(call_id, self.parts.part(call_id) + 1)
                at = self.wall()
                self.parts.split(call_id, at)
                part_closed(self.tenant_id, call_id, closed, at)
        except CallControlError as refused:
            log.warning("recording %s of %s refused: %s", action, call_id, refused)
            if action == recording_control.SPLIT:
                self.parts.ended(call_id)  # not asked again at every step

    def pump(self, until: float) -> int:
        engine = self._engine
        if engine is None:
            raise RuntimeError("attach an engine first")
        delivered = 0
        while self.inbox:
            event = self.inbox.popleft()
            delivered += 1
            if event.kind is EventKind.HANGUP:
                self._cdr[event.call_id] = {**event.data, "hangup_cause": event.cause or ""}
                self.parts.ended(event.call_id)
            elif event.kind is EventKind.ANSWERED and self.record:
                self.parts.started(event.call_id, self.wall())
            if event.call_id in self.adopted:
                self._follow_adopted(event)
            else:
                engine.on_event(event)
        for call_id in self.parts.due(self.wall()):
            self.control_recording(call_id, recording_control.SPLIT)
        deadline = engine.next_deadline()
        if deadline is not None and deadline <= until:
            engine.poll()
        return delivered

    def take_cdr_data(self, call_id: str) -> dict[str, str]:
        self._link.unroute(call_id)
        return self._cdr.pop(call_id, {})

    def recording_path(self, record: CallRecord) -> str | None:
        part = self.parts.take(record.call_id)
        if not self.record:
            return None
        if part > 1:  # split: the last part's file
            return self._link.control.recording_path(self.tenant_id, record.call_id, part)
        if record.data.get("path"):
            return record.data["path"]
        if CallState.ANSWERED in record.times:
            return self._link.control.recording_path(self.tenant_id, record.call_id)
        return None

    def _follow_adopted(self, event: CallEvent) -> None:
        """A call placed before a restart, still live on FreeSWITCH: its CDR row follows
        its events; the new engine never saw it, so the agent screen does not either."""
        call = Session.get(Call, uuid.UUID(event.call_id))
        if call is None:
            return
        at = self.wall()
        if event.kind is EventKind.RINGING and call.state == CallState.DIALLING:
            call.state = CallState.RINGING
        elif event.kind is EventKind.ANSWERED:
            call.answered_at = call.answered_at or at
            call.state = CallState.ANSWERED if call.state in (CallState.DIALLING, CallState.RINGING) else call.state
        elif event.kind is EventKind.BRIDGED:
            call.bridged_at = call.bridged_at or at
            call.agent_id = event.agent_id or call.agent_id
            call.state = CallState.BRIDGED
        elif event.kind is EventKind.HANGUP:
            data = self.take_cdr_data(event.call_id)
            self.adopted.discard(event.call_id)
            call.ended_at = at
            call.cause = event.cause
            if call.answered_at is None:
                cause = event.cause or ""
                call.state = (
                    CallState.NO_ANSWER if cause in NO_ANSWER_CAUSES
                    else CallState.BUSY if cause in BUSY_CAUSES else CallState.FAILED
                )
            if call.bridged_at is not None and data.get("billsec", "").isdigit():
                call.talk_s = float(data["billsec"])
            call.node = data.get("node") or call.node
            call.data = {**call.data, **data, "adopted": "true"}
            price_call(call, billed_seconds(call))
            path = self._link.control.recording_path(self.tenant_id, event.call_id) if (
                self.record and call.answered_at is not None) else None
            signals.call_ended.send("dialer", tenant_id=call.tenant_id, payload=call_payload(call),
                                    recording_path=path)
        call.times = {**call.times, str(call.state): at.isoformat()}
        Session.flush()


class FreeSwitchBackends:
    """One ``FreeSwitchCallControl`` (one ESL session per node) shared by every
    campaign this service drives; events are routed to their campaign by call id."""

    name = "freeswitch"
    virtual_agents_allowed = False  # simulated agents must never take real calls

    def __init__(self, nodes: Sequence[object], *, connect_wait_s: float = 5.0, **control_options: object) -> None:
        from telephony.freeswitch.backend import FreeSwitchCallControl

        self._routes: dict[str, _FreeSwitchCampaignBackend] = {}
        # events of channels no campaign owns (inbound callers still waiting in a queue)
        self.unrouted: Callable[[CallEvent], None] | None = None
        self.control = FreeSwitchCallControl(
            nodes,  # type: ignore[arg-type]
            self._deliver,
            owns_call=self._routes.__contains__,
            **control_options,  # type: ignore[arg-type]
        )
        if not self.control.start(wait_s=connect_wait_s):
            log.warning("not every FreeSWITCH node is connected yet; the ESL clients keep trying")

    @classmethod
    def from_config(cls, config: object, **options: object) -> FreeSwitchBackends:
        from telephony.freeswitch.nodes import FreeSwitchNode

        items = [item.strip() for item in str(config.FREESWITCH_NODES).split(",") if item.strip()]  # type: ignore[attr-defined]
        if not items:
            raise ValueError("DIALER_BACKEND=freeswitch needs FREESWITCH_NODES (host:port:password, ...)")
        hosts = [item.partition(":")[0] for item in items]
        nodes = [
            FreeSwitchNode.from_esl_setting(item, name=host if hosts.count(host) == 1 else item.rsplit(":", 1)[0])
            for item, host in zip(items, hosts, strict=True)
        ]
        options.setdefault("recordings_dir", config.FREESWITCH_RECORDINGS_DIR)  # type: ignore[attr-defined]
        return cls(nodes, **options)

    def _deliver(self, event: CallEvent) -> None:
        target = self._routes.get(event.call_id)
        if target is not None:
            target.inbox.append(event)
        elif self.unrouted is not None:
            self.unrouted(event)
        else:
            log.debug("event %s for call %s, which no campaign here owns", event.kind, event.call_id)

    def route(self, call_id: str, backend: _FreeSwitchCampaignBackend) -> None:
        self._routes[call_id] = backend

    def unroute(self, call_id: str) -> None:
        self._routes.pop(call_id, None)

    def runner_backend(
        self, campaign: Campaign, seed: int, human_codes: Sequence[str], virtual_agents: set[int]
    ) -> RunnerBackend:
        return _FreeSwitchCampaignBackend(self, campaign.tenant_id, campaign.recording)

    def recover_open_calls(self, campaign_id: int, backend: RunnerBackend, now: dt.datetime) -> int:
        """Calls a previous service left open are looked up on the media nodes: those
        still live are adopted (their rows follow their events), the others closed."""
        assert isinstance(backend, _FreeSwitchCampaignBackend)
        open_ids = [
            str(call_id)
            for call_id in Session.scalars(
                sa.select(Call.id).where(Call.campaign_id == campaign_id, Call.ended_at.is_(None))
            )
        ]
        if not open_ids:
            return 0
        for call_id in open_ids:
            self.route(call_id, backend)
            backend.adopted.add(call_id)
        connected = [node for node, client in self.control.clients.items() if client.connected]
        for node in connected:
            self.control.reconcile(node)
        if len(connected) < len(self.control.clients):
            log.warning("campaign %s: %d open calls wait for every media node to reconnect", campaign_id,
                        len(open_ids))
            return 0
        gone = [call_id for call_id in open_ids if call_id not in self.control.tracker.calls]
        for call_id in gone:
            self.unroute(call_id)
            backend.adopted.discard(call_id)
        return close_calls([uuid.UUID(call_id) for call_id in gone], now, "CHANNEL_GONE")

    def wait(self, stop: threading.Event, seconds: float) -> None:
        import gevent

        # the ESL clients are greenlets: sleep through gevent so that they run
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            gevent.sleep(min(0.05, remaining))

    def close(self) -> None:
        self.control.stop()


def make_backends(config: object) -> Backends:
    """The backend factory: ``DIALER_BACKEND`` names the media backend."""
    name = getattr(config, "DIALER_BACKEND", "simulated")
    if name == "simulated":
        return SimulatedBackends()
    if name == "freeswitch":
        return FreeSwitchBackends.from_config(config)
    raise ValueError(f"unknown DIALER_BACKEND {name!r} (simulated | freeswitch)")


def close_calls(call_ids: Sequence[uuid.UUID], now: dt.datetime, cause: str) -> int:
    """Close the given open CDR rows as failed (their channel is gone)."""
    return fail_open_calls(Call.id.in_(call_ids), now, cause)


def call_payload(call: Call) -> dict[str, object]:
    """The ``call.ended`` signal's payload (published to webhooks as it is)."""
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(call.id),
        "campaign_id": call.campaign_id,
        "lead_id": call.lead_id,
        "agent_id": call.agent_id,
        "direction": call.direction,
        "phone_number": call.phone_number,
        "caller_id": call.caller_id,
        "state": call.state,
        "cause": call.cause,
        "disposition": call.disposition,
        "started_at": iso(call.started_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "talk_s": call.talk_s,
    }

