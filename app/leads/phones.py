"""Phone numbers to E.164 (spec L3).

``normalize_phone`` is called once per imported row, so it has a fast path: the
common forms (``+33612345678``, ``0033...``, ``0612345678``, ``33612345678`` with any
spaces, dots, dashes, slashes or parentheses) are checked against the region's
number patterns taken from ``phonenumbers``' own metadata, which is what
``phonenumbers.is_valid_number`` does, at a fraction of the cost of ``parse``. Every
other input, and every number the fast path does not accept, goes through
``phonenumbers`` itself (``parse_phone``), which also says why a number is invalid.
The fast path takes ASCII digits only. Tests check on thousands of generated inputs
(prefixes, separators, other scripts' digits, several regions) that it gives exactly
what ``parse_phone`` gives.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

_SEPARATORS = re.compile(r"[\s.\-()/\u00a0]+")

# Reason codes stored with rejected rows; the UI translates them (see reasons.py).
EMPTY = "empty"
NOT_A_NUMBER = "not_a_number"
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
INVALID = "invalid"

# Overseas territories dialled with a national 0 from metropolitan France: a French
# tenant's files write Réunion or Martinique numbers as 0262..., 0696...
_NATIONAL_FALLBACKS: dict[str, tuple[str, ...]] = {"FR": ("RE", "YT", "GP", "MQ", "GF", "PM", "BL", "MF")}

_TYPE_DESCS = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number",
               "voip", "pager", "uan", "voicemail")


@dataclass(frozen=True)
class PhoneResult:
    e164: str | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.e164 is not None


@dataclass(frozen=True)
class _RegionRules:
    country_code: str
    # the accepted shapes of a cleaned number, capturing the national number:
    # +CC..., 00CC..., national prefix..., CC... (in that order, as phonenumbers)
    shapes: re.Pattern[str]
    # national number length → one pattern: any number type valid at that length
    valid: dict[int, re.Pattern[str]]

    def e164(self, cleaned: str) -> str | None:
        shape = self.shapes.fullmatch(cleaned)
        if shape is None:
            return None
        national = shape.group(shape.lastindex or 0)
        pattern = self.valid.get(len(national))
        if pattern is not None and pattern.fullmatch(national):
            return f"+{self.country_code}{national}"
        return None


@functools.cache
def _rules(region: str) -> _RegionRules | None:
    """The fast-path rules of a region, or None when the region shares its country
    code with others (+1, +7, +262...): then only ``phonenumbers`` knows which one."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or len(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(meta.country_code, ())) != 1:
        return None
    general_lengths = frozenset(meta.general_desc.possible_length or ())
    by_length: dict[int, list[str]] = {}
    for name in _TYPE_DESCS:
        desc = getattr(meta, name)
        if desc is None or not desc.national_number_pattern:
            continue
        for length in frozenset(desc.possible_length or ()) or general_lengths:
            by_length.setdefault(length, []).append(desc.national_number_pattern)
    # ASCII only: Python's \d also matches other scripts' digits, which phonenumbers
    # converts first; such input takes the slow path
    valid = {length: re.compile("|".join(f"(?:{p})" for p in patterns), re.ASCII)
             for length, patterns in by_length.items()}
    cc = re.escape(str(meta.country_code))
    # a national number never starts with 0 on the fast path
    prefixes = [rf"\+{cc}", rf"00{cc}"]
    if meta.national_prefix:
        prefixes.append(re.escape(meta.national_prefix))
    prefixes.append(cc)
    shapes = re.compile("|".join(f"{prefix}([1-9][0-9]*)" for prefix in prefixes), re.ASCII)
    return _RegionRules(str(meta.country_code), shapes, valid)


def normalize_phone(raw: str | None, region: str = "FR") -> PhoneResult:
    """E.164 form of ``raw`` read with ``region`` as the default country, or the
    reason it is not a valid number."""
    text = (raw or "").strip()
    if not text:
        return PhoneResult(None, EMPTY)
    region = region.upper()
    rules = _rules(region)
    if rules is not None:
        fast = rules.e164(_SEPARATORS.sub("", text))
        if fast is not None:
            return PhoneResult(fast)
    return parse_phone(text, region)


def parse_phone(raw: str | None, region: str = "FR") -> PhoneResult:
    """``normalize_phone`` through ``phonenumbers`` only, without the fast path: what
    the fast path must agree with (tests compare the two)."""
    text = (raw or "").strip()
    if not text:
        return PhoneResult(None, EMPTY)
    region = region.upper()
    result = _slow(text, region)
    cleaned = _SEPARATORS.sub("", text)
    if result.e164 is None and cleaned.startswith("0") and not cleaned.startswith("00"):
        for other in _NATIONAL_FALLBACKS.get(region, ()):
            fallback = _slow(text, other)
            if fallback.e164 is not None:
                return fallback
    return result


def _slow(text: str, region: str) -> PhoneResult:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.TOO_SHORT_NSN or exc.error_type == NumberParseException.TOO_SHORT_AFTER_IDD:
            return PhoneResult(None, TOO_SHORT)
        if exc.error_type == NumberParseException.TOO_LONG:
            return PhoneResult(None, TOO_LONG)
        return PhoneResult(None, NOT_A_NUMBER)
    if phonenumbers.is_valid_number(number):
        return PhoneResult(phonenumbers.format_number(number, PhoneNumberFormat.E164))
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible == ValidationResult.TOO_SHORT:
        return PhoneResult(None, TOO_SHORT)
    if possible == ValidationResult.TOO_LONG:
        return PhoneResult(None, TOO_LONG)
    return PhoneResult(None, INVALID)


def e164_digits(e164: str) -> int:
    """The bigint form used by the Bloctel table."""
    return int(e164.lstrip("+"))


def format_national(e164: str | None) -> str:
    """Human display (``06 12 34 56 78``), E.164 when it cannot be parsed."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    region = phonenumbers.region_code_for_number(number)
    fmt = PhoneNumberFormat.NATIONAL if region in ("FR",) else PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, fmt)
