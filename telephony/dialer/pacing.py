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
from collections import deque
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
    dial_outcome_at: tuple[float, ...] = ()  # when each outcome became known
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
    # A policy may also say ``reads_samples = False``: its snapshots then carry empty
    # samples (the engine is spared copying thousands of them every refresh).
    quiet_until: float

    def decide(self, snapshot: CampaignSnapshot) -> int: ...


def progressive_need(s: CampaignSnapshot) -> int:
    """One call per idle agent not already covered by an outstanding or waiting call."""
    return max(0, s.agents_idle - len(s.outstanding_dialled_at) - s.calls_waiting)


class NoDialPolicy:
    """MANUEL, PREVIEW (the agent dials) and RECEPTION (inbound only)."""

    quiet_until = math.inf
    reads_samples = False

    def decide(self, snapshot: CampaignSnapshot) -> int:
        return 0


class ProgressivePolicy:
    quiet_until = math.inf  # its answer depends on nothing but events
    reads_samples = False

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
    reads_samples = False  # not a field: a class constant

    def decide(self, snapshot: CampaignSnapshot) -> int:
        floor = progressive_need(snapshot)
        c = snapshot.counters
        if c.live >= self.min_live_for_guard and c.abandon_rate > self.abandon_cap * 0.8:
            return floor
        idle = snapshot.agents_idle
        lines = idle + int(idle * self.overdial + 0.5)
        return max(floor, lines - len(snapshot.outstanding_dialled_at) - snapshot.calls_waiting)


CHECKPOINTS = 4
# A predictive policy that answers 0 checks, with bounds, whether it would keep answering
# 0 for this many ticks if nothing happened; if so the engine need not ask it meanwhile.
LOOKAHEAD_TICKS = 6
MIN_DIAL_SAMPLES = 40
MIN_TALK_SAMPLES = 10
RECENT_WINDOW_S = 300.0  # the live probability is estimated from the dials of the last 5 minutes


@dataclass(frozen=True, slots=True)
class DialPart:
    """What becomes of a dial: per whole second of age of an unresolved dial, P(it turns
    connectable within each checkpoint) - with look-ahead bounds (see ``_with_bounds``)."""

    checkpoints: tuple[int, ...]
    block: np.ndarray
    new_call_live: list[float]  # P(a dial made now is connectable within checkpoint k)
    built_at: float
    dials_seen: int


@dataclass(frozen=True, slots=True)
class AgentPart:
    """When busy agents are ready again: per whole second into a call / a wrap-up,
    P(ready within each checkpoint + the drop window)."""

    checkpoints: tuple[int, ...]
    call_block: np.ndarray
    wrap_block: np.ndarray
    built_at: float
    connects_seen: int


@dataclass(frozen=True, slots=True)
class PacingModel:
    """The three blocks stacked: rows of dials by age, agents in call by elapsed time,
    agents in wrap-up by elapsed time.  Columns ``0..K-1``: +P(the dial turns connectable
    by checkpoint k) or -P(the agent is free by checkpoint k + drop window); ``K..2K-1``:
    the matching Bernoulli variances; ``2K``: P(connectable by the horizon); then lower
    bounds of the first 2K columns and an upper bound of the last one over the next
    LOOKAHEAD_TICKS seconds."""

    checkpoints: tuple[int, ...]
    table: np.ndarray
    offsets: np.ndarray
    last_rows: np.ndarray
    new_call_live: list[float]
    new_call_variance: list[float]
    # per (dials, agents in call, agents in wrap-up) counts: each item's last row and first row
    _rows_by_counts: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def rows_of(self, counts: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """For items listed block by block in these numbers: the last row each may read
        (relative to its block) and its block's first row.  Cached: counts recur."""
        rows = self._rows_by_counts.get(counts)
        if rows is None:
            rows = self._rows_by_counts[counts] = (self.last_rows.repeat(counts), self.offsets.repeat(counts))
        return rows

    @classmethod
    def stack(cls, dial: DialPart, agents: AgentPart) -> PacingModel:
        blocks = (dial.block, agents.call_block, agents.wrap_block)
        sizes = np.array([len(b) for b in blocks], dtype=np.intp)
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.intp)
        q = dial.new_call_live
        return cls(dial.checkpoints, np.concatenate(blocks), offsets, sizes - 1, q, [p * (1.0 - p) for p in q])


def _kaplan_meier(
    done: np.ndarray, running: np.ndarray, size: int, marked: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Survival S[t] = P(T > t) on a 1-s grid from finished durations and durations still
    running (right-censored: without them early samples over-represent short calls).
    Also the cumulative incidence of the ``marked`` finished durations (competing risks)."""
    ends = _grid(np.ceil(done), size)
    deaths = np.bincount(ends, minlength=size)[:size]
    censored = np.bincount(_grid(np.floor(running), size), minlength=size)[:size]
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


def _grid(seconds: np.ndarray, size: int) -> np.ndarray:
    """Whole seconds as indices of a grid of ``size`` cells (np.clip without its wrapper)."""
    cells = seconds.astype(int)
    np.maximum(cells, 0, out=cells)
    return np.minimum(cells, size - 1, out=cells)


def _floats(values: tuple[float, ...]) -> np.ndarray:
    return np.fromiter(values, float, len(values))


def _carry_forward(values: np.ndarray, valid: np.ndarray, default: float) -> np.ndarray:
    """Rows where there is nothing left to estimate from take the last estimable row."""
    idx = np.where(valid, np.arange(len(valid)), -1)
    np.maximum.accumulate(idx, out=idx)
    filled = np.where((idx >= 0)[:, None], values[np.maximum(idx, 0)], default)
    np.maximum(filled, 0.0, out=filled)  # np.clip(filled, 0, 1) without its wrapper's cost
    return np.minimum(filled, 1.0, out=filled)


def _conditional(numerator: np.ndarray, survival: np.ndarray, default: float) -> np.ndarray:
    valid = survival > 1e-9
    return _carry_forward(numerator / np.maximum(survival, 1e-9)[:, None], valid, default)


def _with_bounds(probs: np.ndarray, sign: float, with_horizon: bool) -> np.ndarray:
    """A block: signed probabilities, variances, horizon column, then per row the minimum
    of the first 2K columns and the maximum of the last over this row and the next
    LOOKAHEAD_TICKS rows: bounds of what the item adds up during the coming ticks."""
    rows, k = probs.shape
    block = np.empty((rows, 4 * k + 2))
    part = block[:, : 2 * k + 1]
    np.multiply(probs, sign, out=part[:, :k])
    np.multiply(probs, 1.0 - probs, out=part[:, k : 2 * k])
    part[:, 2 * k] = probs[:, -1] if with_horizon else 0.0
    padded = np.concatenate((part, np.repeat(part[-1:], LOOKAHEAD_TICKS, axis=0)))
    block[:, 2 * k + 1 : 4 * k + 1] = _over_window(padded[:, : 2 * k], np.minimum)
    block[:, 4 * k + 1 :] = _over_window(padded[:, 2 * k :], np.maximum)
    return block


def _over_window(padded: np.ndarray, extreme: np.ufunc) -> np.ndarray:
    """Row i: ``extreme`` (minimum or maximum) of rows i..i+LOOKAHEAD_TICKS, by doubling
    spans (3 passes instead of 7 rows compared one by one; min and max are exact)."""
    span, out = 1, padded
    while span <= LOOKAHEAD_TICKS:
        step = min(span, LOOKAHEAD_TICKS + 1 - span)
        out = extreme(out[:-step], out[step:])
        span += step
    return out


def build_dial_part(s: CampaignSnapshot, horizon_quantile: float = 0.9) -> DialPart | None:
    """Timing of dial outcomes from all recent samples (Kaplan-Meier, outstanding dials as
    censored), rescaled to the live probability of the last few minutes: answer rates
    move during a day, ring-time shapes hardly."""
    sm = s.samples
    if len(sm.dial_outcome_s) < MIN_DIAL_SAMPLES:
        return None
    dial = _floats(sm.dial_outcome_s)
    live = np.fromiter(sm.dial_outcome_live, bool, len(sm.dial_outcome_live))
    if live.sum() < 8:
        return None
    running = np.maximum(s.now - _floats(s.outstanding_dialled_at), 0.0)
    horizon = min(40, max(4, 4 * _quantile_bucket(dial[live], horizon_quantile)))
    checkpoints = tuple(horizon * (i + 1) // CHECKPOINTS for i in range(CHECKPOINTS))
    rows = int(max(dial.max(), running.max(initial=0.0))) + 2
    size = rows + horizon + 2
    survival, live_incidence = _kaplan_meier(dial, running, size, live)
    other_incidence = (1.0 - survival) - live_incidence
    live_timing = live_incidence / max(live_incidence[-1], 1e-9)
    other_timing = other_incidence / max(other_incidence[-1], 1e-9)
    p_live = _recent_live_share(s, dial, live)
    live_incidence = p_live * live_timing
    survival = 1.0 - live_incidence - (1.0 - p_live) * other_timing
    cols = np.array(checkpoints)
    ahead = live_incidence[cols[None, :] + np.arange(rows)[:, None]] - live_incidence[:rows, None]
    probs = _conditional(ahead, survival[:rows], 0.0)
    new_call = [float(min(1.0, live_incidence[c])) for c in checkpoints]
    return DialPart(checkpoints, _with_bounds(probs, 1.0, True), new_call, s.now, s.counters.dials)


def _quantile_bucket(values: np.ndarray, q: float) -> int:
    """ceil(np.quantile(values, q) / 4): the 4-second bucket of the quantile.  The linear
    quantile lies between the two order statistics around the index (n - 1) q (numpy
    computes it as n q + 1 - q - 1: both roundings are covered); when those fall in one
    bucket, so does the quantile, and np.quantile (slow to call) is not needed."""
    n = len(values)
    first, second = math.floor(n * q + (1 - q) - 1), math.floor((n - 1) * q)
    lo, hi = max(0, min(first, second)), min(n - 1, max(first, second) + 1)
    ordered = np.partition(values, (lo, hi))
    bucket = math.ceil(ordered[lo] / 4)
    if math.ceil(ordered[hi] / 4) == bucket and 4 * (bucket - 1) + 1e-9 < ordered[lo] and ordered[hi] < 4 * bucket - 1e-9:
        return bucket
    return math.ceil(np.quantile(values, q) / 4)


def _recent_live_share(s: CampaignSnapshot, dial: np.ndarray, live: np.ndarray) -> float:
    """Live share among the dials of the last RECENT_WINDOW_S whose outcome is surely known
    (dialled longer ago than the longest outcome time before the latest outcome seen: no
    bias to quick outcomes)."""
    resolved_at = _floats(s.samples.dial_outcome_at)
    if len(resolved_at) != len(dial):
        return float(live.mean())
    dialled_at = resolved_at - dial
    # samples reach the snapshot in batches: "settled" from the latest outcome known, not now
    settled = min(s.now, float(resolved_at.max())) - dial.max()
    known = dialled_at <= settled
    window = known & (dialled_at > settled - RECENT_WINDOW_S)
    if window.sum() < 100:  # too few: the latest 100 settled dials
        settled_idx = np.flatnonzero(known)[-100:]
        return float(live[settled_idx].mean()) if len(settled_idx) >= 20 else float(live.mean())
    return float(live[window].mean())


def build_agent_part(s: CampaignSnapshot, checkpoints: tuple[int, ...]) -> AgentPart | None:
    sm = s.samples
    if len(sm.talk_s) < MIN_TALK_SAMPLES:
        return None
    talk = _floats(sm.talk_s)
    wrap = _floats(sm.wrap_s or (0.0,))
    talk_running = np.maximum(s.now - _floats(s.in_call_since), 0.0)
    wrap_running = np.maximum(s.now - _floats(s.wrap_up_since), 0.0)
    windows = np.array(checkpoints) + int(math.ceil(s.drop_window_s))
    call_rows = int(max(talk.max(), talk_running.max(initial=0.0))) + 2
    call_probs = _free_from_call(talk, wrap, talk_running, windows, call_rows)
    wrap_rows = int(max(wrap.max(), wrap_running.max(initial=0.0))) + 2
    size = wrap_rows + int(windows[-1]) + 2
    wrap_surv, _ = _kaplan_meier(wrap, wrap_running, size)
    wrap_cdf = 1.0 - wrap_surv
    ahead = wrap_cdf[windows[None, :] + np.arange(wrap_rows)[:, None]] - wrap_cdf[:wrap_rows, None]
    wrap_probs = _conditional(ahead, wrap_surv[:wrap_rows], 1.0)
    connects = s.counters.connects_human + s.counters.connects_machine
    return AgentPart(
        checkpoints,
        _with_bounds(call_probs, -1.0, False),
        _with_bounds(wrap_probs, -1.0, False),
        s.now,
        connects,
    )


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
    size, k = rows + 1, len(windows)
    last = np.minimum(ends, rows)[:, None]
    column = np.arange(k)
    # all windows at once: counts per (row, window) by one bincount of row * k + window
    first = np.ceil((talk + wrap)[:, None] - windows).astype(int)
    np.clip(first, 0, rows, out=first)
    keep = first < last
    free = _counts(first * k + column, keep, size, k) - _counts(last * k + column, keep, size, k)
    known = np.floor(running[:, None] - windows).astype(int) + 1
    np.clip(known, 0, rows, out=known)
    running_at_risk = -_counts(known * k + column, None, size, k)
    running_at_risk[0] += len(running)
    numerator = np.cumsum(free, axis=0)[:rows]
    denominator = at_risk[:, None] + np.cumsum(running_at_risk, axis=0)[:rows]
    valid = denominator.min(axis=1) >= 5  # fewer calls that long: keep the last estimate
    return _carry_forward(numerator / np.maximum(denominator, 1.0), valid, 0.0)


def _counts(cells: np.ndarray, keep: np.ndarray | None, size: int, k: int) -> np.ndarray:
    """How many of ``cells`` (flat row * k + column indices) fall in each cell of a size x k grid."""
    flat = cells.ravel() if keep is None else cells[keep]
    return np.bincount(flat, minlength=size * k).reshape(size, k)


_SQRT2 = math.sqrt(2.0)
_add_rows = np.add.reduce
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
    ages = _floats(starts)
    np.subtract(s.now, ages, out=ages)
    idx = ages.astype(np.intp)
    np.maximum(idx, 0, out=idx)
    last, first = model.rows_of((len(s.outstanding_dialled_at), len(s.in_call_since), len(s.wrap_up_since)))
    np.minimum(idx, last, out=idx)
    idx += first
    # the rows are added in item order, as ndarray.sum(axis=0) does (not pairwise)
    return _add_rows(model.table.take(idx, axis=0), axis=0).tolist()


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
    aim_fraction: float = 0.88  # aim under the target: pooled and single shifts must end under it
    gain: float = 0.35  # per-minute correction strength (log scale)
    refresh_s: float = 60.0  # a model part is rebuilt at most this often, when enough is new
    max_lines_per_agent: float = 5.0
    # Safety net: progressive while the measured rate is over target + min(0.4 point,
    # target / 3), after 50 live calls: inside the "no shift 0.5 point over" rule, and
    # tighter for a 1 % target whose few abandons per shift swing the most.  A guard at
    # the target itself cost 2-3 points of occupancy: the budget correction steers.
    guard_points: float = 0.004
    guard_fraction: float = 1 / 3
    multiplier: float = 0.5  # start cautious: the model alone under-estimates abandons (docs/dialer.md)
    # The measured rate is trusted in proportion live / (live + confidence_live): a few
    # abandons among the first few hundred calls are mostly chance, not a pacing error.
    # None: 300 live calls, 600 for targets under 1.5 % (chosen by measurement, docs/dialer.md).
    confidence_live: float | None = None
    # Anti-windup: the cumulative rate lags, so the multiplier is only pushed further while
    # the rate of the last ``recent_minutes`` is on the same side of the aim.
    recent_minutes: int = 10
    quiet_until: float = -math.inf  # time moves every probability: asked on every tick
    _model: PacingModel | None = None
    _dial_part: DialPart | None = None
    _agent_part: AgentPart | None = None
    _corrected_at: float | None = None
    _minutes: deque[tuple[int, int]] = field(default_factory=deque)  # (live, abandoned) per minute

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
        guard = self.target + min(self.guard_points, self.target * self.guard_fraction)
        if model is None or (c.live >= 50 and c.abandon_rate > guard):
            return floor
        return max(floor, self._model_calls(snapshot, model))


    def _model_calls(self, s: CampaignSnapshot, model: PacingModel) -> int:
        k = len(model.checkpoints)
        cap = int(self.max_lines_per_agent * s.agents_logged_in) - len(s.outstanding_dialled_at)
        if cap <= 0:
            return 0
        sums = _table_sums(s, model)
        base = s.calls_waiting - s.agents_idle
        q, q_var = model.new_call_live, model.new_call_variance
        q_last = q[-1]
        budget = self.budget
        erf, exp, sqrt = math.erf, math.exp, math.sqrt
        order = range(k - 1, -1, -1)  # the far checkpoints fail first: test them first

        def fits(n: int, offset: int = 0) -> bool:
            """Expected shortfall at every checkpoint within budget (E[X+] for X normal)."""
            allowed = budget * (sums[offset + 2 * k] + s.calls_waiting + n * q_last)
            for i in order:
                mu = sums[offset + i] + base + n * q[i]
                var = sums[offset + k + i] + n * q_var[i]
                if var <= 1e-12:
                    if mu > allowed:
                        return False
                    continue
                sd = sqrt(var)
                if mu < -6.0 * sd:
                    continue  # shortfall below 1e-9: certainly within any budget
                z = mu / sd
                if sd * _INV_SQRT_2PI * exp(-0.5 * z * z) + mu * 0.5 * (1.0 + erf(z / _SQRT2)) > allowed:
                    return False
            return True

        # n = 0 is not tested on its own: with nothing outstanding its budget is 0 and the
        # normal tail of the free agents alone would fail it; the ratio is judged with the call.
        if not fits(1):
            if s.agents_idle <= len(s.outstanding_dialled_at) + s.calls_waiting and not fits(1, 2 * k + 1):
                # even the most favourable of the coming ticks would not fit one more call
                self.quiet_until = self._quiet_limit(s, s.now + LOOKAHEAD_TICKS - 0.5)
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

    def _quiet_limit(self, s: CampaignSnapshot, until: float) -> float:
        """The answer can also change when a model part is due or the budget corrected."""
        if self._dial_part is not None:
            until = min(until, self._dial_due_at(s, self._dial_part))
        if self._agent_part is not None:
            until = min(until, self._agents_due_at(s, self._agent_part))
        if self._corrected_at is not None:
            until = min(until, self._corrected_at + 60.0)
        return until

    def _dial_due_at(self, s: CampaignSnapshot, dial: DialPart) -> float:
        """A minute after the last build once 30 dials are new, else after 5 minutes."""
        enough = s.counters.dials - dial.dials_seen >= 30
        return dial.built_at + (self.refresh_s if enough else 300.0)

    def _agents_due_at(self, s: CampaignSnapshot, agents: AgentPart) -> float:
        """A minute after the last build once 1/8 of the samples (at least 50) are new or
        while fewer than 200 calls are known, else after 10 minutes: talk and wrap-up
        times move slowly, and this part is the dearer one to build."""
        talks = len(s.samples.talk_s)
        new = s.counters.connects_human + s.counters.connects_machine - agents.connects_seen
        enough = new >= max(50, talks // 8) or talks < 200
        return agents.built_at + (self.refresh_s if enough else 600.0)

    def _current_model(self, s: CampaignSnapshot) -> PacingModel | None:
        now = s.now
        dial, agents = self._dial_part, self._agent_part
        changed = False
        if dial is None or now < dial.built_at or now >= self._dial_due_at(s, dial):
            rebuilt = build_dial_part(s)
            if rebuilt is not None:
                self._dial_part = dial = rebuilt
                changed = True
        if dial is None:
            return None
        if (
            agents is None
            or now < agents.built_at
            or agents.checkpoints != dial.checkpoints
            or now >= self._agents_due_at(s, agents)
        ):
            rebuilt_agents = build_agent_part(s, dial.checkpoints)
            if rebuilt_agents is not None:
                self._agent_part = agents = rebuilt_agents
                changed = True
        if agents is None or agents.checkpoints != dial.checkpoints:
            return None
        if changed or self._model is None:
            self._model = PacingModel.stack(dial, agents)
        return self._model

    def _correct_budget(self, s: CampaignSnapshot) -> None:
        """Once a minute: multiplier × exp(gain × weight × err), err = (aim − measured) / aim
        from the day's counters.  Two things keep it from swinging (with ten agents a
        minute holds about three live calls, so the measured rate is mostly noise early):
        the weight grows with the live calls measured, and the multiplier is not pushed
        further while the last minutes already move the measured rate towards the aim."""
        c = s.counters
        if self._corrected_at is None or s.now < self._corrected_at or (
            self._minutes and c.live < self._minutes[-1][0]
        ):
            # first tick, the clock went back, or the counters were reset: restart
            self._corrected_at = s.now
            self._minutes.clear()
            return
        if s.now - self._corrected_at < 60.0:
            return
        self._corrected_at = s.now
        self._minutes.append((c.live, c.abandoned))
        if len(self._minutes) > self.recent_minutes + 1:
            self._minutes.popleft()
        if c.live < 20:
            return
        aim = self.aim_fraction * self.target
        error = max(-3.0, min(1.0, (aim - c.abandon_rate) / aim))
        if len(self._minutes) > self.recent_minutes:
            live_then, abandoned_then = self._minutes[0]
            # the last minutes' rate, pulled a little towards the aim (ten live calls' worth)
            recent = (c.abandoned - abandoned_then + 10.0 * aim) / (c.live - live_then + 10.0)
            if (error < 0.0) == (recent < aim):
                error = 0.0  # already heading back to the aim: wait for it
        confidence = self.confidence_live
        if confidence is None:
            confidence = 600.0 if self.target < 0.015 else 300.0
        weight = c.live / (c.live + confidence)
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
