"""Statistics pages: dashboard, ready-made reports, call search, custom reports,
compliance; every report exports to CSV, XLSX and PDF (``?export=``)."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.auth.models import User
from app.auth.permissions import Permission, can, require
from app.campaigns.models import Campaign
from app.core.loaders import get_or_404
from app.core.nav import SECTION_MANAGE, NavItem, register_nav
from app.core.rendering import render
from app.reports import background, compliance, custom, exports, services
from app.reports.forms import CustomReportForm
from app.reports.models import ReportExport, SavedReport
from app.reports.services import ReportError

bp = Blueprint("reports", __name__, url_prefix="/reports")
register_nav(SECTION_MANAGE, NavItem(_l("Statistics"), "reports.dashboard", Permission.VIEW_REPORTS, "chart"))


def _zone() -> str:
    return getattr(g.tenant, "timezone", None) or "Europe/Paris"


def _period() -> services.Period:
    args = request.args
    return services.parse_period(args.get("period"), args.get("from"), args.get("to"), _zone())


def _campaign() -> Campaign | None:
    value = request.args.get("campaign")
    return get_or_404(Campaign, value) if value else None


def _agent() -> User | None:
    value = request.args.get("agent")
    return get_or_404(User, value) if value else None


def _choices() -> dict:
    import sqlalchemy as sa

    from app.auth.models import Role
    from app.extensions import Session

    return {
        "campaign_choices": list(Session.execute(sa.select(Campaign.id, Campaign.name).order_by(Campaign.name))),
        "agent_choices": list(Session.execute(sa.select(User.id, User.display_name).where(
            User.role == Role.AGENT).order_by(User.display_name))),
        "presets": services.PRESETS,
    }


def _error_page(error: ReportError, template: str = "reports/error.html"):
    return render(template, error=str(error), **_choices()), 400


@bp.errorhandler(ReportError)
def _report_error(error: ReportError):
    """A bad period or filter anywhere in these reports: the same page, 400."""
    return _error_page(error)


def _export(table_title: str, columns, rows, totals, period: services.Period, averages: dict | None = None) -> Response:
    file_format = request.args.get("export", "")
    if file_format not in exports.FORMATS:
        abort(404)
    if not can(g.user, Permission.EXPORT_DATA):
        abort(403)
    subtitle = _("From %(first)s to %(last)s", first=period.first.strftime("%d/%m/%Y"),
                 last=period.last.strftime("%d/%m/%Y"))
    body = exports.render(file_format, table_title, subtitle, columns, rows, totals, g.tenant, averages)
    name = f"{table_title.lower().replace(' ', '-')}-{period.first.isoformat()}-{period.last.isoformat()}.{file_format}"
    return Response(body, mimetype=exports.FORMATS[file_format],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _table_response(table: services.Table, period: services.Period, template: str, **context):
    if request.args.get("export"):
        return _export(table.title, table.columns(), table.rows, table.totals, period)
    return render(template, table=table, period=period, **_choices(), **context)


# ----------------------------------------------------------------- dashboard
@bp.get("/")
@require(Permission.VIEW_REPORTS)
def dashboard():
    period = _period()
    campaign, agent = _campaign(), _agent()
    campaign_id = campaign.id if campaign else None
    filters = {"campaign_id": campaign_id, "agent_id": agent.id if agent else None}
    agents = services.aggregate(period, ["agent"], ["calls", "connected", "sales", "callbacks", "talk_s",
                                                    "wrapup_s", "wait_s"], filters, str(_l("Production per agent")))
    campaigns = services.aggregate(period, ["campaign"], ["calls", "connected", "sales", "callbacks", "talk_s",
                                                          "abandon_rate", "cost"], filters,
                                   str(_l("Production per campaign")))
    hours = services.by_hour(period, campaign_id, filters["agent_id"])
    times = services.agent_times(period, campaign_id)
    chart = services.chart_spec(hours, "hour_label", [("connected", _l("Connected calls")), ("sales", _l("Sales"))])
    return render("reports/dashboard.html", period=period, agents=agents, campaigns=campaigns, hours=hours,
                  chart=json.dumps(chart), campaign=campaign, agent=agent, totals=campaigns.totals, times=times,
                  **_choices())


# ---------------------------------------------------------------- ready-made
@bp.get("/agents")
@require(Permission.VIEW_REPORTS)
def agents():
    period = _period()
    campaign = _campaign()
    table = services.agent_performance(period, campaign.id if campaign else None)
    return _table_response(table, period, "reports/table_page.html", campaign=campaign, current="agents")


@bp.get("/campaigns")
@require(Permission.VIEW_REPORTS)
def campaigns():
    period = _period()
    campaign = _campaign()
    campaign_id = campaign.id if campaign else None
    table = services.campaign_results(period, campaign_id)
    if request.args.get("export"):
        return _export(table.title, table.columns(), table.rows, table.totals, period)
    statuses = services.status_breakdown(period, campaign_id)
    abandon = services.abandon_by_day(period, campaign_id)
    target = round(100.0 * campaign.abandon_target, 2) if campaign else 3.0
    abandon_chart = services.chart_spec(abandon, "day_label", [("abandon_rate", _l("Abandon rate"))], "line",
                                        threshold=target, percent=True)
    status_chart = services.chart_spec(statuses, "status_label", [("calls", _l("Calls"))])
    return render("reports/campaigns.html", table=table, statuses=statuses, abandon=abandon, period=period,
                  campaign=campaign, target=target, abandon_chart=json.dumps(abandon_chart),
                  status_chart=json.dumps(status_chart), current="campaigns", **_choices())


@bp.get("/statuses")
@require(Permission.VIEW_REPORTS)
def statuses():
    period = _period()
    campaign = _campaign()
    table = services.status_breakdown(period, campaign.id if campaign else None)
    return _table_response(table, period, "reports/table_page.html", campaign=campaign, current="statuses")


@bp.get("/pauses")
@require(Permission.VIEW_REPORTS)
def pauses():
    period = _period()
    campaign = _campaign()
    campaign_id = campaign.id if campaign else None
    table = services.pause_report(period, campaign_id)
    if request.args.get("export"):
        return _export(table.title, table.columns(), table.rows, table.totals, period)
    times = services.agent_times(period, campaign_id)
    return render("reports/pauses.html", table=table, times=times, period=period, campaign=campaign,
                  current="pauses", **_choices())


@bp.get("/costs")
@require(Permission.VIEW_REPORTS)
def costs():
    period = _period()
    campaign = _campaign()
    table = services.telecom_costs(period, campaign.id if campaign else None)
    return _table_response(table, period, "reports/table_page.html", campaign=campaign, current="costs")


@bp.get("/hourly")
@require(Permission.VIEW_REPORTS)
def hourly():
    period = _period()
    campaign, agent = _campaign(), _agent()
    table = services.by_hour(period, campaign.id if campaign else None, agent.id if agent else None)
    chart = services.chart_spec(table, "hour_label", [("calls", _l("Calls")), ("connected", _l("Connected calls"))])
    return _table_response(table, period, "reports/table_page.html", campaign=campaign, agent=agent,
                           chart=json.dumps(chart), current="hourly")


@bp.get("/abandon")
@require(Permission.VIEW_REPORTS)
def abandon():
    period = _period()
    campaign = _campaign()
    table = services.abandon_by_day(period, campaign.id if campaign else None)
    target = round(100.0 * campaign.abandon_target, 2) if campaign else 3.0
    chart = services.chart_spec(table, "day_label", [("abandon_rate", _l("Abandon rate"))], "line",
                                threshold=target, percent=True)
    return _table_response(table, period, "reports/table_page.html", campaign=campaign, chart=json.dumps(chart),
                           current="abandon")


# -------------------------------------------------------------- call search
def _float_arg(name: str) -> float | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise ReportError(_l("Durations are numbers of seconds.")) from exc


@bp.get("/calls")
@require(Permission.VIEW_REPORTS)
def calls():
    try:
        period = _period()
        campaign, agent = _campaign(), _agent()
        direction = request.args.get("direction") or None
        if direction not in (None, "in", "out", "internal"):
            raise ReportError(_l("Unknown call type."))
        filters = services.CallFilters(period, direction, campaign.id if campaign else None,
                                       agent.id if agent else None, request.args.get("number") or None,
                                       _float_arg("min_s"), _float_arg("max_s"), request.args.get("status") or None)
        if request.args.get("export"):
            file_format = request.args["export"]
            if file_format not in exports.FORMATS:
                abort(404)
            if not can(g.user, Permission.EXPORT_DATA):
                abort(403)
            if background.count_calls(filters) > services.EXPORT_SYNC_ROWS:
                if file_format == "pdf":
                    raise ReportError(_l("A PDF holds at most %(n)s calls: export this selection as CSV or XLSX, "
                                         "or narrow it.", n=services.EXPORT_SYNC_ROWS))
                params = {k: v for k, v in request.args.items() if k not in ("export", "after")}
                export = background.queue_export(g.user.id, "calls", params, file_format)
                return redirect(url_for("reports.export_status", export_id=export.id))
            table = services.calls_table(filters, services.EXPORT_SYNC_ROWS)
            columns = [(key, str(label), kind) for key, label, kind in services.CALL_COLUMNS]
            totals, averages = services.call_footers(filters)
            return _export(table.title, columns, table.rows, totals, period, averages)
        result = services.search_calls(filters, request.args.get("after"))
    except ReportError as error:
        return _error_page(error)
    args = request.args.to_dict()
    args.pop("after", None)
    next_url = url_for("reports.calls", **args, after=result.next_cursor) if result.next_cursor else None
    return render("reports/calls.html", result=result, period=period, campaign=campaign, agent=agent,
                  next_url=next_url, zone=period.zone, zone_info=ZoneInfo, current="calls", **_choices())


# ----------------------------------------------------------- custom reports
@bp.route("/custom", methods=["GET", "POST"])
@require(Permission.VIEW_REPORTS)
def custom_reports():
    form = CustomReportForm()
    if form.validate_on_submit():
        try:
            report = custom.save_report(g.user, form.name.data, form.dimensions.data, form.measures.data,
                                        form.period.data, form.chart.data, form.on_dashboard.data)
        except ReportError as error:
            form.name.errors.append(str(error))
        else:
            flash(_("Report “%(name)s” saved.", name=report.name), "success")
            return redirect(url_for("reports.custom_report", report_id=report.id))
    return render("reports/custom.html", form=form, saved=custom.saved_reports(), current="custom", **_choices()), \
        (422 if form.errors else 200)


@bp.get("/custom/<int:report_id>")
@require(Permission.VIEW_REPORTS)
def custom_report(report_id: int):
    report = get_or_404(SavedReport, report_id)
    try:
        period = _period() if request.args.get("period") or request.args.get("from") else \
            services.parse_period(report.period, None, None, _zone())
        table = custom.run_report(report, period)
    except ReportError as error:
        return _error_page(error)
    chart = json.dumps(custom.chart_for(report, table))
    return _table_response(table, period, "reports/custom_report.html", report=report, chart=chart,
                           current="custom")


@bp.post("/custom/<int:report_id>/delete")
@require(Permission.VIEW_REPORTS)
def delete_custom_report(report_id: int):
    report = get_or_404(SavedReport, report_id)
    custom.delete_report(g.user, report)
    flash(_("Report deleted."), "success")
    return redirect(url_for("reports.custom_reports"))


@bp.get("/board")
@require(Permission.VIEW_REPORTS)
def board():
    try:
        period = _period() if request.args.get("period") or request.args.get("from") else None
        panels = custom.board(period, _zone())
    except ReportError as error:
        return _error_page(error)
    return render("reports/board.html", panels=panels, period=period, current="board", **_choices())


# --------------------------------------------------------------- compliance
@bp.get("/compliance")
@require(Permission.VIEW_REPORTS)
def compliance_report():
    try:
        period = _period() if request.args.get("period") or request.args.get("from") else \
            services.parse_period("30d", None, None, _zone())
    except ReportError as error:
        return _error_page(error)
    campaign = _campaign()
    report = compliance.build(period, campaign, dt.datetime.now(dt.UTC))
    if request.args.get("export"):
        return _export(report.table.title, report.table.columns(), report.table.rows, None, period)
    return render("reports/compliance.html", report=report, period=period, campaign=campaign,
                  current="compliance", **_choices())


# ------------------------------------------------------- background exports
def _own_export(export_id: int) -> ReportExport:
    export = get_or_404(ReportExport, export_id)
    if export.user_id != g.user.id:
        abort(404)
    return export


@bp.get("/exports/<int:export_id>")
@require(Permission.EXPORT_DATA)
def export_status(export_id: int):
    export = _own_export(export_id)
    return render("reports/export.html", export=export)


@bp.get("/exports/<int:export_id>/download")
@require(Permission.EXPORT_DATA)
def export_download(export_id: int):
    import pathlib

    from flask import send_file

    export = _own_export(export_id)
    if export.state != "done" or not export.path or not pathlib.Path(export.path).exists():
        abort(404)
    return send_file(export.path, mimetype=exports.FORMATS[export.file_format], as_attachment=True,
                     download_name=f"calls-{export.id}.{export.file_format}")
