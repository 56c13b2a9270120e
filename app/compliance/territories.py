"""Where a lead lives: département, time zone, holiday calendar and numbering zone.

Everything here is derived from a postal code and an ISO 3166-1 alpha-2 country
code, because those are the two address fields every imported list carries (L1).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

# Overseas territories have their own ISO codes; lists from French vendors use
# either "FR" + a 97x postal code or the territory's own code. Both resolve here.
_OVERSEAS_BY_COUNTRY: dict[str, str] = {
    "GP": "971",
    "MQ": "972",
    "GF": "973",
    "RE": "974",
    "PM": "975",
    "YT": "976",
    "BL": "977",
    "MF": "978",
    "TF": "984",
    "WF": "986",
    "PF": "987",
    "NC": "988",
}

# INSEE code of an overseas territory -> IANA zone. Polynésie spans three zones;
# Tahiti holds most of the population, so it is the default.
_OVERSEAS_ZONES: dict[str, str] = {
    "971": "America/Guadeloupe",
    "972": "America/Martinique",
    "973": "America/Cayenne",
    "974": "Indian/Reunion",
    "975": "America/Miquelon",
    "976": "Indian/Mayotte",
    "977": "America/St_Barthelemy",
    "978": "America/Marigot",
    "984": "Indian/Kerguelen",
    "986": "Pacific/Wallis",
    "987": "Pacific/Tahiti",
    "988": "Pacific/Noumea",
}

# Subdivision codes of holidays.France (checked against holidays 0.109): each DOM
# has its own abolition-of-slavery day; Alsace-Moselle keeps Good Friday and 26 Dec.
_HOLIDAY_SUBDIVISIONS: dict[str, str] = {
    "57": "57",
    "67": "6AE",
    "68": "6AE",
    "971": "971",
    "972": "972",
    "973": "973",
    "974": "974",
    "975": "PM",
    "976": "976",
    "977": "BL",
    "978": "MF",
    "984": "TF",
    "986": "WF",
    "987": "PF",
    "988": "NC",
}

# Geographic numbering zones of the French plan (ARCEP), by département.
# fmt: off
_NUMBERING_ZONE_DEPARTMENTS: dict[str, tuple[str, ...]] = {
    # Île-de-France
    "01": ("75", "77", "78", "91", "92", "93", "94", "95"),
    # Nord-Ouest: Bretagne, Normandie, Pays de la Loire, Centre-Val de Loire
    "02": (
        "14", "18", "22", "27", "28", "29", "35", "36", "37", "41",
        "44", "45", "49", "50", "53", "56", "61", "72", "76", "85",
    ),
    # Nord-Est: Hauts-de-France, Grand Est, Bourgogne-Franche-Comté
    "03": (
        "02", "08", "10", "21", "25", "39", "51", "52", "54", "55",
        "57", "58", "59", "60", "62", "67", "68", "70", "71", "80",
        "88", "89", "90",
    ),
    # Sud-Est: Auvergne-Rhône-Alpes, Provence-Alpes-Côte d'Azur, Corse,
    # and the eastern half of Occitanie (former Languedoc-Roussillon)
    "04": (
        "01", "03", "04", "05", "06", "07", "11", "13", "15", "26",
        "2A", "2B", "30", "34", "38", "42", "43", "48", "63", "66",
        "69", "73", "74", "83", "84",
    ),
    # Sud-Ouest: Nouvelle-Aquitaine and the western half of Occitanie
    # (former Midi-Pyrénées)
    "05": (
        "09", "12", "16", "17", "19", "23", "24", "31", "32", "33",
        "40", "46", "47", "64", "65", "79", "81", "82", "86", "87",
    ),
}
# fmt: on

NUMBERING_ZONE_OF_DEPARTMENT: dict[str, str] = {
    department: zone
    for zone, departments in _NUMBERING_ZONE_DEPARTMENTS.items()
    for department in departments
}

# Overseas dedicated ranges for automated callers are per territory (09475 Guadeloupe,
# Saint-Martin, Saint-Barthélemy; 09476 Guyane; 09477 Martinique; 09478/09479 Réunion
# and Mayotte), so each overseas group is its own "zone" for local presence.
_OVERSEAS_NUMBERING_ZONES: dict[str, str] = {
    "971": "GP",
    "977": "GP",
    "978": "GP",
    "973": "GF",
    "972": "MQ",
    "974": "RE",
    "976": "RE",
}

METROPOLITAN_DEPARTMENTS: frozenset[str] = frozenset(NUMBERING_ZONE_OF_DEPARTMENT)

# Countries with a single civil zone, and what other countries fall back to.
_COUNTRY_ZONES: dict[str, str] = {
    "FR": "Europe/Paris",
    "MC": "Europe/Monaco",
    "BE": "Europe/Brussels",
    "LU": "Europe/Luxembourg",
    "CH": "Europe/Zurich",
    "MA": "Africa/Casablanca",
    "GB": "Europe/London",
    "UK": "Europe/London",
    "US": "America/New_York",
}
DEFAULT_ZONE = "Europe/Paris"

# US state -> zone where most of its population lives. Split states (TX, FL, IN,
# KY, TN, MI, KS, NE, ND, SD, ID, OR) use their majority zone; the TCPA hours are
# the caller's duty at the called party's location, so a lead in a state's minority
# zone can be reached at most one hour off — campaigns targeting those areas should
# narrow their own hours.
# fmt: off
_US_STATE_ZONES: dict[str, str] = {
    "AL": "America/Chicago", "AK": "America/Anchorage", "AZ": "America/Phoenix",
    "AR": "America/Chicago", "CA": "America/Los_Angeles", "CO": "America/Denver",
    "CT": "America/New_York", "DE": "America/New_York", "DC": "America/New_York",
    "FL": "America/New_York", "GA": "America/New_York", "HI": "Pacific/Honolulu",
    "ID": "America/Boise", "IL": "America/Chicago", "IN": "America/Indiana/Indianapolis",
    "IA": "America/Chicago", "KS": "America/Chicago", "KY": "America/New_York",
    "LA": "America/Chicago", "ME": "America/New_York", "MD": "America/New_York",
    "MA": "America/New_York", "MI": "America/Detroit", "MN": "America/Chicago",
    "MS": "America/Chicago", "MO": "America/Chicago", "MT": "America/Denver",
    "NE": "America/Chicago", "NV": "America/Los_Angeles", "NH": "America/New_York",
    "NJ": "America/New_York", "NM": "America/Denver", "NY": "America/New_York",
    "NC": "America/New_York", "ND": "America/Chicago", "OH": "America/New_York",
    "OK": "America/Chicago", "OR": "America/Los_Angeles", "PA": "America/New_York",
    "RI": "America/New_York", "SC": "America/New_York", "SD": "America/Chicago",
    "TN": "America/Chicago", "TX": "America/Chicago", "UT": "America/Denver",
    "VT": "America/New_York", "VA": "America/New_York", "WA": "America/Los_Angeles",
    "WV": "America/New_York", "WI": "America/Chicago", "WY": "America/Denver",
    "PR": "America/Puerto_Rico", "GU": "Pacific/Guam", "VI": "America/St_Thomas",
}
# fmt: on
US_STATES: frozenset[str] = frozenset(_US_STATE_ZONES)


@dataclass(frozen=True)
class Territory:
    """Resolved location of a lead.

    `rule_country` selects the row of legal rules (overseas France follows French
    law), `holiday_country`/`holiday_subdivision` the public-holiday calendar.
    """

    rule_country: str
    zone: ZoneInfo
    holiday_country: str
    holiday_subdivision: str | None
    department: str | None
    numbering_zone: str | None


def normalise_postal_code(postal_code: str | None) -> str:
    """Digits and letters only, upper case (imports carry '75 001', '2a004'...)."""
    return "".join(ch for ch in (postal_code or "") if ch.isalnum()).upper()


def normalise_country(country_code: str | None) -> str:
    """ISO alpha-2 upper case; empty means France, the product's default (L1)."""
    code = (country_code or "").strip().upper()
    return code or "FR"


def department_for(postal_code: str | None) -> str | None:
    """French département (INSEE code) of a French postal code, else None.

    Corsica is split on the postal code (200xx-201xx Corse-du-Sud, 202xx-206xx
    Haute-Corse); Saint-Barthélemy (97133) and Saint-Martin (97150) share the
    Guadeloupe postal prefix but are their own collectivities (977, 978).
    Monaco (980xx) is a sovereign state, so it has no département.
    """
    code = normalise_postal_code(postal_code)
    if len(code) != 5 or not code.isdigit():
        return None
    if code == "97133":
        return "977"
    if code == "97150":
        return "978"
    if code.startswith("20"):
        return "2A" if int(code) < 20200 else "2B"
    prefix3 = code[:3]
    if prefix3 in _OVERSEAS_ZONES:
        return prefix3
    prefix2 = code[:2]
    if prefix2 in METROPOLITAN_DEPARTMENTS:
        return prefix2
    return None


def is_monaco_postal_code(postal_code: str | None) -> bool:
    code = normalise_postal_code(postal_code)
    return len(code) == 5 and code.startswith("980")


def timezone_for(postal_code: str | None, country_code: str | None, state: str | None = None) -> ZoneInfo:
    """IANA zone of a lead, the zone its legal calling window is read in.

    France: metropolitan and Corsica -> Europe/Paris, each overseas territory its own
    zone, 980xx -> Europe/Monaco. US: the `state` (USPS code) when known, else
    America/New_York, the most populous zone (the caller then narrows the campaign's
    hours). Unknown countries fall back to Europe/Paris, the tenant default (T1).
    """
    return resolve_territory(postal_code, country_code, state).zone


def resolve_territory(
    postal_code: str | None, country_code: str | None, state: str | None = None
) -> Territory:
    return _resolve_territory(
        normalise_postal_code(postal_code), normalise_country(country_code), (state or "").strip().upper()
    )


@lru_cache(maxsize=4096)
def _resolve_territory(postal_code: str, country: str, state: str) -> Territory:
    if country in _OVERSEAS_BY_COUNTRY:
        department = department_for(postal_code) or _OVERSEAS_BY_COUNTRY[country]
        return _french_territory(department)
    if country == "MC" or (country == "FR" and is_monaco_postal_code(postal_code)):
        return Territory("MC", ZoneInfo("Europe/Monaco"), "MC", None, None, None)
    if country == "FR":
        return _french_territory(department_for(postal_code))
    if country == "US":
        zone = _US_STATE_ZONES.get(state, _COUNTRY_ZONES["US"])
        return Territory("US", ZoneInfo(zone), "US", None, None, None)
    rule_country = "GB" if country == "UK" else country
    zone = _COUNTRY_ZONES.get(country, DEFAULT_ZONE)
    return Territory(rule_country, ZoneInfo(zone), rule_country, None, None, None)


def _french_territory(department: str | None) -> Territory:
    if department is not None and department in _OVERSEAS_ZONES:
        zone = _OVERSEAS_ZONES[department]
        numbering_zone = _OVERSEAS_NUMBERING_ZONES.get(department)
    else:
        zone = DEFAULT_ZONE
        numbering_zone = NUMBERING_ZONE_OF_DEPARTMENT.get(department) if department else None
    subdivision = _HOLIDAY_SUBDIVISIONS.get(department) if department else None
    return Territory("FR", ZoneInfo(zone), "FR", subdivision, department, numbering_zone)
