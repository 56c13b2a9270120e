"""The pacing benchmark's command line (bench/dialer_sim.py): bad input is refused with a
clear message before anything runs, and the fixed-ratio baseline dials what it says."""

import importlib.util
import sys
from pathlib import Path

import pytest

from telephony.dialer.pacing import CampaignSnapshot

BENCH = Path(__file__).resolve().parents[2] / "bench" / "dialer_sim.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("dialer_sim_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--scenarios", "S1,S9"], "unknown scenario(s) S9"),
        (["--fixed-ratios", "1.5,deux"], "--fixed-ratios takes numbers"),
        (["--fixed-ratios", "0.5"], "every ratio must be at least 1.0"),
    ],
)
def test_bad_arguments_are_refused_before_running(bench, monkeypatch, capsys, argv, message):
    ran = []
    monkeypatch.setattr(bench, "run", lambda *args: ran.append(args))
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert ran == []


def test_the_ratio_sweep_runs_the_fixed_ratio_baseline_with_each_ratio(bench, monkeypatch):
    asked = []
    monkeypatch.setattr(bench, "run", lambda names, seed, jobs, modes: asked.append((names, modes)) or {})
    assert bench.main(["--scenarios", "S1", "--fixed-ratios", "1.5,2", "--jobs", "1"]) == 0
    assert asked == [(["S1"], ("FIXED_RATIO@1.5", "FIXED_RATIO@2"))]


def test_fixed_ratio_keeps_ratio_lines_per_ready_agent(bench):
    policy = bench.FixedRatioPolicy(2.5)
    two_ready = CampaignSnapshot(now=0.0, agents_logged_in=10, agents_idle=2, outstanding_dialled_at=(0.0,))
    assert policy.decide(two_ready) == 4  # ceil(2.5 x 2) lines, one already dialling
    assert bench.policy_for("FIXED_RATIO", 3.0).ratio == 3.0
