"""Call cost: priced when the call ends (outcomes.record_ending) at the routable
carrier's longest-prefix rate, rolled up, shown in the call details, their exports and
the telecom cost report; never another tenant's."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from decimal import Decimal

import openpyxl
import pytest
import sqlalchemy as sa

from app.calls.models import Call, CallDirection
from app.extensions import Session
from app.reports import rollup
from app.reports.models import ReportDaily
from telephony.dialer.calls import CallRecord, CallState
from telephony.dialer.outcomes import record_ending
from telephony.routing.models import Carrier, CarrierRate, Trunk
from tenants.scoping import tenant_scope
from tests.reports.conftest import DAY, ZONE, at

DAYS = f"period=custom&from={DAY.isoformat()}&to={DAY.isoformat()}"


@pytest.fixture()
def decks(db):
    """Alpha (a trunk): 33 at 0.01 60/60; 336 at 0.045 30/6 with a 0.01 fee; 3361 at
    0.02 1/1. Beta prices 33 cheaper but has no trunk: calls never go there."""
    alpha, beta = Carrier(name="Alpha"), Carrier(name="Beta")
    Session.add_all([alpha, beta])
    Session.flush()
    Session.add(Trunk(carrier_id=alpha.id, name="alpha-1", host="192.0.2.10"))
    Session.add_all([
        CarrierRate(carrier_id=alpha.id, prefix="33", rate_per_minute=Decimal("0.0100")),
        CarrierRate(carrier_id=alpha.id, prefix="336", rate_per_minute=Decimal("0.0450"),
                    connection_fee=Decimal("0.0100"), initial_increment=30, billing_increment=6),
        CarrierRate(carrier_id=alpha.id, prefix="3361", rate_per_minute=Decimal("0.0200"),
                    initial_increment=1, billing_increment=1),
        CarrierRate(carrier_id=beta.id, prefix="33", rate_per_minute=Decimal("0.0001")),
    ])
    Session.commit()
    return {"alpha": alpha.id, "beta": beta.id}


def end_call(campaign_id: int, number: str, started: dt.datetime, talk: float | None, *,
             direction: str = CallDirection.OUTBOUND, data: dict | None = None) -> Call:
    """A call as the dialer finishes it: CDR row, then the engine's record ended
    (``talk`` seconds after the answer, or not answered when None)."""
    call = Call(id=uuid.uuid4(), campaign_id=campaign_id, direction=direction, phone_number=number,
                state=CallState.DIALLING, started_at=started, times={})
    Session.add(call)
    Session.flush()
    times = {CallState.DIALLING: 0.0}
    if talk is None:
        state, ended = CallState.NO_ANSWER, 20.0
    else:
        call.answered_at = started + dt.timedelta(seconds=10)
        times |= {CallState.ANSWERED: 10.0, CallState.BRIDGED: 10.5, CallState.WRAP_UP: 10.0 + talk,
                  CallState.DISPOSITIONED: 20.0 + talk}
        state, ended = CallState.DISPOSITIONED, 10.0 + talk
    record = CallRecord(str(call.id), None, number, state, times, ended_at=ended, data=data or {})
    record_ending(call, record, lambda t: started + dt.timedelta(seconds=t))
    Session.flush()
    return call


def test_cost_by_longest_prefix_increments_and_fee(world, camps, decks):
    campaign = camps["a"].campaign_id
    with tenant_scope(world.a.id):
        landline = end_call(campaign, "+33123456789", at(10), 61.0)  # 33, 60/60: 2 minutes
        mobile = end_call(campaign, "+33712345678", at(10, 5), 30.2)  # 33 as well (337 not priced)
        six = end_call(campaign, "+33623456789", at(10, 10), 31.0)  # 336, 30/6 + fee: 36 s
        six_one = end_call(campaign, "+33612345678", at(10, 15), 61.4)  # 3361, 1/1: 62 s (a started second)
        media = end_call(campaign, "+33623456789", at(10, 20), 31.0, data={"billsec": "45"})  # the node's billsec
        Session.commit()
    assert (landline.billsec, landline.cost, landline.rate_prefix) == (61, Decimal("0.020000"), "33")
    assert landline.carrier_id == decks["alpha"]  # Beta is cheaper but has no trunk
    assert landline.rate_per_minute == Decimal("0.0100")
    assert (mobile.billsec, mobile.cost, mobile.rate_prefix) == (31, Decimal("0.010000"), "33")
    assert (six.billsec, six.cost, six.rate_prefix) == (31, Decimal("0.037000"), "336")  # 0.01 + 0.045 × 36/60
    assert (six_one.billsec, six_one.cost, six_one.rate_prefix) == (62, Decimal("0.020667"), "3361")
    assert (media.billsec, media.cost) == (45, Decimal("0.046000"))  # 0.01 + 0.045 × 48/60
    with tenant_scope(world.a.id):  # as stored, not only in memory
        assert Session.scalar(sa.select(Call.cost).where(Call.id == six.id)) == Decimal("0.037000")


def test_unanswered_unpriced_and_inbound_calls(world, camps, decks):
    campaign = camps["a"].campaign_id
    with tenant_scope(world.a.id):
        unanswered = end_call(campaign, "+33612345678", at(11), None)
        unpriced = end_call(campaign, "+442071234567", at(11, 5), 120.0)
        inbound = end_call(campaign, "+33612345678", at(11, 10), 60.0, direction=CallDirection.INBOUND)
        Session.commit()
    # not answered: the carrier bills nothing (no fee either) — a known cost of 0
    assert (unanswered.billsec, unanswered.cost, unanswered.carrier_id) == (0, Decimal(0), decks["alpha"])
    # no carrier prices the number: the cost is unknown (NULL), not 0
    assert (unpriced.billsec, unpriced.cost, unpriced.carrier_id, unpriced.rate_prefix) == (120, None, None, None)
    assert (inbound.billsec, inbound.cost, inbound.carrier_id) == (60, None, None)  # the decks price calls out


def test_a_disabled_carrier_or_trunk_prices_nothing(world, camps, decks):
    with tenant_scope(world.a.id):
        Session.execute(sa.update(Trunk).values(enabled=False))
        call = end_call(camps["a"].campaign_id, "+33123456789", at(12), 30.0)
    assert (call.cost, call.carrier_id) == (None, None)


@pytest.fixture()
def priced(world, camps, decks):
    """Tenant A: three priced calls (0.02 + 0.037 + 0) and one unpriced on DAY; tenant
    B: one dear call (9 minutes at 0.045 + fee). Rolled up."""
    with tenant_scope(world.a.id):
        end_call(camps["a"].campaign_id, "+33123456789", at(10), 61.0)
        end_call(camps["a"].campaign_id, "+33623456789", at(10, 10), 31.0)
        end_call(camps["a"].campaign_id, "+33623456780", at(10, 20), None)
        end_call(camps["a"].campaign_id, "+442071234567", at(10, 30), 120.0)
        rollup.rollup_range(DAY, DAY, ZONE)
        Session.commit()
    with tenant_scope(world.b.id):
        end_call(camps["b"].campaign_id, "+33699999999", at(10), 540.0)
        rollup.rollup_range(DAY, DAY, ZONE)
        Session.commit()
    return camps


def test_rollup_keeps_cost_per_campaign_and_day(world, priced):
    with tenant_scope(world.a.id):
        row = Session.execute(sa.select(sa.func.sum(ReportDaily.cost), sa.func.sum(ReportDaily.priced),
                                        sa.func.sum(ReportDaily.billed_s), sa.func.sum(ReportDaily.calls))
                              .where(ReportDaily.day == DAY)).one()
        assert tuple(row) == (Decimal("0.057000"), 3, 61 + 31 + 120, 4)
        from app.reports import services

        period = services.parse_period("custom", DAY.isoformat(), DAY.isoformat(), ZONE)
        table = services.telecom_costs(period)
        assert [(r["day_label"], r["campaign_label"], r["cost"], r["avg_cost"]) for r in table.rows] == [
            ("24/11/2026", "A Rénovation", Decimal("0.057000"), Decimal("0.0190"))]
        results = services.campaign_results(period)
        assert results.totals["cost"] == Decimal("0.057000")
    with tenant_scope(world.b.id):
        assert Session.scalar(sa.select(sa.func.sum(ReportDaily.cost))) == Decimal("0.415000")


def test_call_details_show_cost_totals_and_averages_of_own_tenant(client, world, priced, logged_in):
    logged_in(client, world.a.users["manager"], world.password)
    html = client.get(f"/reports/calls?{DAYS}").get_data(as_text=True)
    assert "0.0370 €" in html and "0.0200 €" in html and "0.0000 €" in html
    assert html.count("<td class=\"num nowrap\">—</td>") == 1  # the unpriced call
    assert "0.0570 €" in html  # total of the priced calls
    assert "average 0.0190 € per priced call (3 priced)" in html
    assert "0.4150" not in html and "+33699999999" not in html  # tenant B's call
    csv_text = client.get(f"/reports/calls?{DAYS}&export=csv").get_data().decode("utf-8-sig")
    lines = csv_text.strip().splitlines()
    assert lines[0].endswith(";Billed time;Cost")
    assert any(line.endswith(";31.0;0.037000") for line in lines)
    assert any(";+442071234567;" in line and line.endswith(";120.0;") for line in lines)  # unpriced: empty cell
    assert lines[-2].startswith("Total: 4 calls;") and lines[-2].endswith(";0.057000")
    assert lines[-1].startswith("Average;") and lines[-1].endswith(";0.0190")
    assert "0.415" not in csv_text
    sheet = openpyxl.load_workbook(io.BytesIO(client.get(f"/reports/calls?{DAYS}&export=xlsx").get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-1] == "Cost" and rows[-2][-1] == pytest.approx(0.057) and rows[-1][-1] == pytest.approx(0.019)
    assert sorted(r[-1] for r in rows[1:-2] if r[-1] is not None) == pytest.approx([0, 0.02, 0.037])
    pdf = client.get(f"/reports/calls?{DAYS}&export=pdf")
    assert pdf.status_code == 200 and pdf.get_data().startswith(b"%PDF")


def test_cost_report_page_export_and_isolation(client, world, priced, logged_in):
    logged_in(client, world.a.users["manager"], world.password)
    html = client.get(f"/reports/costs?{DAYS}").get_data(as_text=True)
    assert "Telecom costs" in html and "A Rénovation" in html and "0.0570 €" in html and "0.0190 €" in html
    assert "B Rénovation" not in html and "0.4150" not in html
    assert client.get(f"/reports/costs?{DAYS}&campaign={priced['b'].campaign_id}").status_code == 404
    csv_text = client.get(f"/reports/costs?{DAYS}&export=csv").get_data().decode("utf-8-sig")
    assert "Day;Campaign;Calls;Answered;Billed time;Cost;Average cost per call" in csv_text
    assert "0.057000" in csv_text and "0.415" not in csv_text
    other = client.application.test_client()
    logged_in(other, world.b.users["manager"], world.password)
    html_b = other.get(f"/reports/costs?{DAYS}").get_data(as_text=True)
    assert "0.4150 €" in html_b and "0.0570" not in html_b
