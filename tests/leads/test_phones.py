import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.leads.phones import EMPTY, NOT_A_NUMBER, TOO_LONG, TOO_SHORT, normalize_phone, parse_phone


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


SEPARATORS = st.sampled_from(["", "", " ", ".", "-", "/", "(", ")", "\u00a0", "  "])
PREFIXES = st.sampled_from(["", "0", "00", "+", "+33", "0033", "33", "+33 (0)", "+262", "0262", "262", "+32",
                            "0032", "32", "+212", "+1", "+7", "+44", "+590", "0696", "+330", "00330", "330"])
REGIONS = st.sampled_from(["FR", "FR", "FR", "BE", "MA", "RE", "GP", "DE", "CH", "GB", "US", "RU"])
# mostly ASCII digits; now and then another script's digits, which phonenumbers reads
DIGIT = st.one_of(st.sampled_from("0123456789"), st.sampled_from("0123456789"), st.sampled_from("0123456789"),
                  st.sampled_from("٠١٢٣٤٥٦٧٨٩０１２３４５６７８９"))


@st.composite
def phone_texts(draw):
    """Numbers as people type them: a prefix, 4 to 12 digits, separators anywhere."""
    digits = draw(st.lists(DIGIT, min_size=4, max_size=12))
    pieces = [draw(PREFIXES)]
    for digit in digits:
        pieces.append(draw(SEPARATORS) + digit)
    return draw(SEPARATORS) + "".join(pieces) + draw(SEPARATORS)


@st.composite
def french_numbers(draw):
    """Well-formed French numbers (any first digit of the national number) in the
    shapes the fast path takes."""
    national = str(draw(st.integers(1, 9))) + "".join(draw(st.lists(st.sampled_from("0123456789"),
                                                                     min_size=8, max_size=8)))
    prefix = draw(st.sampled_from(["0", "+33", "0033", "33", "+33 (0)"]))
    separator = draw(st.sampled_from(["", " ", ".", "-", "/"]))
    pairs = [national[0]] + [national[i:i + 2] for i in range(1, 9, 2)]
    return prefix + separator.join(pairs)


@settings(max_examples=3000, deadline=None)
@given(phone_texts(), REGIONS)
def test_fast_path_gives_what_phonenumbers_gives(raw, region):
    assert normalize_phone(raw, region) == parse_phone(raw, region)


@settings(max_examples=3000, deadline=None)
@given(french_numbers())
def test_fast_path_agrees_on_french_numbers(raw):
    result = normalize_phone(raw, "FR")
    assert result == parse_phone(raw, "FR")
    if result.ok:
        assert phonenumbers.is_valid_number(phonenumbers.parse(result.e164, None))


def test_every_fast_result_is_valid_e164():
    result = normalize_phone("07 81 22 33 44")
    assert phonenumbers.is_valid_number(phonenumbers.parse(result.e164, None))
