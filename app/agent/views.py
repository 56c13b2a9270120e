"""Agent workspace pages: login to a campaign, the workspace, its actions (thin: the
rules are in ``app.agent.services``) and the live stream."""

from __future__ import annotations

import datetime as dt
import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.agent import services
from app.agent.forms import AgentLoginForm, CallbackScheduleForm, LeadCardForm
from app.agent.stream import BEAT_S, Renderers, agent_events
from app.auth.permissions import Permission, require
from app.campaigns.models import Campaign
from app.campaigns.services import CampaignError
from app.compliance import REASON_LABELS
from app.core.nav import SECTION_WORK, NavItem, register_nav
from app.core.rendering import render
from app.db import utcnow
from app.extensions import Session
from app.leads.phones import normalize_phone
from app.leads.redlist import InvalidPhoneError
from app.messaging import services as messaging
from app.realtime import bus
from tenants.scoping import tenant_scope

bp = Blueprint("agent", __name__, url_prefix="/agent")
register_nav(SECTION_WORK, NavItem(_l("Workspace"), "agent.workspace", Permission.AGENT_WORKSPACE, "phone"))

SESSION_KEY = "agent_workspace"
# the dialer's own reasons for not dialling a lead an agent chose (besides compliance's)
DIAL_REFUSALS = {"closed": _l("This lead is closed or no longer in an active list of the campaign."),
                 "in_call": _l("A call is already in progress with this lead.")}
PREVIEW_KEY = "agent_preview_lead"


@bp.app_template_global("agent_now")
def agent_now() -> dt.datetime:
    return utcnow()


@bp.app_template_global("agent_elapsed")
def agent_elapsed(since: str | float | None) -> int:
    """Seconds in the current state by the server's clock: the page counts on from
    there, so a browser whose clock is off still shows the right timer."""
    try:
        return max(0, int(time.time() - float(since)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0


def _joined() -> dict | None:
    return session.get(SESSION_KEY)


def _campaign() -> Campaign | None:
    """The campaign this agent logged in to from this browser, if still theirs."""
    joined = _joined()
    if not joined:
        return None
    try:
        return services.campaign_for_agent(g.user, joined.get("campaign_id"))
    except services.AgentError:
        session.pop(SESSION_KEY, None)
        return None


def _notice(message: object, kind: str = "error", status: int = 422):
    return render_template("agent/_notice.html", message=message, kind=kind), status


def _sip_settings() -> tuple[str, str]:
    return current_app.config.get("SIP_DOMAIN", ""), current_app.config.get("SIP_WS_URL", "")


# ------------------------------------------------------------------- login
@bp.route("/", methods=["GET", "POST"])
@require(Permission.AGENT_WORKSPACE)
def workspace():
    campaign = _campaign()
    if campaign is None:
        campaigns = services.agent_campaigns(g.user)
        form = AgentLoginForm(campaigns=campaigns)
        if form.validate_on_submit():
            try:
                campaign = services.campaign_for_agent(g.user, form.campaign_id.data)
            except services.AgentError as error:
                form.campaign_id.errors.append(error.message)
            else:
                services.login_agent(g.user, campaign)
                session[SESSION_KEY] = {"campaign_id": campaign.id, "phone": form.phone.data}
                return redirect(url_for("agent.workspace"))
        return render("agent/login.html", form=form, campaigns=campaigns), 422 if form.errors else 200
    state = services.current_state(g.user)
    if state.get("state") == "logged_out":
        # a reload after the dialer logged us out (page gone too long): join again
        services.login_agent(g.user, campaign)
    sip_domain, sip_ws = _sip_settings()
    return render("agent/workspace.html", campaign=campaign, screen=services.lead_screen(g.user, campaign, state),
                  phone=_joined().get("phone"), sip_configured=bool(sip_domain and sip_ws),
                  callbacks=services.due_callbacks(g.user), indicators=_indicators(),
                  unread=messaging.unread_count(g.user), wrapup_target=_wrapup_target(campaign, state),
                  preview=services.get_lead(session.get(PREVIEW_KEY)) if campaign.dial_mode == "PREVIEW" else None,
                  transfer_agents=services.transfer_agents(g.user, campaign),
                  transfer_queues=services.transfer_queues(g.user),
                  full_bleed=True, sidebar_state="collapsed")


def _wrapup_target(campaign: Campaign, state: dict[str, str]) -> int:
    """The countdown's length: what the dialer published for the agent's call (an
    inbound queue's call has its queue's wrap-up), else the campaign's."""
    published = str(state.get("wrapup_s") or "")
    return int(published) if published.isdigit() else campaign.wrapup_s


def _indicators() -> services.Indicators:
    zone = getattr(g.tenant, "timezone", None) or "Europe/Paris"
    return services.indicators(g.user, zone)


@bp.post("/logout")
@require(Permission.AGENT_WORKSPACE)
def logout():
    campaign = _campaign()
    if campaign is not None:
        services.logout_agent(g.user, campaign)
    session.pop(SESSION_KEY, None)
    flash(_("You left the campaign. A call in progress ends with its disposition."), "success")
    return redirect(url_for("agent.workspace"))


# ------------------------------------------------------------------- state
def _require_campaign() -> Campaign:
    campaign = _campaign()
    if campaign is None:
        abort(409)
    return campaign


@bp.post("/rejoin")
@require(Permission.AGENT_WORKSPACE)
def rejoin():
    """After the dialer logged the agent out (their page was gone too long)."""
    services.login_agent(g.user, _require_campaign())
    return "", 204


@bp.post("/ready")
@require(Permission.AGENT_WORKSPACE)
def ready():
    services.set_ready(g.user, _require_campaign())
    return "", 204


@bp.post("/pause")
@require(Permission.AGENT_WORKSPACE)
def pause():
    try:
        services.pause_agent(g.user, _require_campaign(), request.form.get("code"))
    except services.AgentError as error:
        return _notice(error.message)
    return "", 204


@bp.post("/hangup")
@require(Permission.AGENT_WORKSPACE)
def hangup():
    services.hang_up(g.user, _require_campaign())
    return "", 204


@bp.post("/heartbeat")
@require(Permission.AGENT_WORKSPACE)
def heartbeat():
    bus.mark_alive(g.user.tenant_id, g.user.id)
    return "", 204


# -------------------------------------------------------------------- call
@bp.post("/disposition")
@require(Permission.AGENT_WORKSPACE)
def disposition():
    campaign = _require_campaign()
    try:
        status = services.dispose_call(g.user, campaign, request.form.get("call_id", ""),
                                       request.form.get("status", ""))
    except services.AgentError as error:
        return _notice(error.message)
    return _notice(_("Call qualified: %(name)s.", name=status.name), "success", 200)


@bp.post("/script")
@require(Permission.AGENT_WORKSPACE)
def script_answers():
    campaign = _require_campaign()
    answers = {key[2:]: value for key, value in request.form.items() if key.startswith("q-")}
    try:
        services.save_script_answers(g.user, campaign, request.form.get("call_id", ""), answers)
    except services.AgentError as error:
        return _notice(error.message)
    return _notice(_("Answers saved."), "success", 200)


@bp.post("/lead")
@require(Permission.AGENT_WORKSPACE)
def save_lead():
    campaign = _require_campaign()
    form = LeadCardForm()
    try:
        _state, lead = services.require_current_call(g.user, campaign, form.call_id.data)
    except services.AgentError as error:
        return _notice(error.message)
    if not form.validate():
        screen = services.lead_screen(g.user, campaign)
        return render("agent/_lead.html", screen=screen, form=form), 422
    # only the fields the page sent: a field left out is not a field emptied
    values = {name: getattr(form, name).data for name in services.LEAD_CARD_FIELDS if name in request.form}
    custom = {key[7:]: value for key, value in request.form.items() if key.startswith("custom-")}
    try:
        services.update_lead_card(g.user, lead, values, custom, form.version.data)
    except services.LeadConflict as error:
        Session.rollback()
        screen = services.lead_screen(g.user, campaign)
        return render("agent/_lead.html", screen=screen, form=form, conflict=error.message), 422
    except services.AgentError as error:
        Session.rollback()
        screen = services.lead_screen(g.user, campaign)
        return render("agent/_lead.html", screen=screen, form=form, error=error.message), 422
    screen = services.lead_screen(g.user, campaign)
    return render("agent/_lead.html", screen=screen, saved=True)


@bp.post("/callback")
@require(Permission.AGENT_WORKSPACE)
def schedule_callback():
    campaign = _require_campaign()
    form = CallbackScheduleForm()
    try:
        _state, lead = services.require_current_call(g.user, campaign, form.call_id.data)
    except services.AgentError as error:
        return _notice(error.message)
    if not form.validate():
        return _notice(_("Give a valid date and time."))
    try:
        callback = services.schedule_lead_callback(g.user, campaign, lead, form.day.data, form.time.data,
                                                   personal=form.owner.data == "me", note=form.note.data or "")
    except CampaignError as error:
        return _notice(error.message)
    bus.publish_refresh(g.user.tenant_id, g.user.id, "callbacks")
    return _notice(_("Callback scheduled for %(when)s (%(zone)s).",
                     when=callback.local_due_at.strftime("%d/%m/%Y %H:%M"), zone=callback.timezone), "success", 200)


@bp.post("/red-list")
@require(Permission.AGENT_WORKSPACE)
def red_list():
    campaign = _require_campaign()
    try:
        _state, lead = services.require_current_call(g.user, campaign, request.form.get("call_id", ""))
        services.red_list_lead(g.user, campaign, lead)
    except services.AgentError as error:
        return _notice(error.message)
    except InvalidPhoneError:
        return _notice(_("This number cannot be added to the red list."))
    return _notice(_("The number is on the red list: it will not be called again."), "success", 200)


@bp.post("/dial-check")
@require(Permission.AGENT_WORKSPACE)
def dial_check():
    campaign = _require_campaign()
    try:
        lead, decision = services.check_manual_dial(campaign, request.form.get("lead", ""))
    except services.AgentError as error:
        return _notice(error.message)
    return render_template("agent/_dial_check.html", lead=lead, decision=decision, labels=REASON_LABELS)


def _region() -> str:
    return getattr(g.tenant, "country", None) or "FR"


def _dial(campaign: Campaign, lead) -> tuple[str, int]:
    try:
        decision = services.request_dial(g.user, campaign, lead)
    except services.AgentError as error:
        return _notice(error.message)
    return render_template("agent/_dial_check.html", lead=lead, decision=decision, labels=REASON_LABELS,
                           dialling=decision.allowed), 200


@bp.post("/dial")
@require(Permission.AGENT_WORKSPACE)
def dial():
    """MANUEL: the agent names a lead (id, number, name): one match is checked and
    dialled, several are listed to choose from."""
    campaign = _require_campaign()
    if campaign.dial_mode not in services.MANUAL_MODES:
        return _notice(_("This campaign dials automatically."))
    lead_id = request.form.get("lead_id", "")
    if lead_id:
        leads = [lead] if (lead := services.find_campaign_lead(campaign, lead_id)) is not None else []
    else:
        leads = services.find_campaign_leads(campaign, request.form.get("lead", ""), _region())
    if not leads:
        number = normalize_phone(request.form.get("lead", ""), _region()).e164
        if number is None:
            return _notice(_("No lead of this campaign matches."))
        # a number no lead has: offered as a new contact of the campaign's manual list
        return render_template("agent/_dial_new.html", number=number), 422
    if len(leads) > 1:
        return render_template("agent/_dial_matches.html", leads=leads), 200
    return _dial(campaign, leads[0])


@bp.post("/dial-new")
@require(Permission.AGENT_WORKSPACE)
def dial_new():
    """MANUEL: call a number no lead has; it becomes a lead of the campaign's manual list."""
    campaign = _require_campaign()
    try:
        lead, decision = services.dial_new_number(g.user, campaign, request.form.get("number", ""), _region())
    except services.AgentError as error:
        return _notice(error.message)
    return render_template("agent/_dial_check.html", lead=lead, decision=decision, labels=REASON_LABELS,
                           dialling=decision.allowed), 200


def _preview_campaign() -> Campaign:
    campaign = _require_campaign()
    if campaign.dial_mode != "PREVIEW":
        abort(409)
    return campaign


def _next_preview(campaign: Campaign):
    lead = services.next_preview_lead(g.user, campaign)
    session[PREVIEW_KEY] = lead.id if lead is not None else None
    return render_template("agent/_preview.html", preview=lead, fetched=True)


@bp.post("/preview/next")
@require(Permission.AGENT_WORKSPACE)
def preview_next():
    """PREVIEW: the next lead from the hopper (kept until accepted or skipped)."""
    campaign = _preview_campaign()
    current = services.get_lead(session.get(PREVIEW_KEY))
    if current is not None:
        return render_template("agent/_preview.html", preview=current, fetched=True)
    return _next_preview(campaign)


def _previewed(campaign: Campaign):
    lead = services.get_lead(session.get(PREVIEW_KEY))
    if lead is None or str(lead.id) != request.form.get("lead_id", ""):
        return None
    return lead


@bp.post("/preview/accept")
@require(Permission.AGENT_WORKSPACE)
def preview_accept():
    campaign = _preview_campaign()
    lead = _previewed(campaign)
    if lead is None:
        return _notice(_("This lead is no longer in your preview."))
    body, status = _dial(campaign, lead)
    if status == 200:
        session.pop(PREVIEW_KEY, None)
    return body, status


@bp.post("/preview/skip")
@require(Permission.AGENT_WORKSPACE)
def preview_skip():
    campaign = _preview_campaign()
    lead = _previewed(campaign)
    if lead is None:
        return _notice(_("This lead is no longer in your preview."))
    services.skip_preview_lead(g.user, campaign, lead)
    return _next_preview(campaign)


@bp.post("/transfer")
@require(Permission.AGENT_WORKSPACE)
def transfer():
    campaign = _require_campaign()
    kind = request.form.get("kind", "")
    target = request.form.get({"agent": "agent_id", "queue": "queue_id"}.get(kind, "number"), "")
    warm = request.form.get("warm") in ("1", "on", "true")
    try:
        services.transfer_call(g.user, campaign, request.form.get("call_id", ""), kind, target, warm)
    except services.AgentError as error:
        return _notice(error.message)
    message = _("Consulting: talk with them, then complete or cancel the transfer.") if warm else \
        _("Transfer asked.")
    return _notice(message, "success", 200)


@bp.post("/transfer/<any(complete, cancel):step>")
@require(Permission.AGENT_WORKSPACE)
def transfer_step(step: str):
    campaign = _require_campaign()
    try:
        services.finish_transfer(g.user, campaign, request.form.get("call_id", ""), step == "complete")
    except services.AgentError as error:
        return _notice(error.message)
    return _notice(_("Transfer completed.") if step == "complete" else _("Back with your customer."), "success", 200)


@bp.get("/callbacks")
@require(Permission.AGENT_WORKSPACE)
def callbacks():
    return render_template("agent/_callbacks.html", callbacks=services.due_callbacks(g.user))


@bp.get("/indicators")
@require(Permission.AGENT_WORKSPACE)
def indicators():
    return render_template("agent/_indicators.html", indicators=_indicators())


# --------------------------------------------------------------- softphone
@bp.post("/phone/credentials")
@require(Permission.AGENT_WORKSPACE)
def phone_credentials():
    """Short-lived SIP credentials for this agent's softphone, or simulation mode."""
    domain, websocket_url = _sip_settings()
    if not (domain and websocket_url):
        return {"mode": "simulation"}
    creds = services.issue_sip_credentials(g.user, domain, websocket_url)
    return {"mode": "sip", "uri": f"sip:{creds.username}@{creds.domain}", "username": creds.username,
            "password": creds.password, "websocket_url": creds.websocket_url,
            "expires_at": creds.expires_at.isoformat()}


@bp.post("/phone/status")
@require(Permission.AGENT_WORKSPACE)
def phone_status():
    registered = request.form.get("registered") == "true"
    bus.set_phone_registered(g.user.tenant_id, g.user.id, registered)
    return render_template("agent/_phone_status.html", registered=registered,
                           simulation=request.form.get("mode") == "simulation")


# ------------------------------------------------------------------ stream
@bp.get("/stream")
@require(Permission.AGENT_WORKSPACE)
def stream():
    campaign = _campaign()
    if campaign is None:
        return "", 204  # tells the SSE client to stop retrying
    user, tenant_id, campaign_id = g.user, g.user.tenant_id, campaign.id
    zone = getattr(g.tenant, "timezone", None) or "Europe/Paris"

    def with_db(fn):
        def wrapped(*args):
            try:
                with tenant_scope(tenant_id):
                    current = Session.get(Campaign, campaign_id)
                    return fn(current, *args) if current is not None else []
            finally:
                Session.rollback()
                Session.remove()
        return wrapped

    def agent_parts(_campaign: Campaign, state: dict[str, str], call_changed: bool) -> list[tuple[str, str]]:
        screen = services.lead_screen(user, _campaign, state)
        parts = []
        if call_changed:  # what the agent needs first when a call arrives
            parts += [("lead", render_template("agent/_lead.html", screen=screen)),
                      ("script", render_template("agent/_script.html", screen=screen))]
        target = _wrapup_target(_campaign, state)
        parts += [("state", render_template("agent/_top.html", campaign=_campaign, state=state,
                                            wrapup_target=target)),
                  ("dispo", render_template("agent/_dispo.html", screen=screen, wrapup_target=target,
                                            transfer_agents=services.transfer_agents(user, _campaign),
                                            transfer_queues=services.transfer_queues(user)))]
        return parts

    def side_parts(_campaign: Campaign) -> list[tuple[str, str]]:
        return [("callbacks", render_template("agent/_callbacks.html", callbacks=services.due_callbacks(user))),
                ("indicators", render_template("agent/_indicators.html", indicators=services.indicators(user, zone)))]

    def refused_parts(_campaign: Campaign, event: dict) -> list[tuple[str, str]]:
        code = event.get("reason_code") or ""
        reason = DIAL_REFUSALS.get(code) or REASON_LABELS.get(code, event.get("reason"))
        return [("notice", render_template("agent/_notice.html", kind="warning",
                                           message=_("The dialer refused: %(reason)s", reason=reason)))]

    def message_parts(_campaign: Campaign, event: dict) -> list[tuple[str, str]]:
        message = messaging.get_message_for(user, int(event.get("message_id") or 0))
        if message is None:
            return []
        return [("message", render_template("messaging/_toast.html", message=message)),
                ("unread", render_template("messaging/_unread.html", unread=messaging.unread_count(user)))]

    def refresh_parts(_campaign: Campaign, part: str) -> list[tuple[str, str]]:
        if part == "callbacks":
            return [("callbacks", render_template("agent/_callbacks.html", callbacks=services.due_callbacks(user)))]
        return []

    seen_due: set[int] = {c.id for c in services.due_callbacks(user) if c.due_at <= utcnow()}

    def beat_parts(_campaign: Campaign) -> list[tuple[str, str]]:
        callbacks = services.due_callbacks(user)
        fresh = [c for c in callbacks if c.due_at <= utcnow() and c.id not in seen_due]
        if not fresh:
            return []
        seen_due.update(c.id for c in fresh)
        names = ", ".join(c.lead.display_name for c in fresh if c.lead is not None)
        return [("callbacks", render_template("agent/_callbacks.html", callbacks=callbacks)),
                ("notice", render_template("agent/_notice.html", kind="warning",
                                           message=_("Callback due: %(names)s", names=names)))]

    renderers = Renderers(agent=with_db(agent_parts), side=with_db(side_parts), refused=with_db(refused_parts), beat=with_db(beat_parts),
                          message=with_db(message_parts), refresh=with_db(refresh_parts))
    events = agent_events(tenant_id, user.id, renderers,
                          beat_s=float(current_app.config.get("AGENT_STREAM_BEAT_S", BEAT_S)))
    response = Response(stream_with_context(events), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response
