"""Campaign: the minimal shape lists and leads hang from; the campaigns feature extends it."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.db import Base, TenantScoped, Timestamped


class Campaign(TenantScoped, Timestamped, Base):
    __tablename__ = "campaigns"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    active: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())
    # R3: a prospecting campaign dials only leads with a recorded consent.
    prospecting: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())
