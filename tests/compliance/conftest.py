"""Plain stand-ins for the lead and campaign models: the engine is duck-typed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


@dataclass
class FakeLead:
    id: int = 1
    phone_number: str = "+33145000001"
    postal_code: str | None = "75011"
    country_code: str | None = "FR"
    state: str | None = None
    consent_source: str | None = "formulaire web"
    consent_at: datetime | None = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    consent_text: str | None = "J'accepte d'être appelé par Exemple SA."
    consent_proof: str | None = "log-4f2a"
    consent_outside_hours: bool = False
    existing_contract: bool = False


@dataclass
class FakeCampaign:
    id: int = 7
    tenant_id: int = 3
    prospecting: bool = True
    dial_mode: str = "AUTOMATIQUE1"
    calling_hours: Mapping[int, Sequence[tuple[time, time]]] | None = None
    attempt_limit: int | None = None
    min_attempt_spacing: timedelta | None = None
    refusal_delay: timedelta | None = None
    local_presence: bool = False
    caller_id: str | None = "+33948000001"
    dids: Sequence[str] = field(default_factory=list)


def without_consent(lead: FakeLead) -> FakeLead:
    lead.consent_source = lead.consent_text = lead.consent_proof = None
    lead.consent_at = None
    return lead


def never_blocked(tenant_id: object, campaign_id: object, phone_number: str) -> bool:
    return False


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)
