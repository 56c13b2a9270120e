"""Platform page for trunks and rate decks: listing, CSV upload with per-row errors,
platform staff only."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from app.extensions import Session
from app.telephony_http import tasks
from kamailio import tables as kt
from telephony.routing.models import Carrier, CarrierRate, Trunk
from tests.factories import csrf_from, login


@pytest.fixture()
def carrier(db):
    carrier = Carrier(name="Opérateur Alpha")
    carrier.trunks.append(Trunk(name="alpha-sbc", host="192.0.2.1", port=5060, channel_limit=30))
    Session.add(carrier)
    Session.commit()
    yield carrier
    for table in (kt.lcr_rule_target, kt.lcr_rule, kt.lcr_gw, kt.dispatcher, kt.htable):
        Session.execute(sa.delete(table))
    Session.commit()


@pytest.fixture()
def queued(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.sync_kamailio_routing, "send_with_options", lambda **kw: sent.append(kw))
    return sent


def _upload(client, carrier_id: int, text: str, token: str):
    return client.post(f"/platform/telephony/carriers/{carrier_id}/rates",
                       data={"csrf_token": token, "deck": (io.BytesIO(text.encode()), "deck.csv")},
                       content_type="multipart/form-data")


def test_platform_admin_sees_trunks_and_replaces_a_rate_deck(client, world, carrier, queued):
    assert login(client, world.platform_admin.email, world.password).status_code == 302
    page = client.get("/platform/telephony/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Opérateur Alpha" in html and "udp:192.0.2.1:5060" in html
    token = csrf_from(html)
    done = _upload(client, carrier.id, "prefix;rate_per_minute\n33;0,0100\n336;0,0450\n", token)
    assert done.status_code == 302
    assert sorted(Session.scalars(sa.select(CarrierRate.prefix))) == ["33", "336"]
    assert queued == [{"tenant_id": None}], "the new deck reaches Kamailio through the sync job"
    Session.rollback()


def test_bad_rows_are_listed_and_nothing_changes(client, world, carrier, queued):
    login(client, world.platform_admin.email, world.password)
    token = csrf_from(client.get("/platform/telephony/").get_data(as_text=True))
    assert _upload(client, carrier.id, "prefix,rate_per_minute\n33,0.01\n", token).status_code == 302
    queued.clear()
    bad = _upload(client, carrier.id, "prefix,rate_per_minute\n34,0.02\n3x,0.01\n35,cher\n", token)
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "was not imported" in html
    assert '<td class="num">3</td>' in html and '<td class="num">4</td>' in html
    assert list(Session.scalars(sa.select(CarrierRate.prefix))) == ["33"]
    assert queued == []
    Session.rollback()
    missing = client.post(f"/platform/telephony/carriers/{carrier.id}/rates", data={"csrf_token": token})
    assert missing.status_code == 422
    assert _upload(client, 999999, "prefix,rate_per_minute\n33,0.01\n", token).status_code == 404


@pytest.mark.parametrize("role", ["admin", "manager", "supervisor", "agent"])
def test_tenant_users_may_not_open_it(client, world, carrier, role):
    login(client, f"{role}@alpha-appels.fr", world.password)
    assert client.get("/platform/telephony/").status_code == 403
    token = csrf_from(client.get("/", follow_redirects=True).get_data(as_text=True))
    assert _upload(client, carrier.id, "prefix,rate_per_minute\n33,0.01\n", token).status_code == 403
    assert Session.scalar(sa.select(sa.func.count()).select_from(CarrierRate)) == 0
    Session.rollback()


def test_anonymous_users_log_in_first(client, carrier):
    assert client.get("/platform/telephony/").status_code == 302
