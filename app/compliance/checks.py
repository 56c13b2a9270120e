"""Campaign-form checks: settings the engine would silently tighten are shown to the
manager (spec C1 "warn above 4", R1 "show the rule", R2 "warned when higher")."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from app.compliance.protocols import CampaignLike
from app.compliance.rules import rule_for
from app.compliance.territories import normalise_country
from app.compliance.windows import campaign_intervals, intersect


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class ComplianceWarning:
    severity: Severity
    code: str
    message: LazyString
    number: str | None = None


def check_campaign_limits(campaign: CampaignLike, country_code: str | None = "FR") -> list[ComplianceWarning]:
    """Warnings for a campaign's limits and hours against the legal rule of the
    country it mostly calls (the tenant's country by default)."""
    rule = rule_for(normalise_country(country_code))
    warnings: list[ComplianceWarning] = []
    legal_max = rule.max_prospecting_attempts
    if campaign.prospecting and legal_max is not None and (campaign.attempt_limit or 0) > legal_max:
        message = _l(
            "La limite de %(limit)s tentatives dépasse le maximum légal de %(max)s appels par 30 jours : "
            "%(max)s sera appliqué.",
            limit=campaign.attempt_limit,
            max=legal_max,
        )
        warnings.append(ComplianceWarning(Severity.WARNING, "attempt_limit_above_legal", message))
    legal_delay = rule.refusal_delay
    if (
        campaign.prospecting
        and legal_delay is not None
        and campaign.refusal_delay is not None
        and campaign.refusal_delay < legal_delay
    ):
        message = _l(
            "Le délai après un refus est inférieur au minimum légal de %(days)s jours : %(days)s jours seront appliqués.",
            days=legal_delay.days,
        )
        warnings.append(ComplianceWarning(Severity.WARNING, "refusal_delay_below_legal", message))
    if campaign.calling_hours is not None and _hours_exceed_legal(campaign, country_code):
        message = _l(
            "Les horaires de la campagne dépassent les plages légales ; seules ces plages seront utilisées. %(rule)s",
            rule=rule.summary,
        )
        warnings.append(ComplianceWarning(Severity.WARNING, "hours_exceed_legal", message))
    return warnings


def _hours_exceed_legal(campaign: CampaignLike, country_code: str | None) -> bool:
    rule = rule_for(normalise_country(country_code))
    own = campaign_intervals(campaign.calling_hours or {})
    for weekday, intervals in own.items():
        legal = rule.windows.get(weekday, ())
        inside = sum(end - start for start, end in intersect(intervals, legal))
        if inside < sum(end - start for start, end in intervals):
            return True
    return False
