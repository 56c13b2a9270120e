"""Lead import through the API (I1): one lead or a batch of up to 100, each checked
against the tenant's groups, users, lists and statuses before it is written."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError

from app.api import messages
from app.api.keys import ApiCaller
from app.api.schemas import LeadIn
from app.core import signals
from app.db import utcnow
from app.extensions import Session
from app.leads.models import Lead
from app.leads.phones import e164_digits, normalize_phone

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


def _phone(raw: str | None, region: str, name: str) -> str | None:
    if raw is None or raw == "":
        return None
    result = normalize_phone(raw, region)
    if not result.ok:
        raise LeadRejected({name: [f"{messages.INVALID_PHONE} ({result.reason})"]})
    return result.e164


_BIGINT_MAX = 2**63 - 1
_LEAD_COLUMNS = ("first_name", "last_name", "phone_number", "alt_phone", "email", "address1", "address2", "address3",
                 "city", "state", "province", "postal_code", "country_code", "comments", "vendor_lead_code")

# One statement checks the lead against the tenant's lists, groups, users and
# statuses, writes the lead and its assignment (the guide's ``affectation_id``, an
# event of the contact's timeline) when every check passes, and tells whether the
# number is on a red list or on Bloctel: a lead costs one round trip. Each table is
# also filtered on ``tenant_id`` explicitly (row-level security filters it too) so
# that the lookups use the tenant-led indexes. ``user_aff`` names an active agent by
# id or email, else a group of the tenant (the lead is then left to the group).
_CREATE_SQL = f"""
WITH lst AS (
    SELECT id, name, campaign_id FROM lead_lists
    WHERE tenant_id = %(tenant_id)s AND id = %(list_id)s
), grp AS (
    SELECT code FROM user_groups
    WHERE tenant_id = %(tenant_id)s AND lower(code) = %(group_key)s
    ORDER BY id LIMIT 1
), agent AS (
    SELECT id FROM users
    WHERE tenant_id = %(tenant_id)s AND active
      AND (id = %(aff_id)s::bigint OR lower(email) = %(aff_email)s::text)
    ORDER BY id LIMIT 1
), checks AS (
    SELECT
        EXISTS (SELECT FROM agent) OR EXISTS (
            SELECT FROM user_groups WHERE tenant_id = %(tenant_id)s AND lower(code) = %(aff_key)s
        ) AS aff_ok,
        %(status)s = 'NEW' OR EXISTS (
            SELECT FROM campaign_statuses s JOIN lst ON s.campaign_id = lst.campaign_id
            WHERE s.tenant_id = %(tenant_id)s AND s.code = %(status)s
        ) AS status_ok
), ok AS (
    SELECT lst.id AS list_id, grp.code AS group_code, (SELECT id FROM agent) AS user_id
    FROM lst, grp, checks
    WHERE %(phones_ok)s AND checks.aff_ok AND checks.status_ok
), lead AS (
    INSERT INTO leads (tenant_id, list_id, {", ".join(_LEAD_COLUMNS)}, status, user_aff, created_at, updated_at)
    SELECT %(tenant_id)s, ok.list_id, {", ".join(f"%({c})s" for c in _LEAD_COLUMNS)}, %(status)s, ok.user_id,
           %(now)s, %(now)s
    FROM ok
    RETURNING id
), assignment AS (
    INSERT INTO timeline_events (tenant_id, lead_id, kind, occurred_at, user_id, summary, data)
    SELECT %(tenant_id)s, lead.id, 'api_import', %(now)s, ok.user_id, %(summary)s,
           jsonb_build_object('user_group', ok.group_code, 'user_aff', %(user_aff)s::text,
                              'api_key_id', %(api_key_id)s::bigint)
    FROM lead, ok
    RETURNING id
)
SELECT lst.id AS list_id, lst.name AS list_name, lst.campaign_id, grp.code AS group_code, checks.aff_ok,
       checks.status_ok, lead.id AS lead_id, assignment.id AS assignment_id, ok.user_id,
       lead.id IS NOT NULL AND (
           EXISTS (SELECT FROM red_list_entries r
                   WHERE r.tenant_id = %(tenant_id)s AND r.phone_number = %(phone_number)s
                     AND (r.campaign_id IS NULL OR r.campaign_id = lst.campaign_id))
           OR EXISTS (SELECT FROM bloctel_numbers b
                      WHERE b.tenant_id = %(tenant_id)s AND b.phone = %(phone_digits)s::bigint)
       ) AS red_listed
FROM checks
LEFT JOIN lst ON true LEFT JOIN grp ON true LEFT JOIN ok ON true
LEFT JOIN lead ON true LEFT JOIN assignment ON true
"""


def create_lead(data: dict[str, Any], api_key: ApiCaller) -> CreatedLead:
    """Write one validated lead (no flush needed: one statement) and announce it
    (``lead.created``). Errors come in the same order as the checks: group, list and
    phones together, then ``user_aff``, then ``status``."""
    tenant_id = api_key.tenant_id
    phone_errors: dict[str, list[str]] = {}
    region = data["country_code"].upper()
    values: dict[str, Any] = {name: data.get(name) for name in _LEAD_COLUMNS}
    for name in ("phone_number", "alt_phone"):
        try:
            values[name] = _phone(data.get(name), region, name)
        except LeadRejected as rejected:
            phone_errors.update(rejected.errors)
    values["country_code"] = region
    values["vendor_lead_code"] = data.get("vendor_lead_code") or vendor_code()
    user_aff: str = data["user_aff"]
    aff_id = int(user_aff) if user_aff.isdigit() and int(user_aff) <= _BIGINT_MAX else None
    status = data["status"].upper()
    now = utcnow()
    phone = values["phone_number"]
    row = Session.connection().exec_driver_sql(_CREATE_SQL, {
        **values, "tenant_id": tenant_id, "list_id": data["list_id"], "group_key": data["user_group"].lower(),
        "aff_id": aff_id, "aff_email": user_aff.lower() if "@" in user_aff else None, "aff_key": user_aff.lower(),
        "status": status, "phones_ok": not phone_errors, "now": now, "user_aff": user_aff,
        "summary": f"Lead importé par l'API ({api_key.name})", "api_key_id": api_key.id,
        "phone_digits": e164_digits(phone) if phone and not phone_errors else None,
    }).one()
    errors: dict[str, list[str]] = {}
    if row.group_code is None:
        errors["user_group"] = [messages.UNKNOWN_GROUP]
    if row.list_id is None:
        errors["list_id"] = [messages.UNKNOWN_LIST]
    errors.update(phone_errors)
    if errors:
        raise LeadRejected(errors)
    if not row.aff_ok:
        raise LeadRejected({"user_aff": [messages.UNKNOWN_USER_AFF]})
    if not row.status_ok:
        raise LeadRejected({"status": [messages.UNKNOWN_STATUS]})
    body = {
        "lead_id": row.lead_id,
        "affectation_id": row.assignment_id,
        "vendor_lead_code": values["vendor_lead_code"],
        "list_id": row.list_id,
        "list_name": row.list_name,
        "campaign_id": str(row.campaign_id),
        "user_aff": user_aff,
        "status": status,
        "red_listed": row.red_listed,
    }
    if signals.lead_created.receivers:
        known = {"id": row.lead_id, "list_id": row.list_id, "status": status, "company": None, **values,
                 "user_aff": row.user_id, "created_at": now.isoformat(), "updated_at": now.isoformat()}
        payload = {name: known[name] for name in _PAYLOAD_FIELDS}
        signals.lead_created.send("api", tenant_id=tenant_id, payload=payload)
    return CreatedLead(body, [messages.RED_LISTED] if row.red_listed else [])


_PAYLOAD_FIELDS = ("id", "list_id", "status", "first_name", "last_name", "company", "phone_number", "alt_phone",
                   "email", "address1", "address2", "address3", "city", "state", "province", "postal_code",
                   "country_code", "comments", "vendor_lead_code", "user_aff", "created_at", "updated_at")


def lead_payload(lead: Lead) -> dict[str, Any]:
    """The lead as webhooks and the REST API describe it."""
    payload = {name: getattr(lead, name) for name in _PAYLOAD_FIELDS}
    for name in ("created_at", "updated_at"):
        payload[name] = payload[name].isoformat() if payload[name] else None
    return payload


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
