"""Against a live server (werkzeug, threaded, real PostgreSQL and Redis): the guide's
Python examples as they are written, and the rate limit under concurrency."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import requests

from tests.api.test_click2call import settings


def click2call(base: str, token: str, number: str) -> dict:
    # The guide's Python example, unchanged except host and token.
    response = requests.post(
        f'{base}/api/public/click2call',
        headers={
            'Authorization': f'Bearer {token}',
            'Content-Type': 'application/json'
        },
        json={
            'number_to_call': number
        }
    )
    return response.json()


def test_guide_python_click2call_example(live_server, api, backend):
    result = click2call(live_server, api.a.token, "0601020304")
    assert result["success"] is True and result["data"]["number_called"] == "0601020304"


def test_guide_lead_import_with_requests(live_server, api):
    response = requests.post(
        f"{live_server}/api/external/leads",
        headers={"Content-Type": "application/json", "X-API-Key": api.a.write_key},
        json={"user_group": "1swis", "user_aff": "1swis", "status": "NEW", "first_name": "Jean",
              "last_name": "Dupont", "phone_number": "0612345678", "email": "jean.dupont@example.fr",
              "city": "Paris", "postal_code": "75001", "list_id": api.a.list_id, "comments": "Lead from website"},
        timeout=10,
    )
    assert response.status_code == 201
    assert response.json()["message"] == "Lead créé avec succès"


def test_rate_limit_is_exact_under_concurrency(live_server, api, backend):
    # the limit counts per clock hour: a burst that straddles the hour would rightly get
    # two allowances, so start clear of the boundary
    to_next_hour = 3600 - time.time() % 3600
    if to_next_hour < 30:
        time.sleep(to_next_hour + 1)
    limit = 25
    settings(api.a.tenant_id, api.a.group_id, rate_limit_per_hour=limit)
    start = threading.Barrier(16)
    session_local = threading.local()

    def one(index: int) -> int:
        if index < 16:
            start.wait()
        http = getattr(session_local, "http", None) or requests.Session()
        session_local.http = http
        # every fifth request is invalid: failures must not use up the limit
        number = "invalid" if index % 5 == 0 else "0601020304"
        return http.post(f"{live_server}/api/public/click2call", json={"number_to_call": number},
                         headers={"Authorization": f"Bearer {api.a.token}"}, timeout=30).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(one, range(80)))
    assert statuses.count(200) == limit
    assert statuses.count(400) == 16
    assert statuses.count(429) == 80 - 16 - limit
    assert len(backend.requests) == limit


def test_concurrent_retries_with_one_idempotency_key_create_one_lead(live_server, api, owner_engine):
    from tests.api.conftest import count_leads

    body = {"user_group": "1swis", "user_aff": "1swis", "status": "NEW", "first_name": "Jean",
            "last_name": "Dupont", "phone_number": "0612345678", "list_id": api.a.list_id}
    start = threading.Barrier(8)

    def one(_: int) -> tuple[int, int]:
        start.wait()
        response = requests.post(f"{live_server}/api/external/leads", json=body, timeout=30,
                                 headers={"X-API-Key": api.a.write_key, "Idempotency-Key": "order-77"})
        return response.status_code, response.json()["data"]["lead_id"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one, range(8)))
    assert {status for status, _ in answers} == {201}
    assert len({lead_id for _, lead_id in answers}) == 1
    assert count_leads(owner_engine) == 1
