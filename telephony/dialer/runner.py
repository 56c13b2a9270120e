"""One campaign driven by the dialer service: ``CampaignRunner`` runs its engine
against the campaign's backend, applies its agents' commands, writes its CDRs and
publishes its agents and counters.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from app.campaigns.models import Campaign
from app.core import signals
from app.extensions import Session
from app.inbound.services import active_queue
from app.realtime import bus
from app.recordings import control as recording_control
from app.runtime import current_config
from telephony.callcontrol import (
    CallControl,
    CallControlError,
    OriginateRequest,
    SupervisionMode,
    TransferKind,
)
from telephony.dialer.backends import Backends, SimulatedBackends, _FreeSwitchCampaignBackend, call_payload
from telephony.dialer.calls import AgentState, CallRecord, IllegalTransition
from telephony.dialer.engine import CampaignEngine, CampaignSettings, MachineAction, _uuid_call_id
from telephony.dialer.hopper import Hopper
from telephony.dialer.outcomes import finish_call, record_originate
from telephony.dialer.pacing import DialMode
from tenants.scoping import tenant_transaction

log = logging.getLogger("carillon.dialer")

DIALABLE_REFRESH_S = 30.0  # the wallboard's "leads left": a bounded count, not every second


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
                if not active_queue(int(command.target or "")):
                    # (on FreeSWITCH the dialplan would refuse it and drop the customer)
                    raise IllegalTransition(f"no active queue {command.target} in this tenant")
            call = engine.transfer(agent_id, kind, command.target or "", warm=command.warm)
            if kind is TransferKind.QUEUE:
                # the recording part of this call closed with the hand-over; the customer is
                # a new inbound call, recorded as its queue says
                if not self.backend.queue_callers_from_media:
                    self._to_queue(call, int(command.target or ""))
            elif not command.warm:
                self.backend.control_recording(call.call_id, recording_control.SPLIT)
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

    def wrap_up_limit(self, call_id: str | None) -> float:
        """The wrap-up length for the agent's call: an inbound queue's call carries its
        queue's (``wrapup_s`` in its data), any other call has the campaign's."""
        call = self.engine.calls.get(call_id or "")
        queue_wrap_up = call.data.get("wrapup_s", "") if call is not None else ""
        return float(queue_wrap_up) if queue_wrap_up.isdigit() else self.wrap_up_s

    def close_expired_wrap_ups(self) -> None:
        """A wrap-up longer than its call's (``wrap_up_limit``) is closed with the
        campaign's default status (when it has one); people only: simulated agents
        close their own."""
        if not self.wrap_up_status:
            return
        now = self.engine.now()
        for agent_id, agent in list(self.engine.agents.items()):
            limit = self.wrap_up_limit(agent.call_id)
            if (agent.state is AgentState.WRAP_UP and agent.call_id is not None and limit
                    and agent_id not in self.virtual_agents and now - agent.since >= limit):
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
                    "wrapup_s": int(self.wrap_up_limit(agent.call_id)),  # the page's countdown
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

