from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Blueprint, request, url_for
from flask_babel import lazy_gettext as _l

from app.audit.models import AuditEvent
from app.auth.permissions import Permission, require
from app.core.nav import SECTION_ADMIN, NavItem, register_nav
from app.core.rendering import render
from app.extensions import Session

bp = Blueprint("audit", __name__, url_prefix="/admin")
register_nav(SECTION_ADMIN, NavItem(_l("Audit log"), "audit.index", Permission.VIEW_AUDIT, "lock"))

PAGE = 50


@bp.get("/audit")
@require(Permission.VIEW_AUDIT)
def index():
    action = request.args.get("action", "").strip()
    actor = request.args.get("actor", "").strip()
    before = request.args.get("before", type=int)
    day = request.args.get("day", "").strip()
    stmt = sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(PAGE + 1)
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action))
    if actor:
        stmt = stmt.where(AuditEvent.actor_email.ilike(f"%{actor}%"))
    if before:
        stmt = stmt.where(AuditEvent.id < before)
    error = None
    if day:
        try:
            start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
            stmt = stmt.where(AuditEvent.created_at >= start, AuditEvent.created_at < start + dt.timedelta(days=1))
        except ValueError:
            error = _l("Invalid date.")
    events = list(Session.scalars(stmt))
    next_url = None
    if len(events) > PAGE:
        events = events[:PAGE]
        next_url = url_for("audit.index", action=action or None, actor=actor or None, day=day or None,
                           before=events[-1].id)
    actions = list(Session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
    return render("audit/index.html", events=events, next_url=next_url, action=action, actor=actor, day=day,
                  actions=actions, error=error)
