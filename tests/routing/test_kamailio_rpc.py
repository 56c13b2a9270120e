"""The JSON-RPC client against a loopback HTTP server standing in for Kamailio."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kamailio import rpc
from telephony.routing import services


class FakeKamailio(BaseHTTPRequestHandler):
    busy_replies = 0
    calls: list[dict[str, object]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeKamailio.calls.append(request)
        if request["method"] == "dispatcher.reload" and FakeKamailio.busy_replies:
            FakeKamailio.busy_replies -= 1
            self._reply(
                500, {"jsonrpc": "2.0", "error": {"code": 500, "message": "Ongoing reload"}}, "Ongoing reload"
            )
        elif request["method"] == "core.version":
            self._reply(200, {"jsonrpc": "2.0", "result": "kamailio 5.6.3", "id": request["id"]})
        elif request["method"] == "broken":
            self._reply(200, {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method Not Found"}})
        else:
            self._reply(200, {"jsonrpc": "2.0", "id": request["id"]})

    def _reply(self, status: int, body: dict[str, object], reason: str | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status, reason)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: the tests read ``calls`` instead."""


@pytest.fixture
def url() -> Iterator[str]:
    FakeKamailio.calls = []
    FakeKamailio.busy_replies = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKamailio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/RPC"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_call_returns_the_result(url: str) -> None:
    assert rpc.call(url, "core.version") == "kamailio 5.6.3"
    assert FakeKamailio.calls[0]["jsonrpc"] == "2.0" and "params" not in FakeKamailio.calls[0]


def test_call_sends_params_and_tolerates_no_result(url: str) -> None:
    assert rpc.call(url, "dispatcher.set_state", "ip", 1, "sip:10.0.0.5:5080") is None
    assert FakeKamailio.calls[0]["params"] == ["ip", 1, "sip:10.0.0.5:5080"]


def test_error_answer_raises(url: str) -> None:
    with pytest.raises(rpc.KamailioRpcError, match="Method Not Found"):
        rpc.call(url, "broken")


def test_unreachable_kamailio_raises() -> None:
    with pytest.raises(rpc.KamailioRpcError, match="lcr.reload"):
        rpc.call("http://127.0.0.1:9/RPC", "lcr.reload", timeout=1)


def test_reload_waits_out_dispatchers_rate_limit(url: str) -> None:
    FakeKamailio.busy_replies = 2

    services.call_reload(url, "dispatcher.reload", patience_s=5)

    assert [c["method"] for c in FakeKamailio.calls] == ["dispatcher.reload"] * 3


def test_reload_gives_up_after_its_patience(url: str) -> None:
    FakeKamailio.busy_replies = 1000

    with pytest.raises(rpc.KamailioRpcError, match="Ongoing reload"):
        services.call_reload(url, "dispatcher.reload", patience_s=0.3)
