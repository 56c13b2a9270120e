"""Presented numbers (caller ID) for French automated dialling (spec R5).

ARCEP décision n° 2022-1583 (plan national de numérotation, in force 1 January
2023) reserves ranges for automated calling systems: per geographic zone in
metropolitan France (01 62/63, 02 70/71, 03 77/78, 04 24/25, 05 68/69), zone-less
09 48/49, and per overseas territory 09 475 (Guadeloupe, Saint-Martin,
Saint-Barthélemy), 09 476 (Guyane), 09 477 (Martinique), 09 478/479 (Réunion,
Mayotte), dialled from abroad with the territory's country code. Mobile numbers
(06/07) are reserved to interpersonal use and must never be presented by a dialler.
"""

from __future__ import annotations

from collections.abc import Sequence

import phonenumbers
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from app.compliance.checks import ComplianceWarning, Severity
from app.compliance.protocols import CampaignLike, LeadLike
from app.compliance.territories import resolve_territory

# Numbering zone -> E.164 prefixes of its dedicated ranges.
DEDICATED_RANGES: dict[str, tuple[str, ...]] = {
    "01": ("+33162", "+33163"),
    "02": ("+33270", "+33271"),
    "03": ("+33377", "+33378"),
    "04": ("+33424", "+33425"),
    "05": ("+33568", "+33569"),
    "GP": ("+5909475",),
    "GF": ("+5949476",),
    "MQ": ("+5969477",),
    "RE": ("+2629478", "+2629479"),
}
# Non-geographic dedicated ranges, usable for any metropolitan lead.
NON_GEOGRAPHIC_RANGES: tuple[str, ...] = ("+33948", "+33949")
METROPOLITAN_ZONES: tuple[str, ...] = ("01", "02", "03", "04", "05")
ZONE_NAMES: dict[str, LazyString] = {
    "01": _l("01 Île-de-France"),
    "02": _l("02 Nord-Ouest"),
    "03": _l("03 Nord-Est"),
    "04": _l("04 Sud-Est"),
    "05": _l("05 Sud-Ouest"),
}
# Dial modes where an agent places each call by hand (C2); every other mode is an
# automated calling system in the ARCEP sense.
MANUAL_DIAL_MODES: frozenset[str] = frozenset({"MANUEL", "PREVIEW", "RECEPTION", "RÉCEPTION"})
# Mobile prefixes that phonenumbers may classify as FIXED_LINE_OR_MOBILE elsewhere.
_FRENCH_MOBILE_PREFIXES = ("+336", "+337")


class NoPresentableNumberError(ValueError):
    """The campaign has no number a dialler may present (all missing or mobile)."""


def dedicated_zone(number: str) -> str | None:
    """Zone of a dedicated-range number ("01".."05", "GP", "GF", "MQ", "RE"),
    "09" for the zone-less metropolitan ranges, None outside every dedicated range."""
    normalised = _normalise(number)
    for zone, prefixes in DEDICATED_RANGES.items():
        if normalised.startswith(prefixes):
            return zone
    if normalised.startswith(NON_GEOGRAPHIC_RANGES):
        return "09"
    return None


def is_dedicated(number: str) -> bool:
    return dedicated_zone(number) is not None


def is_mobile(number: str) -> bool:
    normalised = _normalise(number)
    if normalised.startswith(_FRENCH_MOBILE_PREFIXES):
        return True
    parsed = _parse(normalised)
    return parsed is not None and phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE


def numbering_zone_for(lead: LeadLike) -> str | None:
    return resolve_territory(lead.postal_code, lead.country_code, lead.state).numbering_zone


def presented_number(campaign: CampaignLike, lead: LeadLike) -> str:
    """Caller ID to present when `campaign` calls `lead`.

    With local presence, the campaign's first DID in the dedicated range of the
    lead's zone; otherwise (or when the zone has none) the default caller ID; a
    mobile is never returned — then the first presentable DID, dedicated ones first.
    """
    zone = numbering_zone_for(lead) if campaign.local_presence else None
    candidates = [number for number in campaign.dids if not is_mobile(number)]
    if zone is not None:
        for number in candidates:
            if dedicated_zone(number) == zone:
                return number
    if campaign.caller_id and not is_mobile(campaign.caller_id):
        return campaign.caller_id
    dedicated = [number for number in candidates if is_dedicated(number)]
    fallback = dedicated or candidates
    if not fallback:
        raise NoPresentableNumberError(
            str(_l("Aucun numéro présentable : la campagne n'a que des mobiles ou aucun numéro."))
        )
    return fallback[0]


def check_presented_numbers(campaign: CampaignLike) -> list[ComplianceWarning]:
    """Problems to show on the campaign form: errors block, warnings inform."""
    numbers = _campaign_numbers(campaign)
    if not numbers:
        return [ComplianceWarning(Severity.ERROR, "no_number", _l("Aucun numéro présenté n'est configuré."))]
    automated = campaign.dial_mode.upper() not in MANUAL_DIAL_MODES
    problems: list[ComplianceWarning] = []
    for number in numbers:
        problems.extend(_check_number(number, automated=automated))
    if campaign.local_presence:
        problems.extend(_missing_zones(campaign.dids))
    return problems


def _check_number(number: str, *, automated: bool) -> list[ComplianceWarning]:
    if _parse(_normalise(number)) is None:
        return [
            ComplianceWarning(
                Severity.ERROR, "invalid", _l("Le numéro %(number)s n'est pas valide.", number=number), number
            )
        ]
    if is_mobile(number):
        message = _l(
            "Le numéro %(number)s est un mobile (06/07) : un automate d'appel ne peut pas le présenter.",
            number=number,
        )
        return [ComplianceWarning(Severity.ERROR, "mobile", message, number)]
    if automated and not is_dedicated(number):
        message = _l(
            "Le numéro %(number)s n'est pas dans les tranches réservées aux automates d'appel "
            "(0162, 0163, 0270, 0271, 0377, 0378, 0424, 0425, 0568, 0569, 0948, 0949).",
            number=number,
        )
        return [ComplianceWarning(Severity.WARNING, "not_dedicated", message, number)]
    return []


def _missing_zones(dids: Sequence[str]) -> list[ComplianceWarning]:
    covered = {dedicated_zone(number) for number in dids if not is_mobile(number)}
    return [
        ComplianceWarning(
            Severity.WARNING,
            "missing_zone",
            _l(
                "Présence locale : aucun numéro dédié pour la zone %(zone)s ; le numéro par défaut sera présenté.",
                zone=ZONE_NAMES[zone],
            ),
        )
        for zone in METROPOLITAN_ZONES
        if zone not in covered
    ]


def _campaign_numbers(campaign: CampaignLike) -> list[str]:
    numbers = [campaign.caller_id] if campaign.caller_id else []
    numbers.extend(number for number in campaign.dids if number not in numbers)
    return numbers


def _normalise(number: str) -> str:
    """E.164 when parseable (national "0162..." forms are read as French)."""
    stripped = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    parsed = _parse(stripped)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) if parsed else stripped


def _parse(number: str) -> phonenumbers.PhoneNumber | None:
    try:
        parsed = phonenumbers.parse(number, "FR")
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_valid_number(parsed) else None
