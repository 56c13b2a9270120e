"""The stack's nginx entry (deploy/nginx/carillon.conf, compose.yaml "proxy") run by
Debian's nginx: the public APIs reach the API pool, the rest the web pool, live views
stream through unbuffered, and the application believes the forwarded client address
only when told a proxy is in front (PROXY_HOPS)."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.api.http import client_ip

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "carillon.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="Debian's nginx is not installed (.ci/run installs nginx-light)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pool(name: str) -> http.server.ThreadingHTTPServer:
    """A stand-in for one of the application's pools: says which pool answered, the path
    and the forwarded headers; ``/stream`` sends two events a second apart, as SSE."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.endswith("/stream"):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("X-Accel-Buffering", "no")
                self.send_header("Connection", "close")
                self.end_headers()
                for n in (1, 2):
                    self.wfile.write(f"data: {n}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(1.0)
                return
            body = json.dumps({"pool": name, "path": self.path, "host": self.headers.get("Host"),
                               "forwarded_for": self.headers.get("X-Forwarded-For"),
                               "proto": self.headers.get("X-Forwarded-Proto")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[str]:
    web, api = _pool("web"), _pool("api")
    port = _free_port()
    root = tmp_path_factory.mktemp("nginx")
    site = CONF.read_text()
    assert "http://web:8000" in site and "http://api:8001" in site and "listen 8080;" in site
    site = (site.replace("http://web:8000", f"http://127.0.0.1:{web.server_port}")
            .replace("http://api:8001", f"http://127.0.0.1:{api.server_port}")
            .replace("listen 8080;", f"listen 127.0.0.1:{port};"))
    (root / "carillon.conf").write_text(site)
    temp = " ".join(f"{kind}_temp_path {root / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (root / "nginx.conf").write_text(
        f"daemon off; worker_processes 1; pid {root / 'nginx.pid'}; error_log {root / 'error.log'} warn;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{ access_log off; {temp} include {root / 'carillon.conf'}; }}\n")
    checked = subprocess.run([NGINX, "-t", "-p", str(root), "-c", str(root / "nginx.conf")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([NGINX, "-p", str(root), "-c", str(root / "nginx.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            requests.get(base + "/", timeout=1)
            break
        except requests.ConnectionError:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else "nginx exited"
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()
        for pool in (web, api):
            pool.shutdown()
            pool.server_close()


def test_the_public_apis_reach_the_api_pool_the_rest_the_web_pool(proxy):
    lead = requests.post(proxy + "/api/external/leads", json={}, timeout=5).json()
    assert (lead["pool"], lead["path"]) == ("api", "/api/external/leads")
    click = requests.post(proxy + "/api/public/click2call?x=1", timeout=5).json()
    assert (click["pool"], click["path"]) == ("api", "/api/public/click2call?x=1")
    for path in ("/", "/agent/", "/leads/lists", "/apiary", "/healthz"):
        assert requests.get(proxy + path, timeout=5).json()["pool"] == "web", path


def test_the_client_address_and_host_are_forwarded(proxy):
    seen = requests.get(proxy + "/api/v1/leads", headers={"Host": "crm.example.fr"}, timeout=5).json()
    assert seen["forwarded_for"] == "127.0.0.1" and seen["proto"] == "http"
    assert seen["host"] == "crm.example.fr"


def test_live_views_stream_through_unbuffered(proxy):
    started = time.monotonic()
    with requests.get(proxy + "/supervision/stream", stream=True, timeout=5) as response:
        first = next(response.iter_lines(chunk_size=1, decode_unicode=True))
        arrived = time.monotonic() - started
    assert first == "data: 1"
    assert arrived < 0.9, f"the first event waited {arrived:.2f} s (buffered until the second)"


@pytest.mark.parametrize(("hops", "expected"), [(0, "10.1.2.3"), (1, "203.0.113.9")])
def test_the_forwarded_address_is_believed_only_behind_a_proxy(hops, expected):
    from flask import Flask

    from app import trust_proxies

    app = Flask(__name__)
    app.get("/ip")(client_ip)
    trust_proxies(app, hops)
    environ = {"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert app.test_client().get("/ip", environ_base=environ).get_data(as_text=True) == expected
