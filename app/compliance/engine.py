"""May this lead be dialled by this campaign at this instant? (spec R1-R3, R6)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from app.compliance.protocols import (
    ALLOW_ALL_LIMITS,
    BlockedCheck,
    CampaignLike,
    HistoryLike,
    LeadLike,
    Limits,
)
from app.compliance.rules import CountryRule, rule_for
from app.compliance.territories import Territory, resolve_territory
from app.compliance.windows import WindowSpec


class Reason(StrEnum):
    WINDOW = "window"
    HOLIDAY = "holiday"
    ATTEMPTS = "attempts"
    SPACING = "spacing"
    REFUSAL_DELAY = "refusal_delay"
    CONSENT = "consent"
    RED_LIST = "red_list"
    BALANCE = "balance"
    CHANNEL_LIMIT = "channel_limit"


# Labels for the manager's compliance report (R6).
REASON_LABELS: dict[Reason, LazyString] = {
    Reason.WINDOW: _l("Hors plage horaire autorisée"),
    Reason.HOLIDAY: _l("Jour férié"),
    Reason.ATTEMPTS: _l("Nombre maximal de tentatives atteint"),
    Reason.SPACING: _l("Délai minimal entre deux tentatives"),
    Reason.REFUSAL_DELAY: _l("Délai après un refus"),
    Reason.CONSENT: _l("Pas de consentement enregistré"),
    Reason.RED_LIST: _l("Numéro en liste rouge ou Bloctel"),
    Reason.BALANCE: _l("Solde insuffisant"),
    Reason.CHANNEL_LIMIT: _l("Limite de canaux du forfait atteinte"),
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: Reason | None = None
    # Earliest instant the answer could become "allowed" by time alone; None when
    # waiting cannot help (consent, red list, billing) or the window never opens.
    next_allowed_at: datetime | None = None


ALLOWED = Decision(allowed=True)


@dataclass(frozen=True)
class RefusalRecord:
    """One refused dial, for the compliance report (R6)."""

    tenant_id: Any
    campaign_id: Any
    lead_id: Any
    phone_number: str
    reason: Reason
    at: datetime
    next_allowed_at: datetime | None


def may_dial(
    lead: LeadLike,
    campaign: CampaignLike,
    at: datetime,
    *,
    history: HistoryLike,
    blocked: BlockedCheck,
    limits: Limits = ALLOW_ALL_LIMITS,
) -> Decision:
    """Decide whether `campaign` may call `lead` at the aware instant `at`.

    Checks that waiting cannot fix come first (consent, red lists, billing) so the
    hopper drops those leads; then the time-based rules, whose combined earliest
    pass is returned as `next_allowed_at` so the hopper can skip the lead until then.
    """
    _require_aware(at, "at")
    territory = resolve_territory(lead.postal_code, lead.country_code, lead.state)
    rule = rule_for(territory.rule_country)
    permanent = _permanent_refusal(lead, campaign, at, rule, blocked, limits)
    if permanent is not None:
        return Decision(allowed=False, reason=permanent)
    window = _window(
        territory, rule, campaign, lifted=bool(lead.consent_outside_hours) and has_recorded_consent(lead, at)
    )
    pending = [
        (reason, until) for reason, until in _time_constraints(campaign, history, at, rule) if until > at
    ]
    if not pending and window.is_open(at):
        return ALLOWED
    reason = pending[0][0] if pending else _closed_window_reason(window, at)
    earliest = max([at, *(until for _, until in pending)])
    next_allowed_at = _next_allowed_at(lead, campaign, territory, rule, window, earliest)
    return Decision(allowed=False, reason=reason, next_allowed_at=next_allowed_at)


def _closed_window_reason(window: WindowSpec, at: datetime) -> Reason:
    local_day = at.astimezone(window.zone).date()
    return Reason.HOLIDAY if window.closed_by_holiday(local_day) else Reason.WINDOW


def _next_allowed_at(
    lead: LeadLike,
    campaign: CampaignLike,
    territory: Territory,
    rule: CountryRule,
    window: WindowSpec,
    earliest: datetime,
) -> datetime | None:
    """First window opening once every other time-based rule is satisfied."""
    next_allowed_at = window.next_opening(earliest)
    if lead.consent_outside_hours and not window.legal_window_lifted and _consent_complete(lead):
        # An express consent dated later lifts the legal window from that date on.
        lifted = _window(territory, rule, campaign, lifted=True).next_opening(max(earliest, lead.consent_at))
        next_allowed_at = min(filter(None, (next_allowed_at, lifted)), default=None)
    if next_allowed_at is not None and _lacks_required_consent(lead, campaign, next_allowed_at, rule):
        # Opt-in starts before the window reopens: waiting will not help this lead.
        return None
    return next_allowed_at


def has_recorded_consent(lead: LeadLike, at: datetime) -> bool:
    """A provable consent (R3): source, date, wording and proof all recorded, dated
    no later than the call. A consent dated in the future is treated as absent."""
    if not (lead.consent_source and lead.consent_text and lead.consent_proof and lead.consent_at):
        return False
    _require_aware(lead.consent_at, "lead.consent_at")
    return lead.consent_at <= at


def _consent_complete(lead: LeadLike) -> bool:
    """All consent fields recorded, whatever the date (it may be later than now)."""
    return lead.consent_at is not None and has_recorded_consent(lead, lead.consent_at)


def _window(territory: Territory, rule: CountryRule, campaign: CampaignLike, *, lifted: bool) -> WindowSpec:
    return WindowSpec.build(
        territory, rule, legal_window_lifted=lifted, campaign_hours=campaign.calling_hours
    )


def effective_attempt_limit(campaign: CampaignLike, rule: CountryRule) -> int | None:
    """The campaign's own limit, capped at the legal maximum for prospecting."""
    legal = rule.max_prospecting_attempts if campaign.prospecting else None
    own = campaign.attempt_limit
    if own is None:
        return legal
    return own if legal is None else min(own, legal)


def effective_refusal_delay(campaign: CampaignLike, rule: CountryRule) -> timedelta | None:
    """The longer of the campaign's delay and the legal one (prospecting only)."""
    delays = [campaign.refusal_delay]
    if campaign.prospecting:
        delays.append(rule.refusal_delay)
    present = [delay for delay in delays if delay is not None]
    return max(present) if present else None


def record_refusal(
    sink: Callable[[RefusalRecord], object],
    lead: LeadLike,
    campaign: CampaignLike,
    decision: Decision,
    at: datetime,
) -> bool:
    """Hand a refused decision to `sink` (the DB writer) so every block is counted
    with its reason; allowed decisions are not recorded. Returns whether it was."""
    if decision.allowed or decision.reason is None:
        return False
    sink(
        RefusalRecord(
            tenant_id=campaign.tenant_id,
            campaign_id=campaign.id,
            lead_id=lead.id,
            phone_number=lead.phone_number,
            reason=decision.reason,
            at=at,
            next_allowed_at=decision.next_allowed_at,
        )
    )
    return True


def _permanent_refusal(
    lead: LeadLike,
    campaign: CampaignLike,
    at: datetime,
    rule: CountryRule,
    blocked: BlockedCheck,
    limits: Limits,
) -> Reason | None:
    if _lacks_required_consent(lead, campaign, at, rule):
        return Reason.CONSENT
    limit = effective_attempt_limit(campaign, rule)
    if limit is not None and limit <= 0:
        return Reason.ATTEMPTS
    if blocked(campaign.tenant_id, campaign.id, lead.phone_number):
        return Reason.RED_LIST
    if not limits.has_balance(campaign):
        return Reason.BALANCE
    if not limits.has_free_channel(campaign):
        return Reason.CHANNEL_LIMIT
    return None


def _lacks_required_consent(lead: LeadLike, campaign: CampaignLike, at: datetime, rule: CountryRule) -> bool:
    # Loi 2025-594 exempts calls about a contract in progress from opt-in only; the
    # D223-9 days, hours and frequency still apply to them (checked afterwards).
    needs_consent = campaign.prospecting and rule.requires_opt_in(at) and not lead.existing_contract
    return needs_consent and not has_recorded_consent(lead, at)


def _time_constraints(
    campaign: CampaignLike, history: HistoryLike, at: datetime, rule: CountryRule
) -> list[tuple[Reason, datetime]]:
    """(reason, first instant it is satisfied), in the order reasons are reported.

    Each is monotone: once satisfied it stays satisfied for the same history, so the
    latest of them, moved to the next window opening, is the earliest allowed instant.
    """
    # Durations are elapsed time: aware arithmetic in a local zone would add wall-clock
    # days and be an hour short (or long) across a DST change.
    at = at.astimezone(UTC)
    attempts = _past_attempts(history.attempts, at)
    constraints: list[tuple[Reason, datetime]] = []
    refusal_delay = effective_refusal_delay(campaign, rule)
    if refusal_delay is not None and history.last_refusal_at is not None:
        _require_aware(history.last_refusal_at, "history.last_refusal_at")
        constraints.append((Reason.REFUSAL_DELAY, history.last_refusal_at.astimezone(UTC) + refusal_delay))
    limit = effective_attempt_limit(campaign, rule)
    if limit is not None:
        counted = [attempt for attempt in attempts if attempt > at - rule.attempt_period]
        if len(counted) >= limit:
            # Once this attempt leaves the 30-day window, limit - 1 remain counted.
            constraints.append((Reason.ATTEMPTS, counted[len(counted) - limit] + rule.attempt_period))
    if campaign.min_attempt_spacing and attempts:
        constraints.append((Reason.SPACING, attempts[-1] + campaign.min_attempt_spacing))
    return constraints


def _past_attempts(attempts: Sequence[datetime], at: datetime) -> list[datetime]:
    for attempt in attempts:
        _require_aware(attempt, "history.attempts")
    return sorted(attempt.astimezone(UTC) for attempt in attempts if attempt <= at)


def _require_aware(value: datetime, name: str) -> None:
    # A naive datetime would be read in the server's zone, not the lead's: refuse it.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
