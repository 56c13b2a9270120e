"""User-facing texts for the codes the services return (import errors, mapping
errors, rejected-row reasons), translated at display time."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

FILE_ERRORS = {
    "empty": _l("The file is empty."),
    "binary": _l("This is not a text or spreadsheet file. Export your data as CSV, TXT, XLSX or XLS."),
    "too_large": _l("The file is larger than the allowed size."),
    "merged_cells": _l("The sheet has merged cells. Unmerge them in your spreadsheet, then upload it again."),
    "corrupt_sheet": _l("The spreadsheet cannot be read. Save it again as XLSX and retry."),
    "no_sheet": _l("This sheet does not exist in the workbook."),
    "encoding": _l("Some characters cannot be read with the chosen encoding. Choose another encoding."),
    "malformed": _l("The file is not valid CSV (unbalanced quotes?)."),
    "no_rows": _l("The file has no data rows."),
}

MAPPING_ERRORS = {
    "missing_phone": _l("Map a column to the phone number."),
    "missing_name": _l("Map a column to the last name, the first name or the company."),
    "strategy": _l("Choose what to do with duplicates."),
    "dedup_keys": _l("Choose at least one duplicate criterion."),
    "dedup_scope": _l("Choose where to look for duplicates."),
}

REASONS = {
    "phone:empty": _l("no phone number"),
    "phone:not_a_number": _l("phone: not a number"),
    "phone:too_short": _l("phone: too short"),
    "phone:too_long": _l("phone: too long"),
    "phone:invalid": _l("phone: invalid number"),
    "missing_name": _l("no name and no company"),
    "email": _l("invalid email"),
    "country": _l("invalid country code"),
    "consent_at": _l("invalid consent date"),
    "duplicate_in_file:phone": _l("duplicate in the file (phone)"),
    "duplicate_in_file:email": _l("duplicate in the file (email)"),
    "duplicate_in_file:name": _l("duplicate in the file (first and last name)"),
    "duplicate_in_file:existing": _l("duplicate in the file (same existing contact)"),
    "existing:phone": _l("already in the database (phone), ignored"),
    "existing:email": _l("already in the database (email), ignored"),
    "existing:name": _l("already in the database (name), ignored"),
}

LEAD_ERRORS = {
    "campaign_exists": _l("A campaign with this name already exists."),
    "field_key": _l("The key uses lowercase letters, digits and underscores, and starts with a letter."),
    "field_kind": _l("Choose the type of the field."),
    "field_exists": _l("A field with this key already exists."),
    "field_choices": _l("Give the choices, one per line."),
    "phone_number:empty": _l("A phone number is required."),
    "recycle_status": _l("Choose a status of this campaign."),
    "recycle_delay": _l("The delay is between 1 minute and 90 days."),
    "recycle_max": _l("The number of recycles is between 1 and 10."),
    "recycle_priority": _l("Choose a priority."),
}


def file_error(code: str) -> str:
    return str(FILE_ERRORS.get(code, _l("The file cannot be imported.")))


def mapping_error(code: str) -> str:
    if code in MAPPING_ERRORS:
        return str(MAPPING_ERRORS[code])
    kind, _sep, name = code.partition(":")
    if kind == "mapped_twice":
        return _("The field %(name)s is mapped to two columns.", name=name)
    if kind == "missing_custom":
        return _("The required field %(name)s is not mapped.", name=name)
    return _("Unknown field %(name)s.", name=name)


def reason(code: str | None) -> str:
    if not code:
        return ""
    if code in REASONS:
        return str(REASONS[code])
    kind, _sep, detail = code.partition(":")
    if kind == "alt_phone":
        return _("other phone: %(detail)s", detail=detail)
    if kind == "custom":
        return _("invalid value for %(name)s", name=detail)
    if kind == "missing":
        return _("required field %(name)s is empty", name=detail)
    if kind == "too_long":
        return _("value too long for %(name)s", name=detail)
    return code


def lead_error(code: str) -> str:
    if code in LEAD_ERRORS:
        return str(LEAD_ERRORS[code])
    if code.startswith(("custom:", "missing:")):
        return reason(code)
    field, _sep, detail = code.partition(":")
    return _("%(field)s: %(reason)s", field=field, reason=reason(f"phone:{detail}"))
