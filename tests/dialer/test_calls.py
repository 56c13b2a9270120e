import pytest

from telephony.dialer.calls import (
    CALL_TRANSITIONS,
    FINAL_CALL_STATES,
    Agent,
    AgentState,
    CallRecord,
    CallState,
    IllegalTransition,
)


def test_answered_call_goes_through_every_state_with_its_time():
    call = CallRecord.queued("c1", 42, "+33612345678", at=10.0)
    path = [
        (CallState.DIALLING, 10.5),
        (CallState.RINGING, 11.0),
        (CallState.ANSWERED, 20.0),
        (CallState.HUMAN, 22.0),
        (CallState.BRIDGED, 22.4),
        (CallState.WRAP_UP, 200.0),
        (CallState.DISPOSITIONED, 230.0),
    ]
    for state, at in path:
        call.move(state, at)
    assert call.state is CallState.DISPOSITIONED
    assert call.is_final
    assert call.times == {CallState.QUEUED: 10.0, **dict(path)}
    assert call.dialled_at == 10.5


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ([], CallState.BRIDGED),  # queued straight to an agent
        ([CallState.DIALLING], CallState.HUMAN),  # a person before any answer
        ([CallState.DIALLING, CallState.RINGING], CallState.ABANDONED),  # never answered
        ([CallState.DIALLING, CallState.NO_ANSWER], CallState.RINGING),  # final state reopened
        ([CallState.DIALLING, CallState.ANSWERED, CallState.HUMAN], CallState.MACHINE),
        (
            [CallState.DIALLING, CallState.ANSWERED, CallState.HUMAN, CallState.BRIDGED],
            CallState.DISPOSITIONED,
        ),
    ],
)
def test_illegal_call_transitions_raise_and_leave_the_call_as_it_was(before, after):
    call = CallRecord.queued("c1", 1, "+33612345678", at=0.0)
    for i, state in enumerate(before):
        call.move(state, float(i + 1))
    state_before = call.state
    with pytest.raises(IllegalTransition, match=f"{state_before} -> {after}"):
        call.move(after, 99.0)
    assert call.state is state_before
    assert after not in call.times or after in before


def test_final_states_have_no_way_out_and_every_state_is_covered():
    assert set(CALL_TRANSITIONS) == set(CallState)
    for state in FINAL_CALL_STATES:
        assert CALL_TRANSITIONS[state] == frozenset()


def test_branches_from_ringing_and_machine():
    for final in (CallState.NO_ANSWER, CallState.BUSY, CallState.FAILED):
        call = CallRecord.queued("c", 1, "+33600000000", at=0.0)
        call.move(CallState.DIALLING, 0.0)
        call.move(CallState.RINGING, 1.0)
        call.move(final, 16.0, cause="X")
        assert call.cause == "X" and call.is_final
    for action in (CallState.MACHINE_DROPPED, CallState.VOICEMAIL_LEFT, CallState.BRIDGED):
        call = CallRecord.queued("c", 1, "+33600000000", at=0.0)
        for state in (CallState.DIALLING, CallState.ANSWERED, CallState.MACHINE, action):
            call.move(state, 1.0)
        assert call.state is action


def test_agent_states_and_illegal_agent_moves():
    agent = Agent(5, AgentState.LOGGED_OUT, since=0.0)
    agent.move(AgentState.READY, 1.0)
    agent.move(AgentState.PAUSED, 2.0, pause_code="REPAS")
    assert (agent.state, agent.pause_code, agent.since) == (AgentState.PAUSED, "REPAS", 2.0)
    agent.move(AgentState.READY, 3.0)
    assert agent.pause_code is None
    with pytest.raises(IllegalTransition):
        agent.move(AgentState.IN_CALL, 4.0)  # must be presented (ringing) first
    agent.move(AgentState.RINGING, 4.0)
    agent.move(AgentState.IN_CALL, 4.2)
    with pytest.raises(IllegalTransition):
        agent.move(AgentState.READY, 5.0)  # wrap-up comes first
    agent.move(AgentState.WRAP_UP, 100.0)
    agent.move(AgentState.READY, 120.0)
    assert agent.since == 120.0
