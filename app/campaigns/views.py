"""Campaign pages: settings, statuses, pause codes, scripts, callbacks, compliance report."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, g, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice

from app.auth.models import Role, User, UserGroup
from app.auth.permissions import Permission, can, require
from app.campaigns import callbacks as callback_services
from app.campaigns import compliance as compliance_services
from app.campaigns import scripts as script_services
from app.campaigns import services
from app.campaigns.forms import (
    CATEGORY_LABELS,
    DIAL_ORDER_LABELS,
    FLAG_LABELS,
    PAUSE_MODE_LABELS,
    WEEKDAYS,
    CallbackForm,
    CampaignForm,
    CloneForm,
    PauseCodeForm,
    PauseModeForm,
    ScriptForm,
    StatusForm,
    TransferForm,
    dial_mode_choices,
)
from app.campaigns.models import Callback, Campaign, CampaignStatus, PauseCode, Script, ScriptVersion
from app.compliance import REASON_LABELS, Reason, Severity, rule_for
from app.core.loaders import get_or_404
from app.core.nav import SECTION_MANAGE, SECTION_WORK, NavItem, register_nav
from app.core.rendering import render
from app.db import utcnow
from app.extensions import Session
from app.leads.models import Lead
from app.leads.phones import normalize_phone
from telephony.routing.models import Trunk

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")
register_nav(SECTION_MANAGE, NavItem(_l("Campaigns"), "campaigns.index", Permission.MANAGE_CAMPAIGNS, "◎"))
register_nav(SECTION_MANAGE, NavItem(_l("Scripts"), "campaigns.scripts", Permission.MANAGE_CAMPAIGNS, "☰"))
register_nav(SECTION_WORK, NavItem(_l("Callbacks"), "campaigns.my_callbacks", Permission.AGENT_WORKSPACE, "↺"))

REPORT_DAYS = 30


@bp.context_processor
def labels() -> dict[str, object]:
    return {"CATEGORY_LABELS": CATEGORY_LABELS, "FLAG_LABELS": FLAG_LABELS, "DIAL_ORDER_LABELS": DIAL_ORDER_LABELS,
            "PAUSE_MODE_LABELS": PAUSE_MODE_LABELS, "WEEKDAYS": WEEKDAYS}


def _upload_root() -> pathlib.Path:
    root = pathlib.Path(current_app.root_path).parent
    return pathlib.Path(current_app.config.get("UPLOAD_DIR") or root / "var" / "uploads")


def _country() -> str:
    return getattr(g.tenant, "country", None) or "FR"


def _campaign_child(model: type, object_id: int, campaign: Campaign):
    obj = get_or_404(model, object_id)
    if obj.campaign_id != campaign.id:
        abort(404)
    return obj


# ----------------------------------------------------------------- campaigns
@bp.get("/")
@require(Permission.MANAGE_CAMPAIGNS)
def index():
    archived = request.args.get("archived") == "1"
    stmt = sa.select(Campaign).where(Campaign.archived_at.is_not(None) if archived else Campaign.archived_at.is_(None))
    campaigns = list(Session.scalars(stmt.order_by(Campaign.name)))
    return render("campaigns/index.html", campaigns=campaigns, archived=archived)


def _choose(form: CampaignForm, campaign: Campaign | None) -> None:
    form.dial_mode.choices = dial_mode_choices()
    trunks = Session.scalars(sa.select(Trunk).where(Trunk.enabled.is_(True)).order_by(Trunk.name))
    form.trunk_id.choices = [SelectChoice(0, _("Automatic (least-cost routing)"))] + [
        SelectChoice(trunk.id, trunk.name) for trunk in trunks]
    statuses = ([(s.code, s.name) for s in campaign.statuses if not s.system] if campaign else
                [(spec.code, spec.name) for spec in services.DEFAULT_STATUSES if not spec.system])
    form.wrapup_status.choices = [SelectChoice("", _("Nothing: wait for the agent's disposition"))] + [
        SelectChoice(code, f"{name} ({code})") for code, name in statuses]
    form.script_id.choices = [SelectChoice(0, _("— no script —"))] + [
        SelectChoice(script.id, script.name) for script in Session.scalars(sa.select(Script).order_by(Script.name))]
    agents = Session.scalars(sa.select(User).where(User.active.is_(True), User.role == Role.AGENT)
                             .order_by(User.display_name))
    form.agents.choices = [SelectChoice(user.id, user.display_name) for user in agents]
    form.groups.choices = [SelectChoice(group.id, f"{group.name} ({group.code})")
                           for group in Session.scalars(sa.select(UserGroup).order_by(UserGroup.name))]
    lists = services.campaign_lists(campaign) if campaign else []
    form.lists.choices = [SelectChoice(item.id, item.name) for item in lists]


def _fill(form: CampaignForm, campaign: Campaign) -> None:
    """Form data from the campaign (GET of the edit page)."""
    form.process(obj=campaign)
    form.trunk_id.data = campaign.trunk_id or 0
    form.script_id.data = campaign.script_id or 0
    form.dids.data = "\n".join(campaign.dids)
    form.min_spacing_minutes.data = (int(campaign.min_attempt_spacing.total_seconds() // 60)
                                     if campaign.min_attempt_spacing else None)
    form.refusal_delay_days.data = campaign.refusal_delay.days if campaign.refusal_delay else None
    form.abandon_target_pct.data = Decimal(str(round(campaign.abandon_target * 100, 1)))
    form.lists.data = [item.id for item in services.campaign_lists(campaign) if item.active]
    form.agents.data = services.assigned_agent_ids(campaign)
    form.groups.data = services.assigned_group_ids(campaign)
    hours = campaign.calling_hours or {}
    for day, entry in enumerate(form.hours):
        ranges = list(hours.get(day, []))
        entry.start1.data, entry.end1.data = ranges[0] if ranges else (None, None)
        entry.start2.data, entry.end2.data = ranges[1] if len(ranges) > 1 else (None, None)


def _phone(form_field, raw: str) -> str | None:
    result = normalize_phone(raw, _country())
    if result.e164 is None:
        form_field.errors.append(_("%(number)s is not a valid phone number.", number=raw))
    return result.e164


def _hours(form: CampaignForm) -> dict[str, list[list[str]]] | None:
    hours: dict[str, list[list[str]]] = {}
    for day, entry in enumerate(form.hours):
        ranges = []
        for start, end in ((entry.start1, entry.end1), (entry.start2, entry.end2)):
            if start.data is None and end.data is None:
                continue
            problem = None
            if start.data is None or end.data is None:
                problem = _("Give both the start and the end.")
            elif end.data <= start.data:
                problem = _("The end of a time range must be after its start.")
            if problem:
                end.errors.append(problem)
                form.form_errors.append(_("Calling hours, %(day)s: %(problem)s", day=WEEKDAYS[day], problem=problem))
                return None
            ranges.append([start.data.strftime("%H:%M"), end.data.strftime("%H:%M")])
        if ranges:
            hours[str(day)] = ranges
    return hours


def _settings(form: CampaignForm, campaign: Campaign | None) -> dict[str, object] | None:
    """Service settings from a valid form, or None after putting errors on fields."""
    if services.name_taken(form.name.data, exclude_id=campaign.id if campaign else None):
        # Checked here too so that every error of the form shows at once.
        form.name.errors.append(_("Another campaign already has this name."))
    raw_caller_id = (form.caller_id.data or "").strip()
    caller_id = _phone(form.caller_id, raw_caller_id) if raw_caller_id else None
    dids = [_phone(form.dids, line.strip()) for line in (form.dids.data or "").splitlines() if line.strip()]
    hours = _hours(form)
    if form.name.errors or form.caller_id.errors or form.dids.errors or hours is None:
        return None
    spacing, delay = form.min_spacing_minutes.data, form.refusal_delay_days.data
    return {
        "name": form.name.data, "dial_mode": form.dial_mode.data, "trunk_id": form.trunk_id.data or None,
        "caller_id": caller_id, "local_presence": form.local_presence.data, "dids": list(dict.fromkeys(dids)),
        "recording": form.recording.data, "dial_order": form.dial_order.data,
        # No range on any day: the legal window alone (the engine's None), not "never".
        "attempt_limit": form.attempt_limit.data, "hours_data": hours or None,
        "min_attempt_spacing": dt.timedelta(minutes=spacing) if spacing else None,
        "refusal_delay": dt.timedelta(days=delay) if delay else None,
        "amd": form.amd.data, "dial_speed": form.dial_speed.data,
        "abandon_target": float(form.abandon_target_pct.data) / 100, "script_id": form.script_id.data or None,
        "pause_mode": form.pause_mode.data, "prospecting": form.prospecting.data,
        "existing_contract": form.existing_contract.data,
        "wrapup_s": form.wrapup_s.data or 30, "wrapup_status": form.wrapup_status.data or None,
    }


def _save(form: CampaignForm, campaign: Campaign | None) -> Campaign | None:
    settings = _settings(form, campaign)
    if settings is None:
        return None
    try:
        if campaign is None:
            campaign = services.create_campaign(str(settings.pop("name")), settings)
        else:
            services.update_campaign(campaign, settings)
            services.set_active_lists(campaign, form.lists.data or [])
        services.set_assignments(campaign, form.agents.data or [], form.groups.data or [])
        services.set_campaign_active(campaign, form.active.data)
        if form.voicemail.data:
            # Last: a refused form leaves no stray file behind.
            upload = form.voicemail.data
            services.store_voicemail(campaign, upload.stream, upload.filename, _upload_root())
    except services.CampaignError as error:
        # Nothing of a refused form is kept: the edge would commit what was flushed.
        Session.rollback()
        target = getattr(form, error.field.split("-")[0], None)
        (target.errors if target is not None and error.field != "hours" else form.form_errors).append(
            error.message)
        return None
    return campaign


def _script_problems(campaign: Campaign) -> list[str]:
    """Buttons of the campaign's script that set a status the campaign does not have."""
    version = script_services.published_version(campaign.script) if campaign.script else None
    if version is None:
        return []
    return script_services.missing_status_codes(version, {status.code for status in campaign.statuses})


def _form_page(form: CampaignForm, campaign: Campaign | None):
    warnings = compliance_services.form_warnings(campaign, _country()) if campaign else []
    return render("campaigns/form.html", form=form, campaign=campaign, rule=rule_for(_country()),
                  warnings=warnings, Severity=Severity, script_problems=_script_problems(campaign) if campaign else [],
                  recycle_rules=services.recycle_rules(campaign) if campaign else [],
                  clone_form=CloneForm(name=_("Copy of %(name)s", name=campaign.name)) if campaign else None)


@bp.route("/new", methods=["GET", "POST"])
@require(Permission.MANAGE_CAMPAIGNS)
def create():
    form = CampaignForm()
    _choose(form, None)
    if request.method == "GET":
        for day, entry in enumerate(form.hours):
            if day < 5:
                entry.start1.data, entry.end1.data = dt.time(10), dt.time(13)
                entry.start2.data, entry.end2.data = dt.time(14), dt.time(20)
    if form.validate_on_submit() and (campaign := _save(form, None)) is not None:
        flash(_("Campaign %(name)s created. Add lists to it, then activate it.", name=campaign.name), "success")
        return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
    return _form_page(form, None)


@bp.route("/<int:campaign_id>", methods=["GET", "POST"])
@require(Permission.MANAGE_CAMPAIGNS)
def edit(campaign_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    form = CampaignForm()
    _choose(form, campaign)
    if request.method == "GET":
        _fill(form, campaign)
    if form.validate_on_submit() and _save(form, campaign) is not None:
        flash(_("Changes saved."), "success")
        return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
    return _form_page(form, campaign)


@bp.post("/<int:campaign_id>/clone")
@require(Permission.MANAGE_CAMPAIGNS)
def clone(campaign_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    form = CloneForm()
    if form.validate_on_submit():
        try:
            copy = services.clone_campaign(campaign, form.name.data)
        except services.CampaignError as error:
            Session.rollback()
            flash(str(error.message), "error")
            return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
        flash(_("Campaign copied as %(name)s.", name=copy.name), "success")
        return redirect(url_for("campaigns.edit", campaign_id=copy.id))
    flash(_("Give the copy a name."), "error")
    return redirect(url_for("campaigns.edit", campaign_id=campaign.id))


@bp.post("/<int:campaign_id>/archive")
@require(Permission.MANAGE_CAMPAIGNS)
def archive(campaign_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    services.archive_campaign(campaign)
    flash(_("Campaign %(name)s archived.", name=campaign.name), "success")
    return redirect(url_for("campaigns.index"))


@bp.post("/<int:campaign_id>/restore")
@require(Permission.MANAGE_CAMPAIGNS)
def restore(campaign_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    services.restore_campaign(campaign)
    flash(_("Campaign %(name)s restored (inactive).", name=campaign.name), "success")
    return redirect(url_for("campaigns.edit", campaign_id=campaign.id))


@bp.get("/<int:campaign_id>/voicemail")
@require(Permission.MANAGE_CAMPAIGNS)
def voicemail(campaign_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    if not campaign.voicemail_audio:
        abort(404)
    path = services.voicemail_dir(_upload_root(), campaign.tenant_id) / campaign.voicemail_audio
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=services.VOICEMAIL_TYPES[path.suffix])


# ------------------------------------------------------------------ statuses
@bp.route("/<int:campaign_id>/statuses", methods=["GET", "POST"])
@require(Permission.MANAGE_CAMPAIGNS)
def statuses(campaign_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    form = StatusForm()
    if form.validate_on_submit():
        try:
            status = services.add_status(campaign, form.code.data, form.name.data, form.category.data, form.flags())
        except services.CampaignError as error:
            Session.rollback()
            form.code.errors.append(error.message)
        else:
            flash(_("Status %(code)s added.", code=status.code), "success")
            return redirect(url_for("campaigns.statuses", campaign_id=campaign.id))
    return render("campaigns/statuses.html", campaign=campaign, form=form, editing=None)


@bp.route("/<int:campaign_id>/statuses/<int:status_id>", methods=["GET", "POST"])
@require(Permission.MANAGE_CAMPAIGNS)
def edit_status(campaign_id: int, status_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    status = _campaign_child(CampaignStatus, status_id, campaign)
    form = StatusForm(obj=status)
    if form.validate_on_submit():
        try:
            services.update_status(status, form.code.data, form.name.data, form.category.data, form.flags())
        except services.CampaignError as error:
            Session.rollback()
            form.code.errors.append(error.message)
        else:
            flash(_("Changes saved."), "success")
            return redirect(url_for("campaigns.statuses", campaign_id=campaign.id))
    return render("campaigns/statuses.html", campaign=campaign, form=form, editing=status)


@bp.post("/<int:campaign_id>/statuses/<int:status_id>/delete")
@require(Permission.MANAGE_CAMPAIGNS)
def delete_status(campaign_id: int, status_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    status = _campaign_child(CampaignStatus, status_id, campaign)
    try:
        services.delete_status(status)
    except services.CampaignError as error:
        flash(str(error.message), "error")
    else:
        flash(_("Status %(code)s deleted.", code=status.code), "success")
    return redirect(url_for("campaigns.statuses", campaign_id=campaign.id))


@bp.post("/<int:campaign_id>/statuses/order")
@require(Permission.MANAGE_CAMPAIGNS)
def order_statuses(campaign_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    ids = [int(value) for value in request.form.getlist("status_id") if value.isdigit()]
    services.reorder_statuses(campaign, ids)
    return render("campaigns/statuses.html", fragment="status_rows", campaign=campaign, form=StatusForm(),
                  editing=None)


# --------------------------------------------------------------- pause codes
@bp.route("/<int:campaign_id>/pauses", methods=["GET", "POST"])
@require(Permission.MANAGE_CAMPAIGNS)
def pauses(campaign_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    form = PauseCodeForm()
    mode_form = PauseModeForm(pause_mode=campaign.pause_mode)
    if form.validate_on_submit():
        try:
            pause = services.add_pause_code(campaign, form.code.data, form.name.data)
        except services.CampaignError as error:
            Session.rollback()
            form.code.errors.append(error.message)
        else:
            flash(_("Pause code %(code)s added.", code=pause.code), "success")
            return redirect(url_for("campaigns.pauses", campaign_id=campaign.id))
    return render("campaigns/pauses.html", campaign=campaign, form=form, mode_form=mode_form)


@bp.post("/<int:campaign_id>/pauses/mode")
@require(Permission.MANAGE_CAMPAIGNS)
def pause_mode(campaign_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    mode_form = PauseModeForm()
    if mode_form.validate_on_submit():
        try:
            services.set_pause_mode(campaign, mode_form.pause_mode.data)
        except services.CampaignError as error:
            Session.rollback()
            flash(str(error.message), "error")
        else:
            flash(_("Changes saved."), "success")
    return redirect(url_for("campaigns.pauses", campaign_id=campaign.id))


@bp.post("/<int:campaign_id>/pauses/<int:pause_id>/delete")
@require(Permission.MANAGE_CAMPAIGNS)
def delete_pause(campaign_id: int, pause_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    pause = _campaign_child(PauseCode, pause_id, campaign)
    services.delete_pause_code(pause)
    flash(_("Pause code %(code)s deleted.", code=pause.code), "success")
    return redirect(url_for("campaigns.pauses", campaign_id=campaign.id))


# ------------------------------------------------------------------- scripts
@bp.route("/scripts", methods=["GET", "POST"])
@require(Permission.MANAGE_CAMPAIGNS)
def scripts():
    form = ScriptForm()
    if form.validate_on_submit():
        try:
            script = script_services.create_script(form.name.data)
        except script_services.ScriptError as error:
            Session.rollback()
            form.name.errors.extend(error.errors)
        else:
            return redirect(url_for("campaigns.script_editor", script_id=script.id))
    rows = [(script, script_services.published_version(script), script_services.latest_version(script))
            for script in Session.scalars(sa.select(Script).order_by(Script.name))]
    return render("campaigns/scripts.html", form=form, rows=rows)


@bp.route("/scripts/<int:script_id>", methods=["GET", "POST"])
@require(Permission.MANAGE_CAMPAIGNS)
def script_editor(script_id: int):
    script = get_or_404(Script, script_id)
    latest = script_services.latest_version(script)
    form = ScriptForm(name=script.name, content=json.dumps(latest.content, ensure_ascii=False))
    if form.validate_on_submit():
        try:
            content = json.loads(form.content.data or "")
            script_services.rename_script(script, form.name.data)
            script_services.save_draft(script, content if isinstance(content, dict) else {})
        except json.JSONDecodeError:
            form.content.errors.append(_("The script content could not be read."))
        except script_services.ScriptError as error:
            Session.rollback()
            form.content.errors.extend(error.errors)
        else:
            flash(_("Draft saved. Publish it to use it in calls."), "success")
            return redirect(url_for("campaigns.script_editor", script_id=script.id))
    return render("campaigns/script_editor.html", script=script, form=form, latest=latest,
                  published=script_services.published_version(script),
                  placeholders=sorted(script_services.known_placeholders()))


@bp.post("/scripts/<int:script_id>/publish")
@require(Permission.MANAGE_CAMPAIGNS)
def publish_script(script_id: int):
    script = get_or_404(Script, script_id)
    try:
        version = script_services.publish_script(script)
    except script_services.ScriptError as error:
        Session.rollback()
        flash(" ".join(str(e) for e in error.errors), "error")
    else:
        flash(_("Version %(n)s published.", n=version.number), "success")
    return redirect(url_for("campaigns.script_editor", script_id=script.id))


@bp.get("/scripts/<int:script_id>/preview")
@require(Permission.MANAGE_CAMPAIGNS)
def preview_script(script_id: int):
    script = get_or_404(Script, script_id)
    version = script_services.latest_version(script)
    if request.args.get("version", "").isdigit():
        version = get_or_404(ScriptVersion, request.args["version"])
        if version.script_id != script.id:
            abort(404)
    lead = None
    if request.args.get("lead_id", "").isdigit():
        lead = Session.get(Lead, int(request.args["lead_id"]), populate_existing=True)
    if lead is None:
        lead = Session.scalars(sa.select(Lead).order_by(Lead.id).limit(1)).first() or script_services.sample_lead()
    rendered = script_services.render_script(version, lead)
    return render("campaigns/script_preview.html", script=script, version=version, rendered=rendered, lead=lead)


# ----------------------------------------------------------------- callbacks
def _agent_choices(shared_label: str) -> list[SelectChoice]:
    agents = Session.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.display_name))
    return [SelectChoice(0, shared_label)] + [SelectChoice(user.id, user.display_name) for user in agents]


def _find_lead(raw: str) -> Lead | None:
    text = raw.strip()
    if text.isdigit() and len(text) < 9:
        return Session.get(Lead, int(text), populate_existing=True)
    phone = normalize_phone(text, _country()).e164
    if phone is None:
        return None
    return Session.scalars(sa.select(Lead).where(Lead.phone_number == phone).order_by(Lead.id.desc())).first()


@bp.route("/<int:campaign_id>/callbacks", methods=["GET", "POST"])
@require(Permission.MANAGE_CAMPAIGNS)
def campaign_callbacks(campaign_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    form = CallbackForm(campaign_id=campaign.id)
    form.agent_id.choices = _agent_choices(_("Anyone (shared)"))
    form.campaign_id.choices = [SelectChoice(c.id, c.name) for c in Session.scalars(
        sa.select(Campaign).where(Campaign.archived_at.is_(None)).order_by(Campaign.name))]
    if form.validate_on_submit():
        lead = _find_lead(form.lead.data)
        target = Session.get(Campaign, form.campaign_id.data, populate_existing=True)
        if lead is None:
            form.lead.errors.append(_("No lead has this ID or phone number."))
        elif target is None:
            form.campaign_id.errors.append(_("Unknown campaign."))
        else:
            try:
                callback_services.schedule_callback(
                    lead, target, dt.datetime.combine(form.day.data, form.time.data),
                    agent_id=form.agent_id.data or None, note=form.note.data or "",
                    priority=form.priority.data or 0, origin_campaign=campaign, created_by=g.user.id)
            except services.CampaignError as error:
                Session.rollback()
                (form.time if error.field == "due" else form.agent_id).errors.append(error.message)
            else:
                flash(_("Callback scheduled."), "success")
                return redirect(url_for("campaigns.campaign_callbacks", campaign_id=campaign.id))
    now = utcnow()
    return render("campaigns/callbacks.html", campaign=campaign, form=form, now=now,
                  callbacks=callback_services.campaign_callbacks(campaign.id), agent=None,
                  transfer_form=_transfer_form())


def _transfer_form() -> TransferForm:
    form = TransferForm()
    form.agent_id.choices = _agent_choices(_("Anyone (shared)"))
    return form


@bp.get("/callbacks")
@require(Permission.AGENT_WORKSPACE)
def my_callbacks():
    agent = g.user
    if request.args.get("agent", "").isdigit() and can(g.user, Permission.MANAGE_CAMPAIGNS):
        agent = get_or_404(User, request.args["agent"])
    now = utcnow()
    callbacks = callback_services.agent_callbacks(agent.id, until=now + dt.timedelta(days=7))
    return render("campaigns/callbacks.html", campaign=None, form=None, now=now, callbacks=callbacks,
                  agent=agent, transfer_form=_transfer_form(),
                  agents=_agent_choices(_("Me")) if can(g.user, Permission.MANAGE_CAMPAIGNS) else [])


def _callback_for_user(callback_id: int) -> Callback:
    """Agents act on their own and shared callbacks; managers on all of them."""
    callback = get_or_404(Callback, callback_id)
    mine = callback.agent_id in (None, g.user.id)
    if not (mine or can(g.user, Permission.MANAGE_CAMPAIGNS)):
        abort(404)
    return callback


def _back(callback: Callback) -> str:
    target = request.form.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else url_for("campaigns.my_callbacks")


@bp.post("/callbacks/<int:callback_id>/transfer")
@require(Permission.AGENT_WORKSPACE)
def transfer_callback(callback_id: int):
    callback = _callback_for_user(callback_id)
    form = _transfer_form()
    if form.validate_on_submit():
        try:
            callback_services.transfer_callback(callback, form.agent_id.data or None)
        except services.CampaignError as error:
            Session.rollback()
            flash(str(error.message), "error")
        else:
            flash(_("Callback transferred."), "success")
    return redirect(_back(callback))


@bp.post("/callbacks/<int:callback_id>/done")
@require(Permission.AGENT_WORKSPACE)
def complete_callback(callback_id: int):
    callback = _callback_for_user(callback_id)
    callback_services.complete_callback(callback)
    flash(_("Callback marked as done."), "success")
    return redirect(_back(callback))


# ---------------------------------------------------------------- compliance
@bp.get("/<int:campaign_id>/compliance")
@require(Permission.MANAGE_CAMPAIGNS)
def compliance(campaign_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    since = utcnow() - dt.timedelta(days=REPORT_DAYS)
    zone = getattr(g.tenant, "timezone", None) or "Europe/Paris"
    report = compliance_services.block_report(campaign, since, zone)
    chart = {"type": "bar", "labels": [day.strftime("%d/%m") for day in reversed(report.days)], "animate": False,
             "datasets": [{"label": str(REASON_LABELS[reason]),
                           "data": [report.counts.get((day, reason), 0) for day in reversed(report.days)]}
                          for reason in report.reasons]}
    return render("campaigns/compliance.html", campaign=campaign, report=report, zone=zone, zone_info=ZoneInfo(zone),
                  blocks=compliance_services.recent_blocks(campaign), REASON_LABELS=REASON_LABELS, Reason=Reason,
                  warnings=compliance_services.form_warnings(campaign, _country()), Severity=Severity,
                  rule=rule_for(_country()), chart=json.dumps(chart), days=REPORT_DAYS)
