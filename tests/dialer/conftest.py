"""Fakes for driving the dialer engine by hand: a settable clock, a recording backend and
a list of leads."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from telephony.callcontrol import CallEvent, EventKind, OriginateRequest
from telephony.dialer.engine import CampaignEngine, CampaignSettings, LeadToDial, MachineAction
from telephony.dialer.pacing import DialMode, PacingPolicy


@dataclass
class ManualClock:
    t: float = 1_000.0

    def now(self) -> float:
        return self.t


@dataclass
class RecordingControl:
    clock: ManualClock
    originated: list[OriginateRequest] = field(default_factory=list)
    hangups: list[tuple[str, str, float]] = field(default_factory=list)
    bridges: list[tuple[str, int, float]] = field(default_factory=list)
    messages: list[tuple[str, str, float]] = field(default_factory=list)
    # transfers: (operation, call id, kind, target); ``refuse`` makes the next one fail
    transfers: list[tuple[str, str, str, str]] = field(default_factory=list)
    refuse: str | None = None

    def originate(self, request: OriginateRequest) -> None:
        self.originated.append(request)

    def hangup(self, call_id: str, cause: str = "NORMAL_CLEARING") -> None:
        self.hangups.append((call_id, cause, self.clock.now()))

    def bridge_to_agent(self, call_id: str, agent_id: int) -> None:
        self.bridges.append((call_id, agent_id, self.clock.now()))

    def play_message(self, call_id: str, audio: str) -> None:
        self.messages.append((call_id, audio, self.clock.now()))

    def _transfer_op(self, operation: str, call_id: str, kind: object = "", target: str = "") -> None:
        if self.refuse:
            from telephony.callcontrol import CallControlError

            reason, self.refuse = self.refuse, None
            raise CallControlError(reason)
        self.transfers.append((operation, call_id, str(kind), target))

    def transfer(self, call_id: str, kind: object, target: str) -> None:
        self._transfer_op("transfer", call_id, kind, target)

    def consult(self, call_id: str, kind: object, target: str) -> None:
        self._transfer_op("consult", call_id, kind, target)

    def complete_consult(self, call_id: str) -> None:
        self._transfer_op("complete", call_id)

    def cancel_consult(self, call_id: str) -> None:
        self.transfers.append(("cancel", call_id, "", ""))


class Leads:
    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def take(self, n: int) -> list[LeadToDial]:
        return [LeadToDial(i, f"+3361{i:07d}") for i in itertools.islice(self._ids, n)]


@dataclass
class Rig:
    clock: ManualClock
    control: RecordingControl
    engine: CampaignEngine

    def advance(self, seconds: float) -> None:
        self.clock.t += seconds

    def run(self, seconds: int) -> None:
        """Let time pass the way the dialer service does: one tick per second."""
        for _ in range(seconds):
            self.clock.t += 1
            self.engine.tick()
            self.engine.poll()

    def event(self, call_id: str, kind: EventKind, cause: str | None = None) -> None:
        self.engine.on_event(CallEvent(call_id, kind, self.clock.now(), cause))

    def dial(self, n: int = 1) -> list[str]:
        """Make the engine originate n calls whatever the mode, through its own tick path."""
        before = len(self.control.originated)
        policy = self.engine.policy
        self.engine.policy = _FixedCount(n)
        self.engine.tick()
        self.engine.policy = policy
        return [r.call_id for r in self.control.originated[before:]]

    def answer(self, call_id: str) -> None:
        self.event(call_id, EventKind.RINGING)
        self.event(call_id, EventKind.ANSWERED)


@dataclass
class _FixedCount:
    n: int
    quiet_until: float = float("-inf")

    def decide(self, snapshot: object) -> int:
        return self.n


def make_rig(
    mode: DialMode = DialMode.PROGRESSIF,
    amd: bool = False,
    machine_action: MachineAction = MachineAction.DROP,
    policy: PacingPolicy | None = None,
    **settings: object,
) -> Rig:
    clock = ManualClock()
    control = RecordingControl(clock)
    campaign = CampaignSettings(
        tenant_id=7,
        campaign_id=3,
        mode=mode,
        caller_id="+33162000000",
        amd=amd,
        machine_action=machine_action,
        voicemail_audio="vm.wav" if machine_action is MachineAction.VOICEMAIL else None,
        **settings,  # type: ignore[arg-type]
    )
    engine = CampaignEngine(campaign, control, clock, Leads(), policy=policy)
    return Rig(clock, control, engine)


@pytest.fixture
def rig() -> Rig:
    return make_rig()
