"""Carrier rate decks from CSV: parsing and validation, without I/O.

A deck has one row per destination prefix::

    prefix,rate_per_minute,connection_fee,billing_increment
    33,0.0100,0,60/60
    336,0.0450,0.01,30/6

``connection_fee`` and ``billing_increment`` are optional (0 and 60/60). Decks exported
by French spreadsheets use ``;`` between fields and a decimal comma; both are accepted.
The whole deck is checked before anything is returned: a bad deck raises
``RateDeckError`` listing every bad row, so nothing of it is ever written.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

REQUIRED_COLUMNS = ("prefix", "rate_per_minute")
OPTIONAL_COLUMNS = ("connection_fee", "billing_increment")
# Kamailio's lcr_rule.prefix is VARCHAR(16).
MAX_PREFIX_DIGITS = 16
MAX_INCREMENT_SECONDS = 3600
# carrier_rates columns are NUMERIC(12, 6).
MAX_PRICE = Decimal("999999.999999")
PRICE_DECIMALS = 6

_PREFIX_RE = re.compile(rf"^\+?([0-9]{{1,{MAX_PREFIX_DIGITS}}})$")
_INCREMENT_RE = re.compile(r"^([0-9]+)(?:/([0-9]+))?$")


@dataclass(frozen=True, slots=True)
class Rate:
    prefix: str
    rate_per_minute: Decimal
    connection_fee: Decimal = Decimal(0)
    initial_increment: int = 60
    billing_increment: int = 60


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class RateDeckError(ValueError):
    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors))


class _RowProblem(ValueError):
    def __init__(self, column: str, message: str) -> None:
        self.column = column
        super().__init__(message)


def parse_rate_deck(text: str) -> list[Rate]:
    """Every rate of the deck, or ``RateDeckError`` with every bad row's reason."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or not lines[0].strip():
        raise RateDeckError([RowError(1, None, "the file is empty")])
    delimiter = _delimiter(lines[0])
    reader = csv.reader(lines, delimiter=delimiter)
    header = [name.strip().lower() for name in next(reader)]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise RateDeckError([RowError(1, None, f"missing column(s): {', '.join(missing)}")])
    rates: list[Rate] = []
    errors: list[RowError] = []
    first_line_of: dict[str, int] = {}
    for line_number, values in _data_rows(reader):
        row = dict(zip(header, (value.strip() for value in values), strict=False))
        try:
            rate = _parse_row(row, decimal_comma=delimiter == ";")
        except _RowProblem as problem:
            errors.append(RowError(line_number, problem.column, str(problem)))
            continue
        if rate.prefix in first_line_of:
            message = f"prefix {rate.prefix} already given on line {first_line_of[rate.prefix]}"
            errors.append(RowError(line_number, "prefix", message))
            continue
        first_line_of[rate.prefix] = line_number
        rates.append(rate)
    if errors:
        raise RateDeckError(errors)
    if not rates:
        raise RateDeckError([RowError(2, None, "the deck has no rates")])
    return rates


def _delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _data_rows(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    for line_number, values in enumerate(reader, start=2):
        if any(value.strip() for value in values):
            yield line_number, values


def _parse_row(row: dict[str, str], *, decimal_comma: bool) -> Rate:
    prefix = _parse_prefix(row.get("prefix", ""))
    rate = _parse_price(row.get("rate_per_minute", ""), "rate_per_minute", decimal_comma)
    fee = _parse_price(row.get("connection_fee") or "0", "connection_fee", decimal_comma)
    initial, following = _parse_increment(row.get("billing_increment") or "60/60")
    return Rate(prefix, rate, fee, initial, following)


def _parse_prefix(raw: str) -> str:
    match = _PREFIX_RE.match(raw.replace(" ", ""))
    if not match:
        raise _RowProblem("prefix", f"{raw!r} is not 1 to {MAX_PREFIX_DIGITS} digits (an optional + first)")
    return match.group(1)


def _parse_price(raw: str, column: str, decimal_comma: bool) -> Decimal:
    text = raw.replace(",", ".") if decimal_comma else raw
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _RowProblem(column, f"{raw!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise _RowProblem(column, f"{raw!r} must be zero or more")
    if value > MAX_PRICE:
        raise _RowProblem(column, f"{raw!r} is too large")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -PRICE_DECIMALS:
        raise _RowProblem(column, f"{raw!r} has more than {PRICE_DECIMALS} decimals")
    return value


def _parse_increment(raw: str) -> tuple[int, int]:
    match = _INCREMENT_RE.match(raw.replace(" ", ""))
    if not match:
        raise _RowProblem("billing_increment", f"{raw!r} is not N or N/M seconds (e.g. 60/60, 30/6)")
    initial = int(match.group(1))
    following = int(match.group(2) or match.group(1))
    if not (0 < initial <= MAX_INCREMENT_SECONDS and 0 < following <= MAX_INCREMENT_SECONDS):
        raise _RowProblem(
            "billing_increment", f"{raw!r}: increments are 1 to {MAX_INCREMENT_SECONDS} seconds"
        )
    return initial, following
