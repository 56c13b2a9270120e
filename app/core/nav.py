"""The sidebar, built from permissions: a user sees only what they may open."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import request, url_for
from flask_babel import lazy_gettext as _l

from app.auth.permissions import Permission, can


@dataclass
class NavItem:
    label: str
    endpoint: str
    permission: Permission
    icon: str = ""
    url: str = ""
    active: bool = False


@dataclass
class NavSection:
    label: str
    items: list[NavItem] = field(default_factory=list)


# Feature packages append their entries here when their blueprint registers.
NAV: list[tuple[str, NavItem]] = []


def register_nav(section: str, item: NavItem) -> None:
    NAV.append((section, item))


def nav_sections(user: object | None) -> list[NavSection]:
    if user is None:
        return []
    sections: dict[str, NavSection] = {}
    for section, item in NAV:
        if not can(user, item.permission):  # type: ignore[arg-type]
            continue
        url = url_for(item.endpoint)
        entry = NavItem(item.label, item.endpoint, item.permission, item.icon, url,
                        active=request.path == url or (url != "/" and request.path.startswith(url + "/")))
        sections.setdefault(str(section), NavSection(section)).items.append(entry)
    order = {str(label): rank for rank, label in enumerate(SECTION_ORDER)}
    return sorted(sections.values(), key=lambda s: order.get(str(s.label), len(order)))


SECTION_WORK = _l("Work")
SECTION_MANAGE = _l("Management")
SECTION_ADMIN = _l("Administration")
SECTION_PLATFORM = _l("Platform")

SECTION_ORDER = [SECTION_WORK, SECTION_MANAGE, SECTION_ADMIN, SECTION_PLATFORM]
