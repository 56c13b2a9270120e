"""Accounts: users, user groups."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.db import Base, TenantScoped, Timestamped
from tenants.scoping import register_tenant_owned


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    ADMIN = "admin"


class UserGroup(TenantScoped, Timestamped, Base):
    """A tenant's group of users (``user_group`` in the public APIs)."""

    __tablename__ = "user_groups"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    code: so.Mapped[str] = so.mapped_column(sa.String(40))
    name: so.Mapped[str] = so.mapped_column(sa.String(120))


@register_tenant_owned
class User(Timestamped, Base):
    """A person who logs in. ``tenant_id`` is empty for platform staff and reseller
    staff (``reseller_id`` set); every tenant user has one."""

    __tablename__ = "users"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    tenant_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    reseller_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("resellers.id"), index=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254))
    display_name: so.Mapped[str] = so.mapped_column(sa.String(120))
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(255))
    level: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=1)
    role: so.Mapped[str] = so.mapped_column(sa.String(16), default=Role.AGENT)
    group_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("user_groups.id", ondelete="SET NULL"), index=True
    )
    active: so.Mapped[bool] = so.mapped_column(default=True)
    email_verified: so.Mapped[bool] = so.mapped_column(default=False)
    locale: so.Mapped[str | None] = so.mapped_column(sa.String(5))
    totp_secret: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    totp_enabled: so.Mapped[bool] = so.mapped_column(default=False)
    failed_logins: so.Mapped[int] = so.mapped_column(default=0)
    locked_until: so.Mapped[dt.datetime | None]
    last_login_at: so.Mapped[dt.datetime | None]
    # Bumped by "log out everywhere" and by password changes: a session cookie made
    # with an older epoch is no longer accepted.
    session_epoch: so.Mapped[int] = so.mapped_column(default=0)

    group: so.Mapped[UserGroup | None] = so.relationship()

    __table_args__ = (sa.CheckConstraint("level BETWEEN 1 AND 10", name="level_range"),)

    is_authenticated = True

    @property
    def is_platform_admin(self) -> bool:
        return self.level == 10 and self.role == Role.ADMIN and self.tenant_id is None


# Logins are unique across the platform, whatever the case.
sa.Index("uq_users_email_lower", sa.func.lower(User.email), unique=True)
