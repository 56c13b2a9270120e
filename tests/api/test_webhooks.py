"""Outgoing webhooks: events become signed deliveries sent by the job worker, retried
with backoff until the endpoint answers 2xx; the log can replay a delivery."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from app.api import webhooks
from app.api.leads import lead_payload
from app.api.models import DeliveryState, WebhookDelivery
from app.core import signals
from app.extensions import Session
from app.leads.models import Lead
from tenants.scoping import tenant_scope
from tests.api.test_external_leads import guide_lead, post_lead


class Receiver:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                """Quiet: the test checks what was received."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/carillon"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver():
    made: list[Receiver] = []

    def make(statuses: list[int] | None = None) -> Receiver:
        made.append(Receiver(list(statuses or [])))
        return made[-1]

    yield make
    for r in made:
        r.close()


def subscribe(tenant_id: int, url: str, events: list[str]):
    with tenant_scope(tenant_id):
        endpoint = webhooks.create_endpoint(url, events)
        Session.commit()
        return endpoint.id, endpoint.secret


def deliveries(tenant_id: int) -> list[WebhookDelivery]:
    with tenant_scope(tenant_id):
        rows = list(Session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)
                                    .execution_options(populate_existing=True)))
        Session.commit()
        return rows


def test_signature_round_trip_and_tampering():
    body = b'{"event":"lead.created"}'
    header = webhooks.sign("whsec_test", body, timestamp=1_800_000_000)
    assert header.startswith("t=1800000000,v1=")
    assert webhooks.verify("whsec_test", body, header, now=1_800_000_010)
    assert not webhooks.verify("whsec_test", body + b" ", header, now=1_800_000_010)
    assert not webhooks.verify("whsec_other", body, header, now=1_800_000_010)
    assert not webhooks.verify("whsec_test", body, header, now=1_800_000_000 + 3600)  # replayed later
    assert not webhooks.verify("whsec_test", body, "garbage")


def test_lead_created_by_the_api_is_delivered_signed(client, api, receiver, stub_worker):
    target = receiver()
    _, secret = subscribe(api.a.tenant_id, target.url, ["lead.created"])
    subscribe(api.b.tenant_id, target.url, ["lead.created"])  # B's endpoint must not hear A's leads
    lead_id = post_lead(client, api.a.write_key, guide_lead(api.a.list_id)).get_json()["data"]["lead_id"]
    stub_worker()
    assert len(target.received) == 1
    headers, body = target.received[0]
    assert webhooks.verify(secret, body, headers["X-Carillon-Signature"])
    event = json.loads(body)
    assert event["event"] == "lead.created" and event["data"]["id"] == lead_id
    assert event["data"]["phone_number"] == "+33612345678"
    assert headers["X-Carillon-Event"] == "lead.created"
    (delivery,) = deliveries(api.a.tenant_id)
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 1
    assert deliveries(api.b.tenant_id) == []


def test_the_lead_created_event_describes_the_stored_lead(client, api, receiver, stub_worker):
    target = receiver()
    subscribe(api.a.tenant_id, target.url, ["lead.created"])
    body = guide_lead(api.a.list_id, alt_phone="01 23 45 67 89", city="Lyon", user_aff="1SWIS")
    lead_id = post_lead(client, api.a.write_key, body).get_json()["data"]["lead_id"]
    stub_worker()
    (event,) = [json.loads(received) for _, received in target.received]
    with tenant_scope(api.a.tenant_id):
        stored = lead_payload(Session.get(Lead, lead_id))
        Session.commit()
    assert event["data"] == stored
    assert stored["alt_phone"] == "+33123456789" and stored["city"] == "Lyon" and stored["user_aff"] is None


def test_failed_delivery_is_retried_with_backoff(client, api, receiver, stub_worker):
    target = receiver([500, 503])
    subscribe(api.a.tenant_id, target.url, ["lead.status_changed"])
    lead = client.post("/api/v1/leads", json={"list_id": api.a.list_id, "phone_number": "0611223344"},
                       headers={"X-API-Key": api.a.write_key}).get_json()["data"]
    client.patch(f"/api/v1/leads/{lead['id']}", json={"status": "RAP"}, headers={"X-API-Key": api.a.write_key})
    stub_worker()
    assert len(target.received) == 3
    signatures = {h["X-Carillon-Signature"] for h, _ in target.received}
    assert len({json.loads(b)["id"] for _, b in target.received}) == 1  # the same event each time
    assert len(signatures) >= 1
    (delivery,) = deliveries(api.a.tenant_id)
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 3
    payload = json.loads(target.received[-1][1])["data"]
    assert payload["status"] == "RAP" and payload["previous_status"] == "NEW"


def test_unreachable_endpoint_records_the_error(api, stub_worker):
    from app.api.tasks import attempt

    with tenant_scope(api.a.tenant_id):
        endpoint = webhooks.create_endpoint("http://127.0.0.1:9/nothing", ["call.ended"])
        (delivery,) = webhooks.publish("call.ended", api.a.tenant_id, {"call_id": "x"})
        assert attempt(delivery) is False
        assert delivery.state == DeliveryState.RETRYING and "ConnectionError" in delivery.last_error
        assert endpoint.id == delivery.endpoint_id
        Session.rollback()


def test_other_features_signals_reach_subscribers(api, receiver, stub_worker):
    target = receiver()
    subscribe(api.a.tenant_id, target.url, ["sale.created", "call.ended"])
    with tenant_scope(api.a.tenant_id):
        signals.sale_created.send("crm", tenant_id=api.a.tenant_id, payload={"sale_id": 7, "amount": "120.00"})
        # the shape of telephony.dialer.backends.call_payload (a call no row knows: the
        # wallboard counters skip it, the webhook still goes out)
        signals.call_ended.send("dialer", tenant_id=api.a.tenant_id, payload={"id": str(uuid.uuid4())})
        signals.lead_created.send("leads", tenant_id=api.a.tenant_id, payload={"id": 1})  # not subscribed
        Session.commit()
    stub_worker()
    assert sorted(json.loads(b)["event"] for _, b in target.received) == ["call.ended", "sale.created"]


def test_admin_replays_a_delivery(client, api, receiver, stub_worker):
    from tests.factories import csrf_from, login

    target = receiver()
    subscribe(api.a.tenant_id, target.url, ["lead.created"])
    post_lead(client, api.a.write_key, guide_lead(api.a.list_id))
    stub_worker()
    (first,) = deliveries(api.a.tenant_id)
    login(client, api.world.a.users["admin"].email, api.world.password)
    page = client.get("/admin/webhooks")
    assert page.status_code == 200 and target.url in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    assert client.post(f"/admin/webhooks/deliveries/{first.id}/replay", data={"csrf_token": token}).status_code == 302
    stub_worker()
    assert len(target.received) == 2
    assert json.loads(target.received[0][1])["id"] == json.loads(target.received[1][1])["id"]
    # another tenant's administrator cannot replay it
    client.post("/logout", data={"csrf_token": token})
    login(client, api.world.b.users["admin"].email, api.world.password)
    token_b = csrf_from(client.get("/admin/webhooks").get_data(as_text=True))
    assert client.post(f"/admin/webhooks/deliveries/{first.id}/replay", data={"csrf_token": token_b}).status_code == 404


def test_admin_creates_a_webhook_and_sees_its_secret_once(client, api):
    from tests.factories import csrf_from, login

    login(client, api.world.a.users["admin"].email, api.world.password)
    token = csrf_from(client.get("/admin/webhooks").get_data(as_text=True))
    response = client.post("/admin/webhooks", data={"csrf_token": token, "url": "https://crm.example.fr/hook",
                                                    "events": ["lead.created", "call.ended"]})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "whsec_" in html
    assert "whsec_" not in client.get("/admin/webhooks").get_data(as_text=True)
