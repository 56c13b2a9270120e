"""Tenant hierarchy: platform → reseller(s) (a reseller may own sub-resellers) → tenant."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.db import Base, Timestamped


class TenantStatus(enum.StrEnum):
    TRIAL = "trial"
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Platform(Timestamped, Base):
    __tablename__ = "platforms"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))


class Reseller(Timestamped, Base):
    __tablename__ = "resellers"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    platform_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("platforms.id"), index=True)
    parent_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("resellers.id"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    slug: so.Mapped[str] = so.mapped_column(sa.String(63), unique=True)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default=TenantStatus.ACTIVE)
    brand_color: so.Mapped[str | None] = so.mapped_column(sa.String(9))

    parent: so.Mapped[Reseller | None] = so.relationship(remote_side=[id])
    tenants: so.WriteOnlyMapped[Tenant] = so.relationship(back_populates="reseller")


class Tenant(Timestamped, Base):
    __tablename__ = "tenants"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    reseller_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("resellers.id"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    slug: so.Mapped[str] = so.mapped_column(sa.String(63), unique=True)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default=TenantStatus.TRIAL)
    plan_code: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    country: so.Mapped[str] = so.mapped_column(sa.String(2), default="FR")
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64), default="Europe/Paris")
    currency: so.Mapped[str] = so.mapped_column(sa.String(3), default="EUR")
    locale: so.Mapped[str] = so.mapped_column(sa.String(5), default="fr")
    require_2fa: so.Mapped[bool] = so.mapped_column(default=False)
    brand_color: so.Mapped[str | None] = so.mapped_column(sa.String(9))
    trial_ends_at: so.Mapped[dt.datetime | None]

    reseller: so.Mapped[Reseller] = so.relationship(back_populates="tenants")

    @property
    def is_suspended(self) -> bool:
        return self.status == TenantStatus.SUSPENDED
