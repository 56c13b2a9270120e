"""Recorded event streams -> CallEvents, without sockets (CallTracker is pure)."""

from __future__ import annotations

import pytest

from telephony.callcontrol import EventKind
from telephony.freeswitch.amd import ModAmd, ModAvmd
from telephony.freeswitch.protocol import EVENT_CONTENT_TYPES, EslEvent, parse_event
from telephony.freeswitch.tracker import (
    CallState,
    CallTracker,
    TrackedCall,
    agent_conference_name,
    parse_agent_conference,
)
from tests.telephony.conftest import recorded_frames


def _events(name: str) -> list[EslEvent]:
    return [parse_event(f) for f in recorded_frames(name) if f.content_type in EVENT_CONTENT_TYPES]


def _track(call_id: str, *, amd: bool = False, detector: ModAmd | ModAvmd | None = None) -> CallTracker:
    tracker = CallTracker(detector)
    tracker.add(
        TrackedCall(call_id, tenant_id=7, campaign_id=3, lead_id=11, node="fs1", created_at=0.0, amd=amd)
    )
    return tracker


def _replay(tracker: CallTracker, name: str) -> list:
    out = []
    for event in _events(name):
        out.extend(tracker.handle("fs1", event, now=0.0))
    return out


def test_answered_call() -> None:
    call_id = "c0ffee00-0003-4000-8000-000000000001"
    tracker = _track(call_id)
    events = _replay(tracker, "03_originate_answered")
    assert [e.kind for e in events] == [
        EventKind.RINGING,
        EventKind.ANSWERED,
        EventKind.HUMAN,
        EventKind.RECORDING_STARTED,
        EventKind.RECORDING_STOPPED,
        EventKind.HANGUP,
    ]
    hangup = events[-1]
    assert hangup.cause == "NORMAL_CLEARING"
    assert hangup.data["billsec"] == "7"
    assert hangup.data["hangup_cause_q850"] == "16"
    assert hangup.data["rtp_audio_in_mos"] == "4.50"
    assert hangup.data["rtp_audio_in_jitter_loss_rate"] == "0.00"
    assert hangup.data["sip_hangup_disposition"] == "send_bye"
    assert events[4].data["completion_cause"] == "success-silence"
    assert events[1].at == pytest.approx(1795715002.908, abs=0.01)  # FreeSWITCH's own clock
    assert call_id not in tracker.calls


@pytest.mark.parametrize(
    ("name", "call_id", "kinds", "cause", "extra"),
    [
        (
            "04_originate_busy",
            "c0ffee00-0004-4000-8000-000000000001",
            [],
            "USER_BUSY",
            {"sip_term_status": "486", "hangup_cause_q850": "17"},
        ),
        (
            "05_originate_noanswer",
            "c0ffee00-0005-4000-8000-000000000001",
            [EventKind.RINGING],
            "NO_ANSWER",
            {"hangup_cause_q850": "19", "sip_hangup_disposition": "send_cancel"},
        ),
        (
            "06_originate_unavailable",
            "c0ffee00-0006-4000-8000-000000000001",
            [],
            "NORMAL_TEMPORARY_FAILURE",
            {"sip_term_status": "503", "hangup_cause_q850": "41"},
        ),
    ],
)
def test_failed_calls_end_once_with_the_cdr(
    name: str, call_id: str, kinds: list, cause: str, extra: dict
) -> None:
    # BACKGROUND_JOB -ERR comes before HANGUP (06), between HANGUP and COMPLETE (05),
    # or after COMPLETE (04): in all three the HANGUP comes once, with the CDR.
    tracker = _track(call_id)
    events = _replay(tracker, name)
    assert [e.kind for e in events] == [*kinds, EventKind.HANGUP]
    assert events[-1].cause == cause
    for key, value in extra.items():
        assert events[-1].data[key] == value


def test_job_error_without_a_channel_closes_the_call() -> None:
    tracker = CallTracker()
    # 11_errors: "bgapi originate nosuchendpoint/foo" never creates a channel.
    job = next(e for e in _events("11_errors") if e.name == "BACKGROUND_JOB")
    tracker.add(TrackedCall("c0ffee00-0011-4000-8000-000000000001", 7, 3, None, "fs1", 0.0))
    tracker.bind_job("c0ffee00-0011-4000-8000-000000000001", job.get("Job-UUID"))
    events = tracker.handle("fs1", job, now=5.0)
    assert [(e.kind, e.cause) for e in events] == [(EventKind.HANGUP, "CHAN_NOT_IMPLEMENTED")]


def test_events_of_other_channels_are_ignored() -> None:
    tracker = _track("c0ffee00-9999-4000-8000-000000000001")
    assert _replay(tracker, "03_originate_answered") == []


def test_bridge_style_reports_the_agent() -> None:
    call_id = "c0ffee00-0008-4000-8000-000000000001"
    tracker = _track(call_id)
    tracker.calls[call_id].pending_agent_id = 44
    events = _replay(tracker, "08a_bridge_eavesdrop")
    bridged = [e for e in events if e.kind is EventKind.BRIDGED]
    assert len(bridged) == 1 and bridged[0].agent_id == 44
    assert events[-1].kind is EventKind.HANGUP and events[-1].agent_id == 44


def test_conference_style_reports_the_agent_from_the_conference_name() -> None:
    call_id = "c0ffee00-0007-4000-8000-000000000001"
    tracker = _track(call_id)
    events = []
    for event in _events("07_agent_conference"):
        if event.get("Conference-Name") == "agent_42":
            event.headers["Conference-Name"] = "agent-7-42"
        events.extend(tracker.handle("fs1", event, now=0.0))
    assert [e.kind for e in events] == [
        EventKind.ANSWERED,
        EventKind.HUMAN,
        EventKind.BRIDGED,
        EventKind.HANGUP,
    ]
    assert events[2].agent_id == 42 and events[2].data["member_id"] == "10"


def test_conference_of_another_tenant_does_not_bridge() -> None:
    call_id = "c0ffee00-0007-4000-8000-000000000001"
    tracker = _track(call_id)
    for event in _events("07_agent_conference"):
        if event.get("Conference-Name") == "agent_42":
            event.headers["Conference-Name"] = "agent-8-42"
        assert all(e.kind is not EventKind.BRIDGED for e in tracker.handle("fs1", event, now=0.0))


def test_states_are_reported_once() -> None:
    call_id = "c0ffee00-0003-4000-8000-000000000001"
    tracker = _track(call_id)
    call = tracker.calls[call_id]
    assert [e.kind for e in tracker.ring(call, 1.0, {})] == [EventKind.RINGING]
    assert tracker.ring(call, 1.0, {}) == []
    assert [e.kind for e in tracker.answer(call, 2.0, {})] == [EventKind.ANSWERED, EventKind.HUMAN]
    assert tracker.answer(call, 2.0, {}) == [] and tracker.ring(call, 3.0, {}) == []
    assert call.state is CallState.ANSWERED
    assert len(tracker.close(call_id, "X", 4.0)) == 1
    assert tracker.close(call_id, "X", 4.0) == []


def _custom(call_id: str, subclass: str, **headers: str) -> EslEvent:
    return EslEvent("CUSTOM", {"Event-Subclass": subclass, "Unique-ID": call_id, **headers})


def test_mod_amd_verdicts() -> None:
    call_id = "c0ffee00-0003-4000-8000-000000000001"
    tracker = _track(call_id, amd=True, detector=ModAmd())
    call = tracker.calls[call_id]
    assert [e.kind for e in tracker.answer(call, 1.0, {})] == [EventKind.ANSWERED]
    done = EslEvent(
        "CHANNEL_EXECUTE_COMPLETE",
        {
            "Unique-ID": call_id,
            "Application": "amd",
            "variable_amd_result": "MACHINE",
            "variable_amd_cause": "LONGGREETING",
        },
    )
    events = tracker.handle("fs1", done, now=2.0)
    assert [(e.kind, e.data["amd_cause"]) for e in events] == [(EventKind.MACHINE, "LONGGREETING")]
    assert tracker.handle("fs1", done, now=2.0) == []  # one verdict per call


@pytest.mark.parametrize(
    ("result", "kind"),
    [("HUMAN", EventKind.HUMAN), ("NOTSURE", EventKind.HUMAN), ("MACHINE", EventKind.MACHINE)],
)
def test_mod_amd_info_event(result: str, kind: EventKind) -> None:
    verdict = ModAmd().classify(_custom("u", "amd::info", variable_amd_result=result))
    assert verdict is not None and verdict.kind is kind


def test_mod_avmd_verdicts() -> None:
    detector = ModAvmd()
    beep = detector.classify(_custom("u", "avmd::beep", Frequency="1000"))
    assert beep is not None and beep.kind is EventKind.MACHINE
    silent = detector.classify(_custom("u", "avmd::stop", **{"Beep-Status": "NOTDETECTED"}))
    assert silent is not None and silent.kind is EventKind.HUMAN
    assert detector.classify(_custom("u", "conference::maintenance")) is None
    assert detector.answer_commands("c0ffee00-0003-4000-8000-000000000001") == [
        "avmd c0ffee00-0003-4000-8000-000000000001 start",
        "sched_api +10 none avmd c0ffee00-0003-4000-8000-000000000001 stop",
    ]
    # What a real FreeSWITCH 1.11.1 sends when the api stops the detector with no beep
    # heard: DETECTED (unset enum) beside an error Stop-status. It is a person.
    api_stop = detector.classify(
        _custom(
            "u",
            "avmd::stop",
            **{
                "Beep-Status": "DETECTED",
                "Stop-status": "ERROR (AVMD SESSION OBJECT NOT FOUND IN MEDIA BUG)",
            },
        )
    )
    assert api_stop is not None and api_stop.kind is EventKind.HUMAN
    # A stop from the media bug itself is read for its status.
    bug_stop = detector.classify(_custom("u", "avmd::stop", **{"Beep-Status": "DETECTED"}))
    assert bug_stop is not None and bug_stop.kind is EventKind.MACHINE
    assert (
        ModAvmd(max_wait_s=3)
        .answer_commands("c0ffee00-0003-4000-8000-000000000001")[1]
        .startswith("sched_api +3 ")
    )


def test_agent_conference_names() -> None:
    assert agent_conference_name(7, 42) == "agent-7-42"
    assert parse_agent_conference("agent-7-42@default") == (7, 42)
    assert parse_agent_conference("agent_42") is None


def test_conference_snapshot_from_json_list() -> None:
    from telephony.freeswitch.nodes import ConferenceDirectory

    body = next(f.body for f in recorded_frames("07_agent_conference") if (f.body or "").startswith("[{"))
    directory = ConferenceDirectory()
    directory.load_json_list("fs1", (body or "").replace("agent_42", "agent-7-42"))
    info = directory.get("agent-7-42")
    assert info is not None and info.node == "fs1"
    assert info.members == {
        "c0ffee00-0007-4000-8000-000000000001": "10",
        "a6e47000-0007-4000-8000-000000000042": "9",
    }
    directory.load_json_list("fs1", "-ERR No active conferences.\n")
    assert directory.get("agent-7-42") is None


def test_conference_events_during_a_snapshot_are_kept() -> None:
    from telephony.freeswitch.nodes import ConferenceDirectory

    directory = ConferenceDirectory()
    directory.member_added("fs1", "agent-7-1", "u-old", "1")
    mark = directory.mark()
    directory.member_added("fs1", "agent-7-2", "u-new", "2")  # arrives while json_list runs
    directory.destroyed("fs1", "agent-7-3")
    stale = '[{"conference_name": "agent-7-3", "members": [{"uuid": "u3", "id": 3}]}]'
    directory.load_json_list("fs1", stale, mark)
    assert directory.get("agent-7-1") is None  # gone since: the snapshot says so
    assert directory.get("agent-7-2") is not None  # newer than the snapshot
    assert directory.get("agent-7-3") is None  # destroyed after the snapshot was asked


def test_detector_stopped_by_the_hangup_gives_no_verdict() -> None:
    call_id = "c0ffee00-0003-4000-8000-000000000001"
    tracker = _track(call_id, amd=True, detector=ModAvmd())
    tracker.answer(tracker.calls[call_id], 1.0, {})
    tracker.handle(
        "fs1", EslEvent("CHANNEL_HANGUP", {"Unique-ID": call_id, "Hangup-Cause": "NORMAL_CLEARING"}), 2.0
    )
    stop = _custom(call_id, "avmd::stop", **{"Beep-Status": "NOTDETECTED"})
    assert tracker.handle("fs1", stop, now=2.1) == []
