from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from app.compliance import department_for, resolve_territory, timezone_for
from app.compliance.territories import METROPOLITAN_DEPARTMENTS, NUMBERING_ZONE_OF_DEPARTMENT


@pytest.mark.parametrize(
    ("postal_code", "department"),
    [
        ("75011", "75"),
        ("01000", "01"),
        ("13001", "13"),
        ("20000", "2A"),
        ("20137", "2A"),
        ("20200", "2B"),
        ("20600", "2B"),
        ("97110", "971"),
        ("97200", "972"),
        ("97300", "973"),
        ("97400", "974"),
        ("97500", "975"),
        ("97600", "976"),
        ("97133", "977"),
        ("97150", "978"),
        ("98800", "988"),
        (" 75 001 ", "75"),
        ("98000", None),
        ("00100", None),
        ("1000", None),
        ("", None),
        (None, None),
        ("SW1A1AA", None),
    ],
)
def test_department_for(postal_code, department):
    assert department_for(postal_code) == department


@pytest.mark.parametrize(
    ("postal_code", "country", "state", "zone"),
    [
        ("75011", "FR", None, "Europe/Paris"),
        ("20000", "FR", None, "Europe/Paris"),
        ("20200", None, None, "Europe/Paris"),
        ("97110", "FR", None, "America/Guadeloupe"),
        ("97200", "FR", None, "America/Martinique"),
        ("97300", "FR", None, "America/Cayenne"),
        ("97400", "FR", None, "Indian/Reunion"),
        ("97500", "FR", None, "America/Miquelon"),
        ("97600", "FR", None, "Indian/Mayotte"),
        ("97133", "FR", None, "America/St_Barthelemy"),
        ("97150", "FR", None, "America/Marigot"),
        ("98800", "FR", None, "Pacific/Noumea"),
        ("98000", "FR", None, "Europe/Monaco"),
        ("98000", "MC", None, "Europe/Monaco"),
        (None, "RE", None, "Indian/Reunion"),
        (None, "gp", None, "America/Guadeloupe"),
        ("1000", "BE", None, "Europe/Brussels"),
        ("20000", "MA", None, "Africa/Casablanca"),
        ("SW1A 1AA", "GB", None, "Europe/London"),
        ("SW1A 1AA", "UK", None, "Europe/London"),
        ("94103", "US", "CA", "America/Los_Angeles"),
        ("60601", "US", "il", "America/Chicago"),
        ("10001", "US", None, "America/New_York"),
        ("10115", "DE", None, "Europe/Paris"),
    ],
)
def test_timezone_for(postal_code, country, state, zone):
    assert timezone_for(postal_code, country, state) == ZoneInfo(zone)


def test_every_metropolitan_department_is_in_exactly_one_zone():
    expected = {f"{n:02d}" for n in range(1, 96) if n != 20} | {"2A", "2B"}
    assert METROPOLITAN_DEPARTMENTS == expected
    assert len(NUMBERING_ZONE_OF_DEPARTMENT) == 96


@pytest.mark.parametrize(
    ("postal_code", "zone"),
    [
        ("75011", "01"),
        ("92100", "01"),
        ("95000", "01"),
        ("77000", "01"),
        ("35000", "02"),
        ("44000", "02"),
        ("45000", "02"),
        ("76000", "02"),
        ("28000", "02"),
        ("59000", "03"),
        ("67000", "03"),
        ("21000", "03"),
        ("89000", "03"),
        ("02000", "03"),
        ("69001", "04"),
        ("13001", "04"),
        ("34000", "04"),
        ("66000", "04"),
        ("03000", "04"),
        ("20000", "04"),
        ("20200", "04"),
        ("33000", "05"),
        ("31000", "05"),
        ("87000", "05"),
        ("86000", "05"),
        ("09000", "05"),
        ("97110", "GP"),
        ("97133", "GP"),
        ("97150", "GP"),
        ("97200", "MQ"),
        ("97300", "GF"),
        ("97400", "RE"),
        ("97600", "RE"),
        ("97500", None),
        ("98000", None),
    ],
)
def test_numbering_zone(postal_code, zone):
    assert resolve_territory(postal_code, "FR").numbering_zone == zone


@pytest.mark.parametrize(
    ("postal_code", "subdivision"),
    [("57000", "57"), ("67000", "6AE"), ("68100", "6AE"), ("97110", "971"), ("97133", "BL"), ("75011", None)],
)
def test_holiday_subdivision(postal_code, subdivision):
    assert resolve_territory(postal_code, "FR").holiday_subdivision == subdivision


def test_non_french_leads_have_no_numbering_zone():
    assert resolve_territory("1000", "BE").numbering_zone is None
    assert resolve_territory("10001", "US", "NY").rule_country == "US"
