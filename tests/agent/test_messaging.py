"""Internal messaging: one-to-one, broadcast by supervisors, unread badge, live
announcement on the tenant's channel, history kept, never across tenants."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from app.extensions import Session, redis
from app.messaging import services
from app.messaging.models import Message
from app.realtime import bus
from tenants.scoping import tenant_scope
from tests.factories import csrf_from, login


def _send(client, world, user, recipient_id: int, body: str):
    login(client, user.email, world.password)
    token = csrf_from(client.get("/messages/").get_data(as_text=True))
    return client.post("/messages/", data={"csrf_token": token, "recipient_id": recipient_id, "body": body})


def test_supervisor_broadcast_is_announced_after_commit_and_counted_unread(client, world):
    supervisor, agent = world.a.users["supervisor"], world.a.users["agent"]
    pubsub = redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(bus.events_channel(world.a.id))
    try:
        response = _send(client, world, supervisor, 0, "Brief à 14 h")
        assert response.status_code == 302
        event: dict = {}
        deadline = time.monotonic() + 5
        while event.get("type") != "message" and time.monotonic() < deadline:
            raw = pubsub.get_message(timeout=0.5)  # None for the subscribe confirmation too
            event = json.loads(raw["data"]) if raw else {}
        assert event["recipient_id"] is None and event["sender_id"] == supervisor.id
    finally:
        pubsub.close()
    with tenant_scope(world.a.id):
        assert services.unread_count(agent) == 1
        assert services.unread_count(supervisor) == 0, "one's own broadcast is not unread"
        Session.rollback()
    client.post("/logout")
    login(client, agent.email, world.password)
    assert "Brief à 14 h" in client.get("/messages/").get_data(as_text=True)
    with tenant_scope(world.a.id):
        assert services.unread_count(agent) == 0, "opening the page reads them"
        Session.rollback()


def test_agents_cannot_broadcast_and_write_one_to_one(client, world):
    agent, supervisor = world.a.users["agent"], world.a.users["supervisor"]
    response = _send(client, world, agent, 0, "Tout le monde ?")
    assert response.status_code == 422
    response = _send(client, world, agent, supervisor.id, "Besoin d'aide sur un dossier")
    assert response.status_code == 302
    with tenant_scope(world.a.id):
        message = Session.scalars(sa.select(Message)).one()
        assert (message.sender_id, message.recipient_id) == (agent.id, supervisor.id)
        Session.rollback()


def test_messages_never_cross_tenants(client, world):
    intruder, target = world.b.users["supervisor"], world.a.users["agent"]
    response = _send(client, world, intruder, target.id, "Bonjour d'ailleurs")
    assert response.status_code == 422, "another tenant's user is not a choice"
    with tenant_scope(world.a.id):
        Session.add(Message(sender_id=world.a.users["supervisor"].id, recipient_id=None, body="Secret A"))
        Session.commit()
    client.post("/logout")
    login(client, world.b.users["agent"].email, world.password)
    assert "Secret A" not in client.get("/messages/").get_data(as_text=True)
    with tenant_scope(world.b.id):
        assert services.unread_count(world.b.users["agent"]) == 0
        assert services.get_message_for(world.b.users["agent"], 1) is None
        Session.rollback()
