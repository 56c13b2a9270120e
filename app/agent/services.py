"""Agent workspace rules: which campaigns an agent may work, the commands sent to the
dialer, the lead screen of the current call, dispositions, callbacks, indicators.

The dialer service owns the agent's state (Redis, ``app.realtime.bus``); these
functions only validate what the agent asks and forward it. They flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import uuid
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.auth.models import User
from app.calls.models import Call
from app.campaigns import callbacks as callback_services
from app.campaigns import compliance as compliance_services
from app.campaigns import scripts as script_services
from app.campaigns.models import (
    Callback,
    Campaign,
    CampaignAgent,
    CampaignGroup,
    CampaignStatus,
    DialMode,
    PauseCode,
    PauseMode,
    ScriptVersion,
)
from app.compliance import Decision
from app.db import utcnow
from app.extensions import Session
from app.inbound.models import InboundQueue
from app.leads import redlist
from app.leads import services as lead_services
from app.leads.messages import REASONS
from app.leads.models import CustomField, Lead, LeadList, LeadStatus
from app.leads.phones import normalize_phone
from app.oncommit import after_commit
from app.realtime import bus
from app.recordings import services as recording_services

PREVIEW_SKIP_DELAY = dt.timedelta(minutes=30)  # a skipped preview lead comes back after the others
TRANSFER_KINDS = ("agent", "external", "queue")
PHONE_WEBRTC = "webrtc"
PHONE_SIP = "sip"
SIP_CREDENTIAL_TTL_S = 12 * 3600
LEAD_CARD_FIELDS = ("first_name", "last_name", "company", "email", "address1", "postal_code", "city", "comments")


class AgentError(ValueError):
    """An agent's request that breaks a rule; the message is shown as it is."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


class LeadConflict(AgentError):
    """Someone else saved the lead since this agent loaded it."""


# ------------------------------------------------------------------ campaigns
def agent_campaigns(user: User) -> list[Campaign]:
    """Active campaigns the agent is assigned to, directly or through their group."""
    direct = sa.select(CampaignAgent.campaign_id).where(CampaignAgent.user_id == user.id)
    conditions = [Campaign.id.in_(direct)]
    if user.group_id is not None:
        conditions.append(Campaign.id.in_(
            sa.select(CampaignGroup.campaign_id).where(CampaignGroup.group_id == user.group_id)))
    stmt = (sa.select(Campaign).where(Campaign.active.is_(True), Campaign.archived_at.is_(None), sa.or_(*conditions))
            .order_by(Campaign.name))
    return list(Session.scalars(stmt))


def campaign_for_agent(user: User, campaign_id: int | None) -> Campaign:
    """The campaign, if this agent may work it; another tenant's id is never found."""
    for campaign in agent_campaigns(user):
        if campaign.id == campaign_id:
            return campaign
    raise AgentError(_l("You are not assigned to this campaign."))


def dispositions(campaign: Campaign) -> list[CampaignStatus]:
    """The statuses an agent may set: the campaign's non-system ones, in order."""
    return [status for status in campaign.statuses if not status.system]


# ------------------------------------------------------------------ commands
def login_agent(user: User, campaign: Campaign) -> None:
    bus.mark_alive(user.tenant_id, user.id)
    bus.send_command(bus.AgentCommand("login", user.tenant_id, campaign.id, user.id))


def logout_agent(user: User, campaign: Campaign) -> None:
    bus.send_command(bus.AgentCommand("logout", user.tenant_id, campaign.id, user.id))


def set_ready(user: User, campaign: Campaign) -> None:
    bus.send_command(bus.AgentCommand("ready", user.tenant_id, campaign.id, user.id))


def pause_agent(user: User, campaign: Campaign, code: str | None) -> None:
    """A pause honours the campaign's pause mode: no code when codes are disabled, a
    code of the campaign when optional (or none), a code always when mandatory."""
    code = (code or "").strip().upper() or None
    known = {pause.code for pause in campaign.pause_codes}
    if campaign.pause_mode == PauseMode.DISABLED:
        code = None
    elif code is not None and code not in known:
        raise AgentError(_l("Unknown pause code."))
    elif code is None and campaign.pause_mode == PauseMode.MANDATORY:
        raise AgentError(_l("Choose a pause code."))
    bus.send_command(bus.AgentCommand("pause", user.tenant_id, campaign.id, user.id, pause_code=code or "PAUSE"))


def hang_up(user: User, campaign: Campaign) -> None:
    bus.send_command(bus.AgentCommand("hangup", user.tenant_id, campaign.id, user.id))


def current_state(user: User) -> dict[str, str]:
    return bus.agent_state(user.tenant_id, user.id)


def state_campaign_id(state: dict[str, str]) -> int | None:
    raw = state.get("campaign_id") or ""
    return int(raw) if raw.isdigit() else None


# ---------------------------------------------------------------- lead screen
@dataclass
class LeadScreen:
    """Everything the page shows about the current call."""

    state: dict[str, str]
    campaign: Campaign
    call_id: str = ""
    lead: Lead | None = None
    script: script_services.RenderedScript | None = None
    answers: dict = field(default_factory=dict)
    custom_fields: list[CustomField] = field(default_factory=list)
    timeline: list = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    statuses: list[CampaignStatus] = field(default_factory=list)
    payment_paused: bool = False  # the recording is masked for a card payment (survives a reload)


def get_lead(lead_id: int | str | None) -> Lead | None:
    """A lead of the current tenant (a query, not the identity map)."""
    try:
        key = int(lead_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return Session.scalar(sa.select(Lead).where(Lead.id == key).execution_options(populate_existing=True))


def script_version(campaign: Campaign) -> ScriptVersion | None:
    if campaign.script is None:
        return None
    return script_services.published_version(campaign.script)


def lead_screen(user: User, campaign: Campaign, state: dict[str, str] | None = None) -> LeadScreen:
    state = state if state is not None else current_state(user)
    screen = LeadScreen(state=state, campaign=campaign, statuses=dispositions(campaign))
    if state_campaign_id(state) != campaign.id:
        return screen
    screen.call_id = state.get("call_id", "")
    screen.lead = get_lead(state.get("lead_id"))
    if screen.lead is None:
        return screen
    call_uuid = parse_call_id(screen.call_id)
    if campaign.recording and call_uuid is not None:
        screen.payment_paused = recording_services.payment_paused(call_uuid)
    version = script_version(campaign)
    if version is not None:
        screen.script = script_services.render_script(version, screen.lead)
        if call_uuid is not None:
            row = Session.get(script_services.ScriptAnswer, call_uuid)
            screen.answers = dict(row.answers) if row is not None else {}
    screen.custom_fields = list(Session.scalars(sa.select(CustomField).order_by(CustomField.position)))
    screen.timeline = lead_services.timeline(screen.lead, limit=20)
    screen.calls = list(Session.scalars(
        sa.select(Call).where(Call.lead_id == screen.lead.id).order_by(Call.started_at.desc()).limit(10)))
    return screen


def parse_call_id(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except (TypeError, ValueError):
        return None


def require_current_call(user: User, campaign: Campaign, call_id: str | None) -> tuple[dict[str, str], Lead]:
    """The agent's current call and its lead, or an error: an agent acts only on the
    call the dialer gave them (never on a call or lead named by the browser alone)."""
    state = current_state(user)
    if state_campaign_id(state) != campaign.id or not state.get("call_id") or state.get("call_id") != call_id:
        raise AgentError(_l("This call is no longer yours."))
    lead = get_lead(state.get("lead_id"))
    if lead is None:
        raise AgentError(_l("This call has no lead."))
    return state, lead


def save_script_answers(user: User, campaign: Campaign, call_id: str, answers: dict[str, object]) -> None:
    require_current_call(user, campaign, call_id)
    version = script_version(campaign)
    if version is None:
        raise AgentError(_l("This campaign has no published script."))
    answers = {key: value for key, value in answers.items() if value not in ("", None)}
    try:
        script_services.save_answers(uuid.UUID(call_id), version, answers)
    except script_services.ScriptError as error:
        raise AgentError("; ".join(str(e) for e in error.errors)) from error


def update_lead_card(user: User, lead: Lead, values: dict[str, str | None], custom: dict[str, str],
                     seen_version: str) -> dict:
    """Save the agent's edits unless someone saved the lead after the agent loaded it
    (optimistic lock on ``updated_at``: the row is locked, then compared)."""
    locked = Session.scalar(sa.select(Lead).where(Lead.id == lead.id).with_for_update(of=Lead)
                            .execution_options(populate_existing=True))
    if locked is None or lead_version(locked) != seen_version:
        raise LeadConflict(_l("Someone else changed this lead meanwhile. Reload it to see their changes."))
    known = {f.key: f for f in Session.scalars(sa.select(CustomField))}
    cleaned_custom = dict(locked.custom or {})
    for key, value in custom.items():
        field_def = known.get(key)
        if field_def is None:
            continue
        value = (value or "").strip()
        if field_def.required and not value:
            raise AgentError(_l("%(label)s is required.", label=field_def.label))
        if field_def.choices and value and value not in field_def.choices:
            raise AgentError(_l("Invalid value for %(label)s.", label=field_def.label))
        cleaned_custom[key] = value
    try:
        changes = lead_services.update_lead(locked, values, user_id=user.id)
    except lead_services.LeadRuleError as error:
        raise AgentError(_l("Invalid value: %(code)s", code=error.code)) from error
    changed_keys = sorted(k for k in cleaned_custom if cleaned_custom.get(k) != (locked.custom or {}).get(k))
    if changed_keys:
        locked.custom = cleaned_custom
        locked.updated_at = utcnow()
        changes["custom"] = (None, changed_keys)
        lead_services.add_timeline(locked, "edited", ", ".join(changed_keys), user_id=user.id,
                                   data={"custom_fields": changed_keys})
    return changes


def lead_version(lead: Lead) -> str:
    return lead.updated_at.isoformat() if lead.updated_at else ""


def dispose_call(user: User, campaign: Campaign, call_id: str, code: str) -> CampaignStatus:
    """Ask the dialer to close the wrap-up with ``code``. The dialer applies it once:
    a second click names a call already closed and is refused (shown on the page)."""
    status = next((s for s in dispositions(campaign) if s.code == code), None)
    if status is None:
        raise AgentError(_l("Unknown status."))
    state = current_state(user)
    if state_campaign_id(state) != campaign.id or state.get("call_id") != call_id:
        raise AgentError(_l("This call is already closed."))
    bus.send_command(bus.AgentCommand("disposition", user.tenant_id, campaign.id, user.id, status=status.code,
                                      call_id=call_id))
    return status


def schedule_lead_callback(user: User, campaign: Campaign, lead: Lead, day: dt.date, time: dt.time, *,
                           personal: bool, note: str = "") -> Callback:
    """A callback at a wall time in the lead's zone, personal or for anyone."""
    local_due = dt.datetime.combine(day, time)
    return callback_services.schedule_callback(lead, campaign, local_due, agent_id=user.id if personal else None,
                                               note=note, created_by=user.id)


def red_list_lead(user: User, campaign: Campaign, lead: Lead) -> None:
    redlist.add_number(lead.phone_number, reason=str(_l("Asked by the person during a call")), added_by=user.id,
                       region=lead.country_code or "FR")
    lead_services.add_timeline(lead, "red_list", str(_l("Added to the red list")), user_id=user.id,
                               data={"campaign_id": campaign.id})


MANUAL_MODES = (DialMode.MANUEL, DialMode.PREVIEW)


def find_campaign_lead(campaign: Campaign, query: str) -> Lead | None:
    """A lead of the campaign's lists named by its id or its phone number."""
    query = (query or "").strip()
    in_campaign = Lead.list_id.in_(sa.select(LeadList.id).where(LeadList.campaign_id == campaign.id))
    if query.isdigit() and len(query) < 10:
        return Session.scalar(sa.select(Lead).where(Lead.id == int(query), in_campaign))
    phone = normalize_phone(query).e164
    if phone is None:
        return None
    return Session.scalar(sa.select(Lead).where(Lead.phone_number == phone, in_campaign).order_by(Lead.id).limit(1))


def check_manual_dial(campaign: Campaign, query: str, now: dt.datetime | None = None) -> tuple[Lead, Decision]:
    """Manual and preview modes: may this lead be dialled now? A refusal is logged for
    the compliance report like the dialer's own."""
    if campaign.dial_mode not in MANUAL_MODES:
        raise AgentError(_l("This campaign dials automatically."))
    lead = find_campaign_lead(campaign, query)
    if lead is None:
        raise AgentError(_l("No lead of this campaign matches."))
    return lead, compliance_services.check_lead(campaign, lead, now or utcnow())


def find_campaign_leads(campaign: Campaign, query: str, region: str = "FR", limit: int = 8) -> list[Lead]:
    """Leads of the campaign's lists named by id, phone number, name or company."""
    query = (query or "").strip()
    if not query:
        return []
    if query.isdigit() and len(query) < 10:
        lead = find_campaign_lead(campaign, query)
        return [lead] if lead is not None else []
    stmt = lead_services.DirectoryQuery(text=query, campaign_id=campaign.id).apply(
        sa.select(Lead), region)
    return list(Session.scalars(stmt.order_by(Lead.id).limit(limit)))


def _require_ready(user: User, campaign: Campaign) -> None:
    state = current_state(user)
    if state_campaign_id(state) != campaign.id or state.get("state") != "ready":
        raise AgentError(_l("Be ready (not paused, not in a call) to dial."))


def request_dial(user: User, campaign: Campaign, lead: Lead, now: dt.datetime | None = None) -> Decision:
    """MANUEL / PREVIEW: the compliance decision for this lead now (a refusal is
    logged); when allowed, the dialer is asked to call it for this agent. The dialer
    screens the lead again before it dials and reports a late refusal on the page."""
    if campaign.dial_mode not in MANUAL_MODES:
        raise AgentError(_l("This campaign dials automatically."))
    _require_ready(user, campaign)
    decision = compliance_services.check_lead(campaign, lead, now or utcnow())
    if decision.allowed:
        bus.send_command(bus.AgentCommand("dial", user.tenant_id, campaign.id, user.id, lead_id=lead.id))
    return decision


def manual_list(campaign: Campaign) -> LeadList:
    """The campaign's list of the numbers dialled by hand, made on first use (one per
    campaign: two agents making it at once share the row the unique index keeps)."""
    Session.execute(
        pg_insert(LeadList)
        .values(tenant_id=campaign.tenant_id, campaign_id=campaign.id, name=str(_l("Manual dials")), manual=True)
        .on_conflict_do_nothing(index_elements=[LeadList.campaign_id], index_where=LeadList.manual)
    )
    return Session.scalars(sa.select(LeadList).where(LeadList.campaign_id == campaign.id, LeadList.manual)).one()


def dial_new_number(user: User, campaign: Campaign, number: str, region: str = "FR",
                    now: dt.datetime | None = None) -> tuple[Lead, Decision]:
    """MANUEL: a number no lead of the campaign has (one the customer just gave). It is
    screened like any lead (window, attempts, refusal delay, consent, red lists); when
    allowed it becomes a new lead of the campaign's manual list, assigned to the agent,
    and the dialer is asked to call it once this transaction commits. A refused number
    creates no lead (the refusal is logged for the compliance report)."""
    if campaign.dial_mode != DialMode.MANUEL:
        raise AgentError(_l("Only a manual campaign dials a new number."))
    _require_ready(user, campaign)
    parsed = normalize_phone(number, region)
    if parsed.e164 is None:
        raise AgentError(REASONS.get(f"phone:{parsed.reason}", REASONS["phone:invalid"]))
    existing = find_campaign_lead(campaign, parsed.e164)
    if existing is not None:
        return existing, request_dial(user, campaign, existing, now)
    lead = Lead(tenant_id=campaign.tenant_id, phone_number=parsed.e164, country_code=region, status=LeadStatus.NEW,
                vendor_lead_code=lead_services.generate_vendor_lead_code(), user_aff=user.id, owner_id=user.id,
                custom={}, attempts=0, recycles=0, priority=0, existing_contract=False, consent_outside_hours=False)
    decision = compliance_services.check_lead(campaign, lead, now or utcnow())
    if not decision.allowed:
        return lead, decision
    lead.list_id = manual_list(campaign).id
    Session.add(lead)
    Session.flush()
    lead_services.add_timeline(lead, "created", str(_l("Dialled by hand")), user_id=user.id,
                               data={"campaign_id": campaign.id})
    command = bus.AgentCommand("dial", user.tenant_id, campaign.id, user.id, lead_id=lead.id)
    after_commit(Session(), functools.partial(bus.send_command, command))
    return lead, decision


def next_preview_lead(user: User, campaign: Campaign) -> Lead | None:
    """PREVIEW: the next lead the hopper hands out (screened and reserved for a while,
    so that no other agent sees it meanwhile)."""
    from telephony.dialer.hopper import Hopper

    if campaign.dial_mode != DialMode.PREVIEW:
        raise AgentError(_l("This campaign does not work in preview."))
    taken = Hopper(campaign.id, clock=lambda: utcnow()).take(1)
    return get_lead(taken[0].lead_id) if taken else None


def skip_preview_lead(user: User, campaign: Campaign, lead: Lead, now: dt.datetime | None = None) -> None:
    """The agent passes on a preview lead: back to the hopper behind the others, and
    the skip is kept in the lead's history."""
    lead.next_attempt_at = (now or utcnow()) + PREVIEW_SKIP_DELAY
    lead_services.add_timeline(lead, "preview_skipped", str(_l("Skipped in preview")), user_id=user.id,
                               data={"campaign_id": campaign.id})


def transfer_call(user: User, campaign: Campaign, call_id: str, kind: str, target: str, warm: bool) -> str:
    """Ask the dialer to hand the agent's current call on. The target is checked here
    (an agent of this tenant on the campaign, a valid number); the dialer checks that
    the target agent is ready and the media server does the rest. Returns the target
    as the dialer gets it."""
    require_current_call(user, campaign, call_id)
    target = (target or "").strip()
    if kind == "agent":
        other = Session.scalar(sa.select(User).where(User.id == int(target))) if target.isdigit() else None
        if other is None or other.id == user.id or other not in transfer_agents(user, campaign):
            raise AgentError(_l("Choose an agent of this campaign."))
    elif kind == "external":
        phone = normalize_phone(target).e164
        if phone is None:
            raise AgentError(_l("%(number)s is not a valid phone number.", number=target))
        target = phone
    elif kind == "queue":
        if warm:
            raise AgentError(_l("A queue has nobody to talk to first: transfer to it without consulting."))
        queue = next((q for q in transfer_queues(user) if target.isdigit() and q.id == int(target)), None)
        if queue is None:
            raise AgentError(_l("Choose an active queue."))
    else:
        raise AgentError(_l("Unknown transfer."))
    bus.send_command(bus.AgentCommand("transfer", user.tenant_id, campaign.id, user.id, call_id=call_id,
                                      target=target, transfer_kind=kind, warm=warm))
    return target


def finish_transfer(user: User, campaign: Campaign, call_id: str, complete: bool) -> None:
    require_current_call(user, campaign, call_id)
    kind = "transfer_complete" if complete else "transfer_cancel"
    bus.send_command(bus.AgentCommand(kind, user.tenant_id, campaign.id, user.id, call_id=call_id))


def transfer_agents(user: User, campaign: Campaign) -> list[User]:
    """Other agents logged in to this campaign now (live state), by name."""
    live = {agent_id for agent_id, state in bus.all_agents(user.tenant_id).items()
            if state_campaign_id(state) == campaign.id and agent_id != user.id}
    if not live:
        return []
    return list(Session.scalars(sa.select(User).where(User.id.in_(live)).order_by(User.display_name)))


def transfer_queues(user: User) -> list[InboundQueue]:
    """The tenant's active inbound queues, by name (a customer can be sent to wait there)."""
    return list(Session.scalars(sa.select(InboundQueue).where(
        InboundQueue.tenant_id == user.tenant_id, InboundQueue.active.is_(True)).order_by(InboundQueue.name)))


def due_callbacks(user: User, now: dt.datetime | None = None) -> list[Callback]:
    return callback_services.agent_callbacks(user.id, until=(now or utcnow()) + dt.timedelta(hours=12))


# ------------------------------------------------------------------ softphone
@dataclass(frozen=True)
class SipCredentials:
    username: str
    password: str
    domain: str
    websocket_url: str
    expires_at: dt.datetime


def sip_username(user: User) -> str:
    return f"t{user.tenant_id}a{user.id}"


def issue_sip_credentials(user: User, domain: str, websocket_url: str,
                          now: dt.datetime | None = None) -> SipCredentials:
    """A fresh password each time: Kamailio stores only its digests (kamailio.subscriber);
    the previous password stops working at once."""
    from kamailio.subscribers import set_subscriber
    from kamailio.tables import subscriber

    password = secrets.token_urlsafe(18)
    username = sip_username(user)
    # one account per agent: an account left under a former SIP domain would make a
    # username-only digest lookup ambiguous
    Session.execute(sa.delete(subscriber).where(subscriber.c.username == username, subscriber.c.domain != domain))
    set_subscriber(Session(), username, domain, password)
    expires = (now or utcnow()) + dt.timedelta(seconds=SIP_CREDENTIAL_TTL_S)
    return SipCredentials(username, password, domain, websocket_url, expires)


# ----------------------------------------------------------------- indicators
@dataclass
class Indicators:
    calls: int = 0
    talk_s: float = 0.0
    sales: int = 0
    callbacks_due: int = 0
    pauses: list[tuple[str, str, float]] = field(default_factory=list)  # (code, name, seconds) today

    @property
    def conversion(self) -> float:
        return self.sales / self.calls if self.calls else 0.0


def day_start(zone: str, now: dt.datetime | None = None) -> dt.datetime:
    local = (now or utcnow()).astimezone(ZoneInfo(zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


def indicators(user: User, zone: str = "Europe/Paris", now: dt.datetime | None = None) -> Indicators:
    """Today's calls handled by the agent (from the calls table), in the tenant's zone."""
    since = day_start(zone, now)
    mine = sa.and_(Call.agent_id == user.id, Call.started_at >= since)
    calls, talk = Session.execute(
        sa.select(sa.func.count(Call.id), sa.func.coalesce(sa.func.sum(Call.talk_s), 0.0)).where(mine)).one()
    sales = Session.scalar(
        sa.select(sa.func.count(Call.id)).join(
            CampaignStatus, sa.and_(CampaignStatus.campaign_id == Call.campaign_id,
                                    CampaignStatus.code == Call.disposition))
        .where(mine, CampaignStatus.sale.is_(True))) or 0
    due = len([c for c in callback_services.agent_callbacks(user.id, until=now or utcnow())])
    return Indicators(calls=int(calls), talk_s=float(talk), sales=int(sales), callbacks_due=due,
                      pauses=pause_times(user, since, now or utcnow()))


def pause_times(user: User, since: dt.datetime, now: dt.datetime) -> list[tuple[str, str, float]]:
    """Time paused since ``since`` by pause code, longest first, from the agent's
    recorded states (a pause still open counts up to now)."""
    from app.reports.services import clipped_spans

    rows = sorted(((code, float(seconds or 0)) for _agent, state, code, seconds, _count
                   in Session.execute(clipped_spans(since, now, now, agent_id=user.id)) if state == "paused"),
                  key=lambda row: -row[1])
    codes = [code for code, _ in rows if code]
    names = {code: name for code, name in Session.execute(
        sa.select(PauseCode.code, PauseCode.name).where(PauseCode.code.in_(codes)))} if codes else {}
    return [(code or "", names.get(code or "", code or str(_l("Pause"))), total)
            for code, total in rows if total > 0]
