from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects.postgresql import JSONB

from app.db import Base, utcnow
from tenants.scoping import register_tenant_owned


@register_tenant_owned
class AuditEvent(Base):
    """Who did what, when, from where, on which tenant. Platform-level events
    (a platform admin's login) have no tenant."""

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_tenant_created", "tenant_id", "created_at"),)

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, primary_key=True)
    tenant_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    actor_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    actor_email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    action: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    target_type: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    target_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    ip: so.Mapped[str | None] = so.mapped_column(sa.String(45))
    details: so.Mapped[dict] = so.mapped_column(JSONB, default=dict)
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, server_default=sa.func.now())
