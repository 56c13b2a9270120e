"""Who may do what: one table, one check, one decorator. Views never compare
level numbers themselves."""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from flask import abort, g, has_request_context, redirect, request, url_for

from app.auth.models import Role

if TYPE_CHECKING:
    from app.auth.models import User


class Permission(enum.StrEnum):
    AGENT_WORKSPACE = "agent.workspace"
    SUPERVISE = "supervise"
    VIEW_REPORTS = "reports.view"
    MANAGE_CAMPAIGNS = "campaigns.manage"
    MANAGE_LEADS = "leads.manage"
    EXPORT_DATA = "data.export"
    MANAGE_USERS = "users.manage"
    VIEW_AUDIT = "audit.view"
    MANAGE_API_KEYS = "api_keys.manage"
    MANAGE_TENANT = "tenant.manage"
    PLATFORM_ADMIN = "platform.admin"


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    min_level: int = 1


_ALL = frozenset(Role)
_SUPERVISORS = frozenset({Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})
_MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})
_ADMINS = frozenset({Role.ADMIN})

RULES: dict[Permission, Rule] = {
    Permission.AGENT_WORKSPACE: Rule(_ALL),
    Permission.SUPERVISE: Rule(_SUPERVISORS, 7),
    Permission.VIEW_REPORTS: Rule(_SUPERVISORS, 7),
    Permission.MANAGE_CAMPAIGNS: Rule(_MANAGERS, 8),
    Permission.MANAGE_LEADS: Rule(_MANAGERS, 8),
    Permission.EXPORT_DATA: Rule(_MANAGERS, 8),
    Permission.MANAGE_USERS: Rule(_ADMINS, 9),
    Permission.VIEW_AUDIT: Rule(_ADMINS, 9),
    Permission.MANAGE_API_KEYS: Rule(_ADMINS, 9),
    Permission.MANAGE_TENANT: Rule(_ADMINS, 9),
    Permission.PLATFORM_ADMIN: Rule(_ADMINS, 10),
}

ROLE_DEFAULT_LEVEL = {Role.AGENT: 1, Role.SUPERVISOR: 7, Role.MANAGER: 8, Role.ADMIN: 9}


def can(user: User | None, permission: Permission) -> bool:
    if user is None or not user.active:
        return False
    rule = RULES[permission]
    if permission is Permission.PLATFORM_ADMIN:
        return user.is_platform_admin
    if user.tenant_id is None:
        # platform staff act on a tenant only through impersonation (audited), and
        # then with a tenant administrator's rights
        impersonating = has_request_context() and g.get("tenant") is not None
        return user.is_platform_admin and impersonating and Role.ADMIN in rule.roles
    return Role(user.role) in rule.roles and user.level >= rule.min_level


F = TypeVar("F", bound=Callable[..., object])


def require(permission: Permission) -> Callable[[F], F]:
    """Decorator for views: redirect anonymous users to login, 403 the others."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: object, **kwargs: object) -> object:
            user = g.get("user")
            if user is None:
                return redirect(url_for("auth.login", next=request.full_path))
            if not can(user, permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: object, **kwargs: object) -> object:
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
