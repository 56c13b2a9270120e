"""ESL command lines: the exact text sent, and refusal of anything that could inject."""

from __future__ import annotations

import pytest

from telephony.freeswitch import commands
from telephony.freeswitch.backend import handler_keys, subscription_tokens

UUID = "c0ffee00-0003-4000-8000-000000000001"


def test_originate_line_with_variables_and_park() -> None:
    line = commands.originate(
        "sofia/gateway/kamailio/+33601020304",
        {"origination_uuid": UUID, "carillon_note": "a,b c"},
        [("park", "")],
    )
    assert (
        line
        == f"originate {{origination_uuid={UUID},carillon_note='a\\,b c'}}sofia/gateway/kamailio/+33601020304 &park()"
    )


def test_originate_with_recording_and_detection_runs_inline_apps() -> None:
    line = commands.originate("null/1", {}, [("record_session", "/rec/7/x.wav"), ("amd", ""), ("park", "")])
    assert line == "originate null/1 'record_session:/rec/7/x.wav,amd,park' inline"


@pytest.mark.parametrize(
    ("variables", "apps"),
    [
        ({"bad name": "1"}, [("park", "")]),
        ({"x": "it's"}, [("park", "")]),
        ({"x": "a}b"}, [("park", "")]),
        ({"x": "line\nfeed"}, [("park", "")]),
        ({}, [("record_session", "/a b.wav"), ("park", "")]),
        ({}, [("record_session", "/a,b.wav"), ("park", "")]),
        ({}, [("park()", "")]),
    ],
)
def test_originate_refuses_unsafe_values(variables: dict[str, str], apps: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError):
        commands.originate("null/1", variables, apps)


def test_ring_timeout_floor() -> None:
    assert [commands.ring_timeout(s) for s in (5, 15, 30)] == [15, 15, 30]


def test_uuid_commands() -> None:
    assert commands.uuid_kill(UUID) == f"uuid_kill {UUID} NORMAL_CLEARING"
    assert commands.uuid_record(UUID, "mask", "/r/7/x.wav") == f"uuid_record {UUID} mask /r/7/x.wav"
    assert commands.uuid_hold(UUID, False) == f"uuid_hold off {UUID}"
    assert commands.uuid_send_dtmf(UUID, "12#") == f"uuid_send_dtmf {UUID} 12#"
    assert commands.uuid_broadcast(UUID, "tone_stream://%(200,100,440);loops=3") == (
        f"uuid_broadcast {UUID} tone_stream://%(200,100,440);loops=3 aleg"
    )
    assert commands.uuid_transfer_inline(UUID, [("conference", "agent-7-42@default")]) == (
        f"uuid_transfer {UUID} conference:agent-7-42@default inline"
    )
    assert commands.conference_member("agent-7-45", "relate", "13", "12", "nospeak") == (
        "conference agent-7-45 relate 13 12 nospeak"
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: commands.uuid_kill("not-a-uuid"),
        lambda: commands.uuid_kill(UUID, "NORMAL_CLEARING\n\napi shutdown"),
        lambda: commands.uuid_send_dtmf(UUID, "1 2"),
        lambda: commands.uuid_record(UUID, "delete", "/x.wav"),
        lambda: commands.uuid_broadcast(UUID, "/x.wav bleg"),
        lambda: commands.check_number("06 01"),
        lambda: commands.conference_member("agent-7-45", "mute", "13; hup all"),
        lambda: commands.conference_member("agent-7-45", "kick all", "13"),
    ],
)
def test_unsafe_arguments_are_refused(call) -> None:
    with pytest.raises(ValueError):
        call()


def test_one_subscription_line_with_custom_subclasses_last() -> None:
    names = [
        "CHANNEL_ANSWER",
        "CUSTOM conference::maintenance",
        "CHANNEL_EXECUTE_COMPLETE",
        "CUSTOM amd::info",
    ]
    assert subscription_tokens(names) == [
        "CHANNEL_ANSWER",
        "CHANNEL_EXECUTE_COMPLETE",
        "CUSTOM",
        "conference::maintenance",
        "amd::info",
    ]
    assert handler_keys(names) == [
        "CHANNEL_ANSWER",
        "CHANNEL_EXECUTE_COMPLETE",
        "conference::maintenance",
        "amd::info",
    ]
