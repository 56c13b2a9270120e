from __future__ import annotations

import pytest

from app.compliance import (
    NoPresentableNumberError,
    Severity,
    check_presented_numbers,
    dedicated_zone,
    is_mobile,
    presented_number,
)
from tests.compliance.conftest import FakeCampaign, FakeLead

LOCAL_DIDS = [
    "+33162000001",
    "+33270000001",
    "+33377000001",
    "+33424000001",
    "+33569000001",
    "+590947500001",
    "+262947900001",
]


@pytest.mark.parametrize(
    ("number", "zone"),
    [
        ("+33162000001", "01"),
        ("+33163000001", "01"),
        ("+33270000001", "02"),
        ("+33271000001", "02"),
        ("+33377000001", "03"),
        ("+33378000001", "03"),
        ("+33424000001", "04"),
        ("+33425000001", "04"),
        ("+33568000001", "05"),
        ("+33569000001", "05"),
        ("+33948000001", "09"),
        ("+33949000001", "09"),
        ("0162000001", "01"),
        ("+590947500001", "GP"),
        ("+594947600001", "GF"),
        ("+596947700001", "MQ"),
        ("+262947800001", "RE"),
        ("+262947900001", "RE"),
        ("+33145000001", None),
        ("+33612345678", None),
        ("+33947000001", None),
    ],
)
def test_dedicated_zone(number, zone):
    assert dedicated_zone(number) == zone


@pytest.mark.parametrize(
    ("number", "mobile"),
    [
        ("+33612345678", True),
        ("+33712345678", True),
        ("06 12 34 56 78", True),
        ("+596696123456", True),
        ("+262692123456", True),
        ("+33162000001", False),
        ("+33948000001", False),
        ("+14155552671", False),
    ],
)
def test_is_mobile(number, mobile):
    assert is_mobile(number) is mobile


@pytest.mark.parametrize(
    ("postal_code", "expected"),
    [
        ("75011", "+33162000001"),
        ("35000", "+33270000001"),
        ("59000", "+33377000001"),
        ("20000", "+33424000001"),
        ("33000", "+33569000001"),
        ("97110", "+590947500001"),
        ("97400", "+262947900001"),
        ("97600", "+262947900001"),
        # Martinique has no DID in the campaign: default caller ID.
        ("97200", "+33948000001"),
    ],
)
def test_local_presence_picks_the_lead_zone(postal_code, expected):
    campaign = FakeCampaign(local_presence=True, dids=LOCAL_DIDS)
    assert presented_number(campaign, FakeLead(postal_code=postal_code)) == expected


def test_without_local_presence_the_default_is_presented():
    campaign = FakeCampaign(local_presence=False, dids=LOCAL_DIDS)
    assert presented_number(campaign, FakeLead(postal_code="33000")) == "+33948000001"


def test_foreign_lead_gets_the_default():
    campaign = FakeCampaign(local_presence=True, dids=LOCAL_DIDS)
    assert presented_number(campaign, FakeLead(country_code="BE", postal_code="1000")) == "+33948000001"


def test_mobile_is_never_presented():
    campaign = FakeCampaign(
        local_presence=True, caller_id="+33612345678", dids=["+33712345678", "+33145000009"]
    )
    assert presented_number(campaign, FakeLead()) == "+33145000009"
    campaign = FakeCampaign(caller_id="+33612345678", dids=["+33145000009", "+33568000002"])
    assert presented_number(campaign, FakeLead()) == "+33568000002"


def test_only_mobiles_raises():
    campaign = FakeCampaign(caller_id="+33612345678", dids=["+33712345678"])
    with pytest.raises(NoPresentableNumberError):
        presented_number(campaign, FakeLead())


def _codes(campaign: FakeCampaign) -> list[tuple[Severity, str, str | None]]:
    return [(w.severity, w.code, w.number) for w in check_presented_numbers(campaign)]


def test_check_mobile_is_an_error():
    campaign = FakeCampaign(caller_id="+33612345678")
    assert _codes(campaign) == [(Severity.ERROR, "mobile", "+33612345678")]
    message = str(check_presented_numbers(campaign)[0].message)
    assert "mobile" in message and "+33612345678" in message


def test_check_non_dedicated_number_in_automated_mode_is_a_warning():
    assert _codes(FakeCampaign(caller_id="+33145000009")) == [
        (Severity.WARNING, "not_dedicated", "+33145000009")
    ]
    assert "tranches" in str(check_presented_numbers(FakeCampaign(caller_id="+33145000009"))[0].message)


@pytest.mark.parametrize("mode", ["MANUEL", "PREVIEW", "RÉCEPTION", "manuel"])
def test_check_manual_modes_accept_ordinary_numbers(mode):
    assert _codes(FakeCampaign(caller_id="+33145000009", dial_mode=mode)) == []


def test_check_clean_campaign():
    assert _codes(FakeCampaign(local_presence=True, dids=LOCAL_DIDS)) == []


def test_check_missing_zones_for_local_presence():
    campaign = FakeCampaign(local_presence=True, dids=["+33162000001", "+33424000001"])
    assert _codes(campaign) == [
        (Severity.WARNING, "missing_zone", None),
        (Severity.WARNING, "missing_zone", None),
        (Severity.WARNING, "missing_zone", None),
    ]
    messages = [str(w.message) for w in check_presented_numbers(campaign)]
    assert any("02 Nord-Ouest" in m for m in messages)
    assert any("05 Sud-Ouest" in m for m in messages)


def test_check_invalid_and_missing_numbers():
    assert _codes(FakeCampaign(caller_id="+3312")) == [(Severity.ERROR, "invalid", "+3312")]
    assert _codes(FakeCampaign(caller_id=None, dids=[])) == [(Severity.ERROR, "no_number", None)]
