from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.audit.services import record_event
from app.auth.permissions import Permission, require
from app.core.nav import SECTION_ADMIN, SECTION_PLATFORM, NavItem, register_nav
from app.core.rendering import render
from app.extensions import Session
from tenants import services
from tenants.forms import TenantSettingsForm
from tenants.models import Tenant, TenantStatus
from tenants.scoping import unscoped

bp = Blueprint("tenants", __name__)
register_nav(SECTION_ADMIN, NavItem(_l("Settings"), "tenants.settings", Permission.MANAGE_TENANT, "edit"))
register_nav(SECTION_PLATFORM, NavItem(_l("Tenants"), "tenants.platform_index", Permission.PLATFORM_ADMIN, "bolt"))


@bp.route("/admin/settings", methods=["GET", "POST"])
@require(Permission.MANAGE_TENANT)
def settings():
    tenant = g.tenant
    form = TenantSettingsForm(obj=tenant)
    if form.validate_on_submit():
        changes = {}
        for name in ("name", "country", "timezone", "currency", "require_2fa", "brand_color"):
            value = getattr(form, name).data
            if name == "brand_color":
                value = value or None
            if getattr(tenant, name) != value:
                changes[name] = [str(getattr(tenant, name)), str(value)]
                setattr(tenant, name, value)
        if changes:
            record_event("tenant.settings_changed", target_type="tenant", target_id=tenant.id, details=changes)
        flash(_("Settings saved."), "success")
        return redirect(url_for("tenants.settings"))
    return render("tenants/settings.html", form=form, tenant=tenant)


def _platform_tenant(tenant_id: int) -> Tenant:
    with unscoped():
        tenant = Session.get(Tenant, tenant_id)
    if tenant is None:
        abort(404)
    return tenant


@bp.get("/platform/tenants")
@require(Permission.PLATFORM_ADMIN)
def platform_index():
    return render("tenants/platform_index.html", tenants=services.list_all_tenants(), statuses=list(TenantStatus))


@bp.post("/platform/tenants/<int:tenant_id>/status")
@require(Permission.PLATFORM_ADMIN)
def platform_set_status(tenant_id: int):
    tenant = _platform_tenant(tenant_id)
    try:
        status = TenantStatus(request.form.get("status", ""))
    except ValueError:
        abort(400)
    with unscoped():
        services.set_tenant_status(tenant, status)
    flash(_("%(name)s is now %(status)s.", name=tenant.name, status=status.value), "success")
    return redirect(url_for("tenants.platform_index"))


@bp.post("/platform/tenants/<int:tenant_id>/impersonate")
@require(Permission.PLATFORM_ADMIN)
def impersonate(tenant_id: int):
    tenant = _platform_tenant(tenant_id)
    with unscoped():
        record_event("impersonation.start", tenant_id=tenant.id, target_type="tenant", target_id=tenant.id)
    session["impersonating_tenant_id"] = tenant.id
    flash(_("You are acting inside %(name)s. Every action is audited.", name=tenant.name), "warning")
    return redirect(url_for("core.home"))


@bp.post("/platform/impersonation/stop")
def stop_impersonation():
    tenant_id = session.pop("impersonating_tenant_id", None)
    if tenant_id and g.get("user") is not None:
        with unscoped():
            record_event("impersonation.stop", tenant_id=tenant_id, target_type="tenant", target_id=tenant_id)
    return redirect(url_for("tenants.platform_index"))
