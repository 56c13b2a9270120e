"""Call and agent state machines of the dialer (spec D3, A2).

Pure data and transition rules: no I/O, no clock.  The engine
(``telephony.dialer.engine``) drives them from backend events and agent actions,
stamping every transition with its own monotonic time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class IllegalTransition(RuntimeError):
    """A call or an agent was asked to move to a state it cannot reach from where it is."""


class CallState(enum.StrEnum):
    QUEUED = "queued"  # lead taken from the hopper, not yet originated
    DIALLING = "dialling"  # originate sent
    RINGING = "ringing"
    ANSWERED = "answered"  # picked up, person or machine not known yet
    HUMAN = "human"  # connectable: waiting for an agent (at most the drop window)
    MACHINE = "machine"  # answering machine detected
    BRIDGED = "bridged"  # joined to an agent
    WRAP_UP = "wrap_up"  # customer gone, agent doing after-call work
    DISPOSITIONED = "dispositioned"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"  # invalid number, congestion, network failure
    ABANDONED = "abandoned"  # answered, no agent within the drop window: identification message played
    MACHINE_DROPPED = "machine_dropped"
    VOICEMAIL_LEFT = "voicemail_left"


FINAL_CALL_STATES = frozenset(
    {
        CallState.DISPOSITIONED,
        CallState.NO_ANSWER,
        CallState.BUSY,
        CallState.FAILED,
        CallState.ABANDONED,
        CallState.MACHINE_DROPPED,
        CallState.VOICEMAIL_LEFT,
    }
)

_NOT_REACHED = (CallState.NO_ANSWER, CallState.BUSY, CallState.FAILED)

CALL_TRANSITIONS: dict[CallState, frozenset[CallState]] = {
    CallState.QUEUED: frozenset({CallState.DIALLING, CallState.FAILED}),
    CallState.DIALLING: frozenset({CallState.RINGING, CallState.ANSWERED, *_NOT_REACHED}),
    CallState.RINGING: frozenset({CallState.ANSWERED, *_NOT_REACHED}),
    # BRIDGED straight from ANSWERED: TURBO presents before the AMD verdict.
    CallState.ANSWERED: frozenset(
        {CallState.HUMAN, CallState.MACHINE, CallState.BRIDGED, CallState.ABANDONED}
    ),
    CallState.HUMAN: frozenset({CallState.BRIDGED, CallState.ABANDONED}),
    CallState.MACHINE: frozenset(
        {CallState.MACHINE_DROPPED, CallState.VOICEMAIL_LEFT, CallState.BRIDGED, CallState.ABANDONED}
    ),
    CallState.BRIDGED: frozenset({CallState.WRAP_UP}),
    CallState.WRAP_UP: frozenset({CallState.DISPOSITIONED}),
    **{final: frozenset() for final in FINAL_CALL_STATES},
}


@dataclass(slots=True, eq=False)
class CallRecord:
    """One outbound attempt, CDR-like: every state it went through with its time."""

    call_id: str
    lead_id: int | None
    destination: str
    state: CallState
    times: dict[CallState, float]
    cause: str | None = None
    agent_id: int | None = None
    is_machine: bool | None = None  # AMD verdict, or the agent's disposition once known
    disposition: str | None = None
    ended_at: float | None = None  # backend hangup seen
    connectable_at: float | None = None  # start of the drop window
    data: dict[str, str] = field(default_factory=dict)

    @classmethod
    def queued(cls, call_id: str, lead_id: int | None, destination: str, at: float) -> CallRecord:
        return cls(call_id, lead_id, destination, CallState.QUEUED, {CallState.QUEUED: at})

    @property
    def dialled_at(self) -> float:
        return self.times.get(CallState.DIALLING, self.times[CallState.QUEUED])

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_CALL_STATES

    def move(self, new_state: CallState, at: float, cause: str | None = None) -> None:
        if new_state not in CALL_TRANSITIONS[self.state]:
            raise IllegalTransition(f"call {self.call_id}: {self.state} -> {new_state} is not allowed")
        self.state = new_state
        self.times[new_state] = at
        if cause is not None:
            self.cause = cause


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    PAUSED = "paused"
    RINGING = "ringing"  # a call is being presented
    IN_CALL = "in_call"
    WRAP_UP = "wrap_up"


AGENT_TRANSITIONS: dict[AgentState, frozenset[AgentState]] = {
    AgentState.LOGGED_OUT: frozenset({AgentState.READY, AgentState.PAUSED}),
    AgentState.READY: frozenset({AgentState.PAUSED, AgentState.RINGING, AgentState.LOGGED_OUT}),
    AgentState.PAUSED: frozenset({AgentState.READY, AgentState.LOGGED_OUT}),
    # RINGING -> READY: the customer hung up before the bridge completed.
    AgentState.RINGING: frozenset({AgentState.IN_CALL, AgentState.READY}),
    AgentState.IN_CALL: frozenset({AgentState.WRAP_UP}),
    AgentState.WRAP_UP: frozenset({AgentState.READY, AgentState.PAUSED, AgentState.LOGGED_OUT}),
}


@dataclass(slots=True, eq=False)
class Agent:
    agent_id: int
    state: AgentState
    since: float
    pause_code: str | None = None
    call_id: str | None = None

    def move(self, new_state: AgentState, at: float, pause_code: str | None = None) -> None:
        if new_state not in AGENT_TRANSITIONS[self.state]:
            raise IllegalTransition(f"agent {self.agent_id}: {self.state} -> {new_state} is not allowed")
        self.state = new_state
        self.since = at
        self.pause_code = pause_code if new_state is AgentState.PAUSED else None
