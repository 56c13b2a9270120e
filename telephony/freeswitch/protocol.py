"""FreeSWITCH Event Socket (ESL) wire format, as pure functions.

Framing as recorded from FreeSWITCH 1.11.1 (``tests/telephony/data``): a message is a
block of ``Name: value`` lines ending in a bare LF, then an empty line, then exactly
``Content-Length`` *bytes* of body when that header is present. Nothing marks the end
of a body, so the parser counts bytes and never looks for a terminator inside one.
Plain events carry a second, percent-encoded header block in their body (with a second
``Content-Length`` for BACKGROUND_JOB results); JSON events carry one JSON object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

AUTH_REQUEST = "auth/request"
COMMAND_REPLY = "command/reply"
API_RESPONSE = "api/response"
EVENT_PLAIN = "text/event-plain"
EVENT_JSON = "text/event-json"
DISCONNECT_NOTICE = "text/disconnect-notice"
RUDE_REJECTION = "text/rude-rejection"

EVENT_CONTENT_TYPES = frozenset({EVENT_PLAIN, EVENT_JSON})
_HEADER_END = b"\n\n"
# A header block larger than this without its empty line is not ESL: stop buffering.
MAX_HEADER_BYTES = 64 * 1024


class ProtocolError(ValueError):
    """The byte stream cannot be framed as ESL (the connection must be dropped)."""


class MalformedEvent(ValueError):
    """One event body could not be decoded (the event is skipped, the stream is fine)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One ESL message: its envelope headers (in order) and its body, if any."""

    headers: dict[str, str]
    body: str | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def reply_text(self) -> str:
        return self.headers.get("Reply-Text", "")


@dataclass(frozen=True, slots=True)
class EslEvent:
    """A decoded FreeSWITCH event; ``headers`` hold decoded values, all strings."""

    name: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None

    @property
    def subclass(self) -> str:
        return self.headers.get("Event-Subclass", "")

    @property
    def key(self) -> str:
        """The name handlers register under: the subclass for CUSTOM events."""
        return self.subclass if self.name == "CUSTOM" and self.subclass else self.name

    @property
    def unique_id(self) -> str:
        return self.headers.get("Unique-ID", "")

    def get(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    def variable(self, name: str) -> str | None:
        return self.headers.get(f"variable_{name}")

    @property
    def timestamp(self) -> float | None:
        """Event-Date-Timestamp in seconds (FreeSWITCH sends microseconds)."""
        raw = self.headers.get("Event-Date-Timestamp", "")
        return int(raw) / 1_000_000 if raw.isdigit() else None


def parse_header_block(text: str, *, decode: bool = False) -> dict[str, str]:
    """Parse ``Name: value`` lines; ``decode`` percent-decodes values (plain events).

    Values are split on the first ``": "`` only, and decoding happens per value after
    the split, so an encoded LF (``%0A`` in SDP variables) cannot break the block.
    """
    headers: dict[str, str] = {}
    for line in text.split("\n"):
        if not line:
            continue
        name, sep, value = line.partition(": ")
        if not sep:
            # "Name:" with an empty value has no space after the colon.
            name, sep, value = line.partition(":")
            if not sep:
                raise MalformedEvent(f"header line without a colon: {line[:80]!r}")
        headers[name] = unquote(value) if decode else value
    return headers


class FrameParser:
    """Incremental framer: feed it socket chunks, get complete frames back.

    Chunks may hold several messages or end in the middle of one (observed in the
    recordings), so the parser keeps the undelivered tail between calls.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pending_headers: dict[str, str] | None = None
        self._pending_length = 0

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer.extend(data)
        frames: list[Frame] = []
        while True:
            frame = self._next_frame()
            if frame is None:
                return frames
            frames.append(frame)

    def _next_frame(self) -> Frame | None:
        if self._pending_headers is None:
            if not self._read_headers():
                return None
        headers = self._pending_headers
        assert headers is not None
        if len(self._buffer) < self._pending_length:
            return None
        body_bytes = bytes(self._buffer[: self._pending_length])
        del self._buffer[: self._pending_length]
        has_body = "Content-Length" in headers
        self._pending_headers = None
        self._pending_length = 0
        body = body_bytes.decode("utf-8", errors="replace") if has_body else None
        return Frame(headers=headers, body=body)

    def _read_headers(self) -> bool:
        # FreeSWITCH never sends blank lines between messages, but tolerate stray LFs.
        while self._buffer[:1] == b"\n":
            del self._buffer[:1]
        end = self._buffer.find(_HEADER_END)
        if end < 0:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise ProtocolError("no end of header block within 64 KiB")
            return False
        raw = bytes(self._buffer[:end]).decode("utf-8", errors="replace")
        del self._buffer[: end + len(_HEADER_END)]
        try:
            headers = parse_header_block(raw)
        except MalformedEvent as exc:
            raise ProtocolError(str(exc)) from exc
        length_text = headers.get("Content-Length")
        if length_text is not None and not length_text.strip().isdigit():
            raise ProtocolError(f"bad Content-Length {length_text!r}")
        self._pending_headers = headers
        self._pending_length = int(length_text) if length_text is not None else 0
        return True


def parse_event(frame: Frame) -> EslEvent:
    """Decode a ``text/event-plain`` or ``text/event-json`` frame into an event."""
    if frame.content_type == EVENT_JSON:
        return _parse_json_event(frame.body or "")
    if frame.content_type == EVENT_PLAIN:
        return _parse_plain_event(frame.body or "")
    raise MalformedEvent(f"not an event: Content-Type {frame.content_type!r}")


def _parse_json_event(body: str) -> EslEvent:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedEvent(f"event JSON does not parse: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedEvent("event JSON is not an object")
    inner_body = data.pop("_body", None)
    headers = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    return _event_from_headers(headers, inner_body if isinstance(inner_body, str) else None)


def _parse_plain_event(body: str) -> EslEvent:
    block, sep, rest = body.partition("\n\n")
    headers = parse_header_block(block, decode=True)
    inner_body: str | None = None
    length_text = headers.get("Content-Length")
    if length_text is not None:
        if not length_text.isdigit():
            raise MalformedEvent(f"bad inner Content-Length {length_text!r}")
        # The inner length counts bytes, like the outer one.
        inner_body = rest.encode("utf-8")[: int(length_text)].decode("utf-8", errors="replace")
    elif sep and rest.strip():
        inner_body = rest
    return _event_from_headers(headers, inner_body)


def _event_from_headers(headers: dict[str, str], body: str | None) -> EslEvent:
    name = headers.get("Event-Name")
    if not name:
        raise MalformedEvent("event without Event-Name")
    return EslEvent(name=name, headers=headers, body=body)


def encode_command(command: str, headers: Mapping[str, str] | None = None) -> bytes:
    """Bytes for one command: its line, optional header lines, then the empty line."""
    if "\n" in command:
        raise ValueError("an ESL command line cannot contain a line feed")
    lines = [command]
    for name, value in (headers or {}).items():
        if "\n" in name or "\n" in value:
            raise ValueError("ESL command headers cannot contain a line feed")
        lines.append(f"{name}: {value}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def reply_ok(text: str) -> bool:
    """Whether a command/reply Reply-Text or api/response body reports success."""
    return not text.lstrip().startswith("-ERR")


def error_text(text: str) -> str:
    """``-ERR USER_BUSY\\n`` -> ``USER_BUSY``; other text is returned stripped."""
    stripped = text.strip()
    return stripped[4:].strip() if stripped.startswith("-ERR") else stripped


def parse_job_result(body: str | None) -> tuple[bool, str]:
    """A BACKGROUND_JOB body: ``(True, "<uuid>")`` or ``(False, "<cause>")``."""
    text = (body or "").strip()
    if text.startswith("+OK"):
        return True, text[3:].strip()
    return False, error_text(text) or "UNKNOWN"


def parse_json_rows(body: str) -> list[dict[str, str]]:
    """Rows of ``show ... as json``; ``{"row_count": 0}`` has no ``rows`` key."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedEvent(f"show output is not JSON: {body[:80]!r}") from exc
    if not isinstance(data, dict):
        raise MalformedEvent("show output is not a JSON object")
    rows = data.get("rows", [])
    if not isinstance(rows, list):
        raise MalformedEvent("show output rows is not a list")
    return [{str(k): str(v) for k, v in row.items()} for row in rows if isinstance(row, dict)]


def parse_channel_dump(body: str) -> dict[str, str]:
    """``uuid_dump <uuid> json``: one flat object of strings (a CHANNEL_DATA event)."""
    if not body.lstrip().startswith("{"):
        raise MalformedEvent(error_text(body) or "empty uuid_dump output")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedEvent(f"uuid_dump output is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedEvent("uuid_dump output is not a JSON object")
    return {str(k): str(v) for k, v in data.items()}
