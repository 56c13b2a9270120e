"""The campaign engine: agents and calls of one campaign, driven by a clock and events.

No I/O of its own.  The dialer service (or the simulator) calls:

- ``tick()`` once per second: asks the pacing policy how many calls to launch, takes
  that many leads from the ``LeadSource`` and originates them through ``CallControl``;
- ``on_event(event)`` for every ``CallEvent`` the backend reports (``on_call_event`` takes
  its fields directly: the simulator delivers millions and need not build the objects);
- ``poll()`` at ``next_deadline()``: a connectable call that found no agent within the
  drop window is abandoned there, with its identification message (R4);
- the agent actions ``login``, ``pause``, ``resume``, ``logout``, ``disposition``.

Time: the engine keeps its own monotonic time.  It follows ``clock.now()`` but a step
backwards counts as zero and a step forwards is capped at ``max_clock_step_s``, so a
wall-clock jump can neither age every call by an hour nor make durations negative.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from telephony.callcontrol import CallControl, CallEvent, Clock, EventKind, OriginateRequest, TransferKind
from telephony.dialer.calls import Agent, AgentState, CallRecord, CallState, IllegalTransition
from telephony.dialer.pacing import (
    DROP_WINDOW_S,
    LEGAL_ABANDON_CAP,
    CampaignSnapshot,
    DialMode,
    PacingPolicy,
    RecentSamples,
    ShiftCounters,
    make_policy,
)

MIN_RING_TIMEOUT_S = 15  # R4: unanswered prospecting calls ring at least 15 s
LOGOUT_IN_WRAP_UP = "LOGOUT_IN_WRAP_UP"  # system disposition of a wrap-up the agent left open

NO_ANSWER_CAUSES = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "ORIGINATOR_CANCEL"})
BUSY_CAUSES = frozenset({"USER_BUSY"})
# Events that change nothing a pacing snapshot shows (a ringing dial is still outstanding,
# a presented agent is already busy since the presentation).
_UNOBSERVED_KINDS = frozenset(
    {EventKind.RINGING, EventKind.BRIDGED, EventKind.RECORDING_STARTED, EventKind.RECORDING_STOPPED}
)
_NO_DATA: Mapping[str, str] = MappingProxyType({})
_NO_SAMPLES = RecentSamples()  # what a policy that never reads samples is handed


@dataclass(frozen=True, slots=True)
class LeadToDial:
    lead_id: int
    phone_number: str  # E.164
    caller_id: str | None = None  # local presence override of the campaign's number


class LeadSource(Protocol):
    """The hopper: hands out up to ``n`` leads that may be dialled now (fewer when it runs dry)."""

    def take(self, n: int) -> list[LeadToDial]: ...


class MachineAction(enum.StrEnum):
    """What to do when AMD says machine (D4)."""

    DROP = "drop"
    VOICEMAIL = "voicemail"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    tenant_id: int
    campaign_id: int
    mode: DialMode
    caller_id: str
    amd: bool = False
    machine_action: MachineAction = MachineAction.DROP
    voicemail_audio: str | None = None
    identification_audio: str = "carillon/abandon-identification.wav"
    abandon_target: float = LEGAL_ABANDON_CAP
    dial_speed: int = 10
    ring_timeout_s: int = 25
    record: bool = False
    drop_window_s: float = DROP_WINDOW_S
    max_clock_step_s: float = 10.0

    def __post_init__(self) -> None:
        if self.ring_timeout_s < MIN_RING_TIMEOUT_S:
            raise ValueError(
                f"ring timeout {self.ring_timeout_s} s is under the legal {MIN_RING_TIMEOUT_S} s"
            )
        if not 0 < self.drop_window_s <= DROP_WINDOW_S:
            raise ValueError(f"drop window must be in (0, {DROP_WINDOW_S}] s")
        if self.machine_action is MachineAction.VOICEMAIL and not self.voicemail_audio:
            raise ValueError("voicemail drop needs the campaign's voicemail audio")


@dataclass(slots=True)
class _Counters:
    dials: int = 0
    live: int = 0
    connects_human: int = 0
    connects_machine: int = 0
    abandoned: int = 0
    machines_detected: int = 0
    no_answers: int = 0
    busy: int = 0
    failures: int = 0
    # the last copy handed out and its values: reused while they stand (snapshots every tick)
    _frozen: ShiftCounters = ShiftCounters()
    _frozen_values: tuple[int, ...] = (0,) * 9

    def freeze(self) -> ShiftCounters:
        values = (
            self.dials,
            self.live,
            self.connects_human,
            self.connects_machine,
            self.abandoned,
            self.machines_detected,
            self.no_answers,
            self.busy,
            self.failures,
        )
        if values != self._frozen_values:
            self._frozen = ShiftCounters(*values)
            self._frozen_values = values
        return self._frozen


def _uuid_call_id() -> str:
    return str(uuid.uuid4())


class CampaignEngine:
    def __init__(
        self,
        settings: CampaignSettings,
        control: CallControl,
        clock: Clock,
        leads: LeadSource,
        policy: PacingPolicy | None = None,
        new_call_id: Callable[[], str] = _uuid_call_id,
        on_call_finished: Callable[[CallRecord], None] | None = None,
        sample_size: int = 2000,
        sample_refresh_s: float = 20.0,
    ) -> None:
        self.settings = settings
        self.policy = policy or make_policy(settings.mode, settings.abandon_target, settings.dial_speed)
        self._control = control
        self._clock = clock
        self._leads = leads
        self._new_call_id = new_call_id
        self._on_call_finished = on_call_finished
        self._turbo = settings.mode is DialMode.TURBO
        self._raw_time = clock.now()
        self._now = self._raw_time
        self.agents: dict[int, Agent] = {}
        self._ready: dict[int, None] = {}  # insertion order = ready since: first is longest idle
        self._paused: set[int] = set()
        self._presented_or_talking: dict[int, float] = {}  # agent -> call start
        self._wrapping: dict[int, float] = {}  # agent -> wrap-up start
        self.calls: dict[str, CallRecord] = {}  # calls still alive in the engine
        self._outstanding: dict[str, float] = {}  # unresolved dials -> dialled at
        self._waiting: deque[tuple[float, CallRecord]] = deque()  # (abandon deadline, call), FIFO
        self._counters = _Counters()
        # Sample logs, oldest first, trimmed now and then: a snapshot's samples are the last
        # ``sample_size`` entries up to the marks of the latest refresh.
        self._sample_size = sample_size
        self._dial_outcome_s: list[float] = []
        self._dial_outcome_live: list[bool] = []
        self._dial_outcome_at: list[float] = []
        self._talks: list[float] = []
        self._wraps: list[float] = []
        self._samples_marks = (0, 0)  # lengths of the dial and the talk logs at the refresh
        self._samples: RecentSamples | None = RecentSamples()  # None: not copied yet
        self._samples_changed = False
        self._samples_at = -float("inf")
        self._sample_refresh_s = sample_refresh_s
        self._dirty = True
        self._agent_dialled: set[str] = set()  # MANUEL / PREVIEW calls, each placed for one agent
        self._consults: dict[str, _Consult] = {}  # warm transfers under way, by call id
        # Inbound calls waiting in the queues this campaign takes (telephony.dialer.inbound
        # sets it each step): pacing counts them as calls waiting (blending).
        self.inbound_waiting = 0
        self._handlers: dict[EventKind, Callable[[CallRecord, float, str | None, Mapping[str, str]], None]] = {
            EventKind.RINGING: self._on_ringing,
            EventKind.ANSWERED: self._on_answered,
            EventKind.HUMAN: self._on_human,
            EventKind.MACHINE: self._on_machine,
            EventKind.BRIDGED: self._on_bridged,
            EventKind.HANGUP: self._on_hangup,
            EventKind.RECORDING_STARTED: self._on_recording_started,
            EventKind.RECORDING_STOPPED: self._on_recording_stopped,
        }

    # ----------------------------------------------------------------- time
    def now(self) -> float:
        """Engine time: follows the clock, never goes back, never leaps."""
        raw = self._clock.now()
        step = raw - self._raw_time
        self._raw_time = raw
        if step > 0:
            self._now += step if step <= self.settings.max_clock_step_s else self.settings.max_clock_step_s
        return self._now

    # --------------------------------------------------------------- pacing
    def tick(self) -> int:
        """Once per second: launch what the pacing policy asks for. Returns calls launched."""
        now = self.now()
        self._expire_waiting(now)
        if not self._dirty and now < self.policy.quiet_until:
            return 0  # nothing observable changed and the policy said it would answer 0
        self._dirty = False
        policy = self.policy
        # a policy that declares it never reads the samples is spared their copy
        samples = self._current_samples() if getattr(policy, "reads_samples", True) else _NO_SAMPLES
        wanted = policy.decide(self._snapshot(now, samples))
        if wanted <= 0:
            return 0
        leads = self._leads.take(wanted)
        for lead in leads:
            self._dial(lead, now)
        if len(leads) < wanted:
            self._dirty = True  # the hopper ran short: ask again next tick
        return len(leads)

    def snapshot(self, now: float | None = None) -> CampaignSnapshot:
        return self._snapshot(self._now if now is None else now, self._current_samples())

    def _snapshot(self, now: float, samples: RecentSamples) -> CampaignSnapshot:
        return CampaignSnapshot(
            now,
            len(self.agents),
            len(self._ready),
            tuple(self._presented_or_talking.values()),
            tuple(self._wrapping.values()),
            len(self._waiting) + self.inbound_waiting,
            tuple(self._outstanding.values()),
            self._counters.freeze(),
            samples,
            self.settings.amd,
            self.settings.drop_window_s,
            len(self._paused),
        )

    @property
    def counters(self) -> ShiftCounters:
        return self._counters.freeze()

    def reset_counters(self) -> None:
        """A new shift or day starts: the abandon rate is measured afresh."""
        self._counters = _Counters()
        self._dirty = True

    def _refresh_samples(self, now: float) -> None:
        """Samples reach snapshots at most every ``sample_refresh_s``: copying them is not
        free, so a refresh only marks how far the logs go; the copy is made when a snapshot
        needs it."""
        if not self._samples_changed or now - self._samples_at < self._sample_refresh_s:
            return
        size = self._sample_size
        for log in (self._dial_outcome_s, self._dial_outcome_live, self._dial_outcome_at, self._talks, self._wraps):
            if len(log) >= 2 * size:
                del log[: len(log) - size]
        self._samples_marks = (len(self._dial_outcome_s), len(self._talks))
        self._samples = None
        self._samples_changed = False
        self._samples_at = now

    def _current_samples(self) -> RecentSamples:
        samples = self._samples
        if samples is None:
            dials, talks = self._samples_marks
            first_dial, first_talk = max(0, dials - self._sample_size), max(0, talks - self._sample_size)
            samples = self._samples = RecentSamples(
                dial_outcome_s=tuple(self._dial_outcome_s[first_dial:dials]),
                dial_outcome_live=tuple(self._dial_outcome_live[first_dial:dials]),
                dial_outcome_at=tuple(self._dial_outcome_at[first_dial:dials]),
                talk_s=tuple(self._talks[first_talk:talks]),
                wrap_s=tuple(self._wraps[first_talk:talks]),
            )
        return samples

    def _dial(self, lead: LeadToDial, now: float) -> None:
        # queued and dialled in the same instant: built in DIALLING with both times
        call = CallRecord(
            self._new_call_id(),
            lead.lead_id,
            lead.phone_number,
            CallState.DIALLING,
            {CallState.QUEUED: now, CallState.DIALLING: now},
        )
        self.calls[call.call_id] = call
        self._outstanding[call.call_id] = now
        self._counters.dials += 1
        self._originate(call, lead, amd=self.settings.amd)

    def _originate(
        self, call: CallRecord, lead: LeadToDial, *, amd: bool, variables: dict[str, str] | None = None
    ) -> None:
        s = self.settings
        self._control.originate(
            OriginateRequest(
                call_id=call.call_id,
                tenant_id=s.tenant_id,
                campaign_id=s.campaign_id,
                lead_id=lead.lead_id,
                destination=lead.phone_number,
                caller_id=lead.caller_id or s.caller_id,
                ring_timeout_s=s.ring_timeout_s,
                amd=amd,
                record=s.record,
                variables=dict(variables) if variables else {},
            )
        )

    # --------------------------------------------------------------- timers
    def next_deadline(self) -> float | None:
        """Engine time at which ``poll()`` must run (a waiting call's drop window ends)."""
        return self._waiting[0][0] if self._waiting else None

    def poll(self) -> None:
        self._expire_waiting(self.now())

    def _expire_waiting(self, now: float) -> None:
        waiting = self._waiting
        while waiting and waiting[0][0] <= now:
            _, call = waiting.popleft()
            self._abandon(call, now, play_message=True)

    def _abandon(self, call: CallRecord, now: float, play_message: bool) -> None:
        call.move(CallState.ABANDONED, now)
        if call.data.get("direction") != "in":  # R4's abandon rate is the outbound calls'
            self._counters.abandoned += 1
        self._dirty = True
        if play_message:
            self._control.play_message(call.call_id, self.settings.identification_audio)
        self._finish_if_done(call)

    # --------------------------------------------------------------- events
    def on_event(self, event: CallEvent) -> None:
        self.on_call_event(event.call_id, event.kind, event.cause, event.data)

    def on_call_event(
        self, call_id: str, kind: EventKind, cause: str | None = None, data: Mapping[str, str] = _NO_DATA
    ) -> None:
        """``on_event`` with the event's fields."""
        now = self.now()
        if self._waiting and self._waiting[0][0] <= now:
            self._expire_waiting(now)
        call = self.calls.get(call_id)
        if call is None:
            return  # a late event for a call already finished and handed over
        self._handlers[kind](call, now, cause, data)
        if kind not in _UNOBSERVED_KINDS:
            self._dirty = True
            if self._samples_changed and now - self._samples_at >= self._sample_refresh_s:
                self._refresh_samples(now)

    def _on_ringing(self, call: CallRecord, now: float, cause: str | None, data: Mapping[str, str]) -> None:
        if call.state is CallState.DIALLING:
            call.move(CallState.RINGING, now)

    def _on_answered(self, call: CallRecord, now: float, cause: str | None, data: Mapping[str, str]) -> None:
        if call.state not in (CallState.DIALLING, CallState.RINGING):
            return
        call.move(CallState.ANSWERED, now)
        if call.call_id in self._agent_dialled:
            # its agent has waited since the dial: straight to them, no drop window
            call.connectable_at = now
            self._counters.live += 1
            self._control.bridge_to_agent(call.call_id, call.agent_id)  # type: ignore[arg-type]
            return
        if not self.settings.amd:
            self._connectable(call, now)  # no detection: every answer is presented
        elif self._turbo and self._ready:
            # TURBO presents at once, without waiting for the AMD verdict
            self._resolve(call, now, live=True)
            call.connectable_at = now
            self._present(call, self._take_longest_idle(), now)

    def _on_human(self, call: CallRecord, now: float, cause: str | None, data: Mapping[str, str]) -> None:
        if call.is_machine is None:
            call.is_machine = False
        if call.state is CallState.ANSWERED and call.agent_id is None:
            self._connectable(call, now)

    def _on_machine(self, call: CallRecord, now: float, cause: str | None, data: Mapping[str, str]) -> None:
        call.is_machine = True
        if call.state is not CallState.ANSWERED or call.agent_id is not None:
            return  # already with an agent (TURBO): the agent deals with it
        self._counters.machines_detected += 1
        call.move(CallState.MACHINE, now)
        action = self.settings.machine_action
        if action is MachineAction.AGENT:
            self._connectable(call, now)
            return
        self._resolve(call, now, live=False)
        if action is MachineAction.VOICEMAIL:
            self._control.play_message(call.call_id, self.settings.voicemail_audio or "")
            call.move(CallState.VOICEMAIL_LEFT, now)
        else:
            self._control.hangup(call.call_id, "NORMAL_CLEARING")
            call.move(CallState.MACHINE_DROPPED, now)

    def _on_bridged(self, call: CallRecord, now: float, cause: str | None, data: Mapping[str, str]) -> None:
        agent_id = call.agent_id
        if agent_id is None or call.state in (CallState.BRIDGED, CallState.WRAP_UP) or call.is_final:
            return
        call.move(CallState.BRIDGED, now)
        self.agents[agent_id].move(AgentState.IN_CALL, now)

    def _on_hangup(self, call: CallRecord, now: float, cause: str | None, data: Mapping[str, str]) -> None:
        call.ended_at = now
        state = call.state
        consult = self._consults.pop(call.call_id, None)
        if consult is not None:  # the customer left during a consultation
            self._control.cancel_consult(call.call_id)  # type: ignore[attr-defined]
            self._release_consulted(consult, now)
        if call.call_id in self._agent_dialled and state in (CallState.DIALLING, CallState.RINGING):
            self._not_reached(call, now, cause or "NORMAL_CLEARING")
            self._release_dialling_agent(call, now)
        elif call.call_id in self._agent_dialled and state is CallState.ANSWERED:
            # gone before the bridge completed: the agent who dialled still qualifies it
            call.move(CallState.BRIDGED, now)
            self.agents[call.agent_id].move(AgentState.IN_CALL, now)  # type: ignore[index]
            self._end_talk(call, now, cause)
        elif state is CallState.BRIDGED:
            self._end_talk(call, now, cause)
        elif state in (CallState.DIALLING, CallState.RINGING):
            self._not_reached(call, now, cause or "NORMAL_CLEARING")
        elif state in (CallState.ANSWERED, CallState.HUMAN, CallState.MACHINE):
            self._hung_up_before_agent(call, now, cause)
        else:
            if call.cause is None:
                call.cause = cause
            self._finish_if_done(call)

    def _on_recording_started(
        self, call: CallRecord, now: float, cause: str | None, data: Mapping[str, str]
    ) -> None:
        self._note_recording(call, EventKind.RECORDING_STARTED, now, data)

    def _on_recording_stopped(
        self, call: CallRecord, now: float, cause: str | None, data: Mapping[str, str]
    ) -> None:
        self._note_recording(call, EventKind.RECORDING_STOPPED, now, data)

    @staticmethod
    def _note_recording(call: CallRecord, kind: EventKind, now: float, data: Mapping[str, str]) -> None:
        call.data[str(kind)] = f"{now:.3f}"
        call.data.update(data)

    def _not_reached(self, call: CallRecord, now: float, cause: str) -> None:
        if cause in NO_ANSWER_CAUSES:
            call.move(CallState.NO_ANSWER, now, cause)
            self._counters.no_answers += 1
        elif cause in BUSY_CAUSES:
            call.move(CallState.BUSY, now, cause)
            self._counters.busy += 1
        else:
            call.move(CallState.FAILED, now, cause)
            self._counters.failures += 1
        self._resolve(call, now, live=False)
        self._finish_if_done(call)

    def _hung_up_before_agent(self, call: CallRecord, now: float, cause: str | None) -> None:
        """The far end left before it was bridged: an answered call never connected, so it
        counts as abandoned (it cannot hear a message any more)."""
        call.cause = cause
        if call.call_id in self._outstanding:
            self._resolve(call, now, live=True)
        self._remove_waiting(call)
        if call.agent_id is not None:  # presented, bridge not completed
            self._back_to_ready(self.agents[call.agent_id], now)
        self._abandon(call, now, play_message=False)

    def _end_talk(self, call: CallRecord, now: float, cause: str | None) -> None:
        call.move(CallState.WRAP_UP, now, cause)
        agent_id = call.agent_id
        if agent_id is None:
            raise IllegalTransition(f"call {call.call_id} bridged without an agent")
        self.agents[agent_id].move(AgentState.WRAP_UP, now)
        self._presented_or_talking.pop(agent_id, None)
        self._wrapping[agent_id] = now

    # -------------------------------------------------------------- routing
    def _resolve(self, call: CallRecord, now: float, live: bool) -> None:
        """The dial's outcome is known: it leaves the outstanding set and becomes a sample."""
        dialled_at = self._outstanding.pop(call.call_id, None)
        if dialled_at is None:
            return
        self._dial_outcome_s.append(now - dialled_at)
        self._dial_outcome_live.append(live)
        self._dial_outcome_at.append(now)
        self._samples_changed = True
        if live:
            self._counters.live += 1

    def _connectable(self, call: CallRecord, now: float) -> None:
        self._resolve(call, now, live=True)
        call.connectable_at = now
        if call.state is CallState.ANSWERED:
            call.move(CallState.HUMAN, now)
        agent_id = self._take_longest_idle()
        if agent_id is None:
            self._waiting.append((now + self.settings.drop_window_s, call))
        else:
            self._present(call, agent_id, now)

    def _take_longest_idle(self) -> int | None:
        ready = self._ready
        if not ready:
            return None
        agent_id = next(iter(ready))
        del ready[agent_id]
        return agent_id

    def _present(self, call: CallRecord, agent_id: int, now: float) -> None:
        agent = self.agents[agent_id]
        agent.move(AgentState.RINGING, now)
        agent.call_id = call.call_id
        call.agent_id = agent_id
        self._presented_or_talking[agent_id] = now
        self._control.bridge_to_agent(call.call_id, agent_id)

    def _back_to_ready(self, agent: Agent, now: float) -> None:
        """The agent's call is no longer theirs (never bridged, handed on): ready again."""
        self._presented_or_talking.pop(agent.agent_id, None)
        agent.call_id = None
        agent.move(AgentState.READY, now)
        self._agent_ready(agent)

    def _agent_ready(self, agent: Agent) -> None:
        """A ready agent takes the oldest waiting call, or joins the back of the idle line."""
        self._dirty = True
        if self._waiting:
            _, call = self._waiting.popleft()
            self._present(call, agent.agent_id, agent.since)
        else:
            self._ready[agent.agent_id] = None

    def _remove_waiting(self, call: CallRecord) -> None:
        for item in self._waiting:
            if item[1] is call:
                self._waiting.remove(item)
                return

    def _finish_if_done(self, call: CallRecord) -> None:
        if call.is_final and call.ended_at is not None:
            del self.calls[call.call_id]
            self._agent_dialled.discard(call.call_id)
            if self._on_call_finished is not None:
                self._on_call_finished(call)

    # -------------------------------------------------------- agent actions
    def login(self, agent_id: int) -> Agent:
        now = self.now()
        self._expire_waiting(now)
        if agent_id in self.agents:
            raise IllegalTransition(f"agent {agent_id} is already logged in")
        agent = Agent(agent_id, AgentState.LOGGED_OUT, now)
        self.agents[agent_id] = agent
        agent.move(AgentState.READY, now)
        self._agent_ready(agent)
        return agent

    def pause(self, agent_id: int, code: str) -> None:
        now = self.now()
        agent = self._agent(agent_id)
        agent.move(AgentState.PAUSED, now, pause_code=code)
        self._ready.pop(agent_id, None)
        self._paused.add(agent_id)
        self._dirty = True

    def resume(self, agent_id: int) -> None:
        now = self.now()
        self._expire_waiting(now)
        agent = self._agent(agent_id)
        agent.move(AgentState.READY, now)
        self._paused.discard(agent_id)
        self._agent_ready(agent)

    def logout(self, agent_id: int) -> None:
        """Ready, paused or in wrap-up agents may leave; a wrap-up left open is closed with
        the system status ``LOGOUT_IN_WRAP_UP`` so that its call record ends."""
        now = self.now()
        agent = self._agent(agent_id)
        if agent.state is AgentState.WRAP_UP and agent.call_id is not None:
            self.disposition(agent_id, LOGOUT_IN_WRAP_UP, pause_code="LOGOUT")
        agent.move(AgentState.LOGGED_OUT, now)
        self._ready.pop(agent_id, None)
        self._paused.discard(agent_id)
        self._wrapping.pop(agent_id, None)
        del self.agents[agent_id]
        self._dirty = True

    def disposition(
        self, agent_id: int, status: str, is_machine: bool = False, pause_code: str | None = None
    ) -> None:
        """The agent closes the wrap-up of their call with a status, then is ready (or paused)."""
        now = self.now()
        self._expire_waiting(now)
        agent = self._agent(agent_id)
        if agent.state is not AgentState.WRAP_UP or agent.call_id is None:
            raise IllegalTransition(f"agent {agent_id} has no call in wrap-up to disposition ({agent.state})")
        call = self.calls[agent.call_id]
        call.move(CallState.DISPOSITIONED, now)
        call.disposition = status
        call.is_machine = is_machine
        if is_machine:
            self._counters.connects_machine += 1
        else:
            self._counters.connects_human += 1
        # talk and wrap-up recorded together: the pacing model uses them as pairs
        self._talks.append(call.times[CallState.WRAP_UP] - call.times[CallState.BRIDGED])
        self._wraps.append(now - call.times[CallState.WRAP_UP])
        self._samples_changed = True
        self._refresh_samples(now)
        self._wrapping.pop(agent_id, None)
        agent.call_id = None
        self._finish_if_done(call)
        if pause_code is not None:
            agent.move(AgentState.PAUSED, now, pause_code=pause_code)
            self._paused.add(agent_id)
            self._dirty = True
        else:
            agent.move(AgentState.READY, now)
            self._agent_ready(agent)

    # ----------------------------------------------------- inbound (blending)
    def ready_agents(self) -> list[tuple[int, float]]:
        """Ready agents with the engine time they became ready, longest idle first."""
        return [(agent_id, self.agents[agent_id].since) for agent_id in self._ready]

    def accept_inbound(self, call_id: str, caller: str, agent_id: int, lead_id: int | None = None,
                       data: dict[str, str] | None = None) -> CallRecord:
        """An inbound call chosen for ready agent ``agent_id`` (telephony.dialer.inbound):
        it is presented at once; from then on it runs like an answered outbound call
        (bridge, wrap-up, disposition) without counting in the outbound abandon rate."""
        now = self.now()
        if agent_id not in self._ready:
            raise IllegalTransition(f"agent {agent_id} is not ready for an inbound call")
        del self._ready[agent_id]
        call = CallRecord(call_id, lead_id, caller, CallState.HUMAN,
                          {CallState.QUEUED: now, CallState.ANSWERED: now, CallState.HUMAN: now},
                          data={**(data or {}), "direction": "in"})
        call.connectable_at = now
        self.calls[call_id] = call
        self._dirty = True
        self._present(call, agent_id, now)
        return call

    def _agent(self, agent_id: int) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise IllegalTransition(
                f"agent {agent_id} is not logged in to campaign {self.settings.campaign_id}"
            )
        return agent


    # ------------------------------------------------- agent-dialled calls
    def dial_for_agent(self, agent_id: int, lead: LeadToDial) -> CallRecord:
        """MANUEL / PREVIEW: place a call for this agent. The agent is reserved
        (ringing) while it rings; an answer is bridged straight to them (no drop window,
        never an abandon); not reached, the agent is ready again and the call closes
        with the dialler's own status. Pacing ignores these calls."""
        now = self.now()
        self._expire_waiting(now)
        agent = self._agent(agent_id)
        if agent.state is not AgentState.READY:
            raise IllegalTransition(f"agent {agent_id} is {agent.state}: only a ready agent dials")
        call = CallRecord(
            self._new_call_id(),
            lead.lead_id,
            lead.phone_number,
            CallState.DIALLING,
            {CallState.QUEUED: now, CallState.DIALLING: now},
            agent_id=agent_id,
            data={"dialled_by_agent": str(agent_id)},
        )
        self.calls[call.call_id] = call
        self._agent_dialled.add(call.call_id)
        self._ready.pop(agent_id, None)
        agent.move(AgentState.RINGING, now)
        agent.call_id = call.call_id
        self._presented_or_talking[agent_id] = now
        self._counters.dials += 1
        self._dirty = True
        # a person dialled it and listens: no detection delay
        self._originate(call, lead, amd=False, variables={"agent_id": str(agent_id)})
        return call

    def is_agent_dialled(self, call_id: str | None) -> bool:
        return call_id in self._agent_dialled

    def _release_dialling_agent(self, call: CallRecord, now: float) -> None:
        agent = self.agents.get(call.agent_id) if call.agent_id is not None else None
        if agent is None or agent.call_id != call.call_id:
            return
        self._back_to_ready(agent, now)

    # ------------------------------------------------------------ transfers
    def transfer(self, agent_id: int, kind: TransferKind, target: str, *, warm: bool = False) -> CallRecord:
        """The agent hands their call on. Cold: at once (to a ready agent of this
        campaign, who takes it over; to a number or a queue, the agent goes to wrap-up).
        Warm: the target is consulted first (``complete_transfer`` / ``cancel_transfer``).
        Every transfer is kept in the call's data for the CDR."""
        now = self.now()
        agent = self._agent(agent_id)
        call = self.calls.get(agent.call_id or "")
        if agent.state is not AgentState.IN_CALL or call is None or call.state is not CallState.BRIDGED:
            raise IllegalTransition(f"agent {agent_id} has no call in progress to transfer")
        if call.call_id in self._consults:
            raise IllegalTransition("a consultation is already under way: complete or cancel it")
        if warm and kind is TransferKind.QUEUE:
            raise IllegalTransition("a queue has nobody to consult: transfer to it cold")
        target_agent = self._transfer_target(agent_id, kind, target)
        if warm:
            self._control.consult(call.call_id, kind, target)  # type: ignore[attr-defined]
            if target_agent is not None:
                self._reserve(target_agent, call, now)
            self._consults[call.call_id] = _Consult(agent_id, kind, target, target_agent)
            self._note_transfer(call, now, "consult", kind, target, agent_id)
            self._dirty = True
            return call
        self._control.transfer(call.call_id, kind, target)  # type: ignore[attr-defined]
        self._note_transfer(call, now, "cold", kind, target, agent_id)
        self._hand_over(call, agent_id, target_agent, now)
        return call

    def complete_transfer(self, agent_id: int) -> CallRecord:
        now = self.now()
        call, consult = self._consult_of(agent_id)
        self._control.complete_consult(call.call_id)  # type: ignore[attr-defined]
        del self._consults[call.call_id]
        self._note_transfer(call, now, "warm", consult.kind, consult.target, agent_id)
        self._hand_over(call, agent_id, consult.target_agent, now)
        return call

    def cancel_transfer(self, agent_id: int) -> CallRecord:
        now = self.now()
        call, consult = self._consult_of(agent_id)
        self._control.cancel_consult(call.call_id)  # type: ignore[attr-defined]
        del self._consults[call.call_id]
        self._note_transfer(call, now, "cancelled", consult.kind, consult.target, agent_id)
        self._release_consulted(consult, now)
        return call

    def consult_of(self, call_id: str | None) -> _Consult | None:
        return self._consults.get(call_id or "")

    def _consult_of(self, agent_id: int) -> tuple[CallRecord, _Consult]:
        agent = self._agent(agent_id)
        consult = self._consults.get(agent.call_id or "")
        if consult is None or consult.agent_id != agent_id:
            raise IllegalTransition(f"agent {agent_id} has no consultation under way")
        return self.calls[agent.call_id], consult  # type: ignore[index]

    def _transfer_target(self, agent_id: int, kind: TransferKind, target: str) -> int | None:
        if kind is not TransferKind.AGENT:
            if not target:
                raise IllegalTransition("a transfer needs a destination")
            return None
        try:
            target_id = int(target)
        except ValueError:
            raise IllegalTransition(f"agent id expected, got {target!r}") from None
        other = self.agents.get(target_id)
        if target_id == agent_id or other is None or other.agent_id not in self._ready:
            raise IllegalTransition(f"agent {target} is not ready in this campaign")
        return target_id

    def _reserve(self, target_id: int, call: CallRecord, now: float) -> None:
        other = self.agents[target_id]
        self._ready.pop(target_id, None)
        other.move(AgentState.RINGING, now)
        other.call_id = call.call_id
        self._presented_or_talking[target_id] = now

    def _release_consulted(self, consult: _Consult, now: float) -> None:
        if consult.target_agent is None:
            return
        other = self.agents.get(consult.target_agent)
        if other is None or other.state is not AgentState.RINGING:
            return
        self._back_to_ready(other, now)

    def _hand_over(self, call: CallRecord, agent_id: int, target_agent: int | None, now: float) -> None:
        """The call leaves ``agent_id``: to another agent (who takes its wrap-up and
        disposition), or out of the campaign (its agent qualifies it from wrap-up)."""
        if target_agent is None:
            self._end_talk(call, now, None)
            return
        other = self.agents[target_agent]
        if other.state is not AgentState.RINGING:
            self._reserve(target_agent, call, now)
        other.move(AgentState.IN_CALL, now)
        call.agent_id = target_agent
        agent = self.agents[agent_id]
        agent.move(AgentState.WRAP_UP, now)  # nothing to qualify: the call goes on with the other agent
        self._back_to_ready(agent, now)

    @staticmethod
    def _note_transfer(call: CallRecord, now: float, mode: str, kind: TransferKind, target: str,
                       agent_id: int) -> None:
        done = json.loads(call.data.get("transfers", "[]"))
        done.append({"at": round(now, 3), "mode": mode, "kind": str(kind), "target": target, "agent_id": agent_id})
        call.data["transfers"] = json.dumps(done)


@dataclass(frozen=True, slots=True)
class _Consult:
    agent_id: int  # the agent who asked for the transfer
    kind: TransferKind
    target: str
    target_agent: int | None  # reserved while consulted
