"""The dialer service: runs the campaigns' engines against a call-control backend.

One PostgreSQL advisory lock per campaign (session-level, on a connection the service
keeps open) elects the process that drives it, so two services never dial for the same
campaign; another service takes over when the holder's connection goes away.

Each step, per campaign and inside that tenant's scope: deliver the backend's events,
let the engine pace (the hopper hands it leads), write CDRs and lead outcomes, commit.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from app.auth.models import Role, User
from app.calls.models import Call
from app.campaigns.models import Campaign
from app.campaigns.models import DialMode as CampaignDialMode
from app.core import signals
from app.extensions import Session, engine
from app.realtime import bus
from app.recordings import control as recording_control
from app.recordings.segments import PartClock, part_closed, tenant_limit
from app.runtime import current_config
from telephony.callcontrol import (
    CallControl,
    CallControlError,
    CallEvent,
    EventKind,
    OriginateRequest,
    SupervisionMode,
    TransferKind,
)
from telephony.dialer.calls import AgentState, CallRecord, CallState, IllegalTransition
from telephony.dialer.engine import (
    BUSY_CAUSES,
    NO_ANSWER_CAUSES,
    CampaignEngine,
    CampaignSettings,
    MachineAction,
    _uuid_call_id,
)
from telephony.dialer.hopper import Hopper
from telephony.dialer.live import DEMO_PROFILE, LiveSimulator
from telephony.dialer.outcomes import close_orphans, finish_call, record_originate
from telephony.dialer.pacing import DialMode
from tenants.scoping import tenant_transaction, unscoped

log = logging.getLogger("carillon.dialer")

DIALABLE_REFRESH_S = 30.0  # the wallboard's "leads left": a bounded count, not every second
LOCK_NAMESPACE = 0x0CA7  # first key of pg_try_advisory_lock(int, int): this service's locks
AUTOMATIC_MODES = frozenset(
    {
        CampaignDialMode.PROGRESSIF,
        CampaignDialMode.TURBO,
        CampaignDialMode.AUTOMATIQUE1,
        CampaignDialMode.AUTOMATIQUE2,
        CampaignDialMode.AUTOMATIQUE3,
    }
)
# Inbound only (RÉCEPTION): never dials; its agents take the queues that accept it.
INBOUND_MODES = frozenset({CampaignDialMode.RECEPTION})
# The agent dials (one call at a time, for themself): the runner carries their "dial".
AGENT_DIALLED_MODES = frozenset({CampaignDialMode.MANUEL, CampaignDialMode.PREVIEW})


def settings_for(campaign: Campaign) -> CampaignSettings:
    return CampaignSettings(
        tenant_id=campaign.tenant_id,
        campaign_id=campaign.id,
        mode=DialMode(campaign.dial_mode),
        caller_id=campaign.caller_id or "",
        amd=campaign.amd,
        machine_action=MachineAction.VOICEMAIL if campaign.voicemail_audio else MachineAction.DROP,
        voicemail_audio=campaign.voicemail_audio,
        abandon_target=campaign.abandon_target,
        dial_speed=campaign.dial_speed,
        record=campaign.recording,
    )


class _WallClock:
    """Service time in seconds; the engine guards itself against jumps."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class _RecordingControl:
    """Writes the CDR row when a call is launched, then forwards to the backend."""

    def __init__(self, backend: CallControl, name: str, wall: Callable[[], dt.datetime]) -> None:
        self._backend = backend
        self._name = name
        self._wall = wall

    def originate(self, request: OriginateRequest) -> None:
        record_originate(request, self._name, self._wall())
        self._backend.originate(request)

    def hangup(self, call_id: str, cause: str = "NORMAL_CLEARING") -> None:
        self._backend.hangup(call_id, cause)

    def bridge_to_agent(self, call_id: str, agent_id: int) -> None:
        try:
            self._backend.bridge_to_agent(call_id, agent_id)
        except CallControlError as refused:
            # the customer hung up meanwhile, or the agent's leg is gone: end the call
            # rather than leave the customer parked; its HANGUP closes it in the engine
            log.warning("bridge of %s to agent %s failed: %s", call_id, agent_id, refused)
            self._backend.hangup(call_id, "NORMAL_TEMPORARY_FAILURE")

    def play_message(self, call_id: str, audio: str) -> None:
        try:
            self._backend.play_message(call_id, audio)
        except CallControlError as refused:
            log.warning("message on %s failed: %s", call_id, refused)
            self._backend.hangup(call_id)

    # transfers: a refusal (CallControlError) reaches the agent who asked
    def transfer(self, call_id: str, kind: TransferKind, target: str) -> None:
        self._backend.transfer(call_id, kind, target)  # type: ignore[attr-defined]

    def consult(self, call_id: str, kind: TransferKind, target: str) -> None:
        self._backend.consult(call_id, kind, target)  # type: ignore[attr-defined]

    def complete_consult(self, call_id: str) -> None:
        self._backend.complete_consult(call_id)  # type: ignore[attr-defined]

    def cancel_consult(self, call_id: str) -> None:
        try:
            self._backend.cancel_consult(call_id)  # type: ignore[attr-defined]
        except CallControlError as refused:
            log.warning("cancelling the consultation of %s: %s", call_id, refused)


# -- backends ------------------------------------------------------------------------


class RunnerBackend(CallControl, Protocol):
    """What a campaign runner drives: the engine's call control, plus event delivery."""

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
    calls = list(Session.scalars(sa.select(Call).where(Call.id.in_(call_ids), Call.ended_at.is_(None))))
    for call in calls:
        call.state = CallState.FAILED
        call.cause = cause
        call.ended_at = now
        call.times = {**call.times, CallState.FAILED.value: now.isoformat()}
    Session.flush()
    return len(calls)


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


class CampaignRunner:
    """One campaign driven by this process (it holds the campaign's advisory lock)."""

    def __init__(
        self,
        campaign: Campaign,
        clock: Callable[[], float],
        *,
        seed: int = 0,
        virtual_agents: Sequence[int] = (),
        epoch_wall: float | None = None,
        backends: Backends | None = None,
        new_call_id: Callable[[], str] = _uuid_call_id,
    ) -> None:
        self.tenant_id = campaign.tenant_id
        self.campaign_id = campaign.id
        self._clock = clock
        # unix time at which ``clock()`` read 0: CDR times and compliance use wall time
        self._epoch_wall = time.time() - clock() if epoch_wall is None else epoch_wall
        human_codes = [s.code for s in campaign.statuses if not s.system and not s.answering_machine] or [
            "INJ"
        ]
        self.virtual_agents = set(virtual_agents)
        backends = backends or SimulatedBackends()
        self.backend = backends.runner_backend(campaign, seed, human_codes, self.virtual_agents)
        if isinstance(self.backend, _FreeSwitchCampaignBackend):
            self.backend.wall = self.wall_now
        self.backend.set_time(clock())
        control = _RecordingControl(self.backend, backends.name, self.wall_now)
        self.hopper = Hopper(campaign.id, clock=self.wall_now)
        self.engine = CampaignEngine(
            settings_for(campaign),
            control,
            _WallClock(clock),
            self.hopper,
            new_call_id=new_call_id,
            on_call_finished=self._finished,
        )
        self.backend.attach(self.engine)
        self._last_tick = -1.0
        self._dialable = 0
        self._dialable_at = -float("inf")
        self._published: dict[int, tuple] = {}
        self._pending_logout: set[int] = set()
        self.queue_transfers: deque = deque()  # customers transferred to a queue (inbound.WaitingCall)
        # the campaign's wrap-up: its length, and the status set when it runs out (None: wait)
        self.wrap_up_s = float(campaign.wrapup_s)
        self.wrap_up_status: str | None = campaign.wrapup_status or None
        for agent_id in virtual_agents:
            self.engine.login(agent_id)

    def wall(self, t: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._epoch_wall + t, dt.UTC)

    def wall_now(self) -> dt.datetime:
        return self.wall(self._clock())

    def _finished(self, record: CallRecord) -> None:
        media = self.backend.take_cdr_data(record.call_id)
        record.data.update(media)
        if record.data.get("direction") == "in":  # an inbound queue call (telephony.dialer.inbound)
            from telephony.dialer.inbound import finish_call as finish_inbound

            finish_inbound(self, record)
            return
        if "transfers" in record.data:  # engine times -> wall times for the CDR
            transfers = json.loads(record.data["transfers"])
            for item in transfers:
                item["at"] = self.wall(float(item["at"])).isoformat()
            record.data["transfers"] = json.dumps(transfers)
        campaign = Session.get(Campaign, self.campaign_id)
        if campaign is None:
            return
        call = finish_call(campaign, record, self.wall)
        if call is None:
            return
        if media.get("node"):
            call.node = media["node"]
        payload = call_payload(call)
        signals.call_ended.send("dialer", tenant_id=self.tenant_id, payload=payload,
                                recording_path=self.backend.recording_path(record))
        if call.lead_id is not None:
            signals.lead_status_changed.send("dialer", tenant_id=self.tenant_id,
                                             payload={"lead_id": call.lead_id, "status": call.disposition,
                                                      "call_id": payload["id"]})
        status = next((s for s in campaign.statuses if s.code == call.disposition), None)
        if status is not None and status.sale:
            signals.sale_created.send("dialer", tenant_id=self.tenant_id, payload=payload)

    def step(self) -> None:
        now = self._clock()
        with tenant_transaction(self.tenant_id):
            self.backend.set_time(now)
            self.apply_commands(bus.pop_commands(self.campaign_id))
            for call_id, action in recording_control.pop(self.campaign_id):
                self.backend.control_recording(call_id, action)
            for request in bus.pop_supervision(self.campaign_id):
                self.start_supervision(request)
            self.backend.pump(now)
            ticked = now - self._last_tick >= 1.0
            if ticked:
                self._last_tick = now
                self.check_presence()
                self.close_expired_wrap_ups()
                self.engine.tick()
                if now - self._dialable_at >= DIALABLE_REFRESH_S:
                    self._dialable_at = now
                    self._dialable = self.hopper.count_dialable()
        self.publish_agents()
        if ticked:
            bus.publish_campaign(self.tenant_id, self.campaign_id, self.stats())

    def start_supervision(self, request: dict) -> None:
        """Listen / whisper / barge / take over, asked from the wallboard (audited
        there): the supervisor's phone is called into the agent's call."""
        if request.get("tenant_id") != self.tenant_id:
            return  # never for another tenant's call, whatever the list held
        supervisor_id = int(request["supervisor_id"])
        endpoint = f"user/t{self.tenant_id}a{supervisor_id}@{current_config().SIP_DOMAIN}"
        try:
            self.backend.supervise(str(request["call_id"]), supervisor_id, endpoint,
                                   SupervisionMode(request["mode"]))
        except (CallControlError, KeyError, ValueError) as refused:
            bus.publish(self.tenant_id, {"type": "supervision_failed", "supervisor_id": supervisor_id,
                                         "call_id": request.get("call_id"), "reason": str(refused)})

    # ------------------------------------------------------------ agents
    def apply_commands(self, commands: list[bus.AgentCommand]) -> None:
        """Apply the agents' actions in order. A command that does not fit the agent's
        state (a disposition clicked twice, a pause during a call) changes nothing and
        is reported to that agent's page."""
        for command in commands:
            if command.tenant_id != self.tenant_id or command.campaign_id != self.campaign_id:
                continue  # never act on another tenant's agent, whatever the list held
            try:
                self._apply(command)
            except (IllegalTransition, CallControlError, _DialRefused) as refused:
                bus.publish(
                    self.tenant_id,
                    {
                        "type": "refused",
                        "agent_id": command.agent_id,
                        "command": command.kind,
                        "reason": str(refused),
                        "reason_code": getattr(refused, "code", ""),
                    },
                )

    def _apply(self, command: bus.AgentCommand) -> None:
        engine = self.engine
        agent_id = command.agent_id
        if command.kind == "login":
            if agent_id not in engine.agents:
                engine.login(agent_id)
            # a person logging in from a page takes over a simulated agent's seat: from
            # now on they disposition, and their page's heartbeat counts
            self.virtual_agents.discard(agent_id)
            self._pending_logout.discard(agent_id)
        elif command.kind == "ready":
            engine.resume(agent_id)
        elif command.kind == "pause":
            engine.pause(agent_id, command.pause_code or "PAUSE")
        elif command.kind == "disposition":
            agent = engine.agents.get(agent_id)
            if agent is None or (command.call_id and agent.call_id != command.call_id):
                raise IllegalTransition("this call is already closed")
            engine.disposition(agent_id, command.status or "INJ", pause_code=command.pause_code)
            self._logout_if_pending(agent_id)
        elif command.kind == "hangup":
            agent = engine.agents.get(agent_id)
            # a call the agent dialled may be cancelled while it rings
            dialling = agent is not None and agent.state is AgentState.RINGING and engine.is_agent_dialled(
                agent.call_id)
            if agent is None or agent.call_id is None or (agent.state is not AgentState.IN_CALL and not dialling):
                raise IllegalTransition("no call to hang up")
            self.backend.hangup(agent.call_id, "ORIGINATOR_CANCEL" if dialling else "NORMAL_CLEARING")
        elif command.kind == "dial":
            self.dial_for_agent(agent_id, int(command.lead_id or 0))
        elif command.kind == "transfer":
            kind = TransferKind(command.transfer_kind or "")
            if kind is TransferKind.QUEUE:
                if not getattr(self.backend, "takes_queue_transfers", False):
                    raise IllegalTransition("transfer to a queue is not available on this media server yet")
                if not (command.target or "").isdigit():
                    raise IllegalTransition(f"queue id expected, got {command.target!r}")
            call = engine.transfer(agent_id, kind, command.target or "", warm=command.warm)
            if not command.warm:
                self.backend.control_recording(call.call_id, recording_control.SPLIT)
            if kind is TransferKind.QUEUE:
                self._to_queue(call, int(command.target or ""))
        elif command.kind == "transfer_complete":
            call = engine.complete_transfer(agent_id)
            self.backend.control_recording(call.call_id, recording_control.SPLIT)
        elif command.kind == "transfer_cancel":
            engine.cancel_transfer(agent_id)
        elif command.kind == "logout":
            self._pending_logout.add(agent_id)
            self._logout_if_pending(agent_id)

    def _to_queue(self, call: CallRecord, queue_id: int) -> None:
        """The customer of a cold transfer to a queue: taken by the inbound router at its step."""
        from telephony.dialer.inbound import transferred_call

        self.queue_transfers.append(transferred_call(self.tenant_id, call, queue_id, self.engine.now()))

    def dial_for_agent(self, agent_id: int, lead_id: int) -> None:
        """MANUEL / PREVIEW: the agent's chosen lead, screened again here (the page's
        check may be seconds old) and reserved, then dialled for them."""
        if self.engine.settings.mode not in (DialMode.MANUEL, DialMode.PREVIEW):
            raise IllegalTransition("this campaign dials automatically")
        agent = self.engine.agents.get(agent_id)
        if agent is None or agent.state is not AgentState.READY:
            raise IllegalTransition("only a ready agent dials")
        taken = self.hopper.take_lead(lead_id)
        if isinstance(taken, str):
            raise _DialRefused(taken)
        self.engine.dial_for_agent(agent_id, taken)

    def close_expired_wrap_ups(self) -> None:
        """A wrap-up longer than the campaign's is closed with its default status
        (when it has one); people only: simulated agents close their own."""
        if not self.wrap_up_s or not self.wrap_up_status:
            return
        now = self.engine.now()
        for agent_id, agent in list(self.engine.agents.items()):
            if (agent.state is AgentState.WRAP_UP and agent.call_id is not None
                    and agent_id not in self.virtual_agents and now - agent.since >= self.wrap_up_s):
                self.engine.disposition(agent_id, self.wrap_up_status)
                self._logout_if_pending(agent_id)

    def _logout_if_pending(self, agent_id: int) -> None:
        """Log out now if idle; an agent in a call or wrap-up is logged out once the
        call is dispositioned (the customer is never cut off by a logout)."""
        agent = self.engine.agents.get(agent_id)
        if agent_id not in self._pending_logout or agent is None:
            return
        if agent.state in (AgentState.READY, AgentState.PAUSED):
            self.engine.logout(agent_id)
            self._pending_logout.discard(agent_id)

    def check_presence(self) -> None:
        """An agent whose page is gone (no heartbeat within the grace period) is logged
        out: idle at once, otherwise when the current call is dispositioned."""
        for agent_id in list(self.engine.agents):
            if agent_id in self.virtual_agents or bus.is_alive(self.tenant_id, agent_id):
                continue
            self._pending_logout.add(agent_id)
            self._logout_if_pending(agent_id)

    def publish_agents(self) -> None:
        engine = self.engine
        seen = set()
        for agent_id, agent in engine.agents.items():
            seen.add(agent_id)
            call = engine.calls.get(agent.call_id) if agent.call_id else None
            consult = engine.consult_of(agent.call_id)
            consulting = f"{consult.kind}:{consult.target}" if consult and consult.agent_id == agent_id else ""
            key = (agent.state, agent.since, agent.pause_code, agent.call_id, consulting)
            if self._published.get(agent_id) == key:
                continue
            self._published[agent_id] = key
            bus.publish_agent(
                self.tenant_id,
                agent_id,
                {
                    "state": str(agent.state),
                    "since": self.wall(agent.since).timestamp(),
                    "campaign_id": self.campaign_id,
                    "pause_code": agent.pause_code or "",
                    "call_id": agent.call_id or "",
                    "lead_id": call.lead_id if call and call.lead_id else "",
                    "phone": call.destination if call else "",
                    "virtual": int(agent_id in self.virtual_agents),
                    "dialled": int(engine.is_agent_dialled(agent.call_id)),  # placed for this agent
                    "consult": consulting,  # a warm transfer under way: kind:target
                },
            )
        for agent_id in set(self._published) - seen:
            del self._published[agent_id]
            bus.publish_agent(
                self.tenant_id, agent_id, {"state": "logged_out", "campaign_id": self.campaign_id}
            )

    def stats(self) -> dict[str, float | int]:
        snap = self.engine.snapshot()
        counters = snap.counters
        states = [a.state for a in self.engine.agents.values()]
        answered = counters.live + counters.machines_detected
        busy = len(snap.in_call_since) + len(snap.wrap_up_since)
        return {
            "agents": len(states),
            "ready": states.count(AgentState.READY),
            "paused": states.count(AgentState.PAUSED),
            "in_call": states.count(AgentState.IN_CALL),
            "ringing": states.count(AgentState.RINGING),
            "wrap_up": states.count(AgentState.WRAP_UP),
            "dialling": len(snap.outstanding_dialled_at),
            # answered outbound calls waiting for an agent; inbound callers show per queue
            "waiting": snap.calls_waiting - self.engine.inbound_waiting,
            "dials": counters.dials,
            "answered": answered,
            "abandoned": counters.abandoned,
            "abandon_rate": round(100.0 * counters.abandoned / counters.live, 2) if counters.live else 0.0,
            "answer_rate": round(100.0 * answered / counters.dials, 1) if counters.dials else 0.0,
            "dial_level": round(len(snap.outstanding_dialled_at) / busy, 2) if busy else 0.0,
            "dialable": self._dialable,
            "mode": str(self.engine.settings.mode),
            "updated_at": round(time.time(), 3),
        }


class _DialRefused(IllegalTransition):
    """The dialer would not dial the lead an agent chose; ``code`` says why."""

    MESSAGES = {"closed": "this lead is not in an active list of the campaign, or is closed",
                "in_call": "a call is already in progress with this lead"}

    def __init__(self, code: str) -> None:
        super().__init__(self.MESSAGES.get(code, f"compliance: {code}"))
        self.code = code


@dataclass
class _Held:
    runner: CampaignRunner
    lock: sa.Connection


class DialerService:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        discover_every_s: float = 10.0,
        virtual_agents: bool = True,
        tenant_ids: Sequence[int] | None = None,
        epoch_wall: float | None = None,
        backends: Backends | None = None,
        new_call_id: Callable[[], str] = _uuid_call_id,
    ) -> None:
        self._clock = clock
        self._epoch_wall = epoch_wall
        self._discover_every = discover_every_s
        self.backends = backends or SimulatedBackends()
        self._new_call_id = new_call_id
        self._virtual_agents = virtual_agents and self.backends.virtual_agents_allowed
        self._tenant_ids = tenant_ids
        self.held: dict[int, _Held] = {}
        self._last_discovery = -float("inf")
        from telephony.dialer.inbound import make_router

        # inbound queues, served before the campaigns step (blending); None turns them off
        self.inbound = make_router(self.backends, clock, epoch_wall=epoch_wall, tenant_ids=tenant_ids)

    def candidates(self) -> list[Campaign]:
        # The service owns calls for every tenant: it lists campaigns across tenants on
        # purpose, then works inside each campaign's tenant scope.
        with unscoped():
            stmt = sa.select(Campaign).where(
                Campaign.active, Campaign.archived_at.is_(None),
                Campaign.dial_mode.in_(list(AUTOMATIC_MODES | AGENT_DIALLED_MODES | INBOUND_MODES)),
            )
            if self._tenant_ids is not None:
                stmt = stmt.where(Campaign.tenant_id.in_(self._tenant_ids))
            campaigns = list(Session.scalars(stmt))
            Session.commit()
        return campaigns

    def discover(self) -> None:
        self._last_discovery = self._clock()
        wanted = {c.id: c for c in self.candidates()}
        for campaign_id in list(self.held):
            if campaign_id not in wanted:
                self.release(campaign_id)
        for campaign_id, campaign in wanted.items():
            if campaign_id not in self.held:
                self._try_acquire(campaign)

    def _try_acquire(self, campaign: Campaign) -> None:
        lock = engine().connect()
        got = lock.execute(
            sa.text("SELECT pg_try_advisory_lock(:ns, :id)"), {"ns": LOCK_NAMESPACE, "id": campaign.id}
        ).scalar()
        lock.commit()
        if not got:
            lock.close()
            return
        with tenant_transaction(campaign.tenant_id):
            campaign = Session.get(Campaign, campaign.id)
            # simulated agents cannot choose a lead: MANUEL / PREVIEW run with people only
            agents = (self._agents_for(campaign)
                      if self._virtual_agents and campaign.dial_mode not in AGENT_DIALLED_MODES else [])
            runner = CampaignRunner(
                campaign, self._clock, seed=campaign.id, virtual_agents=agents, epoch_wall=self._epoch_wall,
                backends=self.backends, new_call_id=self._new_call_id,
            )
            closed = self.backends.recover_open_calls(campaign.id, runner.backend, self._wall_now())
        if closed:
            log.warning("campaign %s: closed %d calls left open by a previous service", campaign.id, closed)
        log.info(
            "driving campaign %s (tenant %s) with %d virtual agents",
            campaign.id,
            campaign.tenant_id,
            len(agents),
        )
        self.held[campaign.id] = _Held(runner, lock)

    def _wall_now(self) -> dt.datetime:
        if self._epoch_wall is None:
            return dt.datetime.now(dt.UTC)
        return dt.datetime.fromtimestamp(self._epoch_wall + self._clock(), dt.UTC)

    @staticmethod
    def _agents_for(campaign: Campaign) -> list[int]:
        return list(
            Session.scalars(sa.select(User.id).where(User.active, User.role == Role.AGENT).order_by(User.id))
        )

    def release(self, campaign_id: int) -> None:
        held = self.held.pop(campaign_id, None)
        if held is None:
            return
        bus.clear_campaign(held.runner.tenant_id, campaign_id, held.runner.engine.agents)
        try:
            held.lock.execute(
                sa.text("SELECT pg_advisory_unlock(:ns, :id)"), {"ns": LOCK_NAMESPACE, "id": campaign_id}
            )
            held.lock.commit()
        finally:
            held.lock.close()

    def step(self) -> None:
        if self._clock() - self._last_discovery >= self._discover_every:
            self.discover()
        if self.inbound is not None:
            try:
                self.inbound.step({campaign_id: held.runner for campaign_id, held in self.held.items()})
            except Exception:
                log.exception("inbound queues failed this step")
        for campaign_id, held in list(self.held.items()):
            try:
                held.runner.step()
            except Exception:
                log.exception("campaign %s failed; releasing it", campaign_id)
                self.release(campaign_id)

    def run(self, stop: threading.Event, interval_s: float = 0.2) -> None:
        while not stop.is_set():
            started = time.monotonic()
            self.step()
            self.backends.wait(stop, max(0.0, interval_s - (time.monotonic() - started)))
        if self.inbound is not None:
            self.inbound.close()
        for campaign_id in list(self.held):
            self.release(campaign_id)
        self.backends.close()
