"""The demo platform: one reseller, one tenant with a user of each role.

Idempotent: run at every ``carillon up``; the demo password is generated once per
install and kept under ./var (never committed)."""

from __future__ import annotations

import pathlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from app.auth.models import Role, User, UserGroup
from app.auth.services import create_user
from app.extensions import Session
from tenants import services
from tenants.models import Reseller, Tenant, TenantStatus
from tenants.scoping import tenant_scope, unscoped

DEMO_TENANT_SLUG = "demo"
DEMO_USERS = [
    ("ops@carillon-demo.fr", "Admin Plateforme", Role.ADMIN, 10, False),
    ("admin@carillon-demo.fr", "Alice Administratrice", Role.ADMIN, 9, True),
    ("manager@carillon-demo.fr", "Marc Manager", Role.MANAGER, 8, True),
    ("superviseur@carillon-demo.fr", "Sophie Superviseure", Role.SUPERVISOR, 7, True),
    ("agent@carillon-demo.fr", "Antoine Agent", Role.AGENT, 1, True),
]


@dataclass
class DemoLogin:
    email: str
    role: str
    level: int


def demo_password(var_dir: pathlib.Path) -> str:
    path = var_dir / "demo_password"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text("demo-" + secrets.token_urlsafe(9))
        path.chmod(0o600)
    return path.read_text().strip()


def seed_demo(password: str) -> list[DemoLogin]:
    with unscoped():
        tenant = Session.scalar(sa.select(Tenant).where(Tenant.slug == DEMO_TENANT_SLUG))
        if tenant is None:
            platform = services.default_platform()
            direct = services.default_reseller()
            reseller = Session.scalar(sa.select(Reseller).where(Reseller.slug == "demo-revendeur"))
            if reseller is None:
                reseller = Reseller(name="Démo Revendeur", slug="demo-revendeur", platform_id=platform.id,
                                    parent_id=direct.id)
                Session.add(reseller)
                Session.flush()
            tenant = Tenant(name="Démo Centre d'appels", slug=DEMO_TENANT_SLUG, reseller_id=reseller.id,
                            status=TenantStatus.ACTIVE, plan_code="professionnel")
            Session.add(tenant)
            Session.flush()
    logins = []
    with tenant_scope(tenant.id):
        group = Session.scalar(sa.select(UserGroup).where(UserGroup.code == "VENTES"))
        if group is None:
            group = UserGroup(code="VENTES", name="Équipe ventes")
            Session.add(group)
            Session.flush()
        for email, name, role, level, in_tenant in DEMO_USERS:
            with unscoped():
                exists = Session.scalar(sa.select(User.id).where(User.email == email))
            if exists is None:
                scope = tenant_scope(tenant.id) if in_tenant else unscoped()
                with scope:
                    create_user(email=email, display_name=name, password=password, role=role, level=level,
                                group=group if in_tenant else None, tenant_id=tenant.id if in_tenant else None)
            logins.append(DemoLogin(email, str(role), level))
    return logins
