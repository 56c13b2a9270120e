"""Fixtures for the FreeSWITCH adapter tests: recorded frames and a scripted ESL server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import gevent
import gevent.event
import pytest

from telephony.callcontrol import CallEvent, EventKind
from telephony.freeswitch.backend import FreeSwitchCallControl
from telephony.freeswitch.nodes import FreeSwitchNode
from telephony.freeswitch.protocol import Frame
from tests.telephony.eslserver import ScriptedEslServer, SessionScript

DATA = Path(__file__).parent / "data"


def recorded_frames(name: str, conn: int | None = None) -> list[Frame]:
    """The messages FreeSWITCH sent in a recorded session, as the index frames them."""
    items = json.loads((DATA / f"{name}.index.json").read_text())["items"]
    return [
        Frame(headers=item["headers"], body=item["body"])
        for item in items
        if item["dir"] == "in" and (conn is None or item["conn"] == conn)
    ]


class EventSink:
    """Collects CallEvents and lets a test wait for one without sleeping blindly."""

    def __init__(self) -> None:
        self.events: list[CallEvent] = []
        self._changed = gevent.event.Event()

    def __call__(self, event: CallEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def kinds(self, call_id: str | None = None) -> list[EventKind]:
        return [e.kind for e in self.events if call_id is None or e.call_id == call_id]

    def of(self, kind: EventKind, call_id: str | None = None) -> list[CallEvent]:
        return [e for e in self.events if e.kind is kind and (call_id is None or e.call_id == call_id)]

    def wait_for(self, kind: EventKind, call_id: str | None = None, timeout: float = 5.0) -> CallEvent:
        with gevent.Timeout(timeout, AssertionError(f"no {kind} for {call_id}; got {self.events}")):
            while not self.of(kind, call_id):
                self._changed.clear()
                self._changed.wait()
        return self.of(kind, call_id)[0]


@pytest.fixture
def sink() -> EventSink:
    return EventSink()


@pytest.fixture
def start_control(sink: EventSink) -> Iterator[Callable[..., FreeSwitchCallControl]]:
    """Start a call control on the given nodes with the test's event sink and short
    reconnect delays (options override them); every one is stopped when the test ends."""
    made: list[FreeSwitchCallControl] = []

    def start(nodes: list[FreeSwitchNode], **options: object) -> FreeSwitchCallControl:
        settings = {"backoff_initial": 0.05, "backoff_max": 0.2, "connect_timeout": 1.0, **options}
        control = FreeSwitchCallControl(nodes, sink, **settings)  # type: ignore[arg-type]
        made.append(control)
        assert control.start(wait_s=3)
        return control

    yield start
    for control in made:
        with gevent.Timeout(5):
            control.stop()


@pytest.fixture
def esl_server() -> Iterator[Callable[[list[SessionScript]], ScriptedEslServer]]:
    servers: list[ScriptedEslServer] = []

    def start(sessions: list[SessionScript]) -> ScriptedEslServer:
        server = ScriptedEslServer(sessions).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
