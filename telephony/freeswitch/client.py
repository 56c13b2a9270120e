"""A small gevent inbound ESL client with handlers by event name and reconnection.

Why not ``greenswitch.InboundESL`` (0.0.19, read before writing this):

- A bare EOF (FreeSWITCH crashed, fixture README surprise 8) stops its reader but never
  resolves the ``AsyncResult`` of a command in flight, so ``send()`` blocks forever,
  and no handler is told about the drop: reconnect-and-reconcile cannot be built on it.
- It percent-decodes the whole plain event before splitting it into lines, then glues
  the pieces of multi-line values back with a heuristic: the CRLFs of SDP variables
  come back as bare LFs (checked on fixture 10), and a decoded value line holding
  ``": "`` would be taken for a header of its own.
- It has no ``text/event-json`` decoding: a JSON body goes through the plain header
  parser and comes out without an ``Event-Name``, so no handler ever sees it.
- It writes commands with ``socket.send`` (a partial write truncates a long command)
  after queueing the reply slot, with nothing keeping concurrent senders in order.

This client keeps greenswitch's model (one reader greenlet, one event worker greenlet,
handlers registered by event name, CUSTOM events keyed by subclass) and fixes those.
"""

from __future__ import annotations

import logging
import socket as stdlib_socket
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Literal

import gevent
import gevent.event
import gevent.lock
import gevent.queue
import gevent.socket

from telephony.freeswitch import protocol
from telephony.freeswitch.protocol import EslEvent, Frame

log = logging.getLogger(__name__)

EventHandler = Callable[[EslEvent], None]
EventFormat = Literal["json", "plain"]
_RECV_SIZE = 65536


class EslError(Exception):
    """Base class of ESL client errors."""


class EslDisconnected(EslError, ConnectionError):
    """The ESL socket is closed (EOF, reset, or never opened)."""


class EslNotSent(EslDisconnected):
    """The command was not written: the session was already closed."""


class EslAuthError(EslError):
    """FreeSWITCH refused the password."""


class EslTimeout(EslError, TimeoutError):
    """No reply to a command within the timeout."""


class EslCommandError(EslError):
    """A command was answered with ``-ERR``."""


class _Closed:
    """Queue sentinel: the reader has stopped; the worker reports the drop after it."""


class EslConnection:
    """One authenticated TCP session with FreeSWITCH's event socket."""

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        on_event: EventHandler,
        on_close: Callable[[EslConnection, str], None],
        timeout: float = 5.0,
        command_timeout: float = 10.0,
        idle_timeout: float | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._password = password
        self._on_event = on_event
        self._on_close = on_close
        self.timeout = timeout
        self.command_timeout = command_timeout
        # With HEARTBEAT subscribed, FreeSWITCH speaks every 20 s: silence longer than
        # this means a hung node behind a live TCP connection.
        self.idle_timeout = idle_timeout
        self._sock: gevent.socket.socket | None = None
        self._parser = protocol.FrameParser()
        self._pending: deque[gevent.event.AsyncResult] = deque()
        self._write_lock = gevent.lock.Semaphore()
        self._greeting = gevent.event.AsyncResult()
        self._events: gevent.queue.Queue = gevent.queue.Queue()
        self._closed = gevent.event.Event()
        self._close_reason = ""
        self._greenlets: list[gevent.Greenlet] = []

    @property
    def connected(self) -> bool:
        return self._sock is not None and not self._closed.is_set()

    def connect(self) -> None:
        """Open the socket, wait for the greeting and authenticate."""
        self._sock = gevent.socket.create_connection((self.host, self.port), timeout=self.timeout)
        self._sock.settimeout(self.idle_timeout)
        self._sock.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY, 1)
        self._greenlets = [gevent.spawn(self._read_loop), gevent.spawn(self._event_loop)]
        try:
            greeting = self._greeting.get(timeout=self.timeout)
        except gevent.Timeout as exc:
            self.abort("no auth/request greeting")
            raise EslTimeout("no auth/request greeting from FreeSWITCH") from exc
        if isinstance(greeting, BaseException):
            raise EslDisconnected(str(greeting))
        reply = self.send(f"auth {self._password}", timeout=self.timeout)
        if not protocol.reply_ok(reply.reply_text):
            self.abort("authentication refused")
            raise EslAuthError(reply.reply_text or "authentication refused")

    def send(
        self, command: str, headers: Mapping[str, str] | None = None, *, timeout: float | None = None
    ) -> Frame:
        """Send one command and wait for its ``command/reply`` or ``api/response``."""
        if not self.connected or self._sock is None:
            raise EslNotSent(self._close_reason or "not connected")
        result = gevent.event.AsyncResult()
        data = protocol.encode_command(command, headers)
        with self._write_lock:
            # Append and write under one lock: replies come back in write order.
            self._pending.append(result)
            try:
                self._sock.sendall(data)
            except OSError as exc:
                self.abort(f"send failed: {exc}")
                raise EslDisconnected(str(exc)) from exc
        wait = timeout if timeout is not None else self.command_timeout
        try:
            outcome = result.get(timeout=wait)
        except gevent.Timeout as exc:
            # Replies come strictly in order: one that never comes means a stuck
            # node; drop the session so the client reconnects and reconciles.
            what = " ".join(command.split(" ", 2)[:2])
            self.abort(f"no reply to {what} within {wait}s")
            raise EslTimeout(f"no reply to {what} within {wait}s") from exc
        if isinstance(outcome, BaseException):
            raise EslDisconnected(str(outcome))
        return outcome

    def api(self, command: str, *, timeout: float | None = None) -> str:
        """Run ``api <command>`` and return the response body as text."""
        frame = self.send(f"api {command}", timeout=timeout)
        return frame.body or ""

    def bgapi(self, command: str, job_uuid: str | None = None) -> str:
        """Run ``bgapi <command>``; return the Job-UUID whose BACKGROUND_JOB will report."""
        headers = {"Job-UUID": job_uuid} if job_uuid else None
        frame = self.send(f"bgapi {command}", headers)
        if not protocol.reply_ok(frame.reply_text):
            raise EslCommandError(frame.reply_text)
        return frame.headers.get("Job-UUID") or job_uuid or ""

    def subscribe(self, events: Iterable[str], fmt: EventFormat = "json") -> None:
        """Subscribe to event names (``CUSTOM sub::class`` for custom events)."""
        reply = self.send(f"event {fmt} {' '.join(events)}")
        if not protocol.reply_ok(reply.reply_text):
            raise EslCommandError(reply.reply_text)

    def close(self) -> None:
        """Say ``exit`` politely (bounded wait), then close the socket."""
        if self.connected:
            try:
                self.send("exit", timeout=min(self.timeout, 2.0))
            except EslError:
                pass
        self.abort("closed by client")

    def abort(self, reason: str) -> None:
        """Close the socket at once; pending commands fail with EslDisconnected."""
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._mark_closed(reason)

    def wait_closed(self, timeout: float | None = None) -> bool:
        return self._closed.wait(timeout)

    def join(self, timeout: float = 5.0) -> None:
        gevent.joinall(self._greenlets, timeout=timeout)

    def _mark_closed(self, reason: str) -> None:
        if self._closed.is_set():
            return
        self._close_reason = reason
        self._closed.set()
        error = EslDisconnected(reason)
        if not self._greeting.ready():
            self._greeting.set(error)
        while self._pending:
            self._pending.popleft().set(error)
        self._events.put(_Closed())

    def _read_loop(self) -> None:
        sock = self._sock
        assert sock is not None
        reason = "EOF from FreeSWITCH"
        try:
            while True:
                data = sock.recv(_RECV_SIZE)
                if not data:
                    break
                for frame in self._parser.feed(data):
                    self._dispatch_frame(frame)
        except protocol.ProtocolError as exc:
            reason = f"protocol error: {exc}"
            log.error("ESL %s:%s %s; dropping the connection", self.host, self.port, reason)
        except TimeoutError:
            reason = f"no data from FreeSWITCH for {self.idle_timeout}s"
        except OSError as exc:
            reason = f"socket error: {exc}"
        finally:
            try:
                sock.close()
            except OSError:
                pass
            self._mark_closed(self._close_reason or reason)

    def _dispatch_frame(self, frame: Frame) -> None:
        content_type = frame.content_type
        if content_type == protocol.AUTH_REQUEST:
            if not self._greeting.ready():
                self._greeting.set(frame)
        elif content_type in (protocol.COMMAND_REPLY, protocol.API_RESPONSE):
            if self._pending:
                self._pending.popleft().set(frame)
            else:
                log.warning("ESL reply with no command waiting: %r", frame.reply_text or frame.body)
        elif content_type in protocol.EVENT_CONTENT_TYPES:
            try:
                event = protocol.parse_event(frame)
            except protocol.MalformedEvent as exc:
                log.warning("ESL %s:%s malformed event ignored: %s", self.host, self.port, exc)
                return
            self._events.put(event)
        elif content_type in (protocol.DISCONNECT_NOTICE, protocol.RUDE_REJECTION):
            # The socket closes right after; the EOF does the bookkeeping.
            log.info("ESL %s:%s %s", self.host, self.port, content_type)
        else:
            log.warning("ESL %s:%s unknown Content-Type %r ignored", self.host, self.port, content_type)

    def _event_loop(self) -> None:
        while True:
            item = self._events.get()
            if isinstance(item, _Closed):
                self._on_close(self, self._close_reason)
                return
            try:
                self._on_event(item)
            except Exception:
                log.exception("ESL handler failed on %s %s", item.key, item.unique_id)


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Exponential backoff: initial, 2x, 4x ... capped at maximum."""
    return min(maximum, initial * (2 ** min(attempt, 30)))


class EslClient:
    """A node's ESL session that reconnects with exponential backoff after a drop.

    ``on_connected`` runs after each (re)connection, once events are subscribed, so
    nothing that happens during reconciliation is missed; ``on_disconnected`` runs
    after the last event received on the dropped session was handled.
    """

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        events: Iterable[str],
        event_format: EventFormat = "json",
        on_connected: Callable[[EslClient], None] | None = None,
        on_disconnected: Callable[[EslClient, str], None] | None = None,
        connect_timeout: float = 5.0,
        command_timeout: float = 10.0,
        idle_timeout: float | None = 60.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        name: str = "",
    ) -> None:
        self.host = host
        self.port = port
        self._password = password
        self.name = name or f"{host}:{port}"
        self._events = list(events)
        if idle_timeout is not None and "HEARTBEAT" not in self._events:
            # The idle watchdog needs FreeSWITCH's periodic HEARTBEAT (every 20 s).
            self._events.insert(0, "HEARTBEAT")
        self._event_format: EventFormat = event_format
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.idle_timeout = idle_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._handlers: dict[str, list[EventHandler]] = {}
        self._connection: EslConnection | None = None
        self._running = False
        self._stopping = gevent.event.Event()  # wakes the supervisor out of a backoff
        self._supervisor: gevent.Greenlet | None = None
        self._ready = gevent.event.Event()
        self.connections_made = 0

    def on(self, event_key: str, handler: EventHandler) -> None:
        """Register a handler by event name, CUSTOM subclass, or ``*`` for all."""
        handlers = self._handlers.setdefault(event_key, [])
        if handler not in handlers:
            handlers.append(handler)

    @property
    def connected(self) -> bool:
        return self._connection is not None and self._connection.connected

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._stopping.clear()
        self._supervisor = gevent.spawn(self._supervise)

    def wait_connected(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._running = False
        self._stopping.set()
        connection = self._connection
        if connection is not None:
            connection.close()
            connection.join(timeout)
        if self._supervisor is not None:
            self._supervisor.join(timeout)
            if not self._supervisor.dead:
                self._supervisor.kill(block=False)

    def reconnect(self) -> None:
        """Drop the current session at once (as a crash would); the supervisor
        reconnects with backoff and ``on_connected`` reconciles."""
        connection = self._connection
        if connection is not None:
            connection.abort("reconnect requested")

    def api(self, command: str, *, timeout: float | None = None) -> str:
        return self._require().api(command, timeout=timeout)

    def bgapi(self, command: str, job_uuid: str | None = None) -> str:
        return self._require().bgapi(command, job_uuid)

    def send(self, command: str, headers: Mapping[str, str] | None = None) -> Frame:
        return self._require().send(command, headers)

    def _require(self) -> EslConnection:
        connection = self._connection
        if connection is None or not connection.connected:
            raise EslNotSent(f"ESL {self.name} is not connected")
        return connection

    def _dispatch(self, event: EslEvent) -> None:
        for handler in self._handlers.get(event.key, []) + self._handlers.get("*", []):
            try:
                handler(event)
            except Exception:
                log.exception("ESL %s handler %r failed on %s", self.name, handler, event.key)

    def _supervise(self) -> None:
        attempt = 0
        while self._running:
            connection = EslConnection(
                self.host,
                self.port,
                self._password,
                on_event=self._dispatch,
                on_close=self._connection_closed,
                timeout=self.connect_timeout,
                command_timeout=self.command_timeout,
                idle_timeout=self.idle_timeout,
            )
            try:
                connection.connect()
                connection.subscribe(self._events, self._event_format)
            except (EslError, OSError) as exc:
                connection.abort(f"connect failed: {exc}")
                delay = backoff_delay(attempt, self.backoff_initial, self.backoff_max)
                log.warning("ESL %s connect failed (%s); retry in %.2fs", self.name, exc, delay)
                attempt += 1
                self._stopping.wait(delay)
                continue
            if not self._running:
                connection.close()  # stop() ran while this session was logging in
                break
            attempt = 0
            self._connection = connection
            self.connections_made += 1
            log.info("ESL %s connected (session %d)", self.name, self.connections_made)
            self._ready.set()
            if self._on_connected is not None:
                try:
                    self._on_connected(self)
                except Exception:
                    log.exception("ESL %s on_connected failed", self.name)
            connection.wait_closed()
            connection.join()
            self._ready.clear()
            if self._running:
                # Back off before the first retry too: a crashing node must not be hammered.
                self._stopping.wait(backoff_delay(0, self.backoff_initial, self.backoff_max))

    def _connection_closed(self, connection: EslConnection, reason: str) -> None:
        if connection is not self._connection:
            return  # a session that failed during login was never reported as up
        if not self._running:
            # stop(): the EOF after our own ``exit`` is the expected end, not a drop.
            log.info("ESL %s closed: %s", self.name, reason)
            return
        log.warning("ESL %s disconnected: %s", self.name, reason)
        if self._on_disconnected is not None:
            try:
                self._on_disconnected(self, reason)
            except Exception:
                log.exception("ESL %s on_disconnected failed", self.name)
