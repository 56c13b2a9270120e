"""A scripted ESL server for tests: it replays recorded FreeSWITCH sessions.

The recordings (``data/*.index.json``, copied from ``/work/shared/fixtures/esl``)
hold, per TCP connection, what the client sent and every framed message the server
sent after it. The server plays the *server side*: on each command it receives, it
answers with the messages recorded after the first not-yet-used recorded command of
the same kind (``api uuid_kill``, ``api conference … relate``, ``bgapi originate`` …),
so a client that sends the same operations gets the same replies and events, even if
its arguments or order differ a little. Commands that were not recorded get the answer
an idle FreeSWITCH gives (no channels, no conferences, ``uuid_exists`` false).

It listens on 127.0.0.1 over real TCP, closes the socket after ``exit`` (as
FreeSWITCH does; otherwise a client waiting for EOF would hang), refuses bad
passwords the way fixture 02 shows, and can drop a connection with a bare EOF.
"""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gevent
import gevent.event
import gevent.server

log = logging.getLogger(__name__)

DATA = Path(__file__).parent / "data"
DISCONNECT_BODY = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def frame(headers: dict[str, str], body: str | None = None) -> bytes:
    """Frame one message as FreeSWITCH does (Content-Length counts bytes)."""
    fields = dict(headers)
    raw_body = body.encode() if body is not None else b""
    if body is not None:
        fields["Content-Length"] = str(len(raw_body))
    head = "".join(f"{name}: {value}\n" for name, value in fields.items())
    return head.encode() + b"\n" + raw_body


def command_reply(text: str, **extra: str) -> bytes:
    return frame({"Content-Type": "command/reply", "Reply-Text": text, **extra})


def api_response(body: str) -> bytes:
    return frame({"Content-Type": "api/response"}, body)


def json_event(fields: dict[str, str], body: str | None = None) -> bytes:
    data = dict(fields)
    if body is not None:
        data["Content-Length"] = str(len(body.encode()))
        data["_body"] = body
    raw = json.dumps(data, separators=(",", ":"))
    # Recorded order for events: Content-Length first, then Content-Type.
    return f"Content-Length: {len(raw.encode())}\nContent-Type: text/event-json\n\n".encode() + raw.encode()


def disconnect_notice() -> bytes:
    return frame({"Content-Type": "text/disconnect-notice"}, DISCONNECT_BODY)


def command_key(command: str) -> tuple[str, ...]:
    """What makes two commands "the same kind" for replay matching."""
    words = command.split("\n", 1)[0].split()
    if not words:
        return ("",)
    if words[0] not in ("api", "bgapi") or len(words) < 2:
        return (words[0],)
    verb = words[1]
    if verb == "show":
        return (words[0], verb, *words[2:])
    if verb == "conference":
        action = words[3] if len(words) > 3 else (words[2] if len(words) > 2 else "")
        return (words[0], verb, action)
    if verb == "uuid_record" and len(words) > 3:
        return (words[0], verb, words[3])
    return (words[0], verb)


@dataclass
class Step:
    command: str
    replies: list[bytes]
    used: bool = False

    @property
    def key(self) -> tuple[str, ...]:
        return command_key(self.command)


@dataclass
class SessionScript:
    """The server side of one recorded (or hand-written) connection."""

    greeting: list[bytes] = field(default_factory=lambda: [frame({"Content-Type": "auth/request"})])
    steps: list[Step] = field(default_factory=list)

    def take(self, command: str) -> Step | None:
        key = command_key(command)
        for step in self.steps:
            if not step.used and step.key == key:
                step.used = True
                return step
        return None


def _reframe(item: dict, rewrite: Callable[[str], str] | None) -> bytes:
    headers: dict[str, str] = dict(item["headers"])
    body: str | None = item["body"]
    if body is not None and rewrite is not None:
        body = rewrite(body)
    if body is None:
        return "".join(f"{k}: {v}\n" for k, v in headers.items()).encode() + b"\n"
    raw = body.encode()
    headers["Content-Length"] = str(len(raw))
    return "".join(f"{k}: {v}\n" for k, v in headers.items()).encode() + b"\n" + raw


def load_sessions(name: str, rewrite: Callable[[str], str] | None = None) -> list[SessionScript]:
    """One SessionScript per recorded connection of ``data/<name>.index.json``.

    ``rewrite`` edits message bodies (Content-Length is recomputed), e.g. to rename
    the recorded conference ``agent_42`` to the application's ``agent-7-42``.
    """
    items = json.loads((DATA / f"{name}.index.json").read_text())["items"]
    sessions: dict[int, SessionScript] = {}
    for item in items:
        script = sessions.setdefault(item["conn"], SessionScript(greeting=[]))
        if item["dir"] == "out":
            script.steps.append(Step(command=item["data"].rstrip("\n"), replies=[]))
        elif item["dir"] == "in":
            target = script.steps[-1].replies if script.steps else script.greeting
            target.append(_reframe(item, rewrite))
    return [sessions[conn] for conn in sorted(sessions)]


def idle_reply(command: str) -> list[bytes]:
    """What an idle FreeSWITCH 1.11.1 answers (texts from the recordings)."""
    words = command.split("\n", 1)[0].split()
    verb = words[0] if words else ""
    if verb == "event":
        return [command_reply(f"+OK event listener enabled {words[1] if len(words) > 1 else 'plain'}")]
    if verb == "bgapi":
        job = _header(command, "Job-UUID") or str(uuid.uuid4())
        return [command_reply(f"+OK Job-UUID: {job}", **{"Job-UUID": job})]
    if verb == "sendmsg":
        return [command_reply("+OK")]
    if verb != "api":
        return [command_reply("-ERR command not found")]
    rest = words[1:]
    if rest[:3] == ["show", "channels", "as"] or rest[:3] == ["show", "calls", "as"]:
        return [api_response('{"row_count": 0}\n')]
    if rest[:1] == ["uuid_exists"]:
        return [api_response("false")]
    if rest[:1] == ["conference"]:
        return [api_response("-ERR No active conferences.\n")]
    if rest and rest[0].startswith("uuid_"):
        return [api_response("-ERR No such channel!\n")]
    return [api_response(f"-ERR {rest[0] if rest else ''} Command not found!\n")]


def _header(command: str, name: str) -> str | None:
    for line in command.split("\n")[1:]:
        key, _, value = line.partition(": ")
        if key == name:
            return value
    return None


class ScriptedEslServer:
    """Replays SessionScripts, one per accepted connection, then idle sessions."""

    def __init__(self, sessions: list[SessionScript] | None = None, *, password: str = "ClueCon") -> None:
        self.sessions = list(sessions or [])
        self.password = password
        self.received: list[str] = []
        self.connections = 0
        self.accepting = True
        self._server = gevent.server.StreamServer(("127.0.0.1", 0), self._handle)
        self._sockets: list[socket.socket] = []
        self._command_seen = gevent.event.Event()

    @property
    def port(self) -> int:
        return self._server.server_port

    def start(self) -> ScriptedEslServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self.drop()
        self._server.stop(timeout=1)

    def drop(self) -> None:
        """Close every client connection at once: the client sees a bare EOF."""
        for sock in list(self._sockets):
            _close_quietly(sock)
        self._sockets.clear()

    def push(self, data: bytes) -> None:
        """Send raw bytes (events, garbage) to every connected client now."""
        for sock in list(self._sockets):
            sock.sendall(data)

    def commands(self, prefix: str = "") -> list[str]:
        return [c for c in self.received if c.startswith(prefix)]

    def wait_for(self, prefix: str, timeout: float = 5.0, count: int = 1) -> list[str]:
        with gevent.Timeout(timeout, AssertionError(f"no {prefix!r} command; got {self.received}")):
            while len(self.commands(prefix)) < count:
                self._command_seen.clear()
                self._command_seen.wait()
        return self.commands(prefix)

    def _handle(self, sock: socket.socket, address: tuple[str, int]) -> None:
        self.connections += 1
        if not self.accepting:
            _close_quietly(sock)
            return
        script = self.sessions.pop(0) if self.sessions else SessionScript()
        self._sockets.append(sock)
        try:
            sock.sendall(b"".join(script.greeting))
            self._serve(sock, script)
        except OSError:
            pass
        finally:
            if sock in self._sockets:
                self._sockets.remove(sock)
            _close_quietly(sock)

    def _serve(self, sock: socket.socket, script: SessionScript) -> None:
        buffer = b""
        authed = False
        while True:
            while b"\n\n" not in buffer:
                data = sock.recv(65536)
                if not data:
                    return
                buffer += data
            raw, buffer = buffer.split(b"\n\n", 1)
            command = raw.decode().lstrip("\n")
            self.received.append(command)
            self._command_seen.set()
            if command.startswith("auth "):
                if command[5:] != self.password:
                    sock.sendall(command_reply("-ERR invalid") + disconnect_notice())
                    return
                authed = True
            step = script.take(command) if authed or command.startswith("auth ") else None
            replies = step.replies if step is not None else self._unscripted(command, authed)
            sock.sendall(b"".join(replies))
            if command == "exit":
                return  # FreeSWITCH closes the socket after its goodbye

    @staticmethod
    def _unscripted(command: str, authed: bool) -> list[bytes]:
        if command == "exit":
            return [command_reply("+OK bye"), disconnect_notice()]
        if command.startswith("auth "):
            return [command_reply("+OK accepted")]
        if not authed:
            return [command_reply("-ERR command not found")]
        return idle_reply(command)


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
