"""Contacts screens: lists, import wizard, directory, contact page, red list.
Views load and check, then call the services; the edge commits."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook

from app.auth.models import User
from app.auth.permissions import Permission, can, require
from app.campaigns.models import Campaign
from app.core.loaders import get_or_404
from app.core.nav import SECTION_MANAGE, NavItem, register_nav
from app.core.rendering import render
from app.extensions import Session
from app.leads import imports, messages, privacy, redlist, register, services, tasks
from app.leads.models import (
    CustomField,
    ImportJob,
    ImportStatus,
    Lead,
    LeadList,
    ProcessingActivity,
    ProcessingRegister,
    RecycleRule,
    RedListEntry,
)
from app.leads.phones import format_national, normalize_phone
from app.leads.readers import DELIMITERS, ENCODINGS, ImportFileError
from app.reports import exports as report_exports
from app.runtime import current_config
from tenants.scoping import current_tenant_id, tenant_scope

bp = Blueprint("leads", __name__, url_prefix="/leads")
register_nav(SECTION_MANAGE, NavItem(_l("Lists"), "leads.lists", Permission.MANAGE_LEADS, "list"))
register_nav(SECTION_MANAGE, NavItem(_l("Contacts"), "leads.directory", Permission.MANAGE_LEADS, "users"))
register_nav(SECTION_MANAGE, NavItem(_l("Red list"), "leads.redlist_index", Permission.MANAGE_LEADS, "ban"))
register_nav(SECTION_MANAGE, NavItem(_l("Contact fields"), "leads.settings", Permission.MANAGE_LEADS, "tag"))
register_nav(SECTION_MANAGE, NavItem(_l("Recycling"), "leads.recycling", Permission.MANAGE_LEADS, "refresh"))
register_nav(SECTION_MANAGE, NavItem(_l("Processing register"), "leads.register_index", Permission.MANAGE_TENANT,
                                     "shield"))

RUNNING = (ImportStatus.VALIDATING, ImportStatus.QUEUED, ImportStatus.RUNNING)


@bp.app_template_filter("phone")
def phone_filter(value: str | None) -> str:
    return format_national(value)


def _region() -> str:
    return (g.tenant.country if g.get("tenant") else "FR") or "FR"


def _agents() -> list[User]:
    return list(Session.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.display_name)))


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


def _selected_ids() -> list[int] | None:
    """The ticked rows, or None for "every lead matching the filter"."""
    if request.form.get("scope") == "all":
        return None
    return [int(v) for v in request.form.getlist("ids") if v.isdigit()]


def _csv_response(rows: Iterable[Iterable[object]], filename: str) -> Response:
    tenant_id = current_tenant_id()

    def generate() -> Iterator[str]:
        # the rows are read while the response streams, after the request's own
        # tenant scope has been reset: the scope is entered again for them
        with tenant_scope(tenant_id):
            buffer = io.StringIO()
            writer = csv.writer(buffer, delimiter=";")
            buffer.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
            for row in rows:
                writer.writerow(["" if v is None else v for v in row])
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()

    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _xlsx_response(rows: Iterable[Iterable[object]], filename: str) -> Response:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Contacts")
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return Response(buffer.getvalue(),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --------------------------------------------------------------------------- lists (L4)


@bp.route("/lists", methods=["GET", "POST"])
@require(Permission.MANAGE_LEADS)
def lists():
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        campaign_name = request.form.get("campaign_name", "").strip()
        campaign_id = request.form.get("campaign_id", "")
        if not name:
            flash(_("Give the list a name."), "error")
            return redirect(url_for("leads.lists"))
        try:
            if campaign_name:
                campaign = services.create_campaign(campaign_name)
            else:
                campaign = get_or_404(Campaign, campaign_id)
        except services.LeadRuleError as exc:
            flash(messages.lead_error(exc.code), "error")
            return redirect(url_for("leads.lists"))
        lead_list = services.create_list(campaign, name)
        flash(_("List %(name)s created.", name=lead_list.name), "success")
        return redirect(url_for("leads.list_detail", list_id=lead_list.id))
    return render("leads/lists.html", rows=services.lists_with_counts(), campaigns=services.list_campaigns())


@bp.post("/lists/<int:list_id>/active")
@require(Permission.MANAGE_LEADS)
def list_active(list_id: int):
    lead_list = get_or_404(LeadList, list_id)
    services.set_list_active(lead_list, request.form.get("active") == "1")
    flash(_("List activated.") if lead_list.active else _("List deactivated."), "success")
    return redirect(request.referrer or url_for("leads.lists"))


@bp.get("/lists/<int:list_id>")
@require(Permission.MANAGE_LEADS)
def list_detail(list_id: int):
    lead_list = get_or_404(LeadList, list_id)
    lead_filter = services.LeadFilter.from_args(request.args)
    page = services.list_page(lead_list.id, lead_filter, after=_int_arg("after"), before=_int_arg("before"))
    args = lead_filter.as_args()
    next_url = url_for("leads.list_detail", list_id=list_id, after=page.next_after, **args) if page.next_after else None
    prev_url = url_for("leads.list_detail", list_id=list_id, before=page.prev_before, **args) if page.prev_before else None
    other_lists = [row for row in services.all_lists() if row.id != lead_list.id]
    return render("leads/list_detail.html", lead_list=lead_list, page=page, filter=lead_filter, args=args,
                  next_url=next_url, prev_url=prev_url, agents=_agents(), other_lists=other_lists,
                  customs=imports.custom_fields(), imports_done=services.recent_imports(lead_list))


@bp.post("/lists/<int:list_id>/bulk")
@require(Permission.MANAGE_LEADS)
def list_bulk(list_id: int):
    lead_list = get_or_404(LeadList, list_id)
    lead_filter = services.LeadFilter.from_args(request.form)
    ids = _selected_ids()
    action = request.form.get("action", "")
    if ids == []:
        flash(_("Select at least one contact."), "warning")
        return redirect(url_for("leads.list_detail", list_id=list_id, **lead_filter.as_args()))
    if action in ("export_csv", "export_xlsx"):
        if not can(g.user, Permission.EXPORT_DATA):
            abort(403)
        rows = services.export_rows(lead_list.id, lead_filter, ids)
        stamp = dt.date.today().isoformat()
        if action == "export_csv":
            return _csv_response(rows, f"liste-{lead_list.id}-{stamp}.csv")
        return _xlsx_response(rows, f"liste-{lead_list.id}-{stamp}.xlsx")
    if action == "move":
        target = get_or_404(LeadList, request.form.get("target_list_id"))
        count = services.move_leads(lead_list.id, lead_filter, ids, target)
    elif action == "reset":
        count = services.reset_leads(lead_list.id, lead_filter, ids)
    elif action == "assign":
        agent_id = request.form.get("assign_agent_id", "")
        agent = get_or_404(User, agent_id) if agent_id else None
        count = services.assign_leads(lead_list.id, lead_filter, ids, agent.id if agent else None)
    elif action == "delete":
        count = services.delete_leads(lead_list.id, lead_filter, ids)
    else:
        abort(400)
    flash(_("%(count)d contacts updated.", count=count), "success")
    return redirect(url_for("leads.list_detail", list_id=list_id, **lead_filter.as_args()))


# --------------------------------------------------------------------------- import wizard (L2)


@bp.route("/lists/<int:list_id>/import", methods=["GET", "POST"])
@require(Permission.MANAGE_LEADS)
def import_upload(list_id: int):
    lead_list = get_or_404(LeadList, list_id)
    error = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            error = _("Choose a file.")
        else:
            try:
                imp = imports.save_upload(upload.stream, upload.filename, lead_list, user_id=g.user.id)
            except ImportFileError as exc:
                error = messages.file_error(exc.code)
            else:
                return redirect(url_for("leads.import_mapping", import_id=imp.id))
    return render("leads/import_upload.html", lead_list=lead_list, error=error,
                  max_mb=imports.max_upload_bytes() // (1024 * 1024)), (400 if error else 200)


def _delimiter(value: str | None) -> str | None:
    if not value:
        return None
    value = "\t" if value == "tab" else value
    if value not in DELIMITERS:
        abort(400)
    return value


def _options_from_form(columns: int) -> imports.ImportOptions:
    mapping = {i: request.form.get(f"col_{i}", "") for i in range(columns)}
    keys = tuple(k for k in request.form.getlist("dedup_keys") if k in imports.DEDUP_KEYS)
    return imports.ImportOptions(
        mapping={i: f for i, f in mapping.items() if f}, has_header=request.form.get("has_header") == "1",
        strategy=request.form.get("strategy", "ignore"), dedup_keys=keys,
        dedup_scope=request.form.get("dedup_scope", "campaign"), sheet=request.form.get("sheet") or None,
        encoding=request.form.get("encoding") or None, delimiter=_delimiter(request.form.get("delimiter")))


def _shape_key(imp: ImportJob) -> str:
    """What decides the columns of the preview: the sheet, or the delimiter."""
    return f"{imp.sheet or ''}|{'tab' if imp.delimiter == chr(9) else imp.delimiter or ''}"


@bp.route("/imports/<int:import_id>/mapping", methods=["GET", "POST"])
@require(Permission.MANAGE_LEADS)
def import_mapping(import_id: int):
    imp = get_or_404(ImportJob, import_id)
    if imp.status not in (ImportStatus.UPLOADED, ImportStatus.VALIDATED, ImportStatus.FAILED):
        return redirect(url_for("leads.import_status", import_id=imp.id))
    errors: list[str] = []
    # a changed sheet, encoding or delimiter only refreshes the preview
    for name in ("sheet", "encoding", "delimiter"):
        value = request.values.get(name)
        if value and value != getattr(imp, name):
            if name == "encoding" and value not in ENCODINGS:
                abort(400)
            setattr(imp, name, _delimiter(value) if name == "delimiter" else value)
    try:
        view = imports.preview(imp)
    except ImportFileError as exc:
        errors.append(messages.file_error(exc.code))
        view = imports.Preview([], 0, False)
    customs = imports.custom_fields()
    # another sheet or delimiter gives other columns: the header and the mapping
    # the form was showing no longer apply, they are guessed again
    shape = _shape_key(imp)
    reshaped = request.method == "POST" and request.form.get("shape", shape) != shape
    if "has_header" in request.values and not reshaped:
        has_header = request.values.get("has_header") == "1"
    else:
        has_header = view.header_guess
    header = view.header(has_header)
    if request.method == "POST" and request.form.get("step") == "validate" and not errors and not reshaped:
        try:
            imports.apply_mapping(imp, _options_from_form(view.columns), header)
        except imports.MappingError as exc:
            errors = [messages.mapping_error(code) for code in exc.codes]
        else:
            imports.mark_queued(imp, ImportStatus.VALIDATING)
            tasks.validate_import.send(imp.id)
            return redirect(url_for("leads.import_status", import_id=imp.id))
    if request.method == "POST" and not reshaped:
        mapping = _options_from_form(view.columns).mapping
    elif imp.mapping and not reshaped:
        mapping = {int(k): v for k, v in imp.mapping.items()}
    else:
        mapping = imports.suggest_mapping(imp, header, view.columns, customs)
    return render("leads/import_mapping.html", imp=imp, view=view, header=header, has_header=has_header, shape=shape,
                  mapping=mapping, choices=imports.field_choices(customs), errors=errors,
                  encodings=ENCODINGS, strategies=imports.STRATEGIES, scopes=imports.SCOPES,
                  dedup_keys=imports.DEDUP_KEYS), (400 if errors and request.method == "POST" else 200)


@bp.get("/imports/<int:import_id>")
@require(Permission.MANAGE_LEADS)
def import_status(import_id: int):
    imp = get_or_404(ImportJob, import_id)
    return render("leads/import_status.html", imp=imp, running=imp.status in RUNNING, reason=messages.reason)


@bp.post("/imports/<int:import_id>/start")
@require(Permission.MANAGE_LEADS)
def import_start(import_id: int):
    imp = get_or_404(ImportJob, import_id)
    if imp.status != ImportStatus.VALIDATED:
        abort(409)
    strategy = request.form.get("strategy", imp.strategy)
    if strategy not in imports.STRATEGIES:
        abort(400)
    imp.strategy = strategy
    imports.mark_queued(imp, ImportStatus.QUEUED)
    tasks.run_import.send(imp.id)
    return redirect(url_for("leads.import_status", import_id=imp.id))


@bp.get("/imports/<int:import_id>/rejects.csv")
@require(Permission.MANAGE_LEADS)
def import_rejects(import_id: int):
    imp = get_or_404(ImportJob, import_id)
    if imp.status != ImportStatus.DONE:
        abort(404)

    def rows() -> Iterator[list[str]]:
        for number, row in enumerate(imports.iter_rejects(imp)):
            yield row if number == 0 else [row[0], messages.reason(row[1]), *row[2:]]

    return _csv_response(rows(), f"rejets-import-{imp.id}.csv")


# --------------------------------------------------------------------------- directory and contact (L5, L8)


@bp.get("/contacts")
@require(Permission.MANAGE_LEADS)
def directory():
    query = services.DirectoryQuery.from_args(request.args)
    args = query.as_args()
    page = None
    if args:
        page = services.search_contacts(query, _region(), after=_int_arg("after"), before=_int_arg("before"))
    next_url = url_for("leads.directory", after=page.next_after, **args) if page and page.next_after else None
    prev_url = url_for("leads.directory", before=page.prev_before, **args) if page and page.prev_before else None
    return render("leads/directory.html", query=query, args=args, page=page, next_url=next_url, prev_url=prev_url,
                  campaigns=services.list_campaigns(), agents=_agents())


@bp.route("/contacts/<int:lead_id>", methods=["GET", "POST"])
@require(Permission.MANAGE_LEADS)
def contact(lead_id: int):
    lead = get_or_404(Lead, lead_id)
    error = None
    if request.method == "POST":
        values = {name: request.form.get(name) for name in services.EDITABLE_FIELDS if name in request.form}
        custom = {key[len("custom:"):]: value for key, value in request.form.items() if key.startswith("custom:")}
        try:
            changes = services.update_lead(lead, values, region=_region(), user_id=g.user.id, custom=custom)
        except services.LeadRuleError as exc:
            error = messages.lead_error(exc.code)
        else:
            flash(_("Changes saved.") if changes else _("Nothing changed."), "success")
            return redirect(url_for("leads.contact", lead_id=lead.id))
    return render("leads/contact.html", lead=lead, events=services.timeline(lead), error=error,
                  editable=services.EDITABLE_FIELDS, customs=imports.custom_fields(),
                  blocked=redlist.is_blocked(lead.tenant_id, lead.lead_list.campaign_id, lead.phone_number)), (
        400 if error else 200)


QUICK_FIELDS = ("first_name", "last_name", "company", "phone_number", "email")


@bp.route("/contacts/<int:lead_id>/row", methods=["GET", "POST"])
@require(Permission.MANAGE_LEADS)
def contact_row(lead_id: int):
    """The directory's quick edit: the row, its form, and the save (HTMX)."""
    lead = get_or_404(Lead, lead_id)
    error = None
    editing = request.args.get("edit") == "1"
    if request.method == "POST":
        values = {name: request.form.get(name) for name in QUICK_FIELDS if name in request.form}
        try:
            services.update_lead(lead, values, region=_region(), user_id=g.user.id)
        except services.LeadRuleError as exc:
            # 422: the edge rolls the transaction back, the page shows the form again
            error, editing = messages.lead_error(exc.code), True
    return render_template("leads/_contact_row.html", lead=lead, editing=editing, error=error,
                           form=request.form if error else None, quick_fields=QUICK_FIELDS), (422 if error else 200)


@bp.get("/contacts/<int:lead_id>/gdpr.<fmt>")
@require(Permission.EXPORT_DATA)
def contact_export(lead_id: int, fmt: str):
    lead = get_or_404(Lead, lead_id)
    data = privacy.person_data(lead)
    if fmt == "json":
        return Response(privacy.as_json(data), mimetype="application/json",
                        headers={"Content-Disposition": f'attachment; filename="donnees-{lead.id}.json"'})
    if fmt == "csv":
        return _csv_response(privacy.as_rows(data), f"donnees-{lead.id}.csv")
    abort(404)


@bp.post("/contacts/<int:lead_id>/oppose")
@require(Permission.MANAGE_LEADS)
def contact_oppose(lead_id: int):
    lead = get_or_404(Lead, lead_id)
    privacy.record_opposition(lead, user_id=g.user.id)
    flash(_("The number is on the red list; this person will not be called again."), "success")
    return redirect(url_for("leads.contact", lead_id=lead.id))


@bp.post("/contacts/<int:lead_id>/erase")
@require(Permission.MANAGE_LEADS)
def contact_erase(lead_id: int):
    lead = get_or_404(Lead, lead_id)
    count = privacy.erase_person(lead, user_id=g.user.id)
    flash(_("%(count)d contact records erased.", count=count), "success")
    return redirect(url_for("leads.directory"))


# --------------------------------------------------------------------------- red list (L6)


@bp.get("/redlist")
@require(Permission.MANAGE_LEADS)
def redlist_index():
    search = request.args.get("q", "").strip()
    stmt = sa.select(RedListEntry).order_by(RedListEntry.id.desc())
    if search:
        phone = normalize_phone(search, _region()).e164
        stmt = stmt.where(RedListEntry.phone_number == (phone or search))
    after = _int_arg("after")
    if after:
        stmt = stmt.where(RedListEntry.id < after)
    entries = list(Session.scalars(stmt.limit(services.PAGE_SIZE + 1)))
    next_url = (url_for("leads.redlist_index", after=entries[services.PAGE_SIZE - 1].id, q=search or None)
                if len(entries) > services.PAGE_SIZE else None)
    return render("leads/redlist.html", entries=entries[:services.PAGE_SIZE], q=search, next_url=next_url,
                  campaigns=services.list_campaigns(), bloctel=redlist.current_bloctel_file())


def _campaign_id_from_form() -> int | None:
    value = request.form.get("campaign_id", "")
    if not value:
        return None
    return get_or_404(Campaign, value).id


@bp.post("/redlist/add")
@require(Permission.MANAGE_LEADS)
def redlist_add():
    campaign_id = _campaign_id_from_form()
    try:
        entry = redlist.add_number(request.form.get("phone", ""), campaign_id=campaign_id,
                                   reason=request.form.get("reason") or None, added_by=g.user.id, region=_region())
    except redlist.InvalidPhoneError as exc:
        flash(_("%(phone)s: %(reason)s", phone=exc.raw, reason=messages.reason(f"phone:{exc.reason}")), "error")
    else:
        flash(_("%(phone)s is blocked.", phone=format_national(entry.phone_number)), "success")
    return redirect(url_for("leads.redlist_index"))


@bp.post("/redlist/<int:entry_id>/delete")
@require(Permission.MANAGE_LEADS)
def redlist_delete(entry_id: int):
    entry = get_or_404(RedListEntry, entry_id)
    redlist.remove_entry(entry)
    flash(_("%(phone)s is unblocked.", phone=format_national(entry.phone_number)), "success")
    return redirect(url_for("leads.redlist_index"))


@bp.post("/redlist/import")
@require(Permission.MANAGE_LEADS)
def redlist_import():
    campaign_id = _campaign_id_from_form()
    upload = request.files.get("file")
    text = request.form.get("numbers", "")
    if upload is not None and upload.filename:
        raw = upload.stream.read(imports.max_upload_bytes())
        text = raw.decode("utf-8") if _is_utf8(raw) else raw.decode("windows-1252", errors="replace")
    result = redlist.import_numbers(text.splitlines(), campaign_id=campaign_id,
                                    reason=request.form.get("reason") or None, added_by=g.user.id, region=_region())
    flash(_("%(added)d numbers added, %(already)d already listed, %(invalid)d invalid.", added=result.added,
            already=result.already, invalid=len(result.invalid or [])), "success" if not result.invalid else "warning")
    return redirect(url_for("leads.redlist_index"))


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@bp.get("/redlist/export.csv")
@require(Permission.EXPORT_DATA)
def redlist_export():
    return _csv_response(redlist.export_rows(), f"liste-rouge-{dt.date.today().isoformat()}.csv")


@bp.post("/redlist/bloctel")
@require(Permission.MANAGE_LEADS)
def redlist_bloctel():
    upload = request.files.get("file")
    try:
        file_date = dt.date.fromisoformat(request.form.get("file_date", ""))
    except ValueError:
        flash(_("Give the date of the Bloctel file."), "error")
        return redirect(url_for("leads.redlist_index"))
    if upload is None or not upload.filename:
        flash(_("Choose a file."), "error")
        return redirect(url_for("leads.redlist_index"))
    record = redlist.import_bloctel(upload.stream, file_date=file_date, filename=upload.filename,
                                    imported_by=g.user.id)
    flash(_("Bloctel list of %(date)s: %(count)d numbers (%(rejected)d unreadable lines).",
            date=record.file_date.strftime("%d/%m/%Y"), count=record.numbers, rejected=record.rejected), "success")
    return redirect(url_for("leads.redlist_index"))


# --------------------------------------------------------------------------- settings: custom fields, retention


@bp.route("/settings", methods=["GET", "POST"])
@require(Permission.MANAGE_LEADS)
def settings():
    error = None
    if request.method == "POST":
        if request.form.get("form") == "retention":
            value = request.form.get("lead_retention_months", "").strip()
            privacy.set_retention(int(value) if value.isdigit() and int(value) > 0 else None)
            flash(_("Retention saved."), "success")
            return redirect(url_for("leads.settings"))
        try:
            services.create_custom_field(request.form.get("key", ""), request.form.get("label", ""),
                                         request.form.get("kind", ""), request.form.get("choices", "").splitlines(),
                                         required=request.form.get("required") == "1")
        except services.LeadRuleError as exc:
            error = messages.lead_error(exc.code)
        else:
            flash(_("Field created."), "success")
            return redirect(url_for("leads.settings"))
    return render("leads/settings.html", fields=imports.custom_fields(), error=error,
                  privacy_settings=privacy.settings()), (400 if error else 200)


@bp.post("/settings/fields/<int:field_id>/delete")
@require(Permission.MANAGE_LEADS)
def field_delete(field_id: int):
    services.delete_custom_field(get_or_404(CustomField, field_id))
    flash(_("Field deleted; the values already imported are kept."), "success")
    return redirect(url_for("leads.settings"))


# --------------------------------------------------------------------------- recycling rules (L7)


def _form_int(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    return int(value) if value.isdigit() else None


@bp.route("/recycling", methods=["GET", "POST"])
@require(Permission.MANAGE_LEADS)
def recycling():
    error = None
    if request.method == "POST":
        # one select offers each campaign's statuses: "<campaign id>:<status code>"
        campaign_id, _sep, status = request.form.get("target", "").partition(":")
        campaign = get_or_404(Campaign, campaign_id)
        delay = request.form.get("delay", "")
        minutes = _form_int("delay_custom") if delay == "custom" else (int(delay) if delay.isdigit() else None)
        if delay == "custom" and minutes is not None:
            minutes *= {"hours": 60, "days": 1440}.get(request.form.get("delay_unit", ""), 1)
        try:
            rule = services.save_recycle_rule(campaign, status, minutes,
                                              _form_int("max_recycles"), request.form.get("priority", ""))
        except services.LeadRuleError as exc:
            error = messages.lead_error(exc.code)
        else:
            flash(_("Rule saved: %(status)s in %(campaign)s.", status=rule.status, campaign=campaign.name), "success")
            return redirect(url_for("leads.recycling"))
    campaigns = services.list_campaigns()
    return render("leads/recycling.html", rules=services.recycle_rules(), error=error, form=request.form,
                  campaigns=[(c, services.campaign_status_codes(c)) for c in campaigns],
                  delays=services.RECYCLE_DELAYS), (400 if error else 200)


@bp.post("/recycling/<int:rule_id>/active")
@require(Permission.MANAGE_LEADS)
def recycling_active(rule_id: int):
    rule = get_or_404(RecycleRule, rule_id)
    services.set_recycle_rule_active(rule, request.form.get("active") == "1")
    flash(_("Rule turned on.") if rule.active else _("Rule turned off."), "success")
    return redirect(url_for("leads.recycling"))


@bp.post("/recycling/<int:rule_id>/delete")
@require(Permission.MANAGE_LEADS)
def recycling_delete(rule_id: int):
    services.delete_recycle_rule(get_or_404(RecycleRule, rule_id))
    flash(_("Rule deleted."), "success")
    return redirect(url_for("leads.recycling"))


@bp.get("/contacts/export.<fmt>")
@require(Permission.EXPORT_DATA)
def directory_export(fmt: str):
    rows = services.search_rows(services.DirectoryQuery.from_args(request.args), _region())
    stamp = dt.date.today().isoformat()
    if fmt == "csv":
        return _csv_response(rows, f"contacts-{stamp}.csv")
    if fmt == "xlsx":
        return _xlsx_response(rows, f"contacts-{stamp}.xlsx")
    abort(404)


# --------------------------------------------------------------------------- register of processing (L8, art. 30)


def _register() -> ProcessingRegister:
    return register.ensure_prefilled(g.tenant.name if g.get("tenant") else "",
                                     current_config().RECORDINGS_RETENTION_DAYS)


@bp.get("/register")
@require(Permission.MANAGE_TENANT)
def register_index():
    current = _register()
    return render("leads/register.html", register=current, activities=register.activities(),
                  bases=register.LEGAL_BASIS_LABELS, form=None, errors={})


@bp.post("/register/controller")
@require(Permission.MANAGE_TENANT)
def register_controller():
    try:
        register.update_controller(request.form)
    except register.RegisterError as exc:
        return render("leads/register.html", register=_register(), activities=register.activities(),
                      bases=register.LEGAL_BASIS_LABELS, form=request.form, errors=exc.errors), 400
    flash(_("Controller and DPO saved."), "success")
    return redirect(url_for("leads.register_index"))


@bp.route("/register/new", methods=["GET", "POST"])
@require(Permission.MANAGE_TENANT)
def register_new():
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            activity = register.create_activity(request.form)
        except register.RegisterError as exc:
            errors = exc.errors
        else:
            flash(_("Activity “%(name)s” added to the register.", name=activity.name), "success")
            return redirect(url_for("leads.register_index"))
    return render("leads/register_activity.html", activity=None, form=request.form, errors=errors,
                  bases=register.LEGAL_BASIS_LABELS), (400 if errors else 200)


@bp.route("/register/<int:activity_id>", methods=["GET", "POST"])
@require(Permission.MANAGE_TENANT)
def register_edit(activity_id: int):
    activity = get_or_404(ProcessingActivity, activity_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            register.update_activity(activity, request.form)
        except register.RegisterError as exc:
            errors = exc.errors
        else:
            flash(_("Activity “%(name)s” saved.", name=activity.name), "success")
            return redirect(url_for("leads.register_index"))
    form = request.form if request.method == "POST" else {
        name: getattr(activity, name) for name in register.ACTIVITY_FIELDS}
    return render("leads/register_activity.html", activity=activity, form=form, errors=errors,
                  bases=register.LEGAL_BASIS_LABELS), (400 if errors else 200)


@bp.post("/register/<int:activity_id>/delete")
@require(Permission.MANAGE_TENANT)
def register_delete(activity_id: int):
    activity = get_or_404(ProcessingActivity, activity_id)
    name = activity.name
    register.delete_activity(activity)
    flash(_("Activity “%(name)s” removed from the register.", name=name), "success")
    return redirect(url_for("leads.register_index"))


@bp.get("/register/export.<fmt>")
@require(Permission.MANAGE_TENANT)
def register_export(fmt: str):
    if fmt not in ("pdf", "csv"):
        abort(404)
    current = _register()
    columns, rows = register.export_columns(), register.export_rows()
    if fmt == "csv":
        body = report_exports.render_csv(columns, rows, None)
    else:
        body = report_exports.render_pdf(_("Register of processing activities"), register.controller_summary(current),
                                         columns, rows, None, g.tenant)
    return Response(body, mimetype=report_exports.FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="registre-traitements.{fmt}"'})
