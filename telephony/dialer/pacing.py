"""Pacing policies (spec C2, D2, R4): how many calls to launch now.

A policy is a small object with no I/O.  Once per tick (1 s) the engine hands it a
``CampaignSnapshot`` holding only what a real dialler can observe, and the policy
returns how many new calls to originate.  A policy also says until when it would keep
answering 0 if nothing happened (``quiet_until``): the engine skips asking it on those
ticks, which gives the same answers with less work.

The predictive policy (AUTOMATIQUE1/2/3) is model-based; ``docs/dialer.md`` explains it.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


class DialMode(enum.StrEnum):
    MANUEL = "MANUEL"
    PREVIEW = "PREVIEW"
    PROGRESSIF = "PROGRESSIF"
    TURBO = "TURBO"
    AUTOMATIQUE1 = "AUTOMATIQUE1"
    AUTOMATIQUE2 = "AUTOMATIQUE2"
    AUTOMATIQUE3 = "AUTOMATIQUE3"
    RECEPTION = "RECEPTION"  # shown as RÉCEPTION; inbound only


# Abandon target of each predictive level; the campaign's own target wins when lower.
PREDICTIVE_TARGETS: dict[DialMode, float] = {
    DialMode.AUTOMATIQUE1: 0.01,
    DialMode.AUTOMATIQUE2: 0.02,
    DialMode.AUTOMATIQUE3: 0.03,
}
LEGAL_ABANDON_CAP = 0.03  # Ofcom / TSR ceiling, also the default campaign target
DROP_WINDOW_S = 2.0


@dataclass(frozen=True, slots=True)
class ShiftCounters:
    """Counters since the shift (or the day) started."""

    dials: int = 0
    live: int = 0  # answered and connectable (a person, or a machine passed to agents)
    connects_human: int = 0  # bridged calls the agent marked as a person
    connects_machine: int = 0  # bridged calls the agent marked as an answering machine
    abandoned: int = 0  # answered, no agent within the drop window
    machines_detected: int = 0
    no_answers: int = 0
    busy: int = 0
    failures: int = 0

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.live if self.live else 0.0


@dataclass(frozen=True, slots=True)
class RecentSamples:
    """Recent observations, oldest first."""

    dial_outcome_s: tuple[float, ...] = ()  # dial -> connectable, or dial -> resolved when not live
    dial_outcome_live: tuple[bool, ...] = ()
    talk_s: tuple[float, ...] = ()  # agent call durations (bridge -> hangup)
    wrap_s: tuple[float, ...] = ()  # wrap-up durations; wrap_s[i] followed talk_s[i]


@dataclass(frozen=True, slots=True)
class CampaignSnapshot:
    now: float  # engine time (monotonic)
    agents_logged_in: int
    agents_idle: int  # ready, nothing presented
    in_call_since: tuple[float, ...] = ()  # per agent presented or talking: call start
    wrap_up_since: tuple[float, ...] = ()
    calls_waiting: int = 0  # connectable calls waiting for an agent
    outstanding_dialled_at: tuple[float, ...] = ()  # per unresolved dial: when it was dialled
    counters: ShiftCounters = field(default_factory=ShiftCounters)
    samples: RecentSamples = field(default_factory=RecentSamples)
    amd: bool = False
    drop_window_s: float = DROP_WINDOW_S
    agents_paused: int = 0


class PacingPolicy(Protocol):
    # The policy promises to answer 0 on every tick before this time as long as nothing
    # observable changes (no event, no agent action): the engine skips asking it then.
    quiet_until: float

    def decide(self, snapshot: CampaignSnapshot) -> int: ...


def progressive_need(s: CampaignSnapshot) -> int:
    """One call per idle agent not already covered by an outstanding or waiting call."""
    return max(0, s.agents_idle - len(s.outstanding_dialled_at) - s.calls_waiting)


class NoDialPolicy:
    """MANUEL, PREVIEW (the agent dials) and RECEPTION (inbound only)."""

    quiet_until = math.inf

    def decide(self, snapshot: CampaignSnapshot) -> int:
        return 0


class ProgressivePolicy:
    quiet_until = math.inf  # its answer depends on nothing but events

    def decide(self, snapshot: CampaignSnapshot) -> int:
        return progressive_need(snapshot)


@dataclass(slots=True)
class TurboPolicy:
    """Progressive plus a small over-dial; falls back to progressive once the abandon
    rate measured so far passes the cap (the engine presents answered calls at once)."""

    overdial: float = 0.2
    abandon_cap: float = LEGAL_ABANDON_CAP
    min_live_for_guard: int = 30
    quiet_until: float = math.inf

    def decide(self, snapshot: CampaignSnapshot) -> int:
        floor = progressive_need(snapshot)
        c = snapshot.counters
        if c.live >= self.min_live_for_guard and c.abandon_rate > self.abandon_cap * 0.8:
            return floor
        idle = snapshot.agents_idle
        lines = idle + int(idle * self.overdial + 0.5)
        return max(floor, lines - len(snapshot.outstanding_dialled_at) - snapshot.calls_waiting)


@dataclass(frozen=True, slots=True)
class PacingModel:
    """Lookup table of the predictive policy, by whole seconds of age.

    Rows ``0..rows-1`` are for an unresolved dial of that age, ``rows..2*rows-1`` for an
    agent that far into a call, ``2*rows..3*rows-1`` for an agent that far into wrap-up.
    Columns ``0..K-1``: +P(the dial turns connectable within checkpoint k) or -P(the agent
    is free within checkpoint k + the drop window); ``K..2K-1``: the matching Bernoulli
    variances; ``2K``: P(the dial turns connectable within the whole horizon); then the
    same ``2K + 1`` columns as lower (first 2K) and upper (last) bounds over the next
    LOOKAHEAD_TICKS seconds."""

    horizon_s: int
    checkpoints: tuple[int, ...]
    rows: int
    table: np.ndarray
    new_call_live_list: list[float]  # P(a dial made now is connectable within checkpoint k)
    block_offsets: np.ndarray  # first row of each block


CHECKPOINTS = 4
# A predictive policy that answers 0 checks, with bounds, whether it would keep answering
# 0 for this many ticks if nothing happened; if so the engine need not ask it meanwhile.
LOOKAHEAD_TICKS = 6
MIN_DIAL_SAMPLES = 40
MIN_TALK_SAMPLES = 10


def _kaplan_meier(
    done: np.ndarray, running: np.ndarray, size: int, marked: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Survival S[t] = P(T > t) on a 1-s grid from finished durations and durations still
    running (right-censored: without them early samples over-represent short calls).
    Also the cumulative incidence of the ``marked`` finished durations (competing risks)."""
    ends = np.clip(np.ceil(done).astype(int), 0, size - 1)
    deaths = np.bincount(ends, minlength=size)[:size]
    censored = np.bincount(np.clip(np.floor(running).astype(int), 0, size - 1), minlength=size)[:size]
    removed_before = np.concatenate(([0], np.cumsum(deaths + censored)[:-1]))
    at_risk = len(ends) + len(running) - removed_before
    safe = np.maximum(at_risk, 1)
    survival = np.cumprod(1.0 - np.where(at_risk > 0, deaths / safe, 0.0))
    if marked is None:
        return survival, np.zeros(size)
    marked_deaths = np.bincount(ends[marked], minlength=size)[:size]
    before = np.concatenate(([1.0], survival[:-1]))
    incidence = np.cumsum(before * np.where(at_risk > 0, marked_deaths / safe, 0.0))
    return survival, incidence


def _carry_forward(values: np.ndarray, valid: np.ndarray, default: float) -> np.ndarray:
    """Rows where there is nothing left to estimate from take the last estimable row."""
    idx = np.where(valid, np.arange(len(valid)), -1)
    np.maximum.accumulate(idx, out=idx)
    filled = np.where((idx >= 0)[:, None], values[np.maximum(idx, 0)], default)
    return np.clip(filled, 0.0, 1.0)


def _conditional(numerator: np.ndarray, survival: np.ndarray, default: float) -> np.ndarray:
    valid = survival > 1e-9
    return _carry_forward(numerator / np.maximum(survival, 1e-9)[:, None], valid, default)


def _free_from_call(
    talk: np.ndarray, wrap: np.ndarray, running: np.ndarray, windows: np.ndarray, rows: int
) -> np.ndarray:
    """P(an agent ``e`` s into a call is ready again within window w), for every whole e and
    window: among finished (talk, wrap-up) pairs with talk > e, the share with
    talk + wrap <= e + w.  Pairs, not two independent laws: a 12 s call to a machine has no
    wrap-up, a long talk has a long one.  A call still running at c is a known "not free"
    for every e <= c - w (kept in the denominator, so early short calls do not flatter it)."""
    if len(wrap) != len(talk):
        wrap = np.resize(wrap, len(talk))
    ends = np.ceil(talk).astype(int)  # e < talk  <=>  e < ceil(talk) on the whole-second grid
    at_risk = np.bincount(np.minimum(ends, rows), minlength=rows + 1)[::-1].cumsum()[::-1][1 : rows + 1]
    size = rows + 1
    last = np.minimum(ends, rows)
    free = np.empty((size, len(windows)))
    running_at_risk = np.empty((size, len(windows)))
    for k, window in enumerate(windows):
        first = np.clip(np.ceil(talk + wrap - window).astype(int), 0, rows)
        keep = first < last
        free[:, k] = np.bincount(first[keep], minlength=size) - np.bincount(last[keep], minlength=size)
        known = np.clip(np.floor(running - window).astype(int) + 1, 0, rows)
        running_at_risk[:, k] = -np.bincount(known, minlength=size)
        running_at_risk[0, k] += len(known)
    numerator = np.cumsum(free, axis=0)[:rows]
    denominator = at_risk[:, None] + np.cumsum(running_at_risk, axis=0)[:rows]
    valid = denominator.min(axis=1) >= 5  # fewer calls that long: keep the last estimate
    return _carry_forward(numerator / np.maximum(denominator, 1.0), valid, 0.0)


def _with_lookahead_bounds(part: np.ndarray, split: int) -> np.ndarray:
    """Append, per row, the minimum of columns ``:split`` and the maximum of the others
    over this row and the next LOOKAHEAD_TICKS rows: bounds of what the row's item will
    contribute during the coming ticks if nothing happens."""
    rows = len(part)
    padded = np.concatenate((part, np.repeat(part[-1:], LOOKAHEAD_TICKS, axis=0)))
    shifted = [padded[j : j + rows] for j in range(LOOKAHEAD_TICKS + 1)]
    lower = np.minimum.reduce([view[:, :split] for view in shifted])
    upper = np.maximum.reduce([view[:, split:] for view in shifted])
    return np.concatenate((part, lower, upper), axis=1)


def build_model(s: CampaignSnapshot, horizon_quantile: float = 0.9) -> PacingModel | None:
    """Empirical model from the snapshot's samples and running calls, or None while there
    are too few samples to say anything."""
    sm = s.samples
    dial = np.asarray(sm.dial_outcome_s, dtype=float)
    live = np.asarray(sm.dial_outcome_live, dtype=bool)
    if len(dial) < MIN_DIAL_SAMPLES or live.sum() < 8 or len(sm.talk_s) < MIN_TALK_SAMPLES:
        return None
    talk = np.asarray(sm.talk_s, dtype=float)
    wrap = np.asarray(sm.wrap_s or (0.0,), dtype=float)
    dial_running = np.maximum(s.now - np.asarray(s.outstanding_dialled_at, dtype=float), 0.0)
    talk_running = np.maximum(s.now - np.asarray(s.in_call_since, dtype=float), 0.0)
    wrap_running = np.maximum(s.now - np.asarray(s.wrap_up_since, dtype=float), 0.0)

    horizon = int(np.clip(math.ceil(np.quantile(dial[live], horizon_quantile)), 4, 40))
    checkpoints = np.unique(np.maximum(1, np.rint(np.linspace(horizon / CHECKPOINTS, horizon, CHECKPOINTS))))
    checkpoints = checkpoints.astype(int)
    windows = checkpoints + int(math.ceil(s.drop_window_s))
    longest = max(
        talk.max(), wrap.max(), dial.max(), *(talk_running.max(initial=0), wrap_running.max(initial=0))
    )
    rows = int(longest) + 2
    size = rows + int(windows[-1]) + 2

    dial_surv, dial_live = _kaplan_meier(dial, dial_running, size, live)
    live_cols = _conditional(
        dial_live[checkpoints[None, :] + np.arange(rows)[:, None]] - dial_live[:rows, None],
        dial_surv[:rows],
        0.0,
    )
    call_cols = _free_from_call(talk, wrap, talk_running, windows, rows)
    wrap_surv, _ = _kaplan_meier(wrap, wrap_running, size)
    wrap_cdf = 1.0 - wrap_surv
    wrap_cols = _conditional(
        wrap_cdf[windows[None, :] + np.arange(rows)[:, None]] - wrap_cdf[:rows, None], wrap_surv[:rows], 1.0
    )
    k = len(checkpoints)
    blocks = []
    for probs, sign in ((live_cols, 1.0), (call_cols, -1.0), (wrap_cols, -1.0)):
        part = np.zeros((rows, 2 * k + 1))
        part[:, :k] = sign * probs
        part[:, k : 2 * k] = probs * (1.0 - probs)
        if sign > 0:
            part[:, 2 * k] = probs[:, -1]
        blocks.append(_with_lookahead_bounds(part, 2 * k))
    table = np.concatenate(blocks)
    new_call = np.clip(dial_live[checkpoints], 0.0, 1.0)
    offsets = np.array([0, rows, 2 * rows], dtype=np.intp)
    return PacingModel(horizon, tuple(int(c) for c in checkpoints), rows, table, new_call.tolist(), offsets)


_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def expected_excess(mean: float, variance: float) -> float:
    """E[max(0, X)] for X normal with this mean and variance."""
    if variance <= 1e-12:
        return mean if mean > 0.0 else 0.0
    sd = math.sqrt(variance)
    z = mean / sd
    return sd * _INV_SQRT_2PI * math.exp(-0.5 * z * z) + mean * 0.5 * (1.0 + math.erf(z / _SQRT2))


def _table_sums(s: CampaignSnapshot, model: PacingModel) -> list[float]:
    """Column sums of the model table over every outstanding dial and busy agent."""
    starts = s.outstanding_dialled_at + s.in_call_since + s.wrap_up_since
    if not starts:
        return [0.0] * model.table.shape[1]
    rows = model.rows
    idx = (s.now - np.array(starts)).astype(np.intp)
    np.maximum(idx, 0, out=idx)
    np.minimum(idx, rows - 1, out=idx)
    idx += np.repeat(
        model.block_offsets, (len(s.outstanding_dialled_at), len(s.in_call_since), len(s.wrap_up_since))
    )
    return model.table[idx].sum(axis=0).tolist()


@dataclass(slots=True)
class PredictivePolicy:
    """AUTOMATIQUE1/2/3.  Each tick, at checkpoints up to the horizon (90th percentile of
    dial-to-connect time): expected connectable calls L(h) (waiting + outstanding dials +
    n new dials turning live by h) against free agents F(h + drop window) (idle + busy
    agents whose call and wrap-up end by then).  Launch the largest n whose expected
    shortfall max_h E[(L(h) - F(h+2))+] stays within ``budget x E[L(horizon)]``.  Every
    minute the budget multiplier is corrected from the abandon rate measured so far."""

    target: float
    dial_speed: int = 10
    aim_fraction: float = 0.8  # aim under the target so that no single shift ends over it
    gain: float = 0.35  # per-minute correction strength (log scale)
    refresh_s: float = 60.0  # model rebuilt this often while it learns, then every settled_refresh_s
    settled_refresh_s: float = 300.0
    max_lines_per_agent: float = 5.0
    guard: bool = True  # over the target after 50 live calls: progressive until back under
    multiplier: float = 1.0
    quiet_until: float = -math.inf  # time moves every probability: asked on every tick
    _model: PacingModel | None = None
    _model_at: float | None = None
    _model_builds: int = 0
    _corrected_at: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.target <= 1:
            raise ValueError(f"abandon target must be in (0, 1], got {self.target}")
        if not 0 <= self.dial_speed <= 10:
            raise ValueError(f"dial speed must be 0-10, got {self.dial_speed}")

    @property
    def budget(self) -> float:
        return self.multiplier * self.target * self.dial_speed / 10.0

    def decide(self, snapshot: CampaignSnapshot) -> int:
        self.quiet_until = -math.inf
        floor = progressive_need(snapshot)
        if snapshot.agents_logged_in == 0:
            return 0
        self._correct_budget(snapshot)
        model = self._current_model(snapshot)
        c = snapshot.counters
        if model is None or (self.guard and c.live >= 50 and c.abandon_rate > self.target):
            return floor
        return max(floor, self._model_calls(snapshot, model))

    def _model_calls(self, s: CampaignSnapshot, model: PacingModel) -> int:
        k = len(model.checkpoints)
        cap = int(self.max_lines_per_agent * s.agents_logged_in) - len(s.outstanding_dialled_at)
        if cap <= 0:
            return 0
        sums = _table_sums(s, model)
        base = s.calls_waiting - s.agents_idle
        q = model.new_call_live_list
        budget = self.budget

        def fits(n: int, offset: int = 0) -> bool:
            mean = sums[offset : offset + k]
            var = sums[offset + k : offset + 2 * k]
            allowed = budget * (sums[offset + 2 * k] + s.calls_waiting + n * q[-1])
            for i in range(k):
                qi = q[i]
                if expected_excess(mean[i] + base + n * qi, var[i] + n * qi * (1.0 - qi)) > allowed:
                    return False
            return True

        if not fits(0) or not fits(1):
            if s.agents_idle <= len(s.outstanding_dialled_at) + s.calls_waiting and not fits(1, 2 * k + 1):
                # even the most favourable of the coming ticks would not fit one more call
                self.quiet_until = self._quiet_limit(s.now + LOOKAHEAD_TICKS - 0.5)
            return 0
        low, high = 1, 2
        while high <= cap and fits(high):
            low, high = high, high * 2
        high = min(high, cap + 1)
        while high - low > 1:  # the largest count that fits lies in [low, high)
            mid = (low + high) // 2
            if fits(mid):
                low = mid
            else:
                high = mid
        return low

    def _quiet_limit(self, until: float) -> float:
        """The answer can also change when the model is rebuilt or the budget corrected."""
        if self._model_at is not None:
            every = self.refresh_s if self._model_builds < 15 else self.settled_refresh_s
            until = min(until, self._model_at + every)
        if self._corrected_at is not None:
            until = min(until, self._corrected_at + 60.0)
        return until

    def _current_model(self, s: CampaignSnapshot) -> PacingModel | None:
        every = self.refresh_s if self._model_builds < 15 else self.settled_refresh_s
        stale = self._model_at is None or s.now < self._model_at or s.now - self._model_at >= every
        if self._model is None or stale:
            model = build_model(s)
            if model is not None or self._model is None:
                self._model = model
            self._model_at = s.now if model is not None else None
            self._model_builds += model is not None
        return self._model

    def _correct_budget(self, s: CampaignSnapshot) -> None:
        if self._corrected_at is None or s.now < self._corrected_at:
            self._corrected_at = s.now  # first tick, or the clock went back: restart the minute
            return
        if s.now - self._corrected_at < 60.0:
            return
        self._corrected_at = s.now
        c = s.counters
        if c.live < 20:
            return
        aim = self.aim_fraction * self.target
        error = max(-3.0, min(1.0, (aim - c.abandon_rate) / aim))
        weight = min(1.0, c.live / 200.0)
        self.multiplier = max(0.05, min(4.0, self.multiplier * math.exp(self.gain * weight * error)))


def make_policy(
    mode: DialMode, abandon_target: float = LEGAL_ABANDON_CAP, dial_speed: int = 10
) -> PacingPolicy:
    if mode in (DialMode.MANUEL, DialMode.PREVIEW, DialMode.RECEPTION):
        return NoDialPolicy()
    if mode is DialMode.PROGRESSIF:
        return ProgressivePolicy()
    if mode is DialMode.TURBO:
        return TurboPolicy(abandon_cap=min(abandon_target, LEGAL_ABANDON_CAP))
    return PredictivePolicy(target=min(PREDICTIVE_TARGETS[mode], abandon_target), dial_speed=dial_speed)
