"""Phone numbers to E.164 (spec L3).

``normalize_phone`` is called once per imported row, so it has a fast path: the
common forms (``+33612345678``, ``0033...``, ``0612345678``, ``33612345678`` with any
spaces, dots, dashes, slashes or parentheses) are checked against the region's
number patterns taken from ``phonenumbers``' own metadata, which is what
``phonenumbers.is_valid_number`` does, at a fraction of the cost of ``parse``. Every
other input, and every number the fast path does not accept, goes through
``phonenumbers`` itself, which also says why a number is invalid.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

_SEPARATORS = re.compile(r"[\s.\-()/\u00a0]+")
_DIGITS = re.compile(r"\+?\d+")

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
    national_prefix: str
    international_prefix: str
    lengths: frozenset[int]
    types: tuple[tuple[frozenset[int], re.Pattern[str]], ...]

    def is_valid(self, national: str) -> bool:
        if len(national) not in self.lengths:
            return False
        return any(len(national) in lengths and pattern.fullmatch(national) for lengths, pattern in self.types)


@functools.cache
def _rules(region: str) -> _RegionRules | None:
    """The fast-path rules of a region, or None when the region shares its country
    code with others (+1, +7, +262...): then only ``phonenumbers`` knows which one."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or len(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(meta.country_code, ())) != 1:
        return None
    general_lengths = frozenset(meta.general_desc.possible_length or ())
    types = []
    for name in _TYPE_DESCS:
        desc = getattr(meta, name)
        if desc is None or not desc.national_number_pattern:
            continue
        lengths = frozenset(desc.possible_length or ()) or general_lengths
        types.append((lengths, re.compile(desc.national_number_pattern)))
    lengths = frozenset().union(*(t[0] for t in types)) if types else frozenset()
    return _RegionRules(str(meta.country_code), meta.national_prefix or "", "00", lengths, tuple(types))


def _fast(cleaned: str, rules: _RegionRules) -> str | None:
    cc = rules.country_code
    if cleaned.startswith("+"):
        national = cleaned[1 + len(cc):] if cleaned.startswith("+" + cc) else None
    elif cleaned.startswith(rules.international_prefix + cc):
        national = cleaned[len(rules.international_prefix) + len(cc):]
    elif rules.national_prefix and cleaned.startswith(rules.national_prefix):
        national = cleaned[len(rules.national_prefix):]
    elif cleaned.startswith(cc):
        national = cleaned[len(cc):]
    else:
        national = None
    if national and national[0] != "0" and rules.is_valid(national):
        return f"+{cc}{national}"
    return None


def normalize_phone(raw: str | None, region: str = "FR") -> PhoneResult:
    """E.164 form of ``raw`` read with ``region`` as the default country, or the
    reason it is not a valid number."""
    text = (raw or "").strip()
    if not text:
        return PhoneResult(None, EMPTY)
    cleaned = _SEPARATORS.sub("", text)
    region = region.upper()
    rules = _rules(region)
    if rules is not None and _DIGITS.fullmatch(cleaned):
        fast = _fast(cleaned, rules)
        if fast is not None:
            return PhoneResult(fast)
    result = _slow(text, region)
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
