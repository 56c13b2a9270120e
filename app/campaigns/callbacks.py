"""Callbacks (C6): scheduled in the lead's time zone, personal or shared, dialled by
the hopper before new leads (``due_callbacks``)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import lazy_gettext as _l

from app.auth.models import User
from app.campaigns.models import Callback, CallbackState, Campaign, CampaignAgent, CampaignStatus
from app.campaigns.services import CampaignError
from app.compliance import timezone_for
from app.db import utcnow
from app.extensions import Session
from app.leads.models import Lead

# A CALLBACK disposition with no time given: the same time the next day.
DEFAULT_CALLBACK_DELAY = dt.timedelta(days=1)


def _check_agent(agent_id: int | None) -> None:
    # A query, not Session.get: the identity map could hold another tenant's user.
    if agent_id is not None and Session.scalar(sa.select(User.id).where(User.id == agent_id)) is None:
        raise CampaignError("agent_id", _l("Unknown agent."))


def lead_zone(lead: Lead) -> ZoneInfo:
    return timezone_for(lead.postal_code, lead.country_code, lead.state)


def schedule_callback(
    lead: Lead,
    campaign: Campaign,
    local_due: dt.datetime,
    *,
    agent_id: int | None,
    now: dt.datetime | None = None,
    note: str = "",
    priority: int = 0,
    origin_campaign: Campaign | None = None,
    status_code: str | None = None,
    created_by: int | None = None,
) -> Callback:
    """``local_due`` is a wall time in the lead's zone (naive) or an aware instant.
    ``origin_campaign`` is the campaign the call happened in when it differs
    (cross-campaign follow-up)."""
    zone = lead_zone(lead)
    due_at = local_due if local_due.tzinfo else local_due.replace(tzinfo=zone)
    if due_at <= (now or utcnow()):
        raise CampaignError("due", _l("A callback must be in the future."))
    _check_agent(agent_id)
    callback = Callback(
        campaign_id=campaign.id, lead_id=lead.id, agent_id=agent_id, due_at=due_at, timezone=zone.key,
        note=note.strip(), priority=priority, status_code=status_code, created_by=created_by,
        origin_campaign_id=origin_campaign.id if origin_campaign and origin_campaign.id != campaign.id else None,
    )
    Session.add(callback)
    Session.flush()
    return callback


def schedule_callback_from_status(
    lead: Lead,
    campaign: Campaign,
    status: CampaignStatus,
    *,
    agent_id: int | None,
    now: dt.datetime,
    local_due: dt.datetime | None = None,
    personal: bool = True,
) -> Callback | None:
    """The automatic callback of a CALLBACK disposition (C6); None for other statuses.
    Personal to the agent who set it unless ``personal`` is false."""
    if not status.callback:
        return None
    due = local_due if local_due is not None else now + DEFAULT_CALLBACK_DELAY
    return schedule_callback(lead, campaign, due, agent_id=agent_id if personal else None, now=now,
                             status_code=status.code, created_by=agent_id)


def _pending() -> sa.Select:
    return (sa.select(Callback).where(Callback.state == CallbackState.PENDING)
            .options(so.joinedload(Callback.lead), so.joinedload(Callback.agent), so.joinedload(Callback.campaign)))


def due_callbacks(campaign_id: int, now: dt.datetime, limit: int) -> list[Callback]:
    """Pending callbacks of a campaign due at ``now``: highest priority first, then the
    most overdue. The hopper consumes these before new leads."""
    stmt = (_pending().where(Callback.campaign_id == campaign_id, Callback.due_at <= now)
            .order_by(Callback.priority.desc(), Callback.due_at, Callback.id).limit(limit))
    return list(Session.scalars(stmt).unique())


def campaign_callbacks(campaign_id: int, until: dt.datetime | None = None) -> list[Callback]:
    stmt = _pending().where(Callback.campaign_id == campaign_id)
    if until is not None:
        stmt = stmt.where(Callback.due_at <= until)
    return list(Session.scalars(stmt.order_by(Callback.due_at, Callback.id)).unique())


def agent_callbacks(agent_id: int, until: dt.datetime | None = None) -> list[Callback]:
    """An agent's personal callbacks and the shared ones of the campaigns they work on."""
    assigned = sa.select(CampaignAgent.campaign_id).where(CampaignAgent.user_id == agent_id)
    stmt = _pending().where(sa.or_(
        Callback.agent_id == agent_id,
        sa.and_(Callback.agent_id.is_(None), Callback.campaign_id.in_(assigned)),
    ))
    if until is not None:
        stmt = stmt.where(Callback.due_at <= until)
    return list(Session.scalars(stmt.order_by(Callback.due_at, Callback.id)).unique())


def transfer_callback(callback: Callback, agent_id: int | None) -> None:
    """Hand a callback to another agent, or to anyone (``None``)."""
    _check_agent(agent_id)
    if callback.state != CallbackState.PENDING:
        raise CampaignError("agent_id", _l("Only a pending callback can be transferred."))
    callback.agent_id = agent_id
    Session.flush()


def complete_callback(callback: Callback, now: dt.datetime | None = None) -> None:
    callback.state = CallbackState.DONE
    callback.completed_at = now or utcnow()
    Session.flush()


def cancel_callback(callback: Callback, now: dt.datetime | None = None) -> None:
    callback.state = CallbackState.CANCELLED
    callback.completed_at = now or utcnow()
    Session.flush()
