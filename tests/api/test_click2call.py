"""Click-to-call API (I2): the guide's shapes and errors, strategies, CORS, rate
limit (failed calls not counted), logs, status, statistics and alerts."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from app.api.models import ApiAlert, ApiCallLog, Click2CallLine, Click2CallSettings
from app.extensions import Session
from tenants.scoping import tenant_scope

URL = "/api/public/click2call"


def call(client, token: str, body=None, **headers):
    body = {"number_to_call": "0601020304"} if body is None else body
    return client.post(URL, data=json.dumps(body), headers={"Authorization": f"Bearer {token}",
                                                            "Content-Type": "application/json", **headers})


def settings(tenant_id: int, group_id: int, **values) -> None:
    with tenant_scope(tenant_id):
        row = Session.scalar(sa.select(Click2CallSettings).where(Click2CallSettings.group_id == group_id))
        if row is None:
            row = Click2CallSettings(group_id=group_id, strategy="round_robin", rate_limit_per_hour=1000,
                                     cors_origins="")
            Session.add(row)
        for name, value in values.items():
            setattr(row, name, value)
        Session.commit()


def logs(tenant_id: int) -> list[ApiCallLog]:
    with tenant_scope(tenant_id):
        rows = list(Session.scalars(sa.select(ApiCallLog).order_by(ApiCallLog.id)))
        Session.commit()
        return rows


def test_guide_example_success_shape(client, api, backend):
    response = call(client, api.a.token, {"number_to_call": "0601020304", "phone_line_used": "8001"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["success"] is True
    assert body["message"] == "Appel lancé vers 0601020304"
    data = body["data"]
    assert set(data) == {"call_id", "phone_line_used", "number_called", "group", "response_time_ms"}
    assert data["phone_line_used"] == "8001" and data["number_called"] == "0601020304"
    assert data["group"] == "VENTES" and isinstance(data["call_id"], int) and data["response_time_ms"] >= 0
    # the short JavaScript example of the guide: { success: true, call_id: 12345, phone_line_used: "8001" }
    assert (body["call_id"], body["phone_line_used"]) == (data["call_id"], "8001")
    (request,) = backend.requests
    assert request.destination == "+33601020304" and request.variables["carillon_agent_line"] == "8001"
    assert request.tenant_id == api.a.tenant_id
    (entry,) = logs(api.a.tenant_id)
    assert entry.id == data["call_id"] and entry.success and entry.line == "8001"
    assert entry.origin_ip == "127.0.0.1" and entry.number == "0601020304"


def test_token_format_and_invalid_tokens(client, api, backend):
    assert api.a.token.startswith("carillon_VENTES_")
    for header in ({"Authorization": "Bearer nope"}, {"Authorization": api.a.token}, {}):
        response = client.post(URL, json={"number_to_call": "0601020304"}, headers=header)
        assert response.status_code == 401
        assert response.get_json() == {"success": False, "error": "API Token invalide"}
    assert backend.requests == []


def test_line_errors(client, api, backend):
    response = call(client, api.a.token, {"number_to_call": "0601020304", "phone_line_used": "9999"})
    assert response.status_code == 400
    assert response.get_json() == {"success": False, "error": "Ligne non disponible ou non autorisée"}
    # a line of another group (tenant B's pool has 8001 too, but not for this token)
    with tenant_scope(api.a.tenant_id):
        Session.execute(sa.update(Click2CallLine).where(Click2CallLine.extension == "8002").values(active=False))
        Session.commit()
    assert call(client, api.a.token, {"number_to_call": "0601020304", "phone_line_used": "8002"}).status_code == 400
    with tenant_scope(api.a.tenant_id):
        Session.execute(sa.update(Click2CallLine).values(active=False))
        Session.commit()
    response = call(client, api.a.token)
    assert response.status_code == 503
    assert response.get_json() == {"success": False, "error": "Aucune ligne disponible"}
    assert backend.requests == []
    assert [e.status_code for e in logs(api.a.tenant_id)] == [400, 400, 503]
    with tenant_scope(api.a.tenant_id):
        alerts = Session.scalars(sa.select(ApiAlert)).all()
        assert [a.kind for a in alerts] == ["no_line"]


def test_number_errors(client, api, backend):
    for body in ({}, {"phone_line_used": "8001"}, {"number_to_call": ""}):
        response = call(client, api.a.token, body)
        assert response.status_code == 400
        assert response.get_json()["error"] == "number_to_call est obligatoire"
    bad = call(client, api.a.token, {"number_to_call": "hello"})
    assert bad.status_code == 400 and bad.get_json()["error"] == "Numéro à appeler invalide"
    unknown = call(client, api.a.token, {"number_to_call": "0601020304", "extra": 1})
    assert unknown.status_code == 400
    not_json = client.post(URL, data="number_to_call=0601020304",
                           headers={"Authorization": f"Bearer {api.a.token}"})
    assert not_json.status_code == 400
    assert backend.requests == []


def test_round_robin_takes_the_least_recently_used_line(client, api, backend):
    used = [call(client, api.a.token).get_json()["data"]["phone_line_used"] for _ in range(6)]
    assert used == ["8001", "8002", "8003", "8001", "8002", "8003"]


def test_least_used_and_priority(client, api, backend):
    with tenant_scope(api.a.tenant_id):
        Session.execute(sa.update(Click2CallLine).where(Click2CallLine.extension == "8001").values(call_count=50))
        Session.execute(sa.update(Click2CallLine).where(Click2CallLine.extension == "8002").values(call_count=10))
        Session.commit()
    settings(api.a.tenant_id, api.a.group_id, strategy="least_used")
    used = [call(client, api.a.token).get_json()["data"]["phone_line_used"] for _ in range(3)]
    assert used == ["8003"] * 3
    settings(api.a.tenant_id, api.a.group_id, strategy="priority")
    # priorities: 8001=0, 8002=1, 8003=2 -> highest first
    assert {call(client, api.a.token).get_json()["data"]["phone_line_used"] for _ in range(3)} == {"8003"}
    with tenant_scope(api.a.tenant_id):
        line = Session.scalar(sa.select(Click2CallLine).where(Click2CallLine.extension == "8003"))
        assert line.call_count == 6 and line.last_used_at is not None


def test_random_uses_only_active_lines(client, api, backend):
    settings(api.a.tenant_id, api.a.group_id, strategy="random")
    with tenant_scope(api.a.tenant_id):
        Session.execute(sa.update(Click2CallLine).where(Click2CallLine.extension == "8002").values(active=False))
        Session.commit()
    used = {call(client, api.a.token).get_json()["data"]["phone_line_used"] for _ in range(20)}
    assert used == {"8001", "8003"}


def test_cors_allow_list(client, api, backend):
    preflight = client.options(URL, headers={"Origin": "https://crm.example.com",
                                              "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://crm.example.com"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    # empty allow-list: every origin
    open_call = call(client, api.a.token, Origin="https://anything.example.org")
    assert open_call.status_code == 200
    assert open_call.headers["Access-Control-Allow-Origin"] == "https://anything.example.org"
    settings(api.a.tenant_id, api.a.group_id, cors_origins="example.com, app.example.com")
    allowed = call(client, api.a.token, Origin="https://app.example.com")
    assert allowed.status_code == 200
    refused = call(client, api.a.token, Origin="https://evil.example.net")
    assert refused.status_code == 403
    assert refused.get_json() == {"success": False, "error": "Domaine non autorisé"}
    assert "Access-Control-Allow-Origin" not in refused.headers
    # server-side callers send no Origin: the browser allow-list does not apply
    assert call(client, api.a.token).status_code == 200
    assert len(backend.requests) == 3


def test_rate_limit_counts_only_successful_calls(client, api, backend):
    settings(api.a.tenant_id, api.a.group_id, rate_limit_per_hour=3)
    assert call(client, api.a.token, {"number_to_call": "nope"}).status_code == 400  # failed: not counted
    assert [call(client, api.a.token).status_code for _ in range(3)] == [200, 200, 200]
    response = call(client, api.a.token)
    assert response.status_code == 429
    assert response.get_json() == {"success": False, "error": "Rate limit dépassé"}
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    # another group (tenant B) has its own counter
    assert call(client, api.b.token).status_code == 200


def test_backend_failure_is_502_logged_and_not_counted(client, api, backend):
    settings(api.a.tenant_id, api.a.group_id, rate_limit_per_hour=1)
    backend.fail = True
    response = call(client, api.a.token)
    assert response.status_code == 502 and "Connection timeout" in response.get_json()["error"]
    backend.fail = False
    assert call(client, api.a.token).status_code == 200
    entries = logs(api.a.tenant_id)
    assert [(e.success, e.status_code) for e in entries] == [(False, 502), (True, 200)]
    with tenant_scope(api.a.tenant_id):
        assert Session.scalar(sa.select(sa.func.sum(Click2CallLine.call_count))) == 1


def test_red_listed_number_is_refused(client, api, backend):
    from app.leads.models import RedListEntry

    with tenant_scope(api.a.tenant_id):
        Session.add(RedListEntry(phone_number="+33601020304"))
        Session.commit()
    assert call(client, api.a.token).status_code == 422
    assert backend.requests == []


def test_status_endpoint(client, api, backend):
    settings(api.a.tenant_id, api.a.group_id, rate_limit_per_hour=10)
    call(client, api.a.token)
    call(client, api.a.token, {"number_to_call": "x"})
    response = client.get("/api/public/status", headers={"Authorization": f"Bearer {api.a.token}"})
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data["group"] == "VENTES" and data["strategy"] == "round_robin"
    assert (data["lines_total"], data["lines_available"]) == (3, 3)
    assert data["last_hour"]["total"] == 2 and data["last_hour"]["succeeded"] == 1
    assert data["rate_limit"]["limit"] == 10 and data["rate_limit"]["remaining"] == 9
    assert client.get("/api/public/status").status_code == 401


def test_alerts_on_rate_limit_and_failure_rate(client, api, backend, mail_dir, stub_worker):
    settings(api.a.tenant_id, api.a.group_id, rate_limit_per_hour=5)
    for _ in range(5):
        call(client, api.a.token)
    for _ in range(6):
        call(client, api.a.token, {"number_to_call": "x"})
    with tenant_scope(api.a.tenant_id):
        kinds = sorted(a.kind for a in Session.scalars(sa.select(ApiAlert)))
        Session.commit()
    assert kinds == ["failure_rate", "rate_limit"]  # once each per hour
    stub_worker()
    mails = [p.read_text() for p in mail_dir.glob("*.eml")]
    assert any("alerte VENTES" in m or "alerte" in m for m in mails)
    assert len(mails) == 2  # one tenant administrator, two alerts


def test_tokens_are_per_group_and_tenant(client, api, backend):
    call(client, api.b.token)
    assert logs(api.a.tenant_id) == []
    assert [e.tenant_id for e in logs(api.b.tenant_id)] == [api.b.tenant_id]
    assert backend.requests[0].tenant_id == api.b.tenant_id


def test_statistics_figures(api, client, backend):
    from app.api import click2call

    call(client, api.a.token)
    call(client, api.a.token, {"number_to_call": "x"})
    with tenant_scope(api.a.tenant_id):
        summary = click2call.summary(api.a.group_id, dt.timedelta(hours=24))
        assert (summary["total"], summary["succeeded"], summary["failed"], summary["success_rate"]) == (2, 1, 1, 50.0)
        rows = {r["line"].extension: r for r in click2call.per_line(api.a.group_id, dt.timedelta(hours=24))}
        assert rows["8001"]["calls_24h"] == 1 and rows["8001"]["success_rate"] == 100.0
        errors = click2call.top_errors(api.a.group_id, dt.timedelta(hours=24))
        assert errors[0]["error"] == "Numéro à appeler invalide" and errors[0]["count"] == 1


def test_a_failed_call_never_holds_two_connections(client, api, backend):
    """A failed call is logged apart (the request's transaction is rolled back): the
    request's connection goes back first, so a burst of failures needs one connection
    per request, never two (on the gevent pool two would exhaust the pool)."""
    from app import extensions

    pool = extensions.engine().pool
    out = {"now": 0, "most": 0}

    def checkout(*_):
        out["now"] += 1
        out["most"] = max(out["most"], out["now"])

    def checkin(*_):
        out["now"] -= 1

    sa.event.listen(pool, "checkout", checkout)
    sa.event.listen(pool, "checkin", checkin)
    try:
        settings(api.a.tenant_id, api.a.group_id, rate_limit_per_hour=1)
        out.update(now=0, most=0)
        backend.fail = True
        assert call(client, api.a.token).status_code == 502  # failed at the media server
        assert call(client, api.a.token, {"number_to_call": "x"}).status_code == 400  # bad number
        assert out["most"] == 1
        backend.fail = False
        assert call(client, api.a.token).status_code == 200
    finally:
        sa.event.remove(pool, "checkout", checkout)
        sa.event.remove(pool, "checkin", checkin)
    assert [(e.success, e.status_code) for e in logs(api.a.tenant_id)] == [(False, 502), (False, 400), (True, 200)]
