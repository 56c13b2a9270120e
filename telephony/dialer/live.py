"""The "simulated" call-control backend of the dialer service: the benchmark's
shift model (``telephony.dialer.simulator``) advanced in real time instead of as fast
as possible, with the campaign's own statuses as the virtual agents' dispositions.
The demo tenant runs on it, so a new user sees calls placed and routed to agents."""

from __future__ import annotations

import heapq
import random
from collections.abc import Sequence, Set

from telephony.callcontrol import CallControlError, EventKind, TransferKind
from telephony.dialer.engine import CampaignEngine
from telephony.dialer.simulator import _CALL_EVENT, _DISPOSITION, ShiftProfile, Simulator

HANDED_OUT_S = 1.0  # a call transferred out of the campaign leaves the simulation this soon

DEMO_PROFILE = ShiftProfile(
    agents=0,
    human=0.3,
    machine=0.15,
    busy_invalid=0.15,
    talk_mean_s=90.0,
    wrap_mean_s=15.0,
    shift_s=float("inf"),
)


class LiveSimulator(Simulator):
    """``pump(t)`` delivers every event due up to ``t`` seconds (service clock)."""

    def __init__(
        self,
        profile: ShiftProfile,
        seed: int,
        human_codes: Sequence[str] = (),
        machine_code: str = "REP",
        virtual_agents: Set[int] | None = None,
    ) -> None:
        super().__init__(profile, seed)
        # None: every agent is simulated; otherwise only these, the others are people
        # who disposition (and may hang up) from their own screen
        self._virtual = virtual_agents
        self._human_codes = list(human_codes) or ["INJ"]
        self._machine_code = machine_code
        self._pick = random.Random(seed + 1)
        self._consulting: dict[str, tuple[TransferKind, str]] = {}

    takes_queue_transfers = True  # the customer waits in the queue as a new simulated caller

    def set_time(self, t: float) -> None:
        self._t = max(self._t, t)

    def pump(self, until: float) -> int:
        """Deliver due events in time order; returns how many were delivered."""
        engine = self._engine
        if engine is None:
            raise RuntimeError("attach an engine first")
        delivered = 0
        while self._heap and self._heap[0][0] <= until:
            at, _, code, key, payload = heapq.heappop(self._heap)
            self._t = max(self._t, at)
            self._deliver(engine, code, key, payload)
            delivered += 1
        self._t = max(self._t, until)
        deadline = engine.next_deadline()
        if deadline is not None and deadline <= until:
            engine.poll()
        return delivered

    # ------------------------------------------------------------ transfers
    def transfer(self, call_id: str, kind: TransferKind, target: str) -> None:
        """To an agent: the simulated customer goes on talking, now with that agent. To
        a number or a queue: the call leaves the campaign, and the simulation (which
        models no third party) ends the customer's leg shortly after the hand-over."""
        call = self._calls.get(call_id)
        if call is None or call.agent_id is None:
            raise CallControlError(f"no call {call_id} with an agent")
        if kind is TransferKind.AGENT:
            call.agent_id = int(target)
        else:
            self._push(self._t + HANDED_OUT_S, _CALL_EVENT, call_id, EventKind.HANGUP, "NORMAL_CLEARING")

    def consult(self, call_id: str, kind: TransferKind, target: str) -> None:
        if call_id not in self._calls:
            raise CallControlError(f"no call {call_id}")
        self._consulting[call_id] = (kind, target)

    def complete_consult(self, call_id: str) -> None:
        consult = self._consulting.pop(call_id, None)
        if consult is None:
            raise CallControlError(f"call {call_id} has no consultation under way")
        self.transfer(call_id, *consult)

    def cancel_consult(self, call_id: str) -> None:
        self._consulting.pop(call_id, None)

    def _deliver(self, engine: CampaignEngine, code: int, key: object, payload: object) -> None:
        if code == _DISPOSITION:
            agent_id, is_machine = payload  # type: ignore[misc]
            if self._virtual is not None and agent_id not in self._virtual:
                return  # a real agent closes the wrap-up from their screen
            status = self._machine_code if is_machine else self._pick.choice(self._human_codes)
            if agent_id in engine.agents:  # a virtual agent may have been logged out meanwhile
                engine.disposition(agent_id, status, is_machine=is_machine)
            self._account_agent(key)  # type: ignore[arg-type]
            return
        super()._deliver(engine, code, key, payload)

    def adopt_inbound(self, call_id: str) -> None:
        """An inbound caller presented to one of this campaign's agents
        (telephony.dialer.inbound): a person, who talks, then hangs up like the others."""
        from telephony.dialer.simulator import _HUMAN, _SimCall

        self._calls[call_id] = _SimCall(_HUMAN)
