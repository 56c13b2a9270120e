"""Platform pages that create and edit carriers, trunks and media nodes (disable = untick
"Enabled"). The rules live in ``telephony.routing.admin``; a bad value shows its
message beside the field and writes nothing; a saved change reaches Kamailio through
the routing sync queued at commit. Routes are on the platform page's blueprint."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from app.auth.permissions import Permission, require
from app.core.rendering import render
from app.extensions import Session
from app.telephony_http.forms import CarrierForm, MediaNodeForm, TrunkForm
from app.telephony_http.platform import bp, missing
from telephony.routing import admin
from telephony.routing.models import Carrier, MediaNode, Trunk


def _form_page(form: FlaskForm, title: str, status: int = 200, **context: object):
    return render("telephony_http/routing_form.html", form=form, title=title, **context), status


def _refused(form: FlaskForm, title: str, error: admin.RoutingInputError, **context: object):
    for name, message in error.errors.items():
        form[name].errors = [*form[name].errors, str(message)]
    return _form_page(form, title, 422, **context)


def _invalid(form: FlaskForm) -> bool:
    """A POST whose fields do not even parse (the rules are the service's)."""
    return not form.validate_on_submit()


# -- carriers -------------------------------------------------------------------------


@bp.route("/carriers/new", methods=["GET", "POST"])
@bp.route("/carriers/<int:carrier_id>/edit", methods=["GET", "POST"])
@require(Permission.PLATFORM_ADMIN)
def carrier_form(carrier_id: int | None = None):
    carrier = Session.get(Carrier, carrier_id) if carrier_id is not None else None
    if carrier_id is not None and carrier is None:
        return missing(_("Unknown carrier."))
    title = _("Edit the carrier %(name)s", name=carrier.name) if carrier else _("New carrier")
    form = CarrierForm(obj=carrier)
    if _invalid(form):
        return _form_page(form, title, 422 if form.is_submitted() else 200)
    try:
        saved = admin.save_carrier(Session(), carrier, name=form.name.data or "", enabled=form.enabled.data)
    except admin.RoutingInputError as error:  # checked before anything was written
        return _refused(form, title, error)
    flash(_("Carrier %(name)s saved.", name=saved.name), "success")
    return redirect(url_for("telephony_platform.index", _anchor=f"carrier-{saved.id}"))


# -- trunks ----------------------------------------------------------------------------


def _trunk_values(form: TrunkForm) -> admin.TrunkValues:
    return admin.TrunkValues(
        name=form.name.data or "", host=form.host.data or "", port=form.port.data,
        transport=form.transport.data or "", codecs=list(form.codecs.data or []),
        channel_limit=form.channel_limit.data, full_cli=form.full_cli.data, enabled=form.enabled.data,
        weight=form.weight.data, strip_digits=form.strip_digits.data, tech_prefix=form.tech_prefix.data or "",
        username=form.username.data or "", password=form.password.data or "",
        clear_credentials=form.clear_credentials.data,
    )


@bp.route("/carriers/<int:carrier_id>/trunks/new", methods=["GET", "POST"])
@bp.route("/trunks/<int:trunk_id>/edit", methods=["GET", "POST"])
@require(Permission.PLATFORM_ADMIN)
def trunk_form(carrier_id: int | None = None, trunk_id: int | None = None):
    trunk = Session.get(Trunk, trunk_id) if trunk_id is not None else None
    carrier = trunk.carrier if trunk is not None else (
        Session.get(Carrier, carrier_id) if carrier_id is not None else None)
    if carrier is None:
        return missing(_("Unknown trunk.") if trunk_id is not None else _("Unknown carrier."))
    title = (_("Edit the trunk %(name)s", name=trunk.name) if trunk
             else _("New trunk for %(carrier)s", carrier=carrier.name))
    form = TrunkForm(obj=trunk)
    context = {"has_password": bool(trunk and trunk.password)}
    if _invalid(form):
        return _form_page(form, title, 422 if form.is_submitted() else 200, **context)
    try:
        saved = admin.save_trunk(Session(), carrier, trunk, _trunk_values(form))
    except admin.RoutingInputError as error:  # checked before anything was written
        return _refused(form, title, error, **context)
    flash(_("Trunk %(name)s saved.", name=saved.name), "success")
    return redirect(url_for("telephony_platform.index", _anchor=f"carrier-{carrier.id}"))


# -- media nodes --------------------------------------------------------------------------


@bp.route("/nodes/new", methods=["GET", "POST"])
@bp.route("/nodes/<int:node_id>/edit", methods=["GET", "POST"])
@require(Permission.PLATFORM_ADMIN)
def node_form(node_id: int | None = None):
    node = Session.get(MediaNode, node_id) if node_id is not None else None
    if node_id is not None and node is None:
        return missing(_("Unknown media node."))
    title = _("Edit the media node %(name)s", name=node.name) if node else _("New media node")
    form = MediaNodeForm(obj=node)
    if _invalid(form):
        return _form_page(form, title, 422 if form.is_submitted() else 200)
    values = admin.MediaNodeValues(name=form.name.data or "", host=form.host.data or "",
                                   sip_port=form.sip_port.data, transport=form.transport.data or "",
                                   weight=form.weight.data, enabled=form.enabled.data)
    try:
        saved = admin.save_media_node(Session(), node, values)
    except admin.RoutingInputError as error:  # checked before anything was written
        return _refused(form, title, error)
    flash(_("Media node %(name)s saved.", name=saved.name), "success")
    return redirect(url_for("telephony_platform.index", _anchor="media-nodes"))
