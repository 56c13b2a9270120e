"""Dialer pacing benchmark (spec N2): every dial mode and two baselines on four scenarios.

Run:  .venv/bin/python bench/dialer_sim.py [--seed 1] [--jobs 2] [--scenarios S1,S2]

Each shift is simulated by ``telephony.dialer.simulator`` driving the real
``CampaignEngine`` with the mode's pacing policy; every mode sees the same seeds
(common random numbers).  Prints one table per scenario, then, as the last line, one
JSON object with the figures (percentages).  See docs/dialer.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telephony.dialer.engine import CampaignEngine, CampaignSettings  # noqa: E402
from telephony.dialer.pacing import (  # noqa: E402
    PREDICTIVE_TARGETS,
    CampaignSnapshot,
    DialMode,
    PacingPolicy,
    make_policy,
)
from telephony.dialer.simulator import (  # noqa: E402
    HumanRateChange,
    InfiniteLeads,
    ShiftProfile,
    ShiftResult,
    Simulator,
)

FIXED_RATIO = 1.5  # dialling lines per ready agent for the fixed-ratio baseline
BASELINES = ("FIXED_RATIO", "VICIDIAL_ADAPT")
MODES = ("PROGRESSIF", "TURBO", "AUTOMATIQUE1", "AUTOMATIQUE2", "AUTOMATIQUE3", *BASELINES)


@dataclass(frozen=True)
class Scenario:
    name: str
    profile: ShiftProfile
    shifts: int
    note: str


SCENARIOS = {
    "S1": Scenario(
        "S1",
        ShiftProfile(agents=10, human=0.25, machine=0.10, busy_invalid=0.15),
        20,
        "10 agents, p=0.25, machines 10%, busy/invalid 15%, no AMD",
    ),
    "S2": Scenario(
        "S2",
        ShiftProfile(agents=50, human=0.30, machine=0.10, busy_invalid=0.15),
        4,
        "50 agents, p=0.30, machines 10% and busy/invalid 15% (chosen), no AMD",
    ),
    "S3": Scenario(
        "S3",
        ShiftProfile(agents=200, human=0.20, machine=0.25, busy_invalid=0.15, amd=True),
        2,
        "200 agents, p=0.20, machines 25%, busy/invalid 15% (chosen), AMD on (machines dropped)",
    ),
    "S4": Scenario(
        "S4",
        ShiftProfile(
            agents=25,
            human=0.30,
            machine=0.10,
            busy_invalid=0.15,
            talk_mean_s=120.0,
            talk_cv=1.2,
            wrap_mean_s=20.0,
            wrap_cv=0.5,
            human_changes=(HumanRateChange(80 * 60.0, 160 * 60.0, 0.12),),
        ),
        8,
        "25 agents, p=0.30 -> 0.12 (min 80-160) -> 0.30, machines 10% and busy/invalid 15% (chosen),"
        " talk 120 s cv 1.2, wrap 20 s cv 0.5 (chosen), no AMD",
    ),
}


def _active_agents(s: CampaignSnapshot) -> int:
    """VICIdial counts agents ready or in call (not paused, not in wrap-up) as active."""
    return s.agents_idle + len(s.in_call_since)


def _lines_in_use(s: CampaignSnapshot) -> int:
    return len(s.outstanding_dialled_at) + s.calls_waiting + len(s.in_call_since)


@dataclass
class FixedRatioPolicy:
    """Keep ``ratio`` dialling lines per ready agent (1.0 would be progressive)."""

    ratio: float = FIXED_RATIO
    quiet_until: float = math.inf
    reads_samples = False  # not a field: the engine need not copy samples for it

    def decide(self, s: CampaignSnapshot) -> int:
        return max(0, math.ceil(self.ratio * s.agents_idle) - len(s.outstanding_dialled_at) - s.calls_waiting)


@dataclass
class VicidialAdaptPolicy:
    """VICIdial ADAPT_HARD_LIMIT as documented: every 15 s the dial level is multiplied by
    1 + (average ready agents - average waiting calls) / agents, kept in [1.0, 3.0]; once
    the day's drop rate passes 3% (after 50 answered calls) the level is reset to 1.0 and
    held there while the rate stays over."""

    reads_samples = False  # not a field
    drop_limit: float = 0.03
    period_s: float = 15.0
    level: float = 1.0
    quiet_until: float = -math.inf  # samples every tick
    _ready_sum: float = 0.0
    _waiting_sum: float = 0.0
    _samples: int = 0
    _period_start: float | None = None

    def decide(self, s: CampaignSnapshot) -> int:
        self._ready_sum += s.agents_idle
        self._waiting_sum += s.calls_waiting
        self._samples += 1
        if self._period_start is None or s.now < self._period_start:
            self._period_start = s.now
        elif s.now - self._period_start >= self.period_s:
            self._adapt(s)
        lines = math.ceil(self.level * _active_agents(s)) - _lines_in_use(s)
        return max(0, lines)

    def _adapt(self, s: CampaignSnapshot) -> None:
        agents = max(1, s.agents_logged_in)
        avg_ready = self._ready_sum / self._samples
        avg_waiting = self._waiting_sum / self._samples
        c = s.counters
        if c.live >= 50 and c.abandon_rate > self.drop_limit:
            self.level = 1.0
        else:
            self.level = min(3.0, max(1.0, self.level * (1 + (avg_ready - avg_waiting) / agents)))
        self._ready_sum = self._waiting_sum = 0.0
        self._samples = 0
        self._period_start = s.now


def policy_for(mode: str, fixed_ratio: float = FIXED_RATIO) -> PacingPolicy:
    if mode == "FIXED_RATIO":
        return FixedRatioPolicy(fixed_ratio)
    if mode == "VICIDIAL_ADAPT":
        return VicidialAdaptPolicy()
    return make_policy(DialMode(mode))


def run_shift(
    scenario: str, mode: str, shift: int, seed: int, fixed_ratio: float = FIXED_RATIO
) -> ShiftResult:
    profile = dataclasses.replace(SCENARIOS[scenario].profile, emit_ringing=False)
    # same seed for every mode of a scenario's shift: the modes face the same population
    sim = Simulator(profile, seed=hash_seed(seed, scenario, shift))
    ids = itertools.count(1)
    settings = CampaignSettings(
        tenant_id=1,
        campaign_id=1,
        mode=DialMode(mode) if mode not in BASELINES else DialMode.PROGRESSIF,
        caller_id="+33162000000",
        amd=profile.amd,
    )
    engine = CampaignEngine(
        settings,
        sim,
        sim,
        InfiniteLeads(),
        policy=policy_for(mode, fixed_ratio),
        new_call_id=lambda: f"c{next(ids)}",

    )
    sim.attach(engine)
    return sim.run_shift()


def hash_seed(seed: int, scenario: str, shift: int) -> int:
    return seed * 1_000_003 + int(scenario[1:]) * 10_007 + shift


@dataclass
class ModeFigures:
    results: list[ShiftResult] = field(default_factory=list)
    cpu_s: float = 0.0

    def figures(self) -> dict[str, float]:
        rs = self.results
        live = sum(r.live for r in rs)
        abandoned = sum(r.abandoned for r in rs)
        logged = sum(r.logged_in_s for r in rs)
        talk = sum(r.human_talk_s for r in rs)
        connects = sum(r.connects for r in rs)
        idle = sum(r.logged_in_s - r.agent_busy_s for r in rs)
        agent_hours = logged / 3600.0
        return {
            "occupancy": round(100.0 * talk / logged, 2),
            "abandon": round(100.0 * abandoned / live if live else 0.0, 2),
            "abandon_worst": round(100.0 * max(r.abandon_rate for r in rs), 2),
            "talk_min_per_agent_hour": round(talk / 60.0 / agent_hours, 1),
            "idle_s_per_connect": round(idle / connects if connects else 0.0, 1),
            "dials_per_agent_hour": round(sum(r.dials for r in rs) / agent_hours, 1),
        }


def _task(args: tuple[str, str, int, int]) -> tuple[str, str, ShiftResult, float]:
    scenario, mode, shift, seed = args
    started = time.process_time()
    if mode.startswith("FIXED_RATIO@"):  # the ratio sweep (--fixed-ratios)
        result = run_shift(scenario, "FIXED_RATIO", shift, seed, float(mode.partition("@")[2]))
    else:
        result = run_shift(scenario, mode, shift, seed)
    return scenario, mode, result, time.process_time() - started


def run(
    scenarios: list[str], seed: int, jobs: int, modes: tuple[str, ...] = MODES
) -> dict[str, dict[str, ModeFigures]]:
    tasks = [
        (name, mode, shift, seed)
        for name in scenarios
        for mode in modes
        for shift in range(SCENARIOS[name].shifts)
    ]
    # the heaviest tasks first, so that two workers finish together
    tasks.sort(key=lambda t: -SCENARIOS[t[0]].profile.agents)
    out: dict[str, dict[str, ModeFigures]] = {
        name: {mode: ModeFigures() for mode in modes} for name in scenarios
    }
    if jobs <= 1:
        done = list(map(_task, tasks))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(_task, tasks, chunksize=1))
    for name, mode, result, cpu in done:  # in task order whatever the number of workers
        out[name][mode].results.append(result)
        out[name][mode].cpu_s += cpu
    return out


def target_of(mode: str) -> float | None:
    if mode.startswith("AUTOMATIQUE"):
        return 100.0 * PREDICTIVE_TARGETS[DialMode(mode)]
    return None


def print_tables(figures: dict[str, dict[str, dict[str, float]]]) -> None:
    header = (
        f"{'mode':<15}{'abandon %':>10}{'worst %':>9}{'target':>8}{'occupancy %':>13}"
        f"{'talk min/ag-h':>15}{'idle s/connect':>16}{'dials/ag-h':>12}"
    )
    for name, modes in figures.items():
        sc = SCENARIOS[name]
        p = sc.profile
        ceiling = 100.0 * p.talk_mean_s / (p.talk_mean_s + p.wrap_mean_s)
        print(f"\n{name}: {sc.note}; {sc.shifts} shifts of {p.shift_s / 3600:.0f} h")
        print(f"ceiling talk/(talk+wrap) = {ceiling:.1f} %")
        print(header)
        for mode, f in modes.items():
            target = target_of(mode)
            print(
                f"{mode:<15}{f['abandon']:>10.2f}{f['abandon_worst']:>9.2f}"
                f"{(f'{target:.0f}' if target else '-'):>8}{f['occupancy']:>13.1f}"
                f"{f['talk_min_per_agent_hour']:>15.1f}{f['idle_s_per_connect']:>16.1f}"
                f"{f['dials_per_agent_hour']:>12.1f}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument(
        "--fixed-ratios",
        help="instead of the modes, run FIXED_RATIO with each of these ratios (e.g. 1.5,2,3): "
        "how the baseline's ratio was chosen (docs/dialer.md)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    modes = MODES
    if args.fixed_ratios:
        try:
            ratios = [float(r) for r in args.fixed_ratios.split(",") if r.strip()]
        except ValueError:
            parser.error(f"--fixed-ratios takes numbers separated by commas, got {args.fixed_ratios!r}")
        if not ratios or min(ratios) < 1.0:
            parser.error("--fixed-ratios: every ratio must be at least 1.0")
        modes = tuple(f"FIXED_RATIO@{r:g}" for r in ratios)
    started = time.perf_counter()
    results = run(names, args.seed, args.jobs, modes)
    figures = {name: {mode: mf.figures() for mode, mf in modes.items()} for name, modes in results.items()}
    print_tables(figures)
    print("\nCPU seconds per scenario and mode (all workers):")
    for name, modes in results.items():
        print(f"  {name}: " + ", ".join(f"{mode} {mf.cpu_s:.1f}" for mode, mf in modes.items()))
    total_cpu = sum(mf.cpu_s for modes in results.values() for mf in modes.values())
    print(
        f"\nseed {args.seed}, {args.jobs} worker process(es), wall {time.perf_counter() - started:.1f} s,"
        f" simulation CPU {total_cpu:.1f} s"
    )
    print(json.dumps(figures, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
