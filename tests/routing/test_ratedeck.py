from decimal import Decimal

import pytest

from telephony.routing.ratedeck import Rate, RateDeckError, parse_rate_deck


def test_parses_comma_separated_deck_with_defaults() -> None:
    deck = parse_rate_deck("prefix,rate_per_minute\n33,0.0100\n+336,0.045\n")

    assert deck == [
        Rate("33", Decimal("0.0100"), Decimal(0), 60, 60),
        Rate("336", Decimal("0.045"), Decimal(0), 60, 60),
    ]


def test_parses_french_spreadsheet_export() -> None:
    text = "\ufeffPrefix;Rate_per_minute;Connection_fee;Billing_increment\r\n33;0,0125;0,01;30/6\r\n\r\n"

    (rate,) = parse_rate_deck(text)

    assert rate == Rate("33", Decimal("0.0125"), Decimal("0.01"), 30, 6)


def test_single_increment_applies_to_every_block() -> None:
    (rate,) = parse_rate_deck("prefix,rate_per_minute,billing_increment\n44,0.02,1\n")

    assert (rate.initial_increment, rate.billing_increment) == (1, 1)


def test_reports_every_bad_row_with_line_and_column() -> None:
    text = (
        "prefix,rate_per_minute,connection_fee,billing_increment\n"
        "33,0.01,0,60/60\n"
        "33a,0.01,0,60/60\n"
        "34,abc,0,60/60\n"
        "35,-1,0,60/60\n"
        "36,0.01,0,0/60\n"
        "33,0.02,0,60/60\n"
        "37,0.0000001,0,60\n"
    )

    with pytest.raises(RateDeckError) as caught:
        parse_rate_deck(text)

    found = [(e.line, e.column) for e in caught.value.errors]
    assert found == [
        (3, "prefix"),
        (4, "rate_per_minute"),
        (5, "rate_per_minute"),
        (6, "billing_increment"),
        (7, "prefix"),
        (8, "rate_per_minute"),
    ]
    assert "line 7, column prefix: prefix 33 already given on line 2" in str(caught.value)


def test_missing_required_column_is_reported_on_the_header() -> None:
    with pytest.raises(RateDeckError) as caught:
        parse_rate_deck("prefix,price\n33,0.01\n")

    assert str(caught.value) == "line 1: missing column(s): rate_per_minute"


@pytest.mark.parametrize("text", ["", "\n", "prefix,rate_per_minute\n"])
def test_empty_deck_is_an_error(text: str) -> None:
    with pytest.raises(RateDeckError):
        parse_rate_deck(text)


def test_prefix_longer_than_kamailio_allows_is_refused() -> None:
    with pytest.raises(RateDeckError) as caught:
        parse_rate_deck("prefix,rate_per_minute\n12345678901234567,0.01\n")

    assert caught.value.errors[0].column == "prefix"


def test_nan_and_infinity_are_not_prices() -> None:
    with pytest.raises(RateDeckError) as caught:
        parse_rate_deck("prefix,rate_per_minute\n33,NaN\n34,Infinity\n")

    assert [e.line for e in caught.value.errors] == [2, 3]
