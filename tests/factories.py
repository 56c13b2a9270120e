from __future__ import annotations

from dataclasses import dataclass, field

from app.auth.models import Role, User, UserGroup
from app.auth.services import create_user
from app.extensions import Session
from tenants.models import Tenant, TenantStatus
from tenants.scoping import tenant_scope, unscoped
from tenants.services import create_tenant, default_reseller


@dataclass
class TenantWorld:
    tenant: Tenant
    users: dict[str, User] = field(default_factory=dict)
    group: UserGroup | None = None

    @property
    def id(self) -> int:
        return self.tenant.id


@dataclass
class World:
    a: TenantWorld
    b: TenantWorld
    password: str
    platform_admin: User


def make_tenant_world(name: str, slug: str, password: str) -> TenantWorld:
    with unscoped():
        tenant = create_tenant(name, reseller=default_reseller(), status=TenantStatus.ACTIVE)
    world = TenantWorld(tenant)
    with tenant_scope(tenant.id):
        world.group = UserGroup(code="VENTES", name=f"Ventes {name}")
        Session.add(world.group)
        Session.flush()
        for role in Role:
            world.users[role.value] = create_user(
                email=f"{role.value}@{slug}.fr", display_name=f"{role.value.title()} {name}", password=password,
                role=role, group=world.group, tenant_id=tenant.id,
            )
    return world


def make_world(password: str) -> World:
    a = make_tenant_world("Alpha Appels", "alpha-appels", password)
    b = make_tenant_world("Beta Contact", "beta-contact", password)
    with unscoped():
        admin = create_user(email="root@carillon-plateforme.fr", display_name="Root", password=password, role=Role.ADMIN,
                            level=10)
    Session.commit()
    return World(a, b, password, admin)


def login(client, email: str, password: str, follow: bool = False):
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       follow_redirects=follow)


def csrf_from(html: str) -> str:
    import re

    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html) or re.search(r'"X-CSRF-Token": "([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)
