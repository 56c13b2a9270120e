import dataclasses
import itertools

from telephony.dialer.engine import CampaignEngine, CampaignSettings
from telephony.dialer.pacing import DialMode
from telephony.dialer.simulator import HumanRateChange, InfiniteLeads, ShiftProfile, ShiftResult, Simulator

ONE_HOUR = ShiftProfile(agents=20, human=0.30, machine=0.10, busy_invalid=0.15, shift_s=3600.0)
TWO_HOURS = dataclasses.replace(ONE_HOUR, shift_s=7200.0)


def simulate(
    mode: DialMode, profile: ShiftProfile = ONE_HOUR, seed: int = 5
) -> tuple[ShiftResult, CampaignEngine]:
    sim = Simulator(profile, seed=seed)
    ids = itertools.count(1)
    settings = CampaignSettings(1, 1, mode, "+33162000000", amd=profile.amd)
    engine = CampaignEngine(settings, sim, sim, InfiniteLeads(), new_call_id=lambda: f"c{next(ids)}")
    sim.attach(engine)
    return sim.run_shift(), engine


def test_predictive_stays_under_its_abandon_target_and_beats_progressive():
    progressive = [simulate(DialMode.PROGRESSIF, TWO_HOURS, seed)[0] for seed in (1, 2, 3)]
    runs = [simulate(DialMode.AUTOMATIQUE2, TWO_HOURS, seed) for seed in (1, 2, 3)]
    predictive = [result for result, _ in runs]
    live = sum(r.live for r in predictive)
    assert live > 2000 and sum(r.abandoned for r in progressive) == 0
    # the benchmark's criteria: pooled under the target, no shift 0.5 point over it
    assert sum(r.abandoned for r in predictive) / live <= 0.02
    assert max(r.abandon_rate for r in predictive) <= 0.025
    assert sum(r.human_talk_s for r in predictive) > 1.05 * sum(r.human_talk_s for r in progressive)
    for result, engine in runs:
        # every abandoned call heard its message within the 2 s window
        assert result.messages == result.abandoned and result.late_messages == 0
        assert engine.calls == {}  # every call ended and was handed over


def test_simulation_is_deterministic_for_a_seed():
    first, _ = simulate(DialMode.AUTOMATIQUE3, seed=9)
    again, _ = simulate(DialMode.AUTOMATIQUE3, seed=9)
    other, _ = simulate(DialMode.AUTOMATIQUE3, seed=10)
    assert first == again
    assert first != other


def test_no_answers_ring_at_least_fifteen_seconds_and_agents_stay_consistent():
    result, engine = simulate(DialMode.TURBO)
    assert result.shortest_no_answer_ring_s >= 15.0
    counters = engine.counters
    assert counters.dials == result.dials
    assert counters.connects_human + counters.connects_machine == result.connects
    assert 0 < result.agent_busy_s <= result.logged_in_s


def test_amd_drops_machines_and_changing_answer_rate_is_followed():
    profile = ShiftProfile(
        agents=20,
        human=0.25,
        machine=0.25,
        busy_invalid=0.15,
        amd=True,
        shift_s=7200.0,
        human_changes=(HumanRateChange(2400.0, 4800.0, 0.10),),
    )
    result, engine = simulate(DialMode.AUTOMATIQUE3, profile)
    counters = engine.counters
    assert counters.machines_detected > 0.8 * 0.25 * counters.dials * 0.95
    assert result.connects_machine < 0.1 * result.connects  # only AMD's misses reach agents
    # the answer rate jumps back up at minute 80 of a 2-hour shift: the tolerance of a
    # single shift in the benchmark (0.5 point over the target) applies
    assert result.abandon_rate <= 0.03 + 0.005


def test_simulator_can_be_driven_second_by_second_like_the_live_service():
    profile = dataclasses.replace(ONE_HOUR, shift_s=600.0)
    sim = Simulator(profile, seed=3)
    ids = itertools.count(1)
    engine = CampaignEngine(
        CampaignSettings(1, 1, DialMode.AUTOMATIQUE3, "+33162000000"),
        sim,
        sim,
        InfiniteLeads(),
        new_call_id=lambda: f"c{next(ids)}",
    )
    sim.attach(engine)
    sim.login_agents()
    for second in range(600):
        sim.advance(float(second))
        engine.tick()
    sim.advance(4000.0)  # let the calls in progress end
    looped, _ = simulate(DialMode.AUTOMATIQUE3, profile, seed=3)
    assert sim.result.dials == looped.dials > 0
    assert sim.result.connects == looped.connects > 0
    assert engine.calls == {}
