"""Database primitives shared by every feature: the declarative base, the naming
convention, and the mixins. Tenant scoping itself lives in ``tenants.scoping``."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import sqlalchemy.orm as so

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(so.DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: sa.DateTime(timezone=True)}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Timestamped:
    created_at: so.Mapped[dt.datetime] = so.mapped_column(
        default=utcnow, server_default=sa.func.now()
    )


class TenantScoped:
    """Mixin for every tenant-owned table.

    Rows are filtered by the current tenant on every ORM query and stamped with it on
    insert (``tenants.scoping``); PostgreSQL row-level security checks the same thing
    again (policy ``tenant_isolation``, created by ``tenants.scoping.rls_sql``)."""

    @so.declared_attr
    def tenant_id(cls) -> so.Mapped[int]:  # noqa: N805
        return so.mapped_column(
            sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True, nullable=False
        )
