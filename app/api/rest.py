"""REST API v1 (I3) rules: keyset pagination, filters, and the create/update rules of
each resource. Everything runs in the caller's tenant (set from the API key), so
another tenant's rows are never found, whatever id is asked for."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.api import messages
from app.api.http import ApiError
from app.api.leads import lead_payload
from app.api.rest_schemas import MAX_ID
from app.auth import services as accounts
from app.auth.models import Role, User, UserGroup
from app.calls.models import Call
from app.campaigns.models import Campaign, CampaignStatus
from app.core import signals
from app.extensions import Session
from app.leads.models import Lead, LeadList
from app.leads.phones import normalize_phone
from app.recordings.models import Recording
from tenants.scoping import current_tenant_id

CONFLICT = "Conflit avec une ressource existante"


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        value = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(400, "Curseur invalide", {"cursor": ["Not a cursor from this API."]}) from None
    if not 0 <= value <= 2**63 - 1:
        raise ApiError(400, "Curseur invalide", {"cursor": ["Not a cursor from this API."]})
    return value


def page(stmt: sa.Select, model: type, limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    after = decode_cursor(cursor)
    rows = list(Session.scalars(stmt.where(model.id > after).order_by(model.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].id) if more and rows else None


def get(model: type, item_id: int) -> Any:
    largest = 2**63 - 1 if model is Lead else MAX_ID  # leads have bigint ids
    obj = Session.get(model, item_id) if 0 < item_id <= largest else None
    if obj is None:
        raise ApiError(404, messages.NOT_FOUND)
    return obj


def _flush_or_conflict() -> None:
    try:
        with Session.begin_nested():
            Session.flush()
    except IntegrityError:
        raise ApiError(409, CONFLICT) from None


def _must_exist(model: type, item_id: int | None, field: str) -> None:
    if item_id is not None and Session.get(model, item_id) is None:
        raise ApiError(400, messages.INVALID_FIELDS, {field: ["Unknown id for this account."]})


# ---------------------------------------------------------------- filters


def filter_campaigns(stmt: sa.Select, args: dict[str, Any]) -> sa.Select:
    if "active" in args:
        stmt = stmt.where(Campaign.active.is_(args["active"]))
    if args.get("name"):
        stmt = stmt.where(Campaign.name.ilike("%" + _escape_like(args["name"]) + "%", escape="\\"))
    return stmt


def filter_lists(stmt: sa.Select, args: dict[str, Any]) -> sa.Select:
    if "campaign_id" in args:
        stmt = stmt.where(LeadList.campaign_id == args["campaign_id"])
    if "active" in args:
        stmt = stmt.where(LeadList.active.is_(args["active"]))
    return stmt


def filter_leads(stmt: sa.Select, args: dict[str, Any]) -> sa.Select:
    if "list_id" in args:
        stmt = stmt.where(Lead.list_id == args["list_id"])
    if args.get("status"):
        stmt = stmt.where(Lead.status == args["status"].upper())
    if args.get("phone_number"):
        phone = normalize_phone(args["phone_number"], "FR")
        stmt = stmt.where(Lead.phone_number == (phone.e164 or args["phone_number"]))
    if args.get("vendor_lead_code"):
        stmt = stmt.where(Lead.vendor_lead_code == args["vendor_lead_code"])
    return stmt


def filter_users(stmt: sa.Select, args: dict[str, Any]) -> sa.Select:
    stmt = stmt.where(User.tenant_id.is_not(None))
    if args.get("role"):
        stmt = stmt.where(User.role == args["role"])
    if "active" in args:
        stmt = stmt.where(User.active.is_(args["active"]))
    if "group_id" in args:
        stmt = stmt.where(User.group_id == args["group_id"])
    return stmt


def filter_statuses(stmt: sa.Select, args: dict[str, Any]) -> sa.Select:
    if "campaign_id" in args:
        stmt = stmt.where(CampaignStatus.campaign_id == args["campaign_id"])
    return stmt


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------- writes


def create_campaign(data: dict[str, Any]) -> Campaign:
    campaign = Campaign(**data)
    Session.add(campaign)
    _flush_or_conflict()
    return campaign


def update_campaign(campaign: Campaign, data: dict[str, Any]) -> Campaign:
    for name, value in data.items():
        setattr(campaign, name, value)
    _flush_or_conflict()
    return campaign


def create_list(data: dict[str, Any]) -> LeadList:
    _must_exist(Campaign, data["campaign_id"], "campaign_id")
    lead_list = LeadList(**data)
    Session.add(lead_list)
    _flush_or_conflict()
    return lead_list


def update_list(lead_list: LeadList, data: dict[str, Any]) -> LeadList:
    for name, value in data.items():
        setattr(lead_list, name, value)
    _flush_or_conflict()
    return lead_list


def _lead_phones(data: dict[str, Any], region: str) -> None:
    for name in ("phone_number", "alt_phone"):
        if data.get(name):
            result = normalize_phone(data[name], region)
            if not result.ok:
                raise ApiError(400, messages.INVALID_FIELDS, {name: [f"{messages.INVALID_PHONE} ({result.reason})"]})
            data[name] = result.e164


def create_lead(data: dict[str, Any]) -> Lead:
    from app.api.leads import vendor_code

    _must_exist(LeadList, data["list_id"], "list_id")
    _must_exist(User, data.get("user_aff"), "user_aff")
    data["country_code"] = data.get("country_code", "FR").upper()
    data["status"] = data["status"].upper()
    _lead_phones(data, data["country_code"])
    data.setdefault("vendor_lead_code", vendor_code())
    lead = Lead(**data)
    Session.add(lead)
    _flush_or_conflict()
    signals.lead_created.send("api", tenant_id=lead.tenant_id, payload=lead_payload(lead))
    return lead


def update_lead(lead: Lead, data: dict[str, Any]) -> Lead:
    if "list_id" in data:
        _must_exist(LeadList, data["list_id"], "list_id")
    if "user_aff" in data:
        _must_exist(User, data["user_aff"], "user_aff")
    if "country_code" in data:
        data["country_code"] = data["country_code"].upper()
    _lead_phones(data, data.get("country_code", lead.country_code))
    old_status = lead.status
    if "status" in data:
        data["status"] = data["status"].upper()
    for name, value in data.items():
        setattr(lead, name, value)
    _flush_or_conflict()
    if lead.status != old_status:
        signals.lead_status_changed.send("api", tenant_id=lead.tenant_id,
                                         payload={**lead_payload(lead), "previous_status": old_status})
    return lead


def create_user(data: dict[str, Any]) -> User:
    if accounts.email_taken(data["email"]):
        raise ApiError(409, CONFLICT, {"email": ["Another account already uses this address."]})
    group = None
    if data.get("group_id") is not None:
        group = Session.get(UserGroup, data["group_id"])
        if group is None:
            raise ApiError(400, messages.INVALID_FIELDS, {"group_id": ["Unknown id for this account."]})
    return accounts.create_user(email=data["email"], display_name=data["display_name"],
                                password=data.get("password") or secrets.token_urlsafe(24), role=Role(data["role"]),
                                level=data.get("level"), group=group, tenant_id=current_tenant_id())


def update_user(user: User, data: dict[str, Any]) -> User:
    if user.tenant_id is None:
        raise ApiError(404, messages.NOT_FOUND)
    _must_exist(UserGroup, data.get("group_id"), "group_id")
    accounts.update_user(user, **data)
    Session.flush()
    return user


def create_status(data: dict[str, Any]) -> CampaignStatus:
    _must_exist(Campaign, data["campaign_id"], "campaign_id")
    data["code"] = data["code"].upper()
    status = CampaignStatus(**data)
    Session.add(status)
    _flush_or_conflict()
    return status


def update_status(status: CampaignStatus, data: dict[str, Any]) -> CampaignStatus:
    if status.system:
        raise ApiError(409, "Les statuts système ne se modifient pas")
    for name, value in data.items():
        setattr(status, name, value)
    _flush_or_conflict()
    return status


def filter_recordings(stmt: sa.Select, args: dict[str, Any]) -> sa.Select:
    if "call_id" in args:
        stmt = stmt.where(Recording.call_id == args["call_id"])
    if args.get("status"):
        stmt = stmt.where(Recording.status == args["status"])
    return stmt


def recording_part_counts(call_ids: set[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many parts each call's recording has (the caller's tenant only)."""
    if not call_ids:
        return {}
    rows = Session.execute(sa.select(Recording.call_id, sa.func.count()).where(Recording.call_id.in_(call_ids))
                           .group_by(Recording.call_id))
    return {call_id: count for call_id, count in rows}


def calls_page(args: dict[str, Any]) -> tuple[list[Call], str | None]:
    """Calls have UUID ids: their pages follow (started_at, id), newest last."""
    stmt = sa.select(Call)
    for name in ("campaign_id", "lead_id", "agent_id", "direction"):
        if name in args:
            stmt = stmt.where(getattr(Call, name) == args[name])
    if "started_after" in args:
        stmt = stmt.where(Call.started_at >= args["started_after"])
    if "started_before" in args:
        stmt = stmt.where(Call.started_at < args["started_before"])
    if args.get("cursor"):
        try:
            stamp, _, ident = base64.urlsafe_b64decode(args["cursor"] + "=" * (-len(args["cursor"]) % 4)) \
                .decode().partition("|")
            after = (dt.datetime.fromisoformat(stamp), uuid.UUID(ident))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise ApiError(400, "Curseur invalide", {"cursor": ["Not a cursor from this API."]}) from None
        stmt = stmt.where(sa.tuple_(Call.started_at, Call.id) > sa.tuple_(sa.literal(after[0]), sa.literal(after[1])))
    limit = args["limit"]
    rows = list(Session.scalars(stmt.order_by(Call.started_at, Call.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = None
    if more and rows:
        last = rows[-1]
        cursor = base64.urlsafe_b64encode(f"{last.started_at.isoformat()}|{last.id}".encode()).decode().rstrip("=")
    return rows, cursor


def get_call(call_id: uuid.UUID) -> Call:
    call = Session.get(Call, call_id)
    if call is None:
        raise ApiError(404, messages.NOT_FOUND)
    return call


@dataclass(frozen=True)
class Resource:
    name: str
    model: type
    filters: Callable[[sa.Select, dict[str, Any]], sa.Select]
    # None: a read-only resource (metadata written by the telephony side)
    create: Callable[[dict[str, Any]], Any] | None
    update: Callable[[Any, dict[str, Any]], Any] | None


RESOURCES = [
    Resource("campaigns", Campaign, filter_campaigns, create_campaign, update_campaign),
    Resource("lists", LeadList, filter_lists, create_list, update_list),
    Resource("leads", Lead, filter_leads, create_lead, update_lead),
    Resource("users", User, filter_users, create_user, update_user),
    Resource("statuses", CampaignStatus, filter_statuses, create_status, update_status),
    Resource("recordings", Recording, filter_recordings, None, None),
]
