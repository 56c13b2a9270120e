"""Platform page: carriers with their trunks and rate decks, media nodes (created and
edited in ``routing_admin``); uploading a carrier's rate deck (CSV) replaces it, or
shows every bad row and changes nothing.
Saving queues the Kamailio routing sync (``tasks``)."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.audit.services import record_event
from app.auth.permissions import Permission, require
from app.core.nav import SECTION_PLATFORM, NavItem, register_nav
from app.core.rendering import render
from app.extensions import Session
from app.telephony_http import tasks  # noqa: F401  (rate changes queue a Kamailio sync)
from app.telephony_http.forms import MAX_DECK_BYTES, RateDeckForm
from telephony.routing.models import Carrier, CarrierRate, MediaNode
from telephony.routing.ratedeck import RateDeckError
from telephony.routing.services import import_rate_deck
from tenants.scoping import unscoped

bp = Blueprint("telephony_platform", __name__, url_prefix="/platform/telephony")
register_nav(SECTION_PLATFORM, NavItem(_l("Trunks and rates"), "telephony_platform.index",
                                       Permission.PLATFORM_ADMIN, "flow"))


def _page(errors: dict[int, list[str]] | None = None, failed_carrier: int | None = None, status: int = 200):
    carriers = list(Session.scalars(
        sa.select(Carrier).options(so.selectinload(Carrier.trunks)).order_by(Carrier.name)))
    rate_counts = dict(Session.execute(
        sa.select(CarrierRate.carrier_id, sa.func.count()).group_by(CarrierRate.carrier_id)).all())
    nodes = list(Session.scalars(sa.select(MediaNode).order_by(MediaNode.name)))
    return render("telephony_http/platform.html", carriers=carriers, rate_counts=rate_counts, nodes=nodes,
                  form=RateDeckForm(), errors=errors or {}, failed_carrier=failed_carrier), status


@bp.get("/")
@require(Permission.PLATFORM_ADMIN)
def index():
    return _page()


def missing(message: str):
    """A 404 answered with the page itself: the error page's rollback would expire the
    platform admin, whom the tenant-less page cannot reload."""
    return _page({0: [message]}, None, 404)


@bp.post("/carriers/<int:carrier_id>/rates")
@require(Permission.PLATFORM_ADMIN)
def upload_rates(carrier_id: int):
    carrier = Session.get(Carrier, carrier_id)
    if carrier is None:
        return missing(_("Unknown carrier."))
    form = RateDeckForm()
    if not form.validate_on_submit():
        problems = [str(message) for messages in form.errors.values() for message in messages]
        return _page({0: problems}, carrier_id, 422)
    raw = form.deck.data.read(MAX_DECK_BYTES + 1)
    if len(raw) > MAX_DECK_BYTES:
        return _page({0: [_("The file is larger than 5 MB.")]}, carrier_id, 422)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    try:
        count = import_rate_deck(Session(), carrier, text)
    except RateDeckError as error:
        rows: dict[int, list[str]] = {}
        for row in error.errors:
            rows.setdefault(row.line, []).append(f"{row.column}: {row.message}" if row.column else row.message)
        return _page(rows, carrier_id, 422)
    # a platform event (no tenant): row-level security lets it in only unscoped
    with unscoped():
        record_event("routing.rate_deck_imported", target_type="carrier", target_id=carrier.id,
                     details={"rates": count})
    flash(_("%(count)d rates imported for %(carrier)s.", count=count, carrier=carrier.name), "success")
    return redirect(url_for("telephony_platform.index"))


from app.telephony_http import routing_admin  # noqa: E402,F401  (the edit pages' routes, on this blueprint)
