from __future__ import annotations

import time

import sqlalchemy as sa
from flask import Blueprint, abort, g, jsonify, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l

from app import extensions
from app.audit.models import AuditEvent
from app.auth.models import User, UserGroup
from app.auth.permissions import Permission, can, login_required, require
from app.core.nav import SECTION_WORK, NavItem, register_nav
from app.core.rendering import render
from app.extensions import Session

bp = Blueprint("core", __name__)
i18n = Blueprint("i18n", __name__)
register_nav(SECTION_WORK, NavItem(_l("Overview"), "core.home", Permission.AGENT_WORKSPACE, "home"))


@bp.get("/")
@login_required
def home():
    user = g.user
    if user.tenant_id is None and g.tenant is None:
        if can(user, Permission.PLATFORM_ADMIN):
            return redirect(url_for("tenants.platform_index"))
        abort(403)
    stats = {
        "users": Session.scalar(sa.select(sa.func.count()).select_from(User).where(User.active)),
        "groups": Session.scalar(sa.select(sa.func.count()).select_from(UserGroup)),
        "without_2fa": Session.scalar(
            sa.select(sa.func.count()).select_from(User).where(User.active, ~User.totp_enabled)
        ),
    }
    recent = []
    if can(user, Permission.VIEW_AUDIT):
        recent = list(Session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(8)))
    return render("core/home.html", stats=stats, recent=recent)


@bp.get("/healthz")
def healthz():
    checks = {}
    try:
        with extensions.engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {type(error).__name__}"
    try:
        extensions.redis().ping()
        checks["redis"] = "ok"
    except Exception as error:  # noqa: BLE001
        checks["redis"] = f"error: {type(error).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if healthy else "degraded", "checks": checks}
    if checks["redis"] == "ok":
        from app.core.tasks import HEARTBEAT_KEY

        beat = extensions.redis().get(HEARTBEAT_KEY)
        # informational: a web node can be healthy while the scheduler restarts
        body["scheduler_last_beat_s"] = round(time.time() - float(beat)) if beat else None
    return jsonify(body), 200 if healthy else 503


@i18n.get("/locale/<locale>")
def set_locale(locale: str):
    if locale not in ("fr", "en"):
        abort(404)
    session["locale"] = locale
    target = request.referrer or url_for("core.home")
    if not target.startswith(request.host_url):
        target = url_for("core.home")
    return redirect(target)


@bp.get("/styleguide")
@require(Permission.MANAGE_TENANT)
def styleguide():
    return render("_styleguide.html")
