"""Report pages: content, bad input, exports, custom reports, tenant isolation."""

from __future__ import annotations

import io

import openpyxl
import pytest

from tests.reports.conftest import DAY

DAYS = f"period=custom&from={DAY.isoformat()}&to={DAY.isoformat()}"
PAGES = ["/reports/", "/reports/agents", "/reports/campaigns", "/reports/statuses", "/reports/hourly", "/reports/costs",
         "/reports/abandon", "/reports/pauses", "/reports/calls", "/reports/custom", "/reports/board",
         "/reports/compliance"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_shows_own_tenant_only(client, world, calls, logged_in, path):
    logged_in(client, world.a.users["supervisor"], world.password)
    response = client.get(f"{path}?{DAYS}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:500]
    assert "B Rénovation" not in html and world.b.users["agent"].display_name not in html
    assert "+33699999999" not in html


@pytest.mark.parametrize("path", PAGES)
def test_agents_may_not_open_reports(client, world, calls, logged_in, path):
    logged_in(client, world.a.users["agent"], world.password)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ["/reports/", "/reports/agents", "/reports/campaigns", "/reports/statuses",
                                  "/reports/hourly", "/reports/costs", "/reports/abandon", "/reports/pauses", "/reports/calls",
                                  "/reports/compliance"])
def test_another_tenants_campaign_or_agent_is_404(client, world, calls, logged_in, path):
    logged_in(client, world.a.users["supervisor"], world.password)
    assert client.get(f"{path}?{DAYS}&campaign={calls['b'].campaign_id}").status_code == 404
    if path in ("/reports/", "/reports/hourly", "/reports/calls"):
        assert client.get(f"{path}?{DAYS}&agent={world.b.users['agent'].id}").status_code == 404


def test_dashboard_figures(client, world, calls, logged_in):
    logged_in(client, world.a.users["supervisor"], world.password)
    html = client.get(f"/reports/?{DAYS}").get_data(as_text=True)
    assert "A Rénovation" in html and world.a.users["agent"].display_name in html
    assert 'data-chart="' in html
    campaigns = client.get(f"/reports/campaigns?{DAYS}&campaign={calls['a'].campaign_id}").get_data(as_text=True)
    assert "VT · Vente" in campaigns and "&#34;threshold&#34;" in campaigns


def test_bad_periods_get_a_clear_message(client, world, calls, logged_in):
    logged_in(client, world.a.users["supervisor"], world.password)
    inverted = client.get("/reports/agents?period=custom&from=2026-11-20&to=2026-11-01")
    assert inverted.status_code == 400 and "end date is before the start date" in inverted.get_data(as_text=True)
    too_long = client.get("/reports/calls?period=custom&from=2024-01-01&to=2026-11-01")
    assert too_long.status_code == 400 and "at most 366 days" in too_long.get_data(as_text=True)
    assert client.get("/reports/calls?period=custom&from=nope").status_code == 400
    assert client.get(f"/reports/calls?{DAYS}&min_s=60&max_s=10").status_code == 400


def test_call_search_filters_and_totals(client, world, calls, logged_in):
    from app.reports import services
    from tenants.scoping import tenant_scope

    with tenant_scope(world.a.id):
        period = services.parse_period("custom", DAY.isoformat(), DAY.isoformat(), "Europe/Paris")
        everything = services.search_calls(services.CallFilters(period))
        assert everything.totals["calls"] == 10 and everything.totals["answer_rate"] == 90.0
        assert len(services.search_calls(services.CallFilters(period, min_s=200)).rows) == 2
        assert len(services.search_calls(services.CallFilters(period, number="06 11 11 11 12")).rows) == 1
        assert len(services.search_calls(services.CallFilters(period, status="rf")).rows) == 4
        first = services.search_calls(services.CallFilters(period), limit=6)
        second = services.search_calls(services.CallFilters(period), first.next_cursor, limit=6)
        assert len(first.rows) == 6 and len(second.rows) == 4 and second.next_cursor is None
        assert not {c.id for c in first.rows} & {c.id for c in second.rows}
    logged_in(client, world.a.users["supervisor"], world.password)
    html = client.get(f"/reports/calls?{DAYS}&direction=out&status=VT").get_data(as_text=True)
    assert html.count("<tr>") == 3  # header + 2 sales


def test_exports_in_three_formats(client, world, calls, logged_in):
    logged_in(client, world.a.users["supervisor"], world.password)
    assert client.get(f"/reports/agents?{DAYS}&export=csv").status_code == 403  # supervisors may not export
    logged_in(client, world.a.users["manager"], world.password)
    csv_body = client.get(f"/reports/agents?{DAYS}&export=csv")
    assert csv_body.mimetype == "text/csv"
    text = csv_body.get_data().decode("utf-8-sig")
    assert world.a.users["agent"].display_name in text and "Agent;Calls" in text
    xlsx = client.get(f"/reports/campaigns?{DAYS}&export=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.get_data())).active
    assert sheet.cell(2, 1).value == "A Rénovation" and sheet.cell(2, 2).value == 10
    pdf = client.get(f"/reports/calls?{DAYS}&export=pdf")
    assert pdf.mimetype == "application/pdf" and pdf.get_data().startswith(b"%PDF")
    for path in ("/reports/statuses", "/reports/hourly", "/reports/abandon", "/reports/compliance"):
        assert client.get(f"{path}?{DAYS}&export=csv").status_code == 200
    assert client.get(f"/reports/agents?{DAYS}&export=doc").status_code == 404


def test_custom_reports_saved_run_on_board_and_isolated(client, world, calls, logged_in):
    token = logged_in(client, world.a.users["supervisor"], world.password)
    response = client.post("/reports/custom", data={
        "csrf_token": token, "name": "Ventes par agent et jour", "dimensions": ["agent", "day"],
        "measures": ["calls", "sales", "conversion"], "period": "week", "chart": "bar", "on_dashboard": "y"})
    assert response.status_code == 302
    report_url = response.headers["Location"]
    html = client.get(f"{report_url}?{DAYS}").get_data(as_text=True)
    assert world.a.users["agent"].display_name in html and "24/11/2026" in html
    board = client.get(f"/reports/board?{DAYS}").get_data(as_text=True)
    assert "Ventes par agent et jour" in board
    again = client.post("/reports/custom", data={"csrf_token": token, "name": "Ventes par agent et jour",
                                                 "dimensions": ["agent"], "measures": ["calls"], "period": "week",
                                                 "chart": "bar"})
    assert again.status_code == 422 and "already exists" in again.get_data(as_text=True)
    other = client.application.test_client()
    other_token = logged_in(other, world.b.users["supervisor"], world.password)
    report_id = report_url.rstrip("/").split("/")[-1]
    assert other.get(f"/reports/custom/{report_id}").status_code == 404
    assert other.post(f"/reports/custom/{report_id}/delete", data={"csrf_token": other_token}).status_code == 404
    assert "Ventes par agent" not in other.get("/reports/board").get_data(as_text=True)
    assert client.post(f"/reports/custom/{report_id}/delete", data={"csrf_token": token}).status_code == 302
    assert client.get(f"/reports/custom/{report_id}").status_code == 404


def test_compliance_report_reuses_campaign_blocks_and_number_checks(client, world, calls, logged_in):
    import datetime as dt

    from app.campaigns.models import ComplianceBlock
    from app.extensions import Session
    from tenants.scoping import tenant_scope
    from tests.reports.conftest import at

    with tenant_scope(world.a.id):
        Session.add(ComplianceBlock(campaign_id=calls["a"].campaign_id, phone_number="+33612345678",
                                    reason="red_list", blocked_at=at(9)))
        Session.commit()
    logged_in(client, world.a.users["supervisor"], world.password)
    html = client.get(f"/reports/compliance?{DAYS}").get_data(as_text=True)
    assert "12.50 %" in html  # 1 abandoned of 8 live answers on the day
    assert "Over the target" in html
    assert "over" in html and (DAY - dt.timedelta(days=0)).strftime("%d/%m") in html


def test_custom_dimensions_week_area_list_direction(world, calls):
    from app.reports import services
    from tenants.scoping import tenant_scope

    with tenant_scope(world.a.id):
        period = services.parse_period("custom", "2026-11-23", DAY.isoformat(), "Europe/Paris")
        week = services.aggregate(period, ["week", "direction"], ["calls", "sales"])
        assert [(r["week_label"], r["direction_label"], r["calls"]) for r in week.rows] == [
            ("Week of 23/11/2026", "Outbound", 12)]
        area = services.aggregate(period, ["area", "list"], ["calls", "sales"])
        assert {(r["area_label"], r["sales"]) for r in area.rows} == {("75", 2), ("—", 0)}
