"""The API pool of the web server (``carillon serve --pool api``: gunicorn, threads)
serves the guide's lead import, and a burst larger than its threads is answered in
full: the extra requests wait for a thread, none fails."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from app.cli import API_THREADS, ROOT
from tests.api.conftest import count_leads


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def api_pool(api):
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--pool", "api", "--bind",
                               f"127.0.0.1:{port}", "--workers", "1"], cwd=ROOT, env=dict(os.environ),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still loading the app
                pass
            assert server.poll() is None and time.monotonic() < deadline, "the API pool did not start"
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        output = server.communicate(timeout=15)[0]
    assert "Using worker: gthread" in output


def test_api_pool_answers_a_burst_larger_than_its_threads(api_pool, api, owner_engine):
    burst = API_THREADS * 4
    with concurrent.futures.ThreadPoolExecutor(burst) as executor:
        answers = list(executor.map(lambda i: requests.post(
            f"{api_pool}/api/external/leads", headers={"X-API-Key": api.a.write_key}, timeout=30,
            json={"user_group": "1swis", "user_aff": "1swis", "status": "NEW", "first_name": "Jean",
                  "last_name": f"Dupont {i}", "phone_number": f"06123456{i:02d}", "list_id": api.a.list_id}),
            range(burst)))
    assert [a.status_code for a in answers] == [201] * burst
    assert len({a.json()["data"]["lead_id"] for a in answers}) == burst
    assert count_leads(owner_engine, api.a.tenant_id) == burst
    assert count_leads(owner_engine, api.b.tenant_id) == 0


def test_api_pool_refuses_another_tenants_list(api_pool, api, owner_engine):
    answer = requests.post(f"{api_pool}/api/external/leads", headers={"X-API-Key": api.b.write_key}, timeout=30,
                           json={"user_group": "1swis", "user_aff": "1swis", "status": "NEW", "first_name": "Jean",
                                 "last_name": "Dupont", "phone_number": "0612345678", "list_id": api.a.list_id})
    assert answer.status_code == 400 and answer.json()["errors"]["list_id"]
    assert count_leads(owner_engine) == 0
