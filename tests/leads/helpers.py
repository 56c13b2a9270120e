from __future__ import annotations

import pathlib

from app.extensions import Session
from app.leads import imports, tasks
from app.leads.models import ImportJob, ImportStatus, LeadList
from tenants.scoping import tenant_scope

DATA = pathlib.Path(__file__).resolve().parent.parent / "data"


def upload(tenant_id: int, list_id: int, filename: str, **kw) -> ImportJob:
    with tenant_scope(tenant_id):
        lead_list = Session.get(LeadList, list_id)
        with open(DATA / filename, "rb") as handle:
            imp = imports.save_upload(handle, filename, lead_list, user_id=None, **kw)
        Session.commit()
        return imp


def import_file(tenant_id: int, list_id: int, filename: str, *, has_header: bool | None = None,
                mapping: dict[int, str] | None = None, sheet: str | None = None, **options) -> ImportJob:
    """The wizard's steps through the services, the jobs run as the worker would."""
    imp = upload(tenant_id, list_id, filename)
    with tenant_scope(tenant_id):
        imp = Session.get(ImportJob, imp.id)
        if sheet:
            imp.sheet = sheet
        view = imports.preview(imp)
        header_present = view.header_guess if has_header is None else has_header
        header = view.header(header_present)
        chosen = mapping or imports.suggest_mapping(imp, header, view.columns, imports.custom_fields())
        imports.apply_mapping(imp, imports.ImportOptions(chosen, header_present, sheet=sheet, **options), header)
        imports.mark_queued(imp, ImportStatus.VALIDATING)
        Session.commit()
        tasks.validate_import.fn(imp.id)
        Session.commit()
        imp = Session.get(ImportJob, imp.id, populate_existing=True)
        assert imp.status == ImportStatus.VALIDATED, imp.error
        imports.mark_queued(imp, ImportStatus.QUEUED)
        Session.commit()
        tasks.run_import.fn(imp.id)
        Session.commit()
        return Session.get(ImportJob, imp.id, populate_existing=True)
