"""The agent stream under the production server: gunicorn with one gevent worker
keeps the SSE stream open and still answers other requests, and forwards the
dialer's event to the page."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import pytest
import requests

from app.realtime import bus
from tests.agent.conftest import ROOT_DIR, put_in_call


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def gunicorn_server(desks):
    port = _free_port()
    env = {**os.environ, "SESSION_COOKIE_SECURE": "false", "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "-b", f"127.0.0.1:{port}", "app.wsgi:create()"],
        cwd=ROOT_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/login", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert process.poll() is None, process.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        process.stderr.close()


def _token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_stream_under_gunicorn_gevent(gunicorn_server, world, desks):
    a, _ = desks
    http = requests.Session()
    page = http.get(f"{gunicorn_server}/login").text
    http.post(f"{gunicorn_server}/login", data={"email": a.agent.email, "password": world.password,
                                                "csrf_token": _token(page)}, allow_redirects=False)
    page = http.get(f"{gunicorn_server}/agent/").text
    joined = http.post(f"{gunicorn_server}/agent/", data={"csrf_token": _token(page), "campaign_id": a.campaign.id,
                                                          "phone": "webrtc"}, allow_redirects=False)
    assert joined.status_code == 302
    stream = http.get(f"{gunicorn_server}/agent/stream", stream=True, timeout=10)
    try:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        lines = stream.iter_lines(chunk_size=64, decode_unicode=True)
        while next(lines) != "event: state":
            pass
        # the one worker still serves other requests while the stream waits
        other = requests.Session()
        other.cookies.update(http.cookies)
        started = time.monotonic()
        assert other.get(f"{gunicorn_server}/agent/indicators", timeout=5).status_code == 200
        assert time.monotonic() - started < 2
        put_in_call(a, a.leads[0])
        published = time.monotonic()
        seen = ""
        while seen != "event: lead":
            seen = next(lines)
        first_part = time.monotonic()
        while a.leads[0].last_name not in seen:
            seen = next(lines)
        print(f"\ngunicorn gevent: event to first fragment {(first_part - published) * 1000:.0f} ms")
        print(f"\ngunicorn gevent: event to stream {(time.monotonic() - published) * 1000:.0f} ms")
        assert bus.is_alive(a.tenant_id, a.agent.id)
    finally:
        stream.close()
