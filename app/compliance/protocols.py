"""What the engine reads from the objects it is given (duck-typed).

SQLAlchemy models with these attribute names can be passed as they are; tests pass
plain dataclasses. Attributes are read-only to the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Protocol


class LeadLike(Protocol):
    @property
    def id(self) -> Any: ...
    @property
    def phone_number(self) -> str: ...  # E.164, "+33612345678"
    @property
    def postal_code(self) -> str | None: ...
    @property
    def country_code(self) -> str | None: ...  # ISO 3166-1 alpha-2; empty means FR
    @property
    def state(self) -> str | None: ...  # USPS state code for US leads, else ignored
    @property
    def consent_source(self) -> str | None: ...
    @property
    def consent_at(self) -> datetime | None: ...
    @property
    def consent_text(self) -> str | None: ...
    @property
    def consent_proof(self) -> str | None: ...
    # Express prior consent to be called outside the legal days/hours (D223-9 al. 2).
    @property
    def consent_outside_hours(self) -> bool: ...
    # The call is about a contract the consumer already has (loi 2025-594 exemption).
    @property
    def existing_contract(self) -> bool: ...


class CampaignLike(Protocol):
    @property
    def id(self) -> Any: ...
    @property
    def tenant_id(self) -> Any: ...
    @property
    def prospecting(self) -> bool: ...
    @property
    def dial_mode(self) -> str: ...  # C2 names: MANUEL, PREVIEW, PROGRESSIF, TURBO, AUTOMATIQUE1-3...
    # weekday (0 = Monday) -> [(start, end)] in the lead's local time; None = legal
    # window only; a weekday absent from the mapping is closed. end == time(0) is midnight.
    @property
    def calling_hours(self) -> Mapping[int, Sequence[tuple[time, time]]] | None: ...
    @property
    def attempt_limit(self) -> int | None: ...  # per 30 days (LimiteNum); capped at the legal max
    @property
    def min_attempt_spacing(self) -> timedelta | None: ...
    @property
    def refusal_delay(self) -> timedelta | None: ...  # never shorter than the legal delay
    @property
    def local_presence(self) -> bool: ...
    @property
    def caller_id(self) -> str | None: ...  # default presented DID, E.164
    @property
    def dids(self) -> Sequence[str]: ...  # DIDs available for local presence, E.164


class HistoryLike(Protocol):
    """Recent calls to this number by this tenant (the same professional, across
    campaigns, as D223-9 counts per professional), at least the last 30 days."""

    @property
    def attempts(self) -> Sequence[datetime]: ...
    @property
    def last_refusal_at(self) -> datetime | None: ...  # last NOT_INTERESTED disposition


class BlockedCheck(Protocol):
    """The contacts feature's `is_blocked(tenant_id, campaign_id, phone)`: tenant and
    campaign red lists plus Bloctel/national opposition lists."""

    def __call__(self, tenant_id: Any, campaign_id: Any, phone_number: str, /) -> bool: ...


class Limits(Protocol):
    """Billing hooks: prepaid balance and the plan's simultaneous-channel limit."""

    def has_balance(self, campaign: CampaignLike) -> bool: ...

    def has_free_channel(self, campaign: CampaignLike) -> bool: ...


class AllowAllLimits:
    """Default until billing exists: never blocks."""

    def has_balance(self, campaign: CampaignLike) -> bool:
        return True

    def has_free_channel(self, campaign: CampaignLike) -> bool:
        return True


ALLOW_ALL_LIMITS = AllowAllLimits()


@dataclass(frozen=True)
class CallHistory:
    """Plain implementation of `HistoryLike` for callers that query attempts themselves."""

    attempts: tuple[datetime, ...] = ()
    last_refusal_at: datetime | None = None
