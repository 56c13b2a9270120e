"""Provisioning of the hierarchy: platform, resellers, tenants, and self-service signup."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata

import sqlalchemy as sa

from app.audit.services import record_event
from app.auth.models import Role, User
from app.auth.services import create_user
from app.db import utcnow
from app.extensions import Session
from tenants.models import Platform, Reseller, Tenant, TenantStatus
from tenants.scoping import tenant_scope, unscoped

TRIAL_DAYS = 14


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:50] or "tenant"


def unique_slug(model: type, name: str) -> str:
    base = slugify(name)
    slug = base
    with unscoped():
        while Session.scalar(sa.select(model.id).where(model.slug == slug)) is not None:
            slug = f"{base}-{secrets.token_hex(2)}"
    return slug


def default_platform() -> Platform:
    platform = Session.scalar(sa.select(Platform).order_by(Platform.id).limit(1))
    if platform is None:
        platform = Platform(name="Carillon")
        Session.add(platform)
        Session.flush()
    return platform


def default_reseller() -> Reseller:
    """Direct customers of the platform belong to the platform's own reseller."""
    reseller = Session.scalar(
        sa.select(Reseller).where(Reseller.parent_id.is_(None)).order_by(Reseller.id).limit(1)
    )
    if reseller is None:
        reseller = create_reseller("Carillon Direct", platform=default_platform())
    return reseller


def create_reseller(name: str, *, platform: Platform, parent: Reseller | None = None) -> Reseller:
    reseller = Reseller(name=name, slug=unique_slug(Reseller, name), platform_id=platform.id,
                        parent_id=parent.id if parent else None)
    Session.add(reseller)
    Session.flush()
    return reseller


def create_tenant(
    name: str,
    *,
    reseller: Reseller,
    country: str = "FR",
    timezone: str = "Europe/Paris",
    currency: str = "EUR",
    status: TenantStatus = TenantStatus.TRIAL,
    plan_code: str | None = None,
) -> Tenant:
    tenant = Tenant(
        name=name.strip(),
        slug=unique_slug(Tenant, name),
        reseller_id=reseller.id,
        country=country,
        timezone=timezone,
        currency=currency,
        status=status,
        plan_code=plan_code,
        trial_ends_at=utcnow() + dt.timedelta(days=TRIAL_DAYS) if status == TenantStatus.TRIAL else None,
    )
    Session.add(tenant)
    Session.flush()
    record_event("tenant.created", tenant_id=tenant.id, target_type="tenant", target_id=tenant.id,
                 details={"name": tenant.name, "reseller_id": reseller.id})
    return tenant


def signup_tenant(*, company: str, country: str, timezone: str, admin_name: str, email: str,
                  password: str) -> tuple[Tenant, User]:
    """Self-service signup: a trial tenant and its first administrator (level 9), whose
    email must be verified before the first login."""
    with unscoped():
        tenant = create_tenant(company, reseller=default_reseller(), country=country, timezone=timezone)
    with tenant_scope(tenant.id):
        admin = create_user(email=email, display_name=admin_name, password=password, role=Role.ADMIN,
                            level=9, tenant_id=tenant.id, email_verified=False)
    return tenant, admin


def set_tenant_status(tenant: Tenant, status: TenantStatus) -> None:
    old = tenant.status
    tenant.status = status
    record_event("tenant.status_changed", tenant_id=tenant.id, target_type="tenant", target_id=tenant.id,
                 details={"from": str(old), "to": str(status)})


def list_all_tenants() -> list[Tenant]:
    # platform console: spans tenants on purpose
    with unscoped():
        return list(Session.scalars(sa.select(Tenant).order_by(Tenant.name)))
