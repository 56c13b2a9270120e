import dataclasses
import math
import random

import pytest

from telephony.dialer.pacing import (
    CampaignSnapshot,
    DialMode,
    NoDialPolicy,
    PredictivePolicy,
    ProgressivePolicy,
    RecentSamples,
    ShiftCounters,
    TurboPolicy,
    build_dial_part,
    expected_excess,
    make_policy,
    progressive_need,
)

NOW = 20_000.0


def observed(
    live_share: float = 0.3, dials: int = 600, recent_live_share: float | None = None
) -> RecentSamples:
    """Samples like a campaign's: lives connect 6-16 s after the dial, busy lines 2-8 s,
    no answers at 25 s; talk about 3 minutes, wrap-up about 30 s."""
    rng = random.Random(11)
    durations, live, resolved_at = [], [], []
    for i in range(dials):
        dialled = NOW - 3000 + 4.5 * i
        share = recent_live_share if recent_live_share is not None and dialled > NOW - 800 else live_share
        u = rng.random()
        if u < share:
            d, is_live = rng.uniform(6, 16), True
        elif u < share + 0.15:
            d, is_live = rng.uniform(2, 8), False
        else:
            d, is_live = 25.0, False
        durations.append(d)
        live.append(is_live)
        resolved_at.append(dialled + d)
    talk = tuple(rng.lognormvariate(math.log(150), 0.8) for _ in range(300))
    wrap = tuple(rng.uniform(20, 40) for _ in range(300))
    return RecentSamples(tuple(durations), tuple(live), tuple(resolved_at), talk, wrap)


def snapshot(**changes: object) -> CampaignSnapshot:
    base = CampaignSnapshot(
        now=NOW,
        agents_logged_in=10,
        agents_idle=0,
        in_call_since=tuple(NOW - 60 * i for i in range(1, 11)),
        counters=ShiftCounters(dials=3000, live=900, abandoned=9),
        samples=observed(),
    )
    return dataclasses.replace(base, **changes)


def test_expected_excess_matches_the_normal_formula():
    assert expected_excess(0.0, 1.0) == pytest.approx(1 / math.sqrt(2 * math.pi))
    assert expected_excess(5.0, 0.0) == 5.0
    assert expected_excess(-5.0, 0.0) == 0.0
    assert expected_excess(-10.0, 1.0) == pytest.approx(0.0, abs=1e-20)


def test_progressive_launches_one_call_per_uncovered_ready_agent():
    s = snapshot(agents_idle=5, outstanding_dialled_at=(NOW - 3, NOW - 1), in_call_since=())
    assert progressive_need(s) == 3
    assert ProgressivePolicy().decide(s) == 3
    assert ProgressivePolicy().decide(dataclasses.replace(s, calls_waiting=4)) == 0


@pytest.mark.parametrize(
    "policy",
    [ProgressivePolicy(), TurboPolicy(), PredictivePolicy(target=0.03), NoDialPolicy()],
    ids=lambda p: type(p).__name__,
)
def test_no_agent_no_call(policy):
    nobody = snapshot(agents_logged_in=0, agents_idle=0, in_call_since=())
    assert policy.decide(nobody) == 0
    all_paused = snapshot(agents_logged_in=5, agents_paused=5, agents_idle=0, in_call_since=())
    assert policy.decide(all_paused) == 0


def test_predictive_never_dials_fewer_than_progressive():
    policy = PredictivePolicy(target=0.01)
    s = snapshot(agents_idle=6, in_call_since=tuple(NOW - 5 for _ in range(4)))
    assert policy.decide(s) >= 6
    # well over its target after 50 live calls: exactly progressive until it is back under
    over = dataclasses.replace(s, counters=ShiftCounters(dials=900, live=300, abandoned=11))
    assert PredictivePolicy(target=0.03).decide(over) == 6
    assert (
        PredictivePolicy(target=0.03).decide(
            dataclasses.replace(s, counters=ShiftCounters(900, 300, abandoned=9))
        )
        > 6
    )


def test_predictive_dials_ahead_for_agents_about_to_finish():
    policy = PredictivePolicy(target=0.03)
    ending_wrap_ups = snapshot(in_call_since=(), wrap_up_since=tuple(NOW - 35 for _ in range(10)))
    fresh_calls = snapshot(in_call_since=tuple(NOW - 2 for _ in range(10)))
    assert ProgressivePolicy().decide(ending_wrap_ups) == 0
    ahead = policy.decide(ending_wrap_ups)
    assert ahead >= 3
    assert PredictivePolicy(target=0.03).decide(fresh_calls) < ahead


def test_predictive_launches_fewer_when_more_calls_are_outstanding():
    counts = []
    for outstanding in (0, 8, 16, 32, 44):
        s = snapshot(
            in_call_since=(),
            wrap_up_since=tuple(NOW - 30 for _ in range(10)),
            outstanding_dialled_at=tuple(NOW - 3 for _ in range(outstanding)),
        )
        counts.append(PredictivePolicy(target=0.03).decide(s))
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > counts[-1] == 0


def test_higher_target_and_speed_dial_more():
    s = snapshot(in_call_since=(), wrap_up_since=tuple(NOW - 28 for _ in range(10)))
    cautious = PredictivePolicy(target=0.01).decide(s)
    bold = PredictivePolicy(target=0.03).decide(s)
    assert bold > cautious
    assert PredictivePolicy(target=0.03, dial_speed=0).decide(s) == progressive_need(s) == 0


def test_budget_is_corrected_every_minute_from_the_measured_abandon_rate():
    def counters(abandoned: int) -> ShiftCounters:
        return ShiftCounters(dials=1500, live=400, abandoned=abandoned)

    start = PredictivePolicy(target=0.03).multiplier
    too_many = PredictivePolicy(target=0.03)
    too_many.decide(snapshot(counters=counters(40)))
    too_many.decide(snapshot(now=NOW + 30, counters=counters(40)))
    assert too_many.multiplier == start  # not a minute yet
    too_many.decide(snapshot(now=NOW + 60, counters=counters(40)))
    assert too_many.multiplier < start

    room_left = PredictivePolicy(target=0.03)
    room_left.decide(snapshot(counters=counters(0)))
    room_left.decide(snapshot(now=NOW + 60, counters=counters(0)))
    assert room_left.multiplier > start
    budget = room_left.budget
    room_left.decide(snapshot(now=NOW + 120, counters=counters(0)))
    assert room_left.budget > budget  # keeps opening while the measured rate stays low

    clock_went_back = PredictivePolicy(target=0.03)
    clock_went_back.decide(snapshot(counters=counters(40)))
    clock_went_back.decide(snapshot(now=NOW - 3600, counters=counters(40)))
    clock_went_back.decide(snapshot(now=NOW - 3590, counters=counters(40)))
    assert clock_went_back.multiplier == start


def test_budget_correction_trusts_the_measured_rate_with_the_calls_measured():
    few, many = PredictivePolicy(target=0.03), PredictivePolicy(target=0.03)
    for policy, live in ((few, 40), (many, 4000)):
        rate_10_percent = ShiftCounters(dials=3 * live, live=live, abandoned=live // 10)
        policy.decide(snapshot(counters=rate_10_percent))
        policy.decide(snapshot(now=NOW + 60, counters=rate_10_percent))
    start = PredictivePolicy(target=0.03).multiplier
    assert many.multiplier < few.multiplier < start  # both cut, the well-measured rate more


def test_budget_correction_waits_while_the_last_minutes_bring_the_rate_back():
    """Anti-windup: over the aim since the shift started, but the last ten minutes have
    no abandon: the measured rate is already coming down, the multiplier is held."""

    def run(new_abandons_per_minute: int) -> list[float]:
        policy = PredictivePolicy(target=0.03)
        seen = []
        for minute in range(13):
            counters = ShiftCounters(
                dials=3000, live=400 + 20 * minute, abandoned=20 + new_abandons_per_minute * minute
            )
            policy.decide(snapshot(now=NOW + 60 * minute, counters=counters))
            seen.append(policy.multiplier)
        return seen

    calming, still_dropping = run(0), run(1)
    assert calming[10] < calming[1] < calming[0]  # pushed down while the history builds up
    assert calming[12] == calming[11] == calming[10]  # then held: the recent rate is under the aim
    assert still_dropping[12] < still_dropping[11] < still_dropping[10]  # 5 % lately: keeps cutting


def test_budget_correction_restarts_when_the_counters_are_reset():
    policy = PredictivePolicy(target=0.03)
    for minute in range(3):
        counters = ShiftCounters(dials=3000, live=400 + 30 * minute, abandoned=40)
        policy.decide(snapshot(now=NOW + 60 * minute, counters=counters))
    cut = policy.multiplier
    policy.decide(snapshot(now=NOW + 180, counters=ShiftCounters(dials=10, live=3, abandoned=0)))
    assert policy.multiplier == cut  # a new day: no correction from a rate not measured yet
    policy.decide(snapshot(now=NOW + 200, counters=ShiftCounters(dials=900, live=300, abandoned=0)))
    assert policy.multiplier == cut  # and the minute restarts from the reset


def test_model_turns_samples_into_conditional_probabilities():
    part = build_dial_part(snapshot())
    assert part is not None
    k = len(part.checkpoints)
    fresh = part.block[0, k - 1]
    assert fresh == pytest.approx(part.new_call_live[-1])
    assert 0.2 < fresh < 0.35  # about the 30 % live share, most within the horizon
    assert part.block[20, k - 1] == pytest.approx(0.0, abs=0.02)  # still unresolved at 20 s: a no-answer
    # the live probability follows the last minutes, not the whole sample window
    dropped = build_dial_part(snapshot(samples=observed(live_share=0.3, recent_live_share=0.08)))
    assert dropped is not None and dropped.new_call_live[-1] < 0.6 * fresh


def test_quiet_promise_holds_for_the_ticks_it_covers():
    policy = PredictivePolicy(target=0.03)
    s = snapshot(
        agents_idle=1,
        outstanding_dialled_at=tuple(NOW - 4 for _ in range(12)),
        in_call_since=tuple(NOW - 30 * i for i in range(1, 10)),
    )
    assert policy.decide(s) == 0
    assert policy.quiet_until > NOW + 1
    j = 1
    while NOW + j < policy.quiet_until:
        assert PredictivePolicy(target=0.03).decide(dataclasses.replace(s, now=NOW + j)) == 0
        j += 1


def test_mode_mapping():
    assert make_policy(DialMode.AUTOMATIQUE1).target == 0.01
    assert make_policy(DialMode.AUTOMATIQUE2).target == 0.02
    assert make_policy(DialMode.AUTOMATIQUE3).target == 0.03
    assert make_policy(DialMode.AUTOMATIQUE3, abandon_target=0.015).target == 0.015
    assert make_policy(DialMode.AUTOMATIQUE3, dial_speed=4).dial_speed == 4
    assert isinstance(make_policy(DialMode.RECEPTION), NoDialPolicy)
    with pytest.raises(ValueError):
        PredictivePolicy(target=0.03, dial_speed=11)


def test_turbo_overdials_a_little_and_stops_when_abandons_pile_up():
    s = snapshot(agents_idle=10, in_call_since=())
    assert TurboPolicy().decide(s) == 12
    lossy = dataclasses.replace(s, counters=ShiftCounters(dials=500, live=100, abandoned=5))
    assert TurboPolicy().decide(lossy) == 10
