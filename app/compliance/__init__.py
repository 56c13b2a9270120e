"""Compliance engine: may a lead be called now, and from which number (spec R1-R6).

Pure logic, no database. Callers pass any objects with these attributes (the
SQLAlchemy models are expected to use the same names):

Lead (`LeadLike`)
    id, phone_number (E.164), postal_code, country_code (ISO alpha-2, empty = FR),
    state (USPS code, US only), consent_source, consent_at (aware datetime),
    consent_text, consent_proof, consent_outside_hours (bool: express consent to
    calls outside the legal days/hours), existing_contract (bool).

Campaign (`CampaignLike`)
    id, tenant_id, prospecting (bool), dial_mode (C2 name), calling_hours
    ({weekday 0=Monday: [(start time, end time)]} in the lead's local time, or
    None for the legal window only), attempt_limit (per 30 days, or None),
    min_attempt_spacing (timedelta | None), refusal_delay (timedelta | None),
    local_presence (bool), caller_id (default DID, E.164), dids (list of E.164).

History (`HistoryLike`, e.g. `CallHistory`)
    attempts (aware datetimes of calls to this number by this tenant, at least the
    last 30 days), last_refusal_at (last NOT_INTERESTED, aware datetime or None).

Policy choices (the law and the spec leave them open):
- Legal days/hours apply to every campaign (R1: a campaign never exceeds the legal
  window); the 4-per-30-days cap and the 60-day refusal delay apply to prospecting
  campaigns; a campaign's own limits apply always.
- A prospecting campaign needs a complete consent (source, date, text, proof) in
  countries with opt-in (France from 11 August 2026). `existing_contract` exempts
  from that consent only: the loi 2025-594 exemption is about opt-in, while D223-9
  days, hours and frequency cover all prospecting calls, customers included.
- `consent_outside_hours` lifts the legal days/hours only together with a complete
  consent record, since D223-9 requires the caller to be able to prove it; the
  campaign's own hours still apply.
- Holiday calendars include Alsace-Moselle's and each overseas territory's extra
  days (stricter than art. L3133-1 code du travail alone).
"""

from app.compliance.checks import ComplianceWarning, Severity, check_campaign_limits
from app.compliance.engine import (
    REASON_LABELS,
    Decision,
    Reason,
    RefusalRecord,
    effective_attempt_limit,
    effective_refusal_delay,
    has_recorded_consent,
    may_dial,
    record_refusal,
)
from app.compliance.numbers import (
    NoPresentableNumberError,
    check_presented_numbers,
    dedicated_zone,
    is_mobile,
    presented_number,
)
from app.compliance.protocols import (
    ALLOW_ALL_LIMITS,
    AllowAllLimits,
    BlockedCheck,
    CallHistory,
    CampaignLike,
    HistoryLike,
    LeadLike,
    Limits,
)
from app.compliance.rules import RULES, CountryRule, rule_for
from app.compliance.territories import department_for, resolve_territory, timezone_for

__all__ = [
    "ALLOW_ALL_LIMITS",
    "REASON_LABELS",
    "RULES",
    "AllowAllLimits",
    "BlockedCheck",
    "CallHistory",
    "CampaignLike",
    "ComplianceWarning",
    "CountryRule",
    "Decision",
    "HistoryLike",
    "LeadLike",
    "Limits",
    "NoPresentableNumberError",
    "Reason",
    "RefusalRecord",
    "Severity",
    "check_campaign_limits",
    "check_presented_numbers",
    "dedicated_zone",
    "department_for",
    "effective_attempt_limit",
    "effective_refusal_delay",
    "has_recorded_consent",
    "is_mobile",
    "may_dial",
    "presented_number",
    "record_refusal",
    "resolve_territory",
    "rule_for",
    "timezone_for",
]
