"""Administration pages of the public APIs: API keys, click-to-call (tokens, line
pool, settings, statistics, alerts), webhooks, and the API documentation page."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.api import click2call, keys, webhooks
from app.api.forms import ApiKeyForm, LineForm, PriorityForm, SettingsForm, WebhookForm
from app.api.models import ApiAlert, ApiKey, Click2CallLine, Click2CallToken, WebhookDelivery, WebhookEndpoint
from app.audit.services import record_event
from app.auth.models import Role, UserGroup
from app.auth.permissions import Permission, require
from app.core.loaders import get_or_404
from app.core.nav import SECTION_ADMIN, NavItem, register_nav
from app.core.rendering import render
from app.db import utcnow
from app.extensions import Session

bp = Blueprint("api_admin", __name__, url_prefix="/admin")
docs = Blueprint("api_docs", __name__)
register_nav(SECTION_ADMIN, NavItem(_l("API keys"), "api_admin.api_keys", Permission.MANAGE_API_KEYS, "key"))
register_nav(SECTION_ADMIN, NavItem(_l("Click-to-call"), "api_admin.click2call_view", Permission.MANAGE_API_KEYS, "phone"))
register_nav(SECTION_ADMIN, NavItem(_l("Webhooks"), "api_admin.webhooks_index", Permission.MANAGE_API_KEYS, "flow"))

DAY = dt.timedelta(hours=24)


# ------------------------------------------------------------------ API keys


@bp.route("/api-keys", methods=["GET", "POST"])
@require(Permission.MANAGE_API_KEYS)
def api_keys():
    form = ApiKeyForm()
    issued = None
    if form.validate_on_submit():
        issued = keys.create_api_key(form.name.data, form.scope.data, created_by=g.user.id)
        form = ApiKeyForm(formdata=None)
    all_keys = list(Session.scalars(sa.select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())))
    return render("api/keys.html", form=form, keys=all_keys, issued=issued)


@bp.post("/api-keys/<int:key_id>/revoke")
@require(Permission.MANAGE_API_KEYS)
def revoke_api_key(key_id: int):
    keys.revoke_api_key(get_or_404(ApiKey, key_id))
    flash(_("The key is revoked: requests using it are refused from now on."), "success")
    return redirect(url_for("api_admin.api_keys"))


# ------------------------------------------------------------------ click-to-call


def _manages_every_group() -> bool:
    """Level 10 ADMIN (including platform staff acting in the tenant) may manage any
    group; a level-9 administrator only their own."""
    user = g.user
    return user.role == Role.ADMIN and user.level >= 10


def _groups() -> list[UserGroup]:
    if _manages_every_group():
        return list(Session.scalars(sa.select(UserGroup).order_by(UserGroup.code)))
    if g.user.group_id is None:
        return []
    group = Session.get(UserGroup, g.user.group_id)
    return [group] if group else []


def _group(group_id: int) -> UserGroup:
    group = get_or_404(UserGroup, group_id)
    if not _manages_every_group() and group.id != g.user.group_id:
        abort(403)
    return group


def _page(group: UserGroup | None, tab: str, groups: list[UserGroup], issued: keys.Issued | None = None,
          line_form: LineForm | None = None, settings_form: SettingsForm | None = None):
    context: dict[str, object] = {"groups": groups, "group": group, "tab": tab, "issued": issued}
    if group is not None:
        settings = click2call.settings_for(group.id)
        context.update(
            tokens=list(Session.scalars(sa.select(Click2CallToken).where(Click2CallToken.group_id == group.id)
                                        .order_by(Click2CallToken.revoked_at.is_not(None), Click2CallToken.id.desc()))),
            lines=click2call.per_line(group.id, DAY),
            line_form=line_form or LineForm(formdata=None),
            settings=settings,
            settings_form=settings_form or SettingsForm(formdata=None, obj=settings),
            alerts=click2call.alerts(group.id),
        )
        if tab == "stats":
            context.update(summary=click2call.summary(group.id, DAY), top_errors=click2call.top_errors(group.id, DAY),
                           logs=click2call.recent_logs(group.id))
    return render("api/click2call.html", **context)


@bp.get("/click2call")
@require(Permission.MANAGE_API_KEYS)
def click2call_view():
    groups = _groups()
    group_id = request.args.get("group", type=int)
    group = _group(group_id) if group_id else (groups[0] if groups else None)
    tab = request.args.get("tab", "tokens")
    if tab not in ("tokens", "lines", "settings", "stats"):
        tab = "tokens"
    return _page(group, tab, groups)


def _back(group_id: int, tab: str):
    return redirect(url_for("api_admin.click2call_view", group=group_id, tab=tab))


@bp.post("/click2call/<int:group_id>/tokens")
@require(Permission.MANAGE_API_KEYS)
def generate_token(group_id: int):
    group = _group(group_id)
    issued = keys.create_click2call_token(group, created_by=g.user.id)
    return _page(group, "tokens", _groups(), issued=issued)


@bp.post("/click2call/tokens/<int:token_id>/revoke")
@require(Permission.MANAGE_API_KEYS)
def revoke_token(token_id: int):
    token = get_or_404(Click2CallToken, token_id)
    _group(token.group_id)
    keys.revoke_click2call_token(token)
    flash(_("The token is revoked."), "success")
    return _back(token.group_id, "tokens")


@bp.post("/click2call/<int:group_id>/lines")
@require(Permission.MANAGE_API_KEYS)
def add_line(group_id: int):
    group = _group(group_id)
    form = LineForm()
    if form.validate_on_submit():
        extension = form.extension.data.strip()
        exists = Session.scalar(sa.select(Click2CallLine.id).where(Click2CallLine.group_id == group.id,
                                                                   Click2CallLine.extension == extension))
        if exists:
            form.extension.errors.append(_("This line is already in the pool."))
        else:
            Session.add(Click2CallLine(group_id=group.id, extension=extension, priority=form.priority.data or 0))
            Session.flush()
            record_event("click2call.line_added", target_type="user_group", target_id=group.id,
                         details={"line": extension})
            flash(_("Line %(line)s added.", line=extension), "success")
            return _back(group.id, "lines")
    return _page(group, "lines", _groups(), line_form=form)


def _line(line_id: int) -> Click2CallLine:
    line = get_or_404(Click2CallLine, line_id)
    _group(line.group_id)
    return line


@bp.post("/click2call/lines/<int:line_id>/toggle")
@require(Permission.MANAGE_API_KEYS)
def toggle_line(line_id: int):
    line = _line(line_id)
    line.active = not line.active
    record_event("click2call.line_toggled", target_type="click2call_line", target_id=line.id,
                 details={"active": line.active})
    return _back(line.group_id, "lines")


@bp.post("/click2call/lines/<int:line_id>/priority")
@require(Permission.MANAGE_API_KEYS)
def line_priority(line_id: int):
    line = _line(line_id)
    form = PriorityForm()
    if form.validate_on_submit():
        line.priority = form.priority.data
        flash(_("Priority saved."), "success")
    else:
        flash(_("The priority must be a number from 0 to 100."), "danger")
    return _back(line.group_id, "lines")


@bp.post("/click2call/lines/<int:line_id>/delete")
@require(Permission.MANAGE_API_KEYS)
def delete_line(line_id: int):
    line = _line(line_id)
    record_event("click2call.line_removed", target_type="click2call_line", target_id=line.id,
                 details={"line": line.extension})
    Session.delete(line)
    return _back(line.group_id, "lines")


@bp.post("/click2call/<int:group_id>/settings")
@require(Permission.MANAGE_API_KEYS)
def save_settings(group_id: int):
    group = _group(group_id)
    form = SettingsForm()
    if form.validate_on_submit():
        click2call.save_settings(group.id, strategy=form.strategy.data, rate_limit_per_hour=form.rate_limit_per_hour.data,
                                 cors_origins=form.cors_origins.data or "")
        record_event("click2call.settings_saved", target_type="user_group", target_id=group.id)
        flash(_("Settings saved."), "success")
        return _back(group.id, "settings")
    return _page(group, "settings", _groups(), settings_form=form)


@bp.post("/click2call/alerts/<int:alert_id>/ack")
@require(Permission.MANAGE_API_KEYS)
def acknowledge_alert(alert_id: int):
    alert = get_or_404(ApiAlert, alert_id)
    if alert.group_id is not None:
        _group(alert.group_id)
    alert.acknowledged_at = utcnow()
    return _back(alert.group_id or 0, "tokens") if alert.group_id else redirect(url_for("api_admin.click2call_view"))


# ------------------------------------------------------------------ webhooks


@bp.route("/webhooks", methods=["GET", "POST"])
@require(Permission.MANAGE_API_KEYS)
def webhooks_index():
    form = WebhookForm()
    created = None
    if form.validate_on_submit():
        created = webhooks.create_endpoint(form.url.data, form.events.data, form.description.data or "")
        form = WebhookForm(formdata=None)
    endpoints = list(Session.scalars(sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id)))
    deliveries = list(Session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(100)))
    return render("api/webhooks.html", form=form, endpoints=endpoints, deliveries=deliveries, created=created)


@bp.post("/webhooks/<int:endpoint_id>/toggle")
@require(Permission.MANAGE_API_KEYS)
def toggle_webhook(endpoint_id: int):
    endpoint = get_or_404(WebhookEndpoint, endpoint_id)
    webhooks.set_active(endpoint, not endpoint.active)
    return redirect(url_for("api_admin.webhooks_index"))


@bp.post("/webhooks/<int:endpoint_id>/delete")
@require(Permission.MANAGE_API_KEYS)
def delete_webhook(endpoint_id: int):
    webhooks.delete_endpoint(get_or_404(WebhookEndpoint, endpoint_id))
    flash(_("Webhook deleted."), "success")
    return redirect(url_for("api_admin.webhooks_index"))


@bp.post("/webhooks/deliveries/<int:delivery_id>/replay")
@require(Permission.MANAGE_API_KEYS)
def replay_delivery(delivery_id: int):
    webhooks.replay(get_or_404(WebhookDelivery, delivery_id))
    flash(_("The delivery is queued again."), "success")
    return redirect(url_for("api_admin.webhooks_index"))


# ------------------------------------------------------------------ documentation


@docs.get("/api/docs")
def api_docs():
    """The OpenAPI document as a page: every operation with its parameters and answers."""
    spec = current_app.extensions["carillon_api"].spec.to_dict()
    operations = []
    for path, item in sorted(spec.get("paths", {}).items()):
        for method, op in item.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
            operations.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                               "description": op.get("description", ""), "tag": (op.get("tags") or [""])[0],
                               "parameters": op.get("parameters", []), "body": _schema_name(body),
                               "responses": sorted(op.get("responses", {}).items())})
    return render("api/docs.html", spec=spec, operations=operations)


def _schema_name(schema: dict | None) -> str | None:
    if not schema:
        return None
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else "object"

