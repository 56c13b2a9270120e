"""A seeded discrete-event simulator of a contact-centre shift.

It plays the media backend (``CallControl``), the clock (``Clock``), the called
parties and the agents, and drives a real ``CampaignEngine``: the same engine code the
dialer service runs against FreeSWITCH.  It serves the pacing benchmark
(``bench/dialer_sim.py``), the tests, and the demo tenant's "simulated" backend.

The model (the contract of the benchmark, see docs/dialer.md):

- each dial is a person picking up (probability ``human``, which may change over the
  shift), an answering machine, a busy line or invalid number (released after 2-8 s), or
  no answer (rings ``no_answer_ring_s``, cut at the campaign's ring timeout);
- pick-ups ring lognormal(mean 10 s, sd 5 s);
- without AMD every answer is presented: a machine costs its agent ``machine_agent_s``;
- with AMD a person is connectable ``amd_human_s`` after pick-up and a machine is
  recognised after ``amd_machine_s``; ``amd_machine_miss`` of machines are still
  reported as people and reach agents;
- talk and wrap-up times are lognormal with the given means and coefficients of variation;
- people never hang up while waiting; an abandoned call hears the identification message.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from dataclasses import dataclass

from telephony.callcontrol import EventKind, OriginateRequest
from telephony.dialer.engine import CampaignEngine, LeadToDial

_CALL_EVENT = 0
_DISPOSITION = 1
_WAKE = 2

_HUMAN = 0
_MACHINE = 1
_BUSY = 2
_INVALID = 3
_NO_ANSWER = 4


@dataclass(frozen=True, slots=True)
class HumanRateChange:
    """Between ``start_s`` and ``end_s`` of the shift the pick-up probability is ``human``."""

    start_s: float
    end_s: float
    human: float


@dataclass(frozen=True, slots=True)
class ShiftProfile:
    agents: int
    human: float
    machine: float
    busy_invalid: float
    amd: bool = False
    talk_mean_s: float = 180.0
    talk_cv: float = 1.0
    wrap_mean_s: float = 30.0
    wrap_cv: float = 0.5
    shift_s: float = 4 * 3600.0
    pickup_ring_mean_s: float = 10.0
    pickup_ring_sd_s: float = 5.0
    no_answer_ring_s: float = 25.0
    busy_release_s: tuple[float, float] = (2.0, 8.0)
    invalid_share: float = 1 / 3  # of busy/invalid dials, the share that are invalid numbers
    machine_agent_s: float = 12.0
    amd_human_s: float = 2.0
    amd_machine_s: float = 3.5
    amd_machine_miss: float = 0.05
    message_s: float = 5.0  # identification message length before the hang-up
    human_changes: tuple[HumanRateChange, ...] = ()
    # FreeSWITCH reports early media / ringing for most calls; the engine needs neither
    # (a dial goes DIALLING -> ANSWERED as well), and the benchmark skips them for speed.
    emit_ringing: bool = True

    def __post_init__(self) -> None:
        if self.agents < 0 or not 0 <= self.human + self.machine + self.busy_invalid <= 1:
            raise ValueError("outcome probabilities must sum to at most 1 and agents must be >= 0")

    def human_at(self, t: float) -> float:
        for change in self.human_changes:
            if change.start_s <= t < change.end_s:
                return change.human
        return self.human


def _lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    sigma2 = math.log(1.0 + cv * cv)
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


@dataclass(slots=True, eq=False)
class _SimCall:
    outcome: int
    agent_id: int | None = None
    presented_at: float | None = None
    human_talk_s: float = 0.0


@dataclass(slots=True)
class ShiftResult:
    agents: int
    shift_s: float
    dials: int = 0
    live: int = 0  # engine's count of answered, connectable calls
    abandoned: int = 0  # engine's count
    connects: int = 0  # calls presented to agents
    connects_machine: int = 0
    human_talk_s: float = 0.0  # talk with people, inside the shift
    agent_busy_s: float = 0.0  # presented + talking + wrap-up, inside the shift
    late_messages: int = 0  # abandoned calls whose message started more than 2 s after connectable
    messages: int = 0
    shortest_no_answer_ring_s: float = math.inf

    @property
    def logged_in_s(self) -> float:
        return self.agents * self.shift_s

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.live if self.live else 0.0


class InfiniteLeads:
    """An endless lead list with unique ids (the benchmark never runs dry)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def take(self, n: int) -> list[LeadToDial]:
        return [LeadToDial(i, f"+3319{i:08d}") for i in itertools.islice(self._ids, n)]


class Simulator:
    """CallControl + Clock backed by a discrete-event model of one campaign's shift."""

    def __init__(self, profile: ShiftProfile, seed: int) -> None:
        self.profile = profile
        self._rng = random.Random(seed)
        self._t = 0.0
        self._heap: list[tuple[float, int, int, object, object]] = []
        self._seq = itertools.count()
        self._calls: dict[str, _SimCall] = {}
        self._engine: CampaignEngine | None = None
        self._wake_pushed: float | None = None
        self._connectable_at: dict[str, float] = {}
        self._connectable_kind = EventKind.HUMAN if profile.amd else EventKind.ANSWERED
        self.result = ShiftResult(profile.agents, profile.shift_s)
        self._ring = _lognormal_params(
            profile.pickup_ring_mean_s, profile.pickup_ring_sd_s / profile.pickup_ring_mean_s
        )
        self._talk = _lognormal_params(profile.talk_mean_s, profile.talk_cv)
        self._wrap = _lognormal_params(profile.wrap_mean_s, profile.wrap_cv)

    # ----------------------------------------------------------- Clock
    def now(self) -> float:
        return self._t

    # ----------------------------------------------------- CallControl
    def originate(self, request: OriginateRequest) -> None:
        p = self.profile
        rng = self._rng
        t = self._t
        human = p.human_at(t)
        u = rng.random()
        call_id = request.call_id
        self.result.dials += 1
        timeout = float(request.ring_timeout_s)
        if u < human + p.machine:
            outcome = _HUMAN if u < human else _MACHINE
            ring = rng.lognormvariate(*self._ring)
            if p.emit_ringing:
                self._push(t, _CALL_EVENT, call_id, EventKind.RINGING)
            if ring >= timeout:
                self._no_answer(call_id, t, timeout)
                outcome = _NO_ANSWER
            else:
                answer = t + ring
                self._push(answer, _CALL_EVENT, call_id, EventKind.ANSWERED)
                if request.amd:
                    self._push_amd_verdict(call_id, answer, outcome)
        elif u < human + p.machine + p.busy_invalid:
            outcome = _INVALID if rng.random() < p.invalid_share else _BUSY
            low, high = p.busy_release_s
            cause = "UNALLOCATED_NUMBER" if outcome == _INVALID else "USER_BUSY"
            self._push(t + rng.uniform(low, high), _CALL_EVENT, call_id, EventKind.HANGUP, cause)
        else:
            outcome = _NO_ANSWER
            if p.emit_ringing:
                self._push(t, _CALL_EVENT, call_id, EventKind.RINGING)
            self._no_answer(call_id, t, timeout)
        self._calls[call_id] = _SimCall(outcome)

    def hangup(self, call_id: str, cause: str = "NORMAL_CLEARING") -> None:
        self._push(self._t, _CALL_EVENT, call_id, EventKind.HANGUP, cause)

    def bridge_to_agent(self, call_id: str, agent_id: int) -> None:
        call = self._calls[call_id]
        p = self.profile
        t = self._t
        call.agent_id = agent_id
        call.presented_at = t
        self.result.connects += 1
        if call.outcome == _HUMAN:
            talk = self._rng.lognormvariate(*self._talk)
            call.human_talk_s = talk
        else:
            talk = p.machine_agent_s
            self.result.connects_machine += 1
        self._push(t, _CALL_EVENT, call_id, EventKind.BRIDGED)
        self._push(t + talk, _CALL_EVENT, call_id, EventKind.HANGUP, "NORMAL_CLEARING")

    def play_message(self, call_id: str, audio: str) -> None:
        self.result.messages += 1
        connectable_at = self._connectable_at.get(call_id)
        if connectable_at is not None and self._t - connectable_at > 2.0 + 1e-9:
            self.result.late_messages += 1
        self._push(
            self._t + self.profile.message_s, _CALL_EVENT, call_id, EventKind.HANGUP, "NORMAL_CLEARING"
        )

    # ------------------------------------------------------------ model
    def _push(self, at: float, code: int, key: object, kind: object, cause: object = None) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), code, key, (kind, cause)))

    def _no_answer(self, call_id: str, t: float, timeout: float) -> None:
        ring = min(self.profile.no_answer_ring_s, timeout)
        self.result.shortest_no_answer_ring_s = min(self.result.shortest_no_answer_ring_s, ring)
        self._push(t + ring, _CALL_EVENT, call_id, EventKind.HANGUP, "NO_ANSWER")

    def _push_amd_verdict(self, call_id: str, answer: float, outcome: int) -> None:
        p = self.profile
        if outcome == _HUMAN:
            self._push(answer + p.amd_human_s, _CALL_EVENT, call_id, EventKind.HUMAN)
        elif self._rng.random() < p.amd_machine_miss:
            self._push(answer + p.amd_machine_s, _CALL_EVENT, call_id, EventKind.HUMAN)
        else:
            self._push(answer + p.amd_machine_s, _CALL_EVENT, call_id, EventKind.MACHINE)

    # -------------------------------------------------------------- run
    def attach(self, engine: CampaignEngine) -> None:
        self._engine = engine

    def _attached(self) -> CampaignEngine:
        if self._engine is None:
            raise RuntimeError("attach an engine before running the simulation")
        return self._engine

    def login_agents(self, first_agent_id: int = 1) -> None:
        engine = self._attached()
        for agent_id in range(first_agent_id, first_agent_id + self.profile.agents):
            engine.login(agent_id)

    def advance(self, until: float) -> None:
        """Play every backend and agent event up to ``until`` (simulated seconds), then
        stand there.  This is how the live dialer service uses the simulator as its
        backend (demo tenant): once a second it calls ``advance(t)`` then ``engine.tick()``."""
        engine = self._attached()
        heap = self._heap
        while heap and heap[0][0] <= until:
            at, _, code, key, payload = heapq.heappop(heap)
            self._t = at
            self._deliver(engine, code, key, payload)
            deadline = engine.next_deadline()
            if deadline is not None and deadline != self._wake_pushed:
                self._schedule_wake(deadline)
        self._t = max(self._t, until)

    def run_shift(self, first_agent_id: int = 1) -> ShiftResult:
        """Log every agent in at 0, tick every second until the shift ends, then let the
        calls in progress finish.  Returns the shift's figures.  (The same steps as
        ``advance`` + ``engine.tick()``, in one loop because it runs millions of times.)"""
        engine = self._attached()
        p = self.profile
        self.login_agents(first_agent_id)
        heap = self._heap
        pop = heapq.heappop
        deliver = self._deliver
        end = p.shift_s
        next_tick = 0.0
        while True:
            if heap and heap[0][0] <= next_tick:
                at, _, code, key, payload = pop(heap)
                self._t = at
                deliver(engine, code, key, payload)
            elif next_tick <= end:
                self._t = next_tick
                engine.tick()
                next_tick += 1.0
            elif heap:
                next_tick = math.inf  # shift over: no more dials, drain the calls in progress
                continue
            else:
                break
            deadline = engine.next_deadline()
            if deadline is not None and deadline != self._wake_pushed:
                self._schedule_wake(deadline)
        counters = engine.counters
        self.result.live = counters.live
        self.result.abandoned = counters.abandoned
        return self.result

    def _schedule_wake(self, deadline: float) -> None:
        self._wake_pushed = deadline
        heapq.heappush(self._heap, (deadline, next(self._seq), _WAKE, None, None))

    def _deliver(self, engine: CampaignEngine, code: int, key: object, payload: object) -> None:
        if code == _CALL_EVENT:
            kind, cause = payload  # type: ignore[misc]
            call_id: str = key  # type: ignore[assignment]
            # the drop window starts when the call becomes connectable (R4 message check)
            if kind is self._connectable_kind:
                self._connectable_at.setdefault(call_id, self._t)
            engine.on_call_event(call_id, kind, cause)
            if kind is EventKind.HANGUP:
                self._after_hangup(engine, call_id)
        elif code == _DISPOSITION:
            agent_id, is_machine = payload  # type: ignore[misc]
            engine.disposition(agent_id, "MACHINE" if is_machine else "DONE", is_machine=is_machine)
            self._account_agent(key)  # type: ignore[arg-type]
        else:
            engine.poll()

    def _after_hangup(self, engine: CampaignEngine, call_id: str) -> None:
        self._connectable_at.pop(call_id, None)
        call = self._calls.pop(call_id, None)
        if call is None or call.agent_id is None or call.presented_at is None:
            return
        t = self._t
        end = self.profile.shift_s
        if call.outcome == _HUMAN:
            if call.presented_at < end:
                self.result.human_talk_s += min(t, end) - call.presented_at
            wrap = self._rng.lognormvariate(*self._wrap)
        else:
            wrap = 0.0  # a machine: the agent hangs up and is ready again at once
        is_machine = call.outcome != _HUMAN
        heapq.heappush(
            self._heap, (t + wrap, next(self._seq), _DISPOSITION, call, (call.agent_id, is_machine))
        )

    def _account_agent(self, call: _SimCall) -> None:
        if call.presented_at is None:
            return
        end = self.profile.shift_s
        self.result.agent_busy_s += max(0.0, min(self._t, end) - min(call.presented_at, end))
