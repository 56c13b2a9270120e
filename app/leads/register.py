"""L8 register of processing (GDPR art. 30): the tenant's processing activities,
the controller and DPO, pre-filled with what the product itself does, exported as
PDF and CSV. Functions flush and never commit (the edges commit)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.audit.services import record_event
from app.db import utcnow
from app.extensions import Session
from app.leads.models import LegalBasis, PrivacySettings, ProcessingActivity, ProcessingRegister
from tenants.scoping import current_tenant_id

# Since this date French outbound telephone prospecting of consumers needs their
# prior consent (law of 30 June 2025, opt-in replacing the Bloctel opt-out).
CONSENT_REQUIRED_FROM = dt.date(2026, 8, 11)

LEGAL_BASIS_LABELS = {
    LegalBasis.CONSENT: _l("Consent"),
    LegalBasis.CONTRACT: _l("Contract"),
    LegalBasis.LEGAL_OBLIGATION: _l("Legal obligation"),
    LegalBasis.VITAL_INTERESTS: _l("Vital interests"),
    LegalBasis.PUBLIC_TASK: _l("Public interest task"),
    LegalBasis.LEGITIMATE_INTEREST: _l("Legitimate interest"),
}

ACTIVITY_FIELDS = ("name", "purpose", "legal_basis", "data_categories", "data_subjects", "recipients",
                   "transfers", "transfer_safeguards", "retention", "security_measures")
CONTROLLER_FIELDS = ("controller_name", "controller_address", "controller_contact", "dpo_name", "dpo_contact")
REQUIRED = ("name", "purpose", "legal_basis", "data_categories", "data_subjects", "retention")
SHORT = {"name": 200, "controller_name": 200, "controller_contact": 200, "dpo_name": 200, "dpo_contact": 200}
LONG = 4000


class RegisterError(ValueError):
    """Bad input: ``errors`` maps each field to its message; nothing was written."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


# -- tenant level ----------------------------------------------------------------------


def register(default_controller: str = "") -> ProcessingRegister:
    current = Session.scalar(sa.select(ProcessingRegister))
    if current is None:
        # two first views at once: the second waits for the first's row and takes it
        # (so the product's activities are written in only once)
        Session.execute(pg_insert(ProcessingRegister)
                        .values(tenant_id=current_tenant_id(), controller_name=default_controller[:200])
                        .on_conflict_do_nothing(index_elements=["tenant_id"]))
        current = Session.scalars(sa.select(ProcessingRegister).execution_options(populate_existing=True)).one()
    return current


def update_controller(values: dict[str, str]) -> ProcessingRegister:
    cleaned = {name: (values.get(name) or "").strip() for name in CONTROLLER_FIELDS}
    errors = _length_errors(cleaned)
    if not cleaned["controller_name"]:
        errors.setdefault("controller_name", _("The controller's name is required."))
    if cleaned["dpo_name"] and not cleaned["dpo_contact"]:
        errors.setdefault("dpo_contact", _("Give a way to reach the DPO (email or phone)."))
    if errors:
        raise RegisterError(errors)
    current = register()
    changed = {name: value for name, value in cleaned.items() if getattr(current, name) != value}
    for name, value in changed.items():
        setattr(current, name, value)
    if changed:
        record_event("gdpr.register.controller_changed", target_type="processing_register", target_id=current.id,
                     details={"fields": sorted(changed)})
    Session.flush()
    return current


# -- activities ------------------------------------------------------------------------


def activities() -> list[ProcessingActivity]:
    return list(Session.scalars(sa.select(ProcessingActivity).order_by(ProcessingActivity.id)))


def _length_errors(cleaned: dict[str, str]) -> dict[str, str]:
    errors = {}
    for name, value in cleaned.items():
        limit = SHORT.get(name, LONG)
        if len(value) > limit:
            errors[name] = _("At most %(num)d characters.", num=limit)
    return errors


def _clean_activity(values: dict[str, str], current: ProcessingActivity | None) -> dict[str, str]:
    cleaned = {name: (values.get(name) or "").strip() for name in ACTIVITY_FIELDS}
    errors = _length_errors(cleaned)
    for name in REQUIRED:
        if not cleaned[name]:
            errors.setdefault(name, _("This field is required."))
    if cleaned["legal_basis"] and cleaned["legal_basis"] not in {basis.value for basis in LegalBasis}:
        errors["legal_basis"] = _("Choose a legal basis from the list.")
    if cleaned["transfers"] and not cleaned["transfer_safeguards"]:
        errors["transfer_safeguards"] = _("A transfer outside the EU needs its safeguards "
                                          "(adequacy decision, standard contractual clauses...).")
    if cleaned["name"] and "name" not in errors:
        same = sa.select(ProcessingActivity.id).where(ProcessingActivity.name == cleaned["name"])
        if current is not None:
            same = same.where(ProcessingActivity.id != current.id)
        if Session.scalar(same) is not None:
            errors["name"] = _("An activity with this name is already in the register.")
    if errors:
        raise RegisterError(errors)
    return cleaned


def create_activity(values: dict[str, str]) -> ProcessingActivity:
    cleaned = _clean_activity(values, None)
    activity = ProcessingActivity(**cleaned)
    Session.add(activity)
    Session.flush()
    record_event("gdpr.register.activity_created", target_type="processing_activity", target_id=activity.id,
                 details={"name": activity.name})
    return activity


def update_activity(activity: ProcessingActivity, values: dict[str, str]) -> ProcessingActivity:
    cleaned = _clean_activity(values, activity)
    changed = sorted(name for name, value in cleaned.items() if getattr(activity, name) != value)
    for name in changed:
        setattr(activity, name, cleaned[name])
    Session.flush()
    if changed:
        record_event("gdpr.register.activity_changed", target_type="processing_activity", target_id=activity.id,
                     details={"name": activity.name, "fields": changed})
    return activity


def delete_activity(activity: ProcessingActivity) -> None:
    record_event("gdpr.register.activity_deleted", target_type="processing_activity", target_id=activity.id,
                 details={"name": activity.name})
    Session.delete(activity)
    Session.flush()


# -- the product's own activities ------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    lead_months: int | None
    recording_days: int


def current_retention(default_recording_days: int) -> Retention:
    """The tenant's retention settings as they stand (nothing is created)."""
    from app.recordings.models import RecordingSettings  # the recordings feature depends on contacts

    months = Session.scalar(sa.select(PrivacySettings.lead_retention_months))
    days = Session.scalar(sa.select(RecordingSettings.retention_days))
    return Retention(months, days if days is not None else default_recording_days)


def product_activities(retention: Retention, today: dt.date) -> list[dict[str, str]]:
    """What Carillon itself processes for the tenant, as register entries."""
    consent_rule = today >= CONSENT_REQUIRED_FROM
    if retention.lead_months:
        lead_retention = _("Contacts untouched for %(num)d months are deleted automatically "
                           "(retention setting of the contacts).", num=retention.lead_months)
    else:
        lead_retention = _("No automatic deletion is set yet: set one in the contact settings "
                           "(the CNIL recommends 3 years after the last contact).")
    security = _("Access by named accounts with roles and levels, passwords hashed (Argon2), optional "
                 "two-factor authentication, data separated per company (row-level security), encrypted "
                 "connections, audit trail of sensitive actions.")
    staff = _("The company's agents, supervisors and managers; Carillon as processor (hosting in the EU).")
    return [
        {
            "system_key": "telephone_prospecting",
            "name": _("Telephone prospecting"),
            "purpose": (_("Outbound calls to consumers and businesses to offer products and services. Since "
                          "11 August 2026, consumers may be called only with their prior consent: campaigns "
                          "can dial only the contacts whose consent (source, date, proof) is recorded.")
                        if consent_rule else
                        _("Outbound calls to consumers and businesses to offer products and services; the "
                          "Bloctel opposition list and the company's red list are checked before each call.")),
            "legal_basis": LegalBasis.CONSENT if consent_rule else LegalBasis.LEGITIMATE_INTEREST,
            "data_categories": _("Identity, phone numbers, email, postal address, consent (source, date, "
                                 "proof), call history and outcomes, agent notes."),
            "data_subjects": _("Prospects."),
            "recipients": staff,
            "transfers": "",
            "transfer_safeguards": "",
            "retention": lead_retention,
            "security_measures": security,
        },
        {
            "system_key": "call_recording",
            "name": _("Call recording"),
            "purpose": _("Recording of calls for agent training, quality review and proof of the "
                         "contract; paused while a card number is given."),
            "legal_basis": LegalBasis.LEGITIMATE_INTEREST,
            "data_categories": _("Voice, call date and duration, phone numbers, agent."),
            "data_subjects": _("Prospects, customers and agents."),
            "recipients": _("Supervisors and managers of the company; Carillon as processor."),
            "transfers": "",
            "transfer_safeguards": "",
            "retention": _("Recordings are deleted %(num)d days after the call (recording settings).",
                           num=retention.recording_days),
            "security_measures": security,
        },
        {
            "system_key": "customer_management",
            "name": _("Customer management"),
            "purpose": _("Follow-up of customers: contact history, callbacks, inbound calls, "
                         "after-sales requests."),
            "legal_basis": LegalBasis.CONTRACT,
            "data_categories": _("Identity, contact details, contract references, interaction history, "
                                 "agent notes."),
            "data_subjects": _("Customers."),
            "recipients": staff,
            "transfers": "",
            "transfer_safeguards": "",
            "retention": (_("For the business relationship; contacts untouched for %(num)d months are "
                            "deleted automatically.", num=retention.lead_months) if retention.lead_months else
                          _("For the business relationship, then 3 years for prospecting (no automatic "
                            "deletion is set yet).")),
            "security_measures": security,
        },
        {
            "system_key": "opposition_handling",
            "name": _("Red lists and opposition"),
            "purpose": _("Honouring people's opposition to calls: the company's red lists, campaign red "
                         "lists and the national Bloctel list are checked before every call; GDPR requests "
                         "(access, rectification, erasure, opposition)."),
            "legal_basis": LegalBasis.LEGAL_OBLIGATION,
            "data_categories": _("Phone number, date and reason of the opposition, who recorded it."),
            "data_subjects": _("People who object to being called, prospects and customers."),
            "recipients": _("Managers of the company; Carillon as processor."),
            "transfers": "",
            "transfer_safeguards": "",
            "retention": _("As long as the opposition stands; each Bloctel file replaces the previous one. "
                           "Erased people leave only anonymous counts."),
            "security_measures": security,
        },
    ]


def ensure_prefilled(default_controller: str, default_recording_days: int,
                     today: dt.date | None = None) -> ProcessingRegister:
    """On the register's first view: the product's own activities are written in,
    once (an activity the tenant deleted or renamed later is not written again)."""
    current = register(default_controller)
    if current.prefilled_at is not None:
        return current
    existing = set(Session.scalars(sa.select(ProcessingActivity.name)))
    retention = current_retention(default_recording_days)
    for values in product_activities(retention, today or utcnow().date()):
        if values["name"] not in existing:
            Session.add(ProcessingActivity(**values))
    current.prefilled_at = utcnow()
    Session.flush()
    record_event("gdpr.register.prefilled", target_type="processing_register", target_id=current.id)
    return current


# -- exports ---------------------------------------------------------------------------


def export_columns() -> list[tuple[str, str, str]]:
    return [(key, str(label), "text") for key, label in [
        ("name", _l("Activity")), ("purpose", _l("Purpose of processing")), ("legal_basis_label", _l("Legal basis")),
        ("data_categories", _l("Data categories")), ("data_subjects", _l("Data subjects")),
        ("recipients", _l("Recipients")), ("transfers", _l("Transfers outside the EU")),
        ("transfer_safeguards", _l("Safeguards")), ("retention", _l("Retention period")),
        ("security_measures", _l("Security measures")),
    ]]


def export_rows() -> list[dict[str, Any]]:
    rows = []
    for activity in activities():
        row = {name: getattr(activity, name) for name in ACTIVITY_FIELDS}
        row["legal_basis_label"] = str(LEGAL_BASIS_LABELS.get(activity.legal_basis, activity.legal_basis))
        row["transfers"] = activity.transfers or _("None")
        rows.append(row)
    return rows


def controller_summary(current: ProcessingRegister) -> str:
    parts = [_("Controller: %(name)s", name=current.controller_name or "—")]
    if current.controller_address:
        parts.append(" ".join(current.controller_address.split()))
    if current.controller_contact:
        parts.append(current.controller_contact)
    if current.dpo_name:
        parts.append(_("DPO: %(name)s (%(contact)s)", name=current.dpo_name, contact=current.dpo_contact))
    return " · ".join(parts)
