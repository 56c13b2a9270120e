"""ESL framing and event decoding against byte-exact FreeSWITCH 1.11.1 recordings."""

from __future__ import annotations

import json

import pytest

from telephony.freeswitch import protocol
from telephony.freeswitch.protocol import (
    EVENT_CONTENT_TYPES,
    Frame,
    FrameParser,
    MalformedEvent,
    ProtocolError,
    parse_channel_dump,
    parse_event,
    parse_job_result,
    parse_json_rows,
)
from tests.telephony.conftest import DATA, recorded_frames

CHUNKED = [
    "03_originate_answered",
    "04_originate_busy",
    "07_agent_conference",
    "08b_conference_monitor",
    "09_reconnect_reconcile",
    "11_errors",
]


def _chunks(name: str) -> dict[int, list[bytes]]:
    per_conn: dict[int, list[bytes]] = {}
    for line in (DATA / f"{name}.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["dir"] == "in":
            per_conn.setdefault(record["conn"], []).append(record["data"].encode())
    return per_conn


@pytest.mark.parametrize("name", CHUNKED)
def test_real_chunks_reframe_exactly_like_the_index(name: str) -> None:
    for conn, chunks in _chunks(name).items():
        parser = FrameParser()
        frames = [f for chunk in chunks for f in parser.feed(chunk)]
        assert frames == recorded_frames(name, conn)
        assert parser.buffered == 0


def test_byte_at_a_time_feeding_gives_the_same_frames() -> None:
    data = b"".join(_chunks("03_originate_answered")[1])
    parser = FrameParser()
    frames = [f for i in range(len(data)) for f in parser.feed(data[i : i + 1])]
    assert frames == recorded_frames("03_originate_answered")


def test_envelopes_seen_in_the_recordings() -> None:
    frames = recorded_frames("01_connect_auth")
    assert [f.content_type for f in frames] == [
        "auth/request",
        "command/reply",
        "api/response",
        "api/response",
        "api/response",
        "command/reply",
        "text/disconnect-notice",
    ]
    assert frames[0].body is None
    assert frames[1].reply_text == "+OK accepted"
    assert frames[4].body == '{"row_count": 0}\n'
    assert frames[6].body == "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def test_plain_event_values_are_percent_decoded_per_header() -> None:
    create = next(
        parse_event(f) for f in recorded_frames("04_originate_busy") if f.content_type == "text/event-plain"
    )
    assert create.name == "CHANNEL_CREATE"
    assert create.get("FreeSWITCH-IPv6") == "fd00::2"
    assert create.get("Event-Date-Local") == "2026-11-26 17:43:31"
    assert create.get("Channel-Name") == "sofia/external/0601020304@127.0.0.1:5080"
    assert create.get("Caller-Callee-ID-Name") == "Outbound Call"
    assert create.unique_id == "c0ffee00-0004-4000-8000-000000000001"
    assert create.timestamp == pytest.approx(1795715011.628864)


def test_encoded_line_feeds_stay_inside_their_value() -> None:
    events = [
        parse_event(f) for f in recorded_frames("10_vars_sendmsg") if f.content_type == "text/event-plain"
    ]
    with_sdp = next(e for e in events if e.variable("switch_r_sdp"))
    sdp = with_sdp.variable("switch_r_sdp") or ""
    assert sdp.startswith("v=0\r\no=sipp ")
    assert "m=audio 6000 RTP/AVP 0 101\r\n" in sdp
    # The header after the SDP still parses as its own header.
    assert with_sdp.unique_id == "c0ffee00-0010-4000-8000-000000000001"


def test_plain_background_job_has_its_own_body() -> None:
    job = next(
        e
        for e in (
            parse_event(f)
            for f in recorded_frames("04_originate_busy")
            if f.content_type in EVENT_CONTENT_TYPES
        )
        if e.name == "BACKGROUND_JOB"
    )
    assert job.body == "-ERR USER_BUSY\n"
    assert job.get("Job-UUID") == "592b929f-4259-4ca6-b345-8bda6aa4bb5a"
    assert "origination_uuid=c0ffee00-0004-4000-8000-000000000001" in job.get("Job-Command-Arg")
    assert parse_job_result(job.body) == (False, "USER_BUSY")


def test_json_events_and_their_body() -> None:
    events = [
        parse_event(f)
        for f in recorded_frames("03_originate_answered")
        if f.content_type == "text/event-json"
    ]
    assert [e.name for e in events][:6] == [
        "CHANNEL_CREATE",
        "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA",
        "CHANNEL_ANSWER",
        "BACKGROUND_JOB",
        "CHANNEL_PARK",
    ]
    assert parse_job_result(events[4].body) == (True, "c0ffee00-0003-4000-8000-000000000001")
    complete = next(e for e in events if e.name == "CHANNEL_HANGUP_COMPLETE")
    assert complete.variable("billsec") == "7"
    assert complete.variable("rtp_audio_in_mos") == "4.50"


def test_custom_events_are_keyed_by_subclass() -> None:
    events = [
        parse_event(f) for f in recorded_frames("07_agent_conference") if f.content_type == "text/event-json"
    ]
    custom = [e for e in events if e.name == "CUSTOM"]
    assert custom and {e.key for e in custom} == {"conference::maintenance"}
    assert any(e.get("Action") == "add-member" and e.get("Member-ID") == "9" for e in custom)


def test_show_channels_rows_and_the_empty_answer() -> None:
    assert parse_json_rows('{"row_count": 0}\n') == []
    bodies = [
        f.body or ""
        for f in recorded_frames("09_reconnect_reconcile")
        if (f.body or "").startswith('{"row_count')
    ]
    early, active = parse_json_rows(bodies[0])[0], parse_json_rows(bodies[1])[0]
    assert early["uuid"] == active["uuid"] == "c0ffee00-0009-4000-8000-000000000001"
    assert (early["callstate"], active["callstate"]) == ("EARLY", "ACTIVE")
    # The caller id swap the README warns about: never identify a call by cid_num.
    assert (early["cid_num"], active["cid_num"]) == ("0162000000", "0601020304")
    assert "crm_call_id" not in early and early["accountcode"] == ""


def test_channel_dump_holds_the_custom_variables() -> None:
    dump = next(
        f.body
        for f in recorded_frames("09_reconnect_reconcile")
        if (f.body or "").startswith('{"Event-Name":"CHANNEL_DATA"')
    )
    variables = parse_channel_dump(dump or "")
    assert variables["variable_crm_call_id"] == "1011"
    assert variables["variable_crm_tenant_id"] == "7"
    with pytest.raises(MalformedEvent):
        parse_channel_dump("-ERR No such channel!\n")


def test_malformed_events_raise_malformed_event() -> None:
    with pytest.raises(MalformedEvent):
        parse_event(Frame({"Content-Type": "text/event-json", "Content-Length": "9"}, "{not json"))
    with pytest.raises(MalformedEvent):
        parse_event(Frame({"Content-Type": "text/event-json", "Content-Length": "2"}, "[]"))
    with pytest.raises(MalformedEvent):
        parse_event(Frame({"Content-Type": "text/event-plain", "Content-Length": "12"}, "Foo: bar\n\n"))
    with pytest.raises(MalformedEvent):
        parse_event(Frame({"Content-Type": "text/event-plain", "Content-Length": "10"}, "no colon\n\n"))


def test_unframable_streams_raise_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        FrameParser().feed(b"Content-Type: api/response\nContent-Length: ten\n\n")
    with pytest.raises(ProtocolError):
        FrameParser().feed(b"X" * (protocol.MAX_HEADER_BYTES + 1))


def test_encode_command() -> None:
    assert protocol.encode_command("api status") == b"api status\n\n"
    assert protocol.encode_command("bgapi status", {"Job-UUID": "j1"}) == b"bgapi status\nJob-UUID: j1\n\n"
    with pytest.raises(ValueError):
        protocol.encode_command("api status\n\nexit")


def test_error_replies_recorded_in_11() -> None:
    bodies = [f.body or f.reply_text for f in recorded_frames("11_errors")]
    assert "-ERR no_such_command Command not found!\n" in bodies
    assert not protocol.reply_ok("-ERR No such channel!\n")
    assert protocol.reply_ok("+OK Success\n")
    assert protocol.error_text("-ERR INVALID_PROFILE\n") == "INVALID_PROFILE"
