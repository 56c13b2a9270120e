"""The request edge: who is asking, for which tenant, one transaction per request,
security headers, and the error pages."""

from __future__ import annotations

import logging
import secrets
import time

from flask import Flask, g, render_template, request, session
from flask_babel import get_locale
from flask_wtf.csrf import CSRFError

from app.auth.models import User
from app.auth.permissions import Permission, can
from app.core.nav import nav_sections
from app.extensions import Session
from tenants.models import Tenant
from tenants.scoping import reset_tenant, set_request_tenant, unscoped

log = logging.getLogger("carillon.request")


def load_session_user() -> User | None:
    user_id = session.get("uid")
    if not user_id:
        return None
    # The session cookie names a user; which tenant they belong to is only known
    # once they are loaded, so this lookup spans tenants.
    with unscoped():
        user = Session.get(User, user_id)
    if user is None or not user.active or session.get("epoch") != user.session_epoch:
        session.clear()
        return None
    return user


def acting_tenant_id(user: User | None) -> int | None:
    if user is None:
        return None
    if user.tenant_id is not None:
        return user.tenant_id
    # platform staff acting inside a tenant (impersonation, audited when started)
    return session.get("impersonating_tenant_id") if user.is_platform_admin else None


def before_request() -> None:
    g.request_id = request.headers.get("X-Request-Id") or secrets.token_hex(8)
    g.started = time.perf_counter()
    user = load_session_user()
    g.user = user
    g.tenant_token = set_request_tenant(acting_tenant_id(user))
    tenant_id = acting_tenant_id(user)
    g.tenant = Session.get(Tenant, tenant_id) if tenant_id else None


def after_request(response):
    try:
        if response.status_code < 400:
            Session.commit()
        else:
            Session.rollback()
    except Exception:
        Session.rollback()
        raise
    response.headers["X-Request-Id"] = g.get("request_id", "")
    if (request.method == "GET" and response.status_code == 200 and request.headers.get("HX-Boosted") == "true"
            and "HX-Push-Url" not in response.headers):
        # a boosted form that redirected lands here through the XHR: show the final
        # address in the bar, so reload and back behave
        response.headers["HX-Push-Url"] = request.full_path.rstrip("?")
    response.vary.add("HX-Request")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob:; frame-ancestors 'none'",
    )
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
        log.info("%s %s %s %.1fms", request.method, request.path, response.status_code,
                 (time.perf_counter() - g.get("started", time.perf_counter())) * 1000)
    return response


def teardown_request(exc: BaseException | None) -> None:
    if exc is not None:
        Session.rollback()
    Session.remove()
    token = g.pop("tenant_token", None)
    if token is not None:
        reset_tenant(token)


def template_context() -> dict[str, object]:
    user = g.get("user")
    tenant = g.get("tenant")
    return {
        "current_user": user or _Anonymous(),
        "current_tenant": tenant,
        "nav_sections": nav_sections(user) if user else [],
        "current_locale": str(get_locale() or "fr"),
        "brand_color": getattr(tenant, "brand_color", None),
        "can": lambda permission: can(user, Permission(permission)),
        "impersonating": bool(session.get("impersonating_tenant_id")),
    }


class _Anonymous:
    is_authenticated = False
    display_name = ""


def _reset_after_error() -> None:
    """Roll back what the failed request did, then reload who is asking: the rollback
    expired the loaded user and tenant, and the error page still shows the shell."""
    Session.rollback()
    user = g.get("user")
    if user is not None:
        with unscoped():  # platform staff have no tenant; the row is read by its id
            g.user = Session.get(User, user.id)
            g.tenant = Session.get(Tenant, g.tenant.id) if g.get("tenant") is not None else None


def error_page(code: int):
    def handler(error):
        _reset_after_error()
        if request.path.startswith("/api/"):
            return {"success": False, "error": getattr(error, "description", str(code))}, code
        return render_template([f"errors/{code}.html", "errors/generic.html"], error=error, code=code), code

    return handler


def csrf_error(error: CSRFError):
    _reset_after_error()
    return render_template(["errors/400.html", "errors/generic.html"], error=error, code=400), 400


def install(app: Flask) -> None:
    app.before_request(before_request)
    app.after_request(after_request)
    app.teardown_request(teardown_request)
    app.context_processor(template_context)
    for code in (400, 403, 404, 405, 413, 500):
        app.register_error_handler(code, error_page(code))
    app.register_error_handler(CSRFError, csrf_error)
