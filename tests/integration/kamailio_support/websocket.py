"""Just enough of a WebSocket client (RFC 6455) to speak SIP over it (RFC 7118) the
way a browser softphone does, with SIP digest authentication (RFC 2617, qop=auth)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import struct

ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT_S = 5.0


def connect(host: str, port: int, path: str = "/") -> tuple[socket.socket, str]:
    """Open a ``sip`` WebSocket; returns the socket and the server's handshake reply."""
    connection = socket.create_connection((host, port), timeout=TIMEOUT_S)
    key = base64.b64encode(os.urandom(16)).decode()
    connection.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n"
            f"Origin: http://{host}\r\n\r\n"
        ).encode()
    )
    reply = _read_until(connection, b"\r\n\r\n").decode(errors="replace")
    expected = base64.b64encode(hashlib.sha1((key + ACCEPT_GUID).encode()).digest()).decode()
    if expected not in reply:
        raise AssertionError(f"bad WebSocket handshake reply:\n{reply}")
    return connection, reply


def send_text(connection: socket.socket, text: str) -> None:
    payload = text.encode()
    mask = os.urandom(4)
    if len(payload) < 126:
        header = struct.pack("!BB", 0x81, 0x80 | len(payload))
    else:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, len(payload))
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    connection.sendall(header + mask + masked)


def receive_text(connection: socket.socket) -> str:
    first, second = _read_exactly(connection, 2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", _read_exactly(connection, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", _read_exactly(connection, 8))
    if second & 0x80:
        raise AssertionError("a server must not mask its frames")
    if first & 0x0F != 0x1:
        raise AssertionError(f"expected a text frame, got opcode {first & 0x0F}")
    return _read_exactly(connection, length).decode()


def digest_authorization(challenge: str, method: str, uri: str, username: str, password: str) -> str:
    """The Authorization header value answering a WWW-Authenticate challenge."""
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', challenge))
    realm, nonce = fields["realm"], fields["nonce"]
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    cnonce, nc = os.urandom(8).hex(), "00000001"
    if "auth" in fields.get("qop", "").split(","):
        response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        qop = f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        response = _md5(f"{ha1}:{nonce}:{ha2}")
        qop = ""
    return (
        f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5{qop}'
    )


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _read_until(connection: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise AssertionError("connection closed")
        data += chunk
    return data
