"""The call-control interface between the dialer core and a media backend.

The dialer core (``telephony.dialer``) never does I/O itself: it asks a
``CallControl`` to act, and the backend reports what happened as ``CallEvent``
objects that the core feeds into its call state machine.  Two backends implement
it: the simulator (``telephony.dialer.simulator``) and FreeSWITCH over ESL
(``telephony.freeswitch.backend``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol


class EventKind(enum.StrEnum):
    """What a backend reports about a call, in the order a call may see them."""

    RINGING = "ringing"  # the far end is alerting (180/183)
    ANSWERED = "answered"  # the far end picked up (200 OK); human/machine not known yet
    HUMAN = "human"  # answering-machine detection says a person (or AMD off: connectable)
    MACHINE = "machine"  # answering-machine detection says a machine
    BRIDGED = "bridged"  # the customer leg is now joined to an agent's leg
    HANGUP = "hangup"  # the call ended; ``cause`` holds the Q.850 / FreeSWITCH cause
    RECORDING_STARTED = "recording_started"
    RECORDING_STOPPED = "recording_stopped"


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    call_id: str  # the application's call id (UUID string), carried as a channel variable
    tenant_id: int
    campaign_id: int
    lead_id: int | None
    destination: str  # E.164 number
    caller_id: str  # presented number (E.164)
    ring_timeout_s: int = 30  # never under 15 s for prospecting calls (R4)
    amd: bool = False
    record: bool = False
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallEvent:
    call_id: str
    kind: EventKind
    at: float  # backend clock, seconds
    cause: str | None = None  # hangup cause, e.g. NORMAL_CLEARING, USER_BUSY, NO_ANSWER
    agent_id: int | None = None
    data: dict[str, str] = field(default_factory=dict)


class CallControl(Protocol):
    """What the dialer core may ask of a media backend. Every method returns quickly;
    outcomes arrive later as ``CallEvent`` objects through the backend's event sink."""

    def originate(self, request: OriginateRequest) -> None: ...

    def hangup(self, call_id: str, cause: str = "NORMAL_CLEARING") -> None: ...

    def bridge_to_agent(self, call_id: str, agent_id: int) -> None: ...

    def play_message(self, call_id: str, audio: str) -> None:
        """Play ``audio`` (a file or a tone spec) on the call, then hang up
        (identification message of an abandoned call, voicemail drop)."""
        ...


class Clock(Protocol):
    def now(self) -> float: ...


class CallControlError(RuntimeError):
    """The backend could not do what was asked (unknown call, media server refused).

    Raised by the agent-side operations below; the dialer-side operations of
    ``CallControl`` report failures as ``HANGUP`` events instead."""


class TransferKind(enum.StrEnum):
    AGENT = "agent"  # target: the agent id (the call moves to that agent's conference)
    EXTERNAL = "external"  # target: an E.164 number, dialled out through the SIP edge
    QUEUE = "queue"  # target: the inbound queue id of the call's tenant


class SupervisionMode(enum.StrEnum):
    LISTEN = "listen"  # the supervisor hears both sides, nobody hears the supervisor
    WHISPER = "whisper"  # the agent hears the supervisor, the customer does not
    BARGE = "barge"  # three-way: everybody hears everybody
    TAKE_OVER = "take_over"  # the supervisor talks with the customer, the agent is cut out


class AgentCallControl(CallControl, Protocol):
    """Operations the agent workspace and supervision ask of a media backend."""

    def transfer(self, call_id: str, kind: TransferKind, target: str) -> None: ...

    def hold(self, call_id: str, on: bool) -> None: ...

    def mute_agent(self, call_id: str, on: bool) -> None: ...

    def send_dtmf(self, call_id: str, digits: str) -> None: ...

    def pause_recording(self, call_id: str) -> None:
        """Write silence into the recording (card payment) until resumed."""
        ...

    def resume_recording(self, call_id: str) -> None: ...

    def supervise(self, call_id: str, supervisor_id: int, endpoint: str, mode: SupervisionMode) -> str:
        """Call the supervisor's ``endpoint`` into the call; return a supervision id."""
        ...

    def set_supervision_mode(self, supervision_id: str, mode: SupervisionMode) -> None: ...

    def end_supervision(self, supervision_id: str) -> None: ...
