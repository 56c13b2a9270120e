import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.leads.phones import EMPTY, NOT_A_NUMBER, TOO_LONG, TOO_SHORT, _slow, normalize_phone


@pytest.mark.parametrize("raw", [
    "+33612345678", "0612345678", "33612345678", "06 12 34 56 78", "06.12.34.56.78", "06-12-34-56-78",
    "(06) 12 34 56 78", "+33 (0)6 12 34 56 78", "0033 6 12 34 56 78", " 06/12/34/56/78 ", "+33 6 12 34 56 78",
])
def test_french_mobile_forms(raw):
    assert normalize_phone(raw).e164 == "+33612345678"


def test_landline_and_other_countries():
    assert normalize_phone("01 42 68 53 00").e164 == "+33142685300"
    assert normalize_phone("+32 2 555 12 12").e164 == "+3225551212"
    assert normalize_phone("+1 202-555-0143").e164 is None or normalize_phone("+1 202 456 1111").e164 == "+12024561111"
    assert normalize_phone("0522 22 33 44", region="MA").e164 == "+212522223344"
    assert normalize_phone("0262 21 22 33", region="RE").e164 == "+262262212233"


def test_overseas_numbers_in_french_national_form():
    assert normalize_phone("0262 21 22 33").e164 == "+262262212233"
    assert normalize_phone("0696 11 22 33").e164 == "+596696112233"
    assert normalize_phone("0590 11 22 33").e164 == "+590590112233"


@pytest.mark.parametrize(("raw", "reason"), [
    ("", EMPTY), (None, EMPTY), ("   ", EMPTY), ("abc", NOT_A_NUMBER), ("06 12", TOO_SHORT),
    ("06123456789012345678", TOO_LONG),
])
def test_invalid_numbers_have_a_reason(raw, reason):
    result = normalize_phone(raw)
    assert result.e164 is None
    assert result.reason == reason


def test_invalid_prefix_is_rejected():
    result = normalize_phone("0012345678")
    assert not result.ok and result.reason


@settings(max_examples=400, deadline=None)
@given(st.from_regex(r"(\+33|0033|33|0)?[0-9]{8,10}", fullmatch=True),
       st.sampled_from(["", " ", ".", "-"]))
def test_fast_path_agrees_with_phonenumbers(digits, separator):
    raw = separator.join([digits[:2], digits[2:]])
    fast = normalize_phone(raw)
    slow = _slow(raw, "FR")
    if slow.e164 is not None or fast.e164 is None:
        assert fast.e164 == slow.e164
    else:
        # only overseas numbers written in French national form differ
        assert not fast.e164.startswith("+33")


def test_every_fast_result_is_valid_e164():
    result = normalize_phone("07 81 22 33 44")
    assert phonenumbers.is_valid_number(phonenumbers.parse(result.e164, None))
