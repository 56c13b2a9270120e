"""Lead import through the API (I1): one lead or a batch of up to 100, each checked
against the tenant's groups, users, lists and statuses before it is written."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError

from app.api import messages
from app.api.keys import ApiCaller
from app.api.schemas import LeadIn
from app.auth.models import User, UserGroup
from app.campaigns.models import CampaignStatus
from app.core import signals
from app.extensions import Session
from app.leads.models import Lead, LeadList, LeadStatus, TimelineEvent
from app.leads.phones import normalize_phone
from app.leads.redlist import is_blocked

MAX_BATCH = 100
_lead_schema = LeadIn()


class LeadRejected(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(str(errors))
        self.errors = errors


@dataclass
class CreatedLead:
    data: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def vendor_code() -> str:
    return f"EXT-{time.time_ns() // 1_000_000}-{secrets.token_hex(4)}"


def validate_lead(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise LeadRejected({"_schema": ["Un lead doit être un objet JSON"]})
    try:
        return _lead_schema.load(raw)
    except ValidationError as error:
        raise LeadRejected(_flatten(error.messages)) from None


def _flatten(errors: object) -> dict[str, list[str]]:
    if isinstance(errors, dict):
        return {str(k): v if isinstance(v, list) else [str(v)] for k, v in errors.items()}
    return {"_schema": [str(errors)]}


def _resolve_user_aff(value: str, group: UserGroup) -> int | None:
    """``user_aff`` names an agent (user id or email) or a group; the lead is assigned
    to the agent, or left to the group (None)."""
    if value.isdigit():
        user_id = Session.scalar(sa.select(User.id).where(User.id == int(value), User.active))
        if user_id is not None:
            return user_id
    if "@" in value:
        user_id = Session.scalar(sa.select(User.id).where(sa.func.lower(User.email) == value.lower(), User.active))
        if user_id is not None:
            return user_id
    if value.lower() == group.code.lower() or Session.scalar(
            sa.select(UserGroup.id).where(sa.func.lower(UserGroup.code) == value.lower())):
        return None
    raise LeadRejected({"user_aff": [messages.UNKNOWN_USER_AFF]})


def _check_status(status: str, campaign_id: int) -> str:
    code = status.upper()
    if code == LeadStatus.NEW:
        return code
    known = Session.scalar(sa.select(CampaignStatus.id).where(
        CampaignStatus.campaign_id == campaign_id, CampaignStatus.code == code))
    if known is None:
        raise LeadRejected({"status": [messages.UNKNOWN_STATUS]})
    return code


def _phone(raw: str | None, region: str, name: str) -> str | None:
    if raw is None or raw == "":
        return None
    result = normalize_phone(raw, region)
    if not result.ok:
        raise LeadRejected({name: [f"{messages.INVALID_PHONE} ({result.reason})"]})
    return result.e164


def create_lead(data: dict[str, Any], api_key: ApiCaller) -> CreatedLead:
    """Write one validated lead (flush only) and announce it (``lead.created``)."""
    errors: dict[str, list[str]] = {}
    group = Session.scalar(sa.select(UserGroup).where(sa.func.lower(UserGroup.code) == data["user_group"].lower()))
    if group is None:
        errors["user_group"] = [messages.UNKNOWN_GROUP]
    lead_list = Session.get(LeadList, data["list_id"])
    if lead_list is None:
        errors["list_id"] = [messages.UNKNOWN_LIST]
    region = data["country_code"].upper()
    for name in ("phone_number", "alt_phone"):
        try:
            data[name] = _phone(data.get(name), region, name)
        except LeadRejected as rejected:
            errors.update(rejected.errors)
    if errors:
        raise LeadRejected(errors)
    assert group is not None and lead_list is not None
    user_aff_id = _resolve_user_aff(data["user_aff"], group)
    status = _check_status(data["status"], lead_list.campaign_id)
    lead = Lead(
        list_id=lead_list.id, first_name=data["first_name"], last_name=data["last_name"],
        phone_number=data["phone_number"], alt_phone=data.get("alt_phone"), email=data.get("email"),
        address1=data.get("address1"), address2=data.get("address2"), address3=data.get("address3"),
        city=data.get("city"), state=data.get("state"), province=data.get("province"),
        postal_code=data.get("postal_code"), country_code=region, comments=data.get("comments"),
        vendor_lead_code=data.get("vendor_lead_code") or vendor_code(), status=status, user_aff=user_aff_id,
    )
    Session.add(lead)
    Session.flush()
    # The assignment is recorded on the contact's timeline; its id is the guide's
    # ``affectation_id``.
    assignment = TimelineEvent(lead_id=lead.id, kind="api_import", user_id=user_aff_id,
                               summary=f"Lead importé par l'API ({api_key.name})",
                               data={"user_group": group.code, "user_aff": data["user_aff"], "api_key_id": api_key.id})
    Session.add(assignment)
    Session.flush()
    red_listed = is_blocked(lead.tenant_id, lead_list.campaign_id, lead.phone_number)
    body = {
        "lead_id": lead.id,
        "affectation_id": assignment.id,
        "vendor_lead_code": lead.vendor_lead_code,
        "list_id": lead_list.id,
        "list_name": lead_list.name,
        "campaign_id": str(lead_list.campaign_id),
        "user_aff": data["user_aff"],
        "status": lead.status,
        "red_listed": red_listed,
    }
    signals.lead_created.send("api", tenant_id=lead.tenant_id, payload=lead_payload(lead))
    return CreatedLead(body, [messages.RED_LISTED] if red_listed else [])


def lead_payload(lead: Lead) -> dict[str, Any]:
    """The lead as webhooks and the REST API describe it."""
    return {
        "id": lead.id, "list_id": lead.list_id, "status": lead.status, "first_name": lead.first_name,
        "last_name": lead.last_name, "company": lead.company, "phone_number": lead.phone_number,
        "alt_phone": lead.alt_phone, "email": lead.email, "address1": lead.address1, "address2": lead.address2,
        "address3": lead.address3, "city": lead.city, "state": lead.state, "province": lead.province,
        "postal_code": lead.postal_code, "country_code": lead.country_code, "comments": lead.comments,
        "vendor_lead_code": lead.vendor_lead_code, "user_aff": lead.user_aff,
        "created_at": lead.created_at.isoformat() if lead.created_at else None,
        "updated_at": lead.updated_at.isoformat() if lead.updated_at else None,
    }


def import_one(raw: object, api_key: ApiCaller) -> CreatedLead:
    return create_lead(validate_lead(raw), api_key)


def batch_items(body: object) -> list[object]:
    """The leads of a batch body: ``{"leads": [...]}`` or a bare array."""
    if isinstance(body, list):
        items = body
    elif isinstance(body, dict) and set(body) == {"leads"} and isinstance(body["leads"], list):
        items = body["leads"]
    else:
        raise LeadRejected({"leads": [messages.BATCH_SHAPE]})
    return items


def import_batch(items: list[object], api_key: ApiCaller) -> list[dict[str, Any]]:
    """Per-lead results; each lead is written in its own savepoint so that one lead
    failing in the database leaves the others in place."""
    results: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        try:
            data = validate_lead(raw)
            with Session.begin_nested():
                created = create_lead(data, api_key)
        except LeadRejected as rejected:
            results.append({"index": index, "success": False, "error": messages.LEAD_INVALID,
                            "errors": rejected.errors})
            continue
        item: dict[str, Any] = {"index": index, "success": True, "data": created.data}
        if created.warnings:
            item["warnings"] = created.warnings
        results.append(item)
    return results
