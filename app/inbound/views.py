"""Inbound pages: numbers (DIDs), IVR menus (SVI) and queues, for managers."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Blueprint, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice

from app.auth.models import UserGroup
from app.auth.permissions import Permission, require
from app.campaigns.models import Campaign
from app.core.loaders import get_or_404
from app.core.nav import SECTION_MANAGE, NavItem, register_nav
from app.core.rendering import render
from app.extensions import Session
from app.inbound import services
from app.inbound.forms import WEEKDAYS, DidForm, IvrForm, QueueForm
from app.inbound.models import DestinationKind, Did, InboundQueue, IvrMenu
from app.inbound.services import DIGITS, Destination, InboundError, OptionSpec

bp = Blueprint("inbound", __name__, url_prefix="/inbound")
register_nav(SECTION_MANAGE, NavItem(_l("Inbound calls"), "inbound.dids", Permission.MANAGE_CAMPAIGNS, "phone"))


@bp.context_processor
def labels() -> dict[str, object]:
    return {"WEEKDAYS": WEEKDAYS, "DIGITS": DIGITS}


def _country() -> str:
    return getattr(g.tenant, "country", None) or "FR"


# ------------------------------------------------------------ destinations
def _destination_choices(optional: bool, exclude_ivr: int | None = None) -> list[SelectChoice]:
    names = services.destination_choices()
    choices = [SelectChoice("", _("— none —"))] if optional else []
    groups = ((DestinationKind.QUEUE, names["queue"]), (DestinationKind.IVR, names["ivr"]),
              (DestinationKind.AGENT, names["agent"]))
    for kind, rows in groups:
        label = str(services.KIND_LABELS[kind])
        choices += [SelectChoice(f"{kind.value}:{target}", f"{label} · {name}") for target, name in rows
                    if not (kind is DestinationKind.IVR and target == exclude_ivr)]
    choices += [SelectChoice(DestinationKind.EXTERNAL.value, str(services.KIND_LABELS[DestinationKind.EXTERNAL])),
                SelectChoice(DestinationKind.MESSAGE.value, str(services.KIND_LABELS[DestinationKind.MESSAGE]))]
    return choices


def _read_destination(field, value_field, *, exclude_ivr: int | None = None) -> Destination | None:
    """The destination picked in ``field`` (+ its number/audio), None when left empty;
    a bad one raises ``InboundError`` naming the field."""
    raw = (field.data or "").strip()
    if not raw:
        return None
    kind, _sep, target = raw.partition(":")
    return services.make_destination(kind, target or None, (value_field.data or "").strip(), field.name,
                                     country=_country(), exclude_ivr=exclude_ivr)


def _show_destination(obj, prefix: str) -> tuple[str, str]:
    destination = Destination.of(obj, prefix)
    if destination is None:
        return "", ""
    if destination.kind in (DestinationKind.EXTERNAL, DestinationKind.MESSAGE):
        return destination.kind.value, destination.number or ""
    return f"{destination.kind.value}:{destination.target}", ""


def _refused(form, error: InboundError) -> None:
    """Nothing of a refused form is kept (the edge would commit what was flushed)."""
    Session.rollback()
    target = getattr(form, error.field.split("-")[0], None)
    if error.field.startswith("hours-"):
        form.hours[int(error.field.split("-")[1])].errors = [str(error.message)]
    elif target is not None and hasattr(target, "errors"):
        target.errors = [*list(target.errors), str(error.message)]
    else:
        form.form_errors.append(str(error.message))


def _names() -> dict[str, dict[int, str]]:
    return {kind: dict(rows) for kind, rows in services.destination_choices().items()}


# ------------------------------------------------------------ DIDs
@bp.get("/")
@require(Permission.MANAGE_CAMPAIGNS)
def dids():
    rows = list(Session.scalars(sa.select(Did).order_by(Did.number)))
    names = _names()
    return render("inbound/dids.html", dids=rows, names=names, describe=services.describe,
                  Destination=Destination, now=dt.datetime.now(dt.UTC), is_open=services.is_open)


def _closed_dates(text: str) -> list[dt.date]:
    days = []
    for line in (text or "").splitlines():
        if line.strip():
            try:
                days.append(dt.date.fromisoformat(line.strip()))
            except ValueError:
                raise InboundError("closed_dates", _l("Write one date a line, as 2026-12-24.")) from None
    return days


@bp.route("/dids/new", methods=["GET", "POST"], endpoint="did_create")
@bp.route("/dids/<int:did_id>", methods=["GET", "POST"], endpoint="did_edit")
@require(Permission.MANAGE_CAMPAIGNS)
def did_form(did_id: int | None = None):
    did = get_or_404(Did, did_id) if did_id is not None else None
    form = DidForm()
    if request.method == "GET" and did is not None:
        form.process(obj=did)
        form.dest.data, form.dest_value.data = _show_destination(did, "dest")
        form.closed.data, form.closed_value.data = _show_destination(did, "closed")
        for entry, text in zip(form.hours, services.format_hours(did.hours), strict=True):
            entry.data = text
        form.closed_dates.data = "\n".join(d.isoformat() for d in did.closed_dates or [])
        form.holiday_country.data = did.holiday_country or ""
    form.dest.choices = _destination_choices(optional=False)
    form.closed.choices = _destination_choices(optional=True)
    if form.validate_on_submit():
        try:
            destination = _read_destination(form.dest, form.dest_value)
            if destination is None:
                raise InboundError("dest", _l("Choose a destination."))
            settings = {"label": form.label.data, "active": form.active.data, "time_zone": form.time_zone.data,
                        "hours": services.parse_hours(entry.data for entry in form.hours),
                        "holiday_country": form.holiday_country.data,
                        "closed_dates": _closed_dates(form.closed_dates.data)}
            closed = _read_destination(form.closed, form.closed_value)
            saved = services.save_did(did, form.number.data, settings, destination, closed, _country())
        except InboundError as error:
            _refused(form, error)
        else:
            flash(_("Number %(number)s saved.", number=saved.number), "success")
            return redirect(url_for("inbound.dids"))
    return render("inbound/did_form.html", form=form, did=did)


@bp.post("/dids/<int:did_id>/delete")
@require(Permission.MANAGE_CAMPAIGNS)
def did_delete(did_id: int):
    did = get_or_404(Did, did_id)
    services.delete_did(did)
    flash(_("Number %(number)s deleted.", number=did.number), "success")
    return redirect(url_for("inbound.dids"))


# ------------------------------------------------------------ IVR menus
@bp.get("/ivrs")
@require(Permission.MANAGE_CAMPAIGNS)
def ivrs():
    menus = list(Session.scalars(sa.select(IvrMenu).order_by(IvrMenu.name)))
    return render("inbound/ivrs.html", menus=menus, names=_names(), describe=services.describe,
                  Destination=Destination)


@bp.route("/ivrs/new", methods=["GET", "POST"], endpoint="ivr_create")
@bp.route("/ivrs/<int:ivr_id>", methods=["GET", "POST"], endpoint="ivr_edit")
@require(Permission.MANAGE_CAMPAIGNS)
def ivr_form(ivr_id: int | None = None):
    menu = get_or_404(IvrMenu, ivr_id) if ivr_id is not None else None
    form = IvrForm()
    if request.method == "GET" and menu is not None:
        form.process(obj=menu)
        form.timeout.data, form.timeout_value.data = _show_destination(menu, "timeout")
        by_digit = {o.digit: o for o in menu.options}
        for digit, entry in zip(DIGITS, form.options, strict=True):
            option = by_digit.get(digit)
            if option is not None:
                entry.caption.data = option.label
                entry.dest.data, entry.value.data = _show_destination(option, "dest")
    choices = _destination_choices(optional=True, exclude_ivr=menu.id if menu else None)
    form.timeout.choices = choices
    for entry in form.options:
        entry.dest.choices = choices
    if form.validate_on_submit():
        try:
            options = []
            for digit, entry in zip(DIGITS, form.options, strict=True):
                destination = _read_destination(entry.dest, entry.value)
                if destination is not None:
                    options.append(OptionSpec(digit, entry.caption.data or "", destination))
            timeout = _read_destination(form.timeout, form.timeout_value, exclude_ivr=menu.id if menu else None)
            settings = {"greeting_audio": form.greeting_audio.data, "invalid_audio": form.invalid_audio.data,
                        "timeout_s": form.timeout_s.data, "max_retries": form.max_retries.data}
            saved = services.save_ivr(menu, form.name.data, settings, timeout, options)
        except InboundError as error:
            _refused(form, error)
        else:
            flash(_("Menu %(name)s saved.", name=saved.name), "success")
            return redirect(url_for("inbound.ivrs"))
    return render("inbound/ivr_form.html", form=form, menu=menu)


@bp.post("/ivrs/<int:ivr_id>/delete")
@require(Permission.MANAGE_CAMPAIGNS)
def ivr_delete(ivr_id: int):
    menu = get_or_404(IvrMenu, ivr_id)
    return _delete(services.delete_ivr, menu, _("Menu %(name)s deleted.", name=menu.name), "inbound.ivrs")


# ------------------------------------------------------------ queues
@bp.get("/queues")
@require(Permission.MANAGE_CAMPAIGNS)
def queues():
    rows = list(Session.scalars(sa.select(InboundQueue).order_by(InboundQueue.priority.desc(), InboundQueue.name)))
    campaigns = dict(Session.execute(sa.select(Campaign.id, Campaign.name)).all())
    links = {q.id: [campaigns.get(c, f"#{c}") for c in services.queue_campaign_ids(q)] for q in rows}
    return render("inbound/queues.html", queues=rows, links=links, names=_names(), describe=services.describe,
                  Destination=Destination)


@bp.route("/queues/new", methods=["GET", "POST"], endpoint="queue_create")
@bp.route("/queues/<int:queue_id>", methods=["GET", "POST"], endpoint="queue_edit")
@require(Permission.MANAGE_CAMPAIGNS)
def queue_form(queue_id: int | None = None):
    queue = get_or_404(InboundQueue, queue_id) if queue_id is not None else None
    form = QueueForm()
    if request.method == "GET" and queue is not None:
        form.process(obj=queue)
        form.overflow.data, form.overflow_value.data = _show_destination(queue, "overflow")
        form.campaigns.data = services.queue_campaign_ids(queue)
        form.groups.data = services.queue_group_ids(queue)
    form.overflow.choices = _destination_choices(optional=True)
    form.campaigns.choices = [SelectChoice(c.id, c.name) for c in Session.scalars(
        sa.select(Campaign).where(Campaign.archived_at.is_(None)).order_by(Campaign.name))]
    form.groups.choices = [SelectChoice(gr.id, gr.name) for gr in Session.scalars(
        sa.select(UserGroup).order_by(UserGroup.name))]
    if form.validate_on_submit():
        try:
            overflow = _read_destination(form.overflow, form.overflow_value)
            settings = {key: getattr(form, key).data for key in services.QUEUE_FIELDS}
            saved = services.save_queue(queue, form.name.data, settings, overflow, form.campaigns.data or [],
                                        form.groups.data or [])
        except InboundError as error:
            _refused(form, error)
        else:
            flash(_("Queue %(name)s saved.", name=saved.name), "success")
            return redirect(url_for("inbound.queues"))
    return render("inbound/queue_form.html", form=form, queue=queue)


@bp.post("/queues/<int:queue_id>/delete")
@require(Permission.MANAGE_CAMPAIGNS)
def queue_delete(queue_id: int):
    queue = get_or_404(InboundQueue, queue_id)
    return _delete(services.delete_queue, queue, _("Queue %(name)s deleted.", name=queue.name), "inbound.queues")


def _delete(remove, item, done: str, endpoint: str):
    """Delete `item` with the service `remove`; a refusal (still in use) is flashed."""
    try:
        remove(item)
    except InboundError as error:
        Session.rollback()
        flash(str(error.message), "error")
    else:
        flash(done, "success")
    return redirect(url_for(endpoint))
