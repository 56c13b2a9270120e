"""Kamailio routing sync: a change to trunks or rate decks queues the job after the
commit; the job rewrites Kamailio's tables and reloads each Kamailio over JSON-RPC."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app.extensions import Session
from app.telephony_http import tasks
from kamailio import tables as kt
from kamailio.rpc import KamailioRpcError
from telephony.routing import services
from telephony.routing.models import Carrier, Trunk


class FakeKamailio(http.server.BaseHTTPRequestHandler):
    calls: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeKamailio.calls.append(body["method"])
        answer = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture()
def kamailio_rpc() -> Iterator[str]:
    FakeKamailio.calls = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeKamailio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/RPC"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture()
def clean_kamailio_tables(db):
    yield
    for table in (kt.lcr_rule_target, kt.lcr_rule, kt.lcr_gw, kt.dispatcher, kt.htable):
        Session.execute(sa.delete(table))
    Session.commit()


def _use_rpc(monkeypatch, url: str) -> None:
    from app import runtime

    monkeypatch.setitem(runtime._current, "config",
                        dataclasses.replace(runtime.current_config(), KAMAILIO_RPC_URLS=url))
    monkeypatch.setenv("KAMAILIO_RPC_URLS", url)  # a worker boots its own config


def _add_carrier() -> None:
    carrier = Carrier(name="alpha")
    carrier.trunks.append(Trunk(name="alpha-sbc", host="192.0.2.1", port=5060))
    Session.add(carrier)
    Session.flush()
    services.import_rate_deck(Session(), carrier, "prefix,rate_per_minute\n33,0.01\n")


def test_a_trunk_change_queues_the_sync_and_the_job_reloads_kamailio(
        app, db, clean_kamailio_tables, kamailio_rpc, monkeypatch):
    _use_rpc(monkeypatch, kamailio_rpc)
    sent = []
    monkeypatch.setattr(tasks.sync_kamailio_routing, "send_with_options", lambda **kw: sent.append(kw))
    _add_carrier()
    Session.commit()
    assert sent == [{"tenant_id": None}]
    tasks.sync_kamailio_routing()  # what the worker runs for that message
    assert "lcr.reload" in FakeKamailio.calls
    gateways = Session.execute(sa.select(kt.lcr_gw.c.ip_addr, kt.lcr_gw.c.port)).all()
    assert gateways == [("192.0.2.1", 5060)]
    Session.rollback()


def test_no_change_no_job_and_a_rollback_forgets_the_change(app, db, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.sync_kamailio_routing, "send_with_options", lambda **kw: sent.append(kw))
    Session.execute(sa.select(1))
    Session.commit()
    _add_carrier()
    Session.rollback()
    Session.commit()
    assert sent == []
    _add_carrier()
    Session.commit()
    assert sent == [{"tenant_id": None}]


def test_unreachable_kamailio_fails_the_job_for_a_retry_with_rows_committed(
        app, db, clean_kamailio_tables, monkeypatch):
    _use_rpc(monkeypatch, "http://127.0.0.1:9/RPC")
    monkeypatch.setattr(tasks.sync_kamailio_routing, "send_with_options", lambda **kw: None)
    _add_carrier()
    Session.commit()
    with pytest.raises(KamailioRpcError):
        tasks.sync_kamailio_routing()
    retry_when = tasks.sync_kamailio_routing.options["retry_when"]
    assert retry_when(0, KamailioRpcError("down")) and not retry_when(0, ValueError("bug"))
    Session.rollback()
    assert Session.scalar(sa.select(sa.func.count()).select_from(kt.lcr_gw)) == 1
    Session.rollback()
