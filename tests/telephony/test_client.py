"""The gevent ESL client over real TCP against the scripted server."""

from __future__ import annotations

import logging

import gevent
import pytest

from telephony.freeswitch.client import (
    EslAuthError,
    EslClient,
    EslConnection,
    EslDisconnected,
    EslNotSent,
    EslTimeout,
    backoff_delay,
)
from telephony.freeswitch.protocol import EslEvent
from tests.telephony.eslserver import SessionScript, Step, api_response, json_event, load_sessions


def _connection(port: int, password: str = "ClueCon", events: list[EslEvent] | None = None) -> EslConnection:
    received = events if events is not None else []
    return EslConnection(
        "127.0.0.1", port, password, on_event=received.append, on_close=lambda c, r: None, timeout=2.0
    )


def test_connect_auth_api_and_exit(esl_server) -> None:
    server = esl_server(load_sessions("01_connect_auth"))
    connection = _connection(server.port)
    connection.connect()
    assert connection.api("status").startswith("UP 0 years")
    assert connection.api("show channels as json") == '{"row_count": 0}\n'
    with gevent.Timeout(3):
        connection.close()
        connection.join()
    assert not connection.connected
    assert server.received == ["auth ClueCon", "api status", "api show channels as json", "exit"]


def test_bad_password_is_refused(esl_server) -> None:
    server = esl_server(load_sessions("02_bad_auth"))
    with pytest.raises(EslAuthError):
        _connection(server.port, password="wrong").connect()


def test_error_replies_are_returned_as_text(esl_server) -> None:
    server = esl_server(load_sessions("11_errors"))
    connection = _connection(server.port)
    connection.connect()
    assert connection.api("no_such_command") == "-ERR no_such_command Command not found!\n"
    assert connection.api("uuid_kill 00000000-0000-4000-8000-000000000000") == "-ERR No such channel!\n"
    connection.close()


def test_bare_eof_fails_the_command_in_flight(esl_server) -> None:
    # A command FreeSWITCH never answers (it crashed): the caller must not hang.
    stuck = SessionScript(
        steps=[
            Step("auth ClueCon", [b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"]),
            Step("api status", []),
        ]
    )
    server = esl_server([stuck])
    connection = _connection(server.port)
    connection.connect()
    gevent.spawn_later(0.1, server.drop)
    with gevent.Timeout(3), pytest.raises(EslDisconnected):
        connection.api("status", timeout=10)
    with pytest.raises(EslNotSent):
        connection.api("status")


def test_malformed_event_is_logged_and_skipped(esl_server, caplog: pytest.LogCaptureFixture) -> None:
    server = esl_server([SessionScript()])
    events: list[EslEvent] = []
    connection = _connection(server.port, events=events)
    connection.connect()
    bad = b"Content-Length: 9\nContent-Type: text/event-json\n\n{not json"
    good = json_event({"Event-Name": "HEARTBEAT"})
    with caplog.at_level(logging.WARNING, logger="telephony.freeswitch.client"):
        server.push(bad + good)
        with gevent.Timeout(3):
            while not events:
                gevent.sleep(0.01)
    assert [e.name for e in events] == ["HEARTBEAT"]
    assert "malformed event ignored" in caplog.text
    assert connection.api("uuid_exists 00000000-0000-4000-8000-000000000000") == "false"
    connection.close()


def test_handlers_by_name_and_reconnect_with_backoff(esl_server) -> None:
    first = SessionScript(
        steps=[Step("auth ClueCon", [b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"])]
    )
    server = esl_server([first])
    seen: list[str] = []
    sessions: list[int] = []
    drops: list[str] = []
    client = EslClient(
        "127.0.0.1",
        server.port,
        "ClueCon",
        events=["CHANNEL_ANSWER", "CUSTOM", "conference::maintenance"],
        on_connected=lambda c: sessions.append(c.connections_made),
        on_disconnected=lambda c, reason: drops.append(reason),
        backoff_initial=0.05,
        backoff_max=0.2,
        connect_timeout=1.0,
    )
    client.on("CHANNEL_ANSWER", lambda e: seen.append(e.name))
    client.on("conference::maintenance", lambda e: seen.append(e.get("Action")))
    client.start()
    try:
        assert client.wait_connected(3)
        server.wait_for("event json HEARTBEAT CHANNEL_ANSWER CUSTOM conference::maintenance")
        server.push(
            json_event({"Event-Name": "CHANNEL_ANSWER"})
            + json_event(
                {"Event-Name": "CUSTOM", "Event-Subclass": "conference::maintenance", "Action": "add-member"}
            )
            + json_event({"Event-Name": "HEARTBEAT"})
        )
        with gevent.Timeout(3):
            while len(seen) < 2:
                gevent.sleep(0.01)
        assert seen == ["CHANNEL_ANSWER", "add-member"]
        server.drop()
        with gevent.Timeout(3):
            while len(sessions) < 2:
                gevent.sleep(0.01)
        assert drops == ["EOF from FreeSWITCH"]
        assert client.connected and server.connections == 2
    finally:
        with gevent.Timeout(5):
            client.stop()
    assert server.received[-1] == "exit"


def test_refused_logins_are_retried_with_growing_delays(esl_server) -> None:
    server = esl_server([])
    server.accepting = False
    client = EslClient(
        "127.0.0.1",
        server.port,
        "ClueCon",
        events=["CHANNEL_ANSWER"],
        backoff_initial=0.02,
        backoff_max=0.08,
        connect_timeout=0.5,
    )
    client.start()
    with gevent.Timeout(3):
        while server.connections < 3:
            gevent.sleep(0.01)
    assert not client.connected
    server.accepting = True
    assert client.wait_connected(2)
    with gevent.Timeout(5):
        client.stop()


def test_backoff_delay_doubles_up_to_the_cap() -> None:
    assert [backoff_delay(n, 0.5, 30.0) for n in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_api_response_framing_helper_matches_freeswitch() -> None:
    assert api_response("true") == b"Content-Type: api/response\nContent-Length: 4\n\ntrue"


def test_reconnect_on_request(esl_server) -> None:
    server = esl_server([SessionScript(), SessionScript()])
    reconnected: list[int] = []
    client = EslClient(
        "127.0.0.1",
        server.port,
        "ClueCon",
        events=["CHANNEL_ANSWER"],
        on_connected=lambda c: reconnected.append(c.connections_made),
        backoff_initial=0.02,
    )
    client.start()
    try:
        assert client.wait_connected(3)
        client.reconnect()
        with gevent.Timeout(3):
            while reconnected != [1, 2] or not client.connected:
                gevent.sleep(0.01)
        assert client.api("uuid_exists 00000000-0000-4000-8000-000000000000") == "false"
    finally:
        with gevent.Timeout(5):
            client.stop()


def test_why_not_greenswitch_a_bare_eof_leaves_its_command_waiting(esl_server) -> None:
    """The reason client.py does not use greenswitch.InboundESL, shown on the wire."""
    import greenswitch

    stuck = SessionScript(
        steps=[
            Step("auth ClueCon", [b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"]),
            Step("api status", []),
        ]
    )
    server = esl_server([stuck])
    legacy = greenswitch.InboundESL("127.0.0.1", server.port, "ClueCon", timeout=2)
    legacy.connect()
    waiting = gevent.spawn(legacy.send, "api status")
    server.wait_for("api status")
    server.drop()
    waiting.join(timeout=0.5)
    assert not waiting.ready()  # still blocked: nobody ever resolves it
    waiting.kill(block=False)
    for greenlet in (legacy._receive_events_greenlet, legacy._process_events_greenlet):
        greenlet.kill(block=False)
    legacy.sock_file.close()
    legacy.sock.close()


def test_a_command_without_reply_drops_the_session(esl_server) -> None:
    stuck = SessionScript(steps=[Step("api status", [])])
    server = esl_server([stuck])
    connection = _connection(server.port)
    connection.connect()
    with gevent.Timeout(3), pytest.raises(EslTimeout):
        connection.api("status", timeout=0.2)
    assert not connection.connected  # replies are ordered: the stream cannot be trusted


def test_silence_beyond_the_idle_timeout_means_a_hung_node(esl_server) -> None:
    server = esl_server([SessionScript(), SessionScript()])
    reasons: list[str] = []
    client = EslClient(
        "127.0.0.1",
        server.port,
        "ClueCon",
        events=["CHANNEL_ANSWER"],
        on_disconnected=lambda c, reason: reasons.append(reason),
        idle_timeout=0.3,
        backoff_initial=0.02,
    )
    client.start()
    try:
        with gevent.Timeout(3):
            while client.connections_made < 2:
                gevent.sleep(0.01)
        assert reasons[0] == "no data from FreeSWITCH for 0.3s"
        assert server.commands("event json") == ["event json HEARTBEAT CHANNEL_ANSWER"] * 2
    finally:
        with gevent.Timeout(5):
            client.stop()
