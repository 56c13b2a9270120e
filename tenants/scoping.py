"""Central tenant scoping: the one place that knows how rows are filtered by tenant.

Two layers enforce isolation:

1. The ORM: a ``do_orm_execute`` hook adds ``tenant_id == current`` to every query of a
   tenant-owned entity, and ``before_flush`` stamps new rows with the current tenant
   (and refuses a row moved to another tenant).
2. PostgreSQL: every tenant-owned table has a forced row-level-security policy that
   compares ``tenant_id`` with ``current_setting('app.tenant_id')``, which is set with
   ``set_config(..., is_local => true)`` at the start of every transaction.

Strict mode: querying a tenant-owned entity while no tenant is set is an error, never
"no filter". The only way around both layers is :func:`unscoped`, meant for the login
edge and for platform/reseller views that span tenants; grep for it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.db import TenantScoped


class TenantScopeError(RuntimeError):
    """A tenant-owned table was touched with no tenant in scope."""


_current_tenant: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "carillon_tenant", default=None
)
_unscoped: contextvars.ContextVar[bool] = contextvars.ContextVar("carillon_unscoped", default=False)


def current_tenant_id() -> int | None:
    return _current_tenant.get()


def is_unscoped() -> bool:
    return _unscoped.get()


def set_tenant(tenant_id: int | None) -> contextvars.Token:
    return _current_tenant.set(tenant_id)


def reset_tenant(token: contextvars.Token) -> None:
    _current_tenant.reset(token)


_installed: list[so.scoped_session] = []


def sync_transaction() -> None:
    """Re-apply the tenant settings to the transaction already open on the scoped
    session, if any (a scope entered mid-transaction must reach PostgreSQL too)."""
    for registry in _installed:
        if not registry.registry.has():
            continue
        session = registry()
        if session.in_transaction():
            _set_transaction_tenant(session, None, session.connection())


def set_request_tenant(tenant_id: int | None) -> contextvars.Token:
    token = _current_tenant.set(tenant_id)
    sync_transaction()
    return token


@contextlib.contextmanager
def tenant_scope(tenant_id: int | None) -> Iterator[None]:
    token = _current_tenant.set(tenant_id)
    sync_transaction()
    try:
        yield
    finally:
        _current_tenant.reset(token)
        sync_transaction()


@contextlib.contextmanager
def tenant_transaction(tenant_id: int) -> Iterator[None]:
    """One unit of work of a background loop (the dialer's campaigns and queues): in
    the tenant's scope, committed when the block ends, rolled back if it raises, and
    the session released either way."""
    from app.extensions import Session

    with tenant_scope(tenant_id):
        try:
            yield
            Session.commit()
        except BaseException:
            Session.rollback()
            raise
        finally:
            Session.remove()


@contextlib.contextmanager
def unscoped() -> Iterator[None]:
    """Cross-tenant access, on purpose: the ORM adds no tenant criteria and the
    PostgreSQL policies let every row through until the block ends."""
    token = _unscoped.set(True)
    sync_transaction()
    try:
        yield
    finally:
        _unscoped.reset(token)
        sync_transaction()


def is_tenant_owned(cls: type) -> bool:
    return isinstance(cls, type) and (
        issubclass(cls, TenantScoped) or getattr(cls, "__tenant_owned__", False)
    )


def _entities(state: so.ORMExecuteState) -> list[type]:
    found = []
    for desc in state.statement.column_descriptions if state.is_select else []:
        entity = desc.get("entity")
        if entity is not None:
            found.append(entity)
    if not state.is_select:
        mapper = state.bind_mapper
        if mapper is not None:
            found.append(mapper.class_)
    return found


def _add_tenant_criteria(state: so.ORMExecuteState) -> None:
    if _unscoped.get():
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    tenant_id = _current_tenant.get()
    owned = [e for e in _entities(state) if is_tenant_owned(e)]
    if tenant_id is None:
        if owned:
            raise TenantScopeError(f"query on {owned[0].__name__} with no tenant in scope")
        return
    state.statement = state.statement.options(
        so.with_loader_criteria(
            TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True
        )
    )
    for cls in _extra_owned:
        state.statement = state.statement.options(
            so.with_loader_criteria(cls, cls.tenant_id == tenant_id, include_aliases=True)
        )


# Entities with a nullable tenant_id (users: platform staff belong to no tenant)
# register here to get the same ORM criteria.
_extra_owned: list[type] = []


def register_tenant_owned(cls: type) -> type:
    cls.__tenant_owned__ = True  # type: ignore[attr-defined]
    _extra_owned.append(cls)
    return cls


def _stamp_new_rows(session: so.Session, flush_context: object, instances: object) -> None:
    tenant_id = _current_tenant.get()
    for obj in list(session.new):
        if not is_tenant_owned(type(obj)):
            continue
        if obj.tenant_id is None:
            optional = isinstance(obj, tuple(_extra_owned))
            if optional and _unscoped.get():
                continue  # platform rows (a platform admin, a platform event) made on purpose
            if tenant_id is None:
                if _unscoped.get() or optional:
                    continue
                raise TenantScopeError(f"new {type(obj).__name__} with no tenant in scope")
            obj.tenant_id = tenant_id
        elif tenant_id is not None and obj.tenant_id != tenant_id and not _unscoped.get():
            raise TenantScopeError(f"new {type(obj).__name__} for another tenant")
    for obj in list(session.dirty):
        if not is_tenant_owned(type(obj)) or _unscoped.get():
            continue
        history = sa.inspect(obj).attrs.tenant_id.history
        if history.deleted and history.deleted[0] is not None:
            raise TenantScopeError(f"{type(obj).__name__}.tenant_id cannot change")


def _set_transaction_tenant(session: so.Session, transaction: object, connection: sa.Connection) -> None:
    tenant_id = _current_tenant.get()
    connection.exec_driver_sql(
        "SELECT set_config('app.tenant_id', %(t)s, true), set_config('app.bypass_rls', %(b)s, true)",
        {"t": "" if tenant_id is None else str(tenant_id), "b": "on" if _unscoped.get() else "off"},
    )


def install(session_factory: so.sessionmaker | so.scoped_session) -> None:
    """Attach the hooks to a session factory (done once in ``app.extensions``)."""
    target = session_factory
    if isinstance(session_factory, so.scoped_session):
        _installed.append(session_factory)
    sa.event.listen(target, "do_orm_execute", _add_tenant_criteria)
    sa.event.listen(target, "before_flush", _stamp_new_rows)
    sa.event.listen(target, "after_begin", _set_transaction_tenant)


def rls_statements(table: str, *, nullable_tenant: bool = False) -> list[str]:
    """DDL enabling forced row-level security on a tenant-owned table. Every
    migration that creates such a table runs these (a test checks none is missing)."""
    visible = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint"
    bypass = "current_setting('app.bypass_rls', true) = 'on'"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS tenant_isolation ON {table}",
        f"CREATE POLICY tenant_isolation ON {table} USING ({visible} OR {bypass}) "
        f"WITH CHECK ({visible} OR {bypass})",
    ]


def app_role_statements() -> list[str]:
    """DDL run by the foundation migration (as the owner): the application's login
    role, which owns nothing, so that row-level security applies to it, with the
    rights it needs on every table present and future in the schema."""
    import os

    role = os.environ.get("APP_DB_ROLE", "carillon_app")
    password = os.environ.get("APP_DB_PASSWORD", "")
    if not role.replace("_", "").isalnum():
        raise ValueError(f"invalid APP_DB_ROLE {role!r}")
    quoted_password = "'" + password.replace("'", "''") + "'"
    return [
        f"DO $$ BEGIN CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS; "
        f"EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        f"ALTER ROLE {role} PASSWORD {quoted_password}" if password else "SELECT 1",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
        # COPY ... FROM STDIN into temporary staging tables (lead imports)
        f"DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO {role}', current_database()); END $$",
    ]
