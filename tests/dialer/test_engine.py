import pytest

from telephony.callcontrol import EventKind
from telephony.dialer.calls import AgentState, CallState, IllegalTransition
from telephony.dialer.engine import MIN_RING_TIMEOUT_S, CampaignEngine, CampaignSettings, MachineAction
from telephony.dialer.pacing import DialMode, RecentSamples

from .conftest import Leads, ManualClock, RecordingControl, Rig, make_rig


def test_answered_call_goes_to_the_longest_idle_agent(rig):
    for agent_id in (1, 2, 3):
        rig.engine.login(agent_id)
        rig.advance(5)
    first, second = rig.dial(2)
    rig.answer(first)
    rig.answer(second)
    assert [(c, a) for c, a, _ in rig.control.bridges] == [(first, 1), (second, 2)]
    rig.event(first, EventKind.BRIDGED)
    rig.advance(60)
    rig.event(first, EventKind.HANGUP, "NORMAL_CLEARING")
    assert rig.engine.agents[1].state is AgentState.WRAP_UP
    rig.advance(10)
    rig.engine.disposition(1, "VENTE")
    # agent 3 has been idle since login, agent 1 only since now: 3 comes first
    third, fourth = rig.dial(2)
    rig.answer(third)
    rig.answer(fourth)
    assert [a for _, a, _ in rig.control.bridges[2:]] == [3, 1]


def test_call_record_keeps_every_transition_and_is_handed_over_when_done():
    finished = []
    rig = make_rig()
    rig.engine._on_call_finished = finished.append
    rig.engine.login(1)
    (call_id,) = rig.dial(1)
    rig.advance(1)
    rig.event(call_id, EventKind.RINGING)
    rig.advance(9)
    rig.event(call_id, EventKind.ANSWERED)
    rig.event(call_id, EventKind.BRIDGED)
    rig.run(120)
    rig.event(call_id, EventKind.HANGUP, "NORMAL_CLEARING")
    rig.run(30)
    rig.engine.disposition(1, "RAPPEL")
    (record,) = finished
    t0 = 1_000.0
    assert record.times == {
        CallState.QUEUED: t0,
        CallState.DIALLING: t0,
        CallState.RINGING: t0 + 1,
        CallState.ANSWERED: t0 + 10,
        CallState.HUMAN: t0 + 10,
        CallState.BRIDGED: t0 + 10,
        CallState.WRAP_UP: t0 + 130,
        CallState.DISPOSITIONED: t0 + 160,
    }
    assert record.disposition == "RAPPEL" and record.agent_id == 1
    assert call_id not in rig.engine.calls
    assert rig.engine.counters.connects_human == 1


def test_abandoned_call_hears_the_identification_message_within_two_seconds(rig):
    rig.engine.login(1)
    busy, lost = rig.dial(2)
    rig.answer(busy)  # takes the only agent
    rig.advance(3)
    rig.answer(lost)
    answered_at = rig.clock.now()
    assert rig.engine.next_deadline() == pytest.approx(answered_at + 2.0)
    rig.advance(1.0)
    rig.engine.poll()
    assert rig.control.messages == []  # still inside the drop window
    rig.advance(1.0)
    rig.engine.poll()
    ((call_id, audio, played_at),) = rig.control.messages
    assert call_id == lost and audio == rig.engine.settings.identification_audio
    assert played_at - answered_at <= 2.0
    assert rig.engine.calls[lost].state is CallState.ABANDONED
    counters = rig.engine.counters
    assert (counters.live, counters.abandoned) == (2, 1)
    rig.advance(5)
    rig.event(lost, EventKind.HANGUP, "NORMAL_CLEARING")
    assert lost not in rig.engine.calls


def test_waiting_call_taken_by_an_agent_freed_inside_the_window_is_not_abandoned(rig):
    rig.engine.login(1)
    first, second = rig.dial(2)
    rig.answer(first)
    rig.event(first, EventKind.BRIDGED)
    rig.advance(100)
    rig.event(first, EventKind.HANGUP, "NORMAL_CLEARING")
    rig.answer(second)  # nobody free: waits
    rig.advance(1.5)
    rig.engine.disposition(1, "NI")  # the agent is ready again 1.5 s later
    assert rig.control.bridges[-1][:2] == (second, 1)
    rig.advance(5)
    rig.engine.poll()
    assert rig.control.messages == [] and rig.engine.counters.abandoned == 0


def test_unanswered_calls_ring_at_least_fifteen_seconds():
    with pytest.raises(ValueError, match="under the legal"):
        make_rig(ring_timeout_s=MIN_RING_TIMEOUT_S - 1)
    rig = make_rig(ring_timeout_s=MIN_RING_TIMEOUT_S)
    rig.engine.login(1)
    (call_id,) = rig.dial(1)
    assert rig.control.originated[0].ring_timeout_s >= 15
    rig.event(call_id, EventKind.RINGING)
    for _ in range(20):  # the engine itself never cuts a ringing call
        rig.advance(1)
        rig.engine.tick()
        rig.engine.poll()
    assert rig.control.hangups == []
    rig.event(call_id, EventKind.HANGUP, "NO_ANSWER")
    assert rig.engine.counters.no_answers == 1


@pytest.mark.parametrize(
    ("cause", "state", "counter"),
    [("USER_BUSY", CallState.BUSY, "busy"), ("UNALLOCATED_NUMBER", CallState.FAILED, "failures")],
)
def test_unreached_calls_are_classified_by_cause(cause, state, counter):
    finished = []
    rig = make_rig()
    rig.engine._on_call_finished = finished.append
    rig.engine.login(1)
    (call_id,) = rig.dial(1)
    rig.advance(4)
    rig.event(call_id, EventKind.HANGUP, cause)
    assert finished[0].state is state and finished[0].cause == cause
    assert getattr(rig.engine.counters, counter) == 1


@pytest.mark.parametrize(
    ("action", "expected_state"),
    [
        (MachineAction.DROP, CallState.MACHINE_DROPPED),
        (MachineAction.VOICEMAIL, CallState.VOICEMAIL_LEFT),
        (MachineAction.AGENT, CallState.MACHINE),
    ],
)
def test_machine_detection_outcomes(action, expected_state):
    rig = make_rig(amd=True, machine_action=action)
    rig.engine.login(1)
    (call_id,) = rig.dial(1)
    rig.answer(call_id)
    assert rig.control.bridges == []  # with AMD, wait for the verdict
    rig.advance(3.5)
    rig.event(call_id, EventKind.MACHINE)
    assert rig.engine.calls[call_id].state is expected_state
    assert rig.engine.counters.machines_detected == 1
    if action is MachineAction.DROP:
        assert rig.control.hangups[0][0] == call_id
    elif action is MachineAction.VOICEMAIL:
        assert rig.control.messages == [(call_id, "vm.wav", rig.clock.now())]
    else:
        assert rig.control.bridges[0][:2] == (call_id, 1)


def test_human_verdict_is_presented_after_detection():
    rig = make_rig(amd=True)
    rig.engine.login(1)
    (call_id,) = rig.dial(1)
    rig.answer(call_id)
    rig.advance(2)
    rig.event(call_id, EventKind.HUMAN)
    assert rig.control.bridges[0][:2] == (call_id, 1)
    assert rig.engine.calls[call_id].connectable_at == rig.clock.now()


def test_turbo_presents_the_answered_call_at_once_even_with_amd():
    rig = make_rig(mode=DialMode.TURBO, amd=True)
    rig.engine.login(1)
    (call_id,) = rig.dial(1)
    rig.answer(call_id)
    assert rig.control.bridges[0][:2] == (call_id, 1)
    rig.event(call_id, EventKind.BRIDGED)
    rig.advance(3.5)
    rig.event(call_id, EventKind.MACHINE)  # verdict after the bridge: the agent handles it
    assert rig.engine.calls[call_id].state is CallState.BRIDGED
    assert rig.engine.calls[call_id].is_machine is True


@pytest.mark.parametrize("mode", [DialMode.MANUEL, DialMode.PREVIEW, DialMode.RECEPTION])
def test_modes_without_automatic_dialling_never_originate(mode):
    rig = make_rig(mode=mode)
    for agent_id in range(1, 6):
        rig.engine.login(agent_id)
    for _ in range(30):
        rig.advance(1)
        assert rig.engine.tick() == 0
    assert rig.control.originated == []


def test_progressive_dials_one_call_per_uncovered_ready_agent(rig):
    for agent_id in (1, 2, 3):
        rig.engine.login(agent_id)
    assert rig.engine.tick() == 3
    rig.advance(1)
    assert rig.engine.tick() == 0  # every ready agent is covered
    first = rig.control.originated[0].call_id
    rig.event(first, EventKind.HANGUP, "USER_BUSY")
    rig.advance(1)
    assert rig.engine.tick() == 1
    rig.engine.pause(2, "PAUSE")
    rig.advance(1)
    assert rig.engine.tick() == 0  # the paused agent is no longer covered, nothing new


def test_agent_actions_outside_their_state_raise(rig):
    rig.engine.login(1)
    with pytest.raises(IllegalTransition):
        rig.engine.login(1)
    with pytest.raises(IllegalTransition, match="no call in wrap-up"):
        rig.engine.disposition(1, "VENTE")
    with pytest.raises(IllegalTransition, match="not logged in"):
        rig.engine.pause(9, "PAUSE")
    rig.engine.pause(1, "REPAS")
    with pytest.raises(IllegalTransition):
        rig.engine.pause(1, "REPAS")
    rig.engine.resume(1)
    rig.engine.logout(1)
    assert rig.engine.agents == {}


def test_clock_jumps_neither_rewind_nor_age_calls_by_the_jump(rig):
    rig.engine.login(1)
    (call_id,) = rig.dial(1)
    dialled_at = rig.engine.snapshot().outstanding_dialled_at[0]
    rig.advance(-3600)  # wall clock stepped back an hour
    rig.engine.tick()
    back = rig.engine.snapshot()
    assert back.now >= dialled_at
    rig.advance(1)
    rig.engine.tick()
    assert rig.engine.snapshot().now == pytest.approx(back.now + 1)
    rig.advance(86_400)  # and forward a day
    rig.engine.tick()
    ahead = rig.engine.snapshot()
    age = ahead.now - ahead.outstanding_dialled_at[0]
    assert age <= 1 + rig.engine.settings.max_clock_step_s + 1e-9
    rig.advance(10)
    rig.answer(call_id)
    rig.event(call_id, EventKind.BRIDGED)
    rig.run(30)
    rig.event(call_id, EventKind.HANGUP, "NORMAL_CLEARING")
    rig.run(5)
    rig.engine.disposition(1, "VENTE")
    assert rig.engine._talks[-1] == pytest.approx(30)  # durations after the jumps are right


def test_settings_refuse_a_drop_window_over_two_seconds_and_voicemail_without_audio():
    with pytest.raises(ValueError):
        CampaignSettings(1, 1, DialMode.AUTOMATIQUE1, "+33162000000", drop_window_s=3.0)
    with pytest.raises(ValueError):
        CampaignSettings(1, 1, DialMode.AUTOMATIQUE1, "+33162000000", machine_action=MachineAction.VOICEMAIL)


def test_logout_during_wrap_up_closes_the_call_and_an_agent_in_call_cannot_leave():
    finished = []
    rig = make_rig()
    rig.engine._on_call_finished = finished.append
    rig.engine.login(1)
    (call_id,) = rig.dial(1)
    rig.answer(call_id)
    rig.event(call_id, EventKind.BRIDGED)
    with pytest.raises(IllegalTransition):
        rig.engine.logout(1)  # in call: hang up first
    rig.run(40)
    rig.event(call_id, EventKind.HANGUP, "NORMAL_CLEARING")
    rig.engine.logout(1)
    (record,) = finished
    assert record.state is CallState.DISPOSITIONED and record.disposition == "LOGOUT_IN_WRAP_UP"
    assert rig.engine.agents == {} and rig.engine.snapshot().wrap_up_since == ()


def test_samples_reach_snapshots_at_each_refresh_and_only_the_latest_are_kept():
    seen = []

    class Watching:
        quiet_until = float("-inf")

        def __init__(self, reads: bool) -> None:
            self.reads_samples = reads

        def decide(self, snapshot):
            seen.append(snapshot.samples)
            return 0

    clock = ManualClock()
    control = RecordingControl(clock)
    settings = CampaignSettings(7, 3, DialMode.PROGRESSIF, "+33162000000")
    engine = CampaignEngine(settings, control, clock, Leads(), sample_size=3, sample_refresh_s=20.0)
    rig = Rig(clock, control, engine)
    rig.engine.login(1)
    for i in range(10):  # dial i rings i + 1 s: refreshes at its hang-ups 1, 6 and 9 (20 s apart)
        (call_id,) = rig.dial(1)
        rig.advance(i + 1)
        rig.event(call_id, EventKind.HANGUP, "NO_ANSWER")
    # the last three outcomes as of the latest refresh, not the one after it
    assert engine.snapshot().samples.dial_outcome_s == (7.0, 8.0, 9.0)
    assert engine.snapshot().samples.dial_outcome_live == (False, False, False)
    engine.policy = Watching(reads=True)
    engine.tick()
    engine.policy = Watching(reads=False)  # declared: spared the copy, given none
    engine.reset_counters()  # something changed: the policy is asked
    engine.tick()
    assert seen == [engine.snapshot().samples, RecentSamples()]
