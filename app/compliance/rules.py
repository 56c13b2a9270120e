"""Legal calling rules, one row per country, as data (spec R1).

A row says when a consumer may be called (local wall-clock intervals per weekday),
whether public holidays are closed, how many prospecting attempts are allowed per
period, how long to wait after a refusal, and since when prospecting needs opt-in.
Rows are the legal ceiling: a campaign can narrow them, never widen them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

# Seconds since local midnight, end exclusive: (36000, 46800) is 10:00-13:00.
Interval = tuple[int, int]
DAY_SECONDS = 24 * 3600
WHOLE_DAY: tuple[Interval, ...] = ((0, DAY_SECONDS),)


def hours(start: int, end: int) -> Interval:
    return (start * 3600, end * 3600)


def _every_day(*intervals: Interval) -> dict[int, tuple[Interval, ...]]:
    return {weekday: intervals for weekday in range(7)}


def _weekdays(*intervals: Interval) -> dict[int, tuple[Interval, ...]]:
    return {weekday: intervals for weekday in range(5)}


@dataclass(frozen=True)
class CountryRule:
    country: str
    # weekday (0 = Monday) -> allowed local intervals; a missing weekday is closed.
    windows: dict[int, tuple[Interval, ...]]
    closed_on_holidays: bool
    # Express prior consent of the consumer lifts the day/hour restrictions.
    consent_lifts_window: bool
    max_prospecting_attempts: int | None
    attempt_period: timedelta
    refusal_delay: timedelta | None
    # Prospecting campaigns need a recorded consent for calls from this date on.
    opt_in_from: date | None
    summary: LazyString
    source: str = field(repr=False)

    def requires_opt_in(self, at: datetime) -> bool:
        return self.opt_in_from is not None and at.date() >= self.opt_in_from


_THIRTY_DAYS = timedelta(days=30)

# France. Code de la consommation art. D223-9 (décret n° 2022-1313 du 13 octobre
# 2022, in force 1 March 2023): Monday-Friday except public holidays (art. L3133-1
# code du travail), 10:00-13:00 and 14:00-20:00 in the consumer's zone, unless the
# consumer gave an express prior consent the caller can prove; at most 4 calls or
# attempts per 30 calendar days by the same professional; 60 days of silence after
# a refusal (periods counted as elapsed time, so a DST change never shortens them).
# Loi n° 2025-594 (art. L223-1 modified) makes telephone prospecting
# opt-in from 11 August 2026, except calls in the course of an existing contract.
FRANCE = CountryRule(
    country="FR",
    windows=_weekdays(hours(10, 13), hours(14, 20)),
    closed_on_holidays=True,
    consent_lifts_window=True,
    max_prospecting_attempts=4,
    attempt_period=_THIRTY_DAYS,
    refusal_delay=timedelta(days=60),
    opt_in_from=date(2026, 8, 11),
    summary=_l(
        "France (art. D223-9 du Code de la consommation) : du lundi au vendredi, "
        "de 10 h à 13 h et de 14 h à 20 h (heure du consommateur), jamais les "
        "jours fériés ; 4 appels maximum par 30 jours ; 60 jours après un refus ; "
        "consentement préalable obligatoire depuis le 11 août 2026."
    ),
    source="Code de la consommation D223-9 (décret 2022-1313); loi 2025-594",
)

# Monaco (980xx): no Monegasque calling-hours statute was found; the French rule is
# applied because Carillon's tenants are French-law callers and it is the stricter
# choice. Holidays follow the Monaco calendar.
MONACO = CountryRule(
    country="MC",
    windows=FRANCE.windows,
    closed_on_holidays=True,
    consent_lifts_window=True,
    max_prospecting_attempts=4,
    attempt_period=_THIRTY_DAYS,
    refusal_delay=timedelta(days=60),
    opt_in_from=None,
    summary=_l(
        "Monaco : règle française appliquée par prudence (du lundi au vendredi, "
        "10 h-13 h et 14 h-20 h, hors jours fériés monégasques)."
    ),
    source="No Monaco statute found; French D223-9 applied as the stricter rule",
)

# Belgium. Code de droit économique art. VI.110-VI.115 (opposition through the
# "Ne m'appelez plus / Bel-me-niet" list, checked by `blocked`) sets no calling
# hours. The row is a conservative product default — weekdays and Saturday morning,
# 9:00-20:00 / 10:00-13:00, never Sundays or Belgian public holidays — so a French
# centre calling Belgium stays within ordinary business hours.
BELGIUM = CountryRule(
    country="BE",
    windows={**_weekdays(hours(9, 20)), 5: (hours(10, 13),)},
    closed_on_holidays=True,
    consent_lifts_window=True,
    max_prospecting_attempts=None,
    attempt_period=_THIRTY_DAYS,
    refusal_delay=None,
    opt_in_from=None,
    summary=_l(
        "Belgique : pas d'horaires légaux (CDE art. VI.110 s., liste « Ne m'appelez "
        "plus ») ; défaut prudent : lundi-vendredi 9 h-20 h, samedi 10 h-13 h, hors "
        "dimanches et jours fériés."
    ),
    source="Code de droit économique VI.110-VI.115 (no hours); product default",
)

# Morocco. Loi 31-08 (consumer protection) and loi 09-08 (CNDP, personal data) set
# no calling hours. Conservative product default: Monday-Saturday 9:00-20:00, never
# Sundays or Moroccan public holidays (Islamic dates are estimated by `holidays`).
MOROCCO = CountryRule(
    country="MA",
    windows={weekday: (hours(9, 20),) for weekday in range(6)},
    closed_on_holidays=True,
    consent_lifts_window=True,
    max_prospecting_attempts=None,
    attempt_period=_THIRTY_DAYS,
    refusal_delay=None,
    opt_in_from=None,
    summary=_l(
        "Maroc : pas d'horaires légaux (lois 31-08 et 09-08) ; défaut prudent : "
        "lundi-samedi 9 h-20 h, hors dimanches et jours fériés."
    ),
    source="Loi 31-08, loi 09-08 (no hours); product default",
)

# United Kingdom. No statutory hours (PECR reg. 21 and the TPS are enforced through
# `blocked`); Ofcom's persistent-misuse policy governs abandoned calls (R4). The
# window follows the DMA Code / industry guidance of 8:00-21:00, every day.
UNITED_KINGDOM = CountryRule(
    country="GB",
    windows=_every_day(hours(8, 21)),
    closed_on_holidays=False,
    consent_lifts_window=True,
    max_prospecting_attempts=None,
    attempt_period=_THIRTY_DAYS,
    refusal_delay=None,
    opt_in_from=None,
    summary=_l("Royaume-Uni : pas d'horaires légaux ; usage professionnel (DMA) : 8 h-21 h tous les jours."),
    source="PECR 2003 reg. 21, Ofcom persistent misuse policy; DMA Code guidance",
)

# United States. TCPA rules, 47 CFR 64.1200(c)(1): no telephone solicitation before
# 8:00 or after 21:00 at the called party's location, every day. Several states are
# stricter (e.g. Florida 8:00-20:00 and limits per 24 h); campaigns calling those
# states narrow their own hours. Company-specific do-not-call requests are permanent
# and go through the red list (`blocked`).
UNITED_STATES = CountryRule(
    country="US",
    windows=_every_day(hours(8, 21)),
    closed_on_holidays=False,
    consent_lifts_window=True,
    max_prospecting_attempts=None,
    attempt_period=_THIRTY_DAYS,
    refusal_delay=None,
    opt_in_from=None,
    summary=_l("États-Unis (TCPA, 47 CFR 64.1200(c)(1)) : 8 h-21 h, heure du destinataire, tous les jours."),
    source="47 CFR 64.1200(c)(1)",
)

RULES: dict[str, CountryRule] = {
    rule.country: rule for rule in (FRANCE, MONACO, BELGIUM, MOROCCO, UNITED_KINGDOM, UNITED_STATES)
}
# The spec makes the current French rule the default for countries without a row.
DEFAULT_RULE = FRANCE


def rule_for(country: str) -> CountryRule:
    return RULES.get(country, DEFAULT_RULE)


def is_public_holiday(day: date, country: str, subdivision: str | None) -> bool:
    return day in _calendar(country, subdivision, day.year)


@lru_cache(maxsize=512)
def _calendar(country: str, subdivision: str | None, year: int) -> holidays.HolidayBase:
    if country not in holidays.list_supported_countries():
        return holidays.HolidayBase()
    return holidays.country_holidays(country, subdiv=subdivision, years=year)
