"""Tenant B can never read or change tenant A's rows: through the ORM, through raw
SQL on the application's own connection, or through a route."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.auth.models import User, UserGroup
from app.extensions import Session, engine
from tenants.scoping import TenantScopeError, tenant_scope
from tests.factories import login


def test_orm_sees_only_current_tenant(world):
    with tenant_scope(world.b.id):
        groups = Session.scalars(sa.select(UserGroup)).all()
        assert [g.id for g in groups] == [world.b.group.id]
        assert Session.get(UserGroup, world.a.group.id, populate_existing=True) is None
        emails = set(Session.scalars(sa.select(User.email)))
        assert emails == {u.email for u in world.b.users.values()}


def test_orm_bulk_update_cannot_touch_other_tenant(world, owner_engine):
    with tenant_scope(world.b.id):
        Session.execute(sa.update(UserGroup).values(name="pwned"))
        Session.commit()
    with owner_engine.connect() as conn:
        names = dict(conn.execute(sa.text("SELECT tenant_id, name FROM user_groups")).all())
    assert names[world.a.id] != "pwned"
    assert names[world.b.id] == "pwned"


def test_new_rows_are_stamped_and_cannot_be_moved(world):
    with tenant_scope(world.b.id):
        group = UserGroup(code="NEW", name="New")
        Session.add(group)
        Session.flush()
        assert group.tenant_id == world.b.id
        group.tenant_id = world.a.id
        with pytest.raises(TenantScopeError):
            Session.flush()
        Session.rollback()


def test_strict_mode_refuses_queries_without_tenant(world):
    with pytest.raises(TenantScopeError):
        Session.scalars(sa.select(UserGroup)).all()
    Session.rollback()


def test_raw_sql_on_app_connection_is_filtered_by_rls(world):
    with engine().connect() as conn:
        with conn.begin():
            # no tenant set: the policy shows nothing
            assert conn.execute(sa.text("SELECT count(*) FROM user_groups")).scalar() == 0
        with conn.begin():
            conn.execute(sa.text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(world.b.id)})
            rows = conn.execute(sa.text("SELECT tenant_id FROM user_groups")).scalars().all()
            assert rows == [world.b.id]
            changed = conn.execute(sa.text("UPDATE user_groups SET name = 'x' WHERE tenant_id = :a"),
                                   {"a": world.a.id}).rowcount
            assert changed == 0
            deleted = conn.execute(sa.text("DELETE FROM users WHERE tenant_id = :a"), {"a": world.a.id}).rowcount
            assert deleted == 0
        with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
            with conn.begin():
                conn.execute(sa.text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(world.b.id)})
                conn.execute(sa.text("INSERT INTO user_groups (tenant_id, code, name) VALUES (:a, 'EVIL', 'e')"),
                             {"a": world.a.id})


def test_app_role_is_not_owner_nor_superuser():
    with engine().connect() as conn:
        row = conn.execute(sa.text(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")).one()
        assert row == (False, False)
        owner = conn.execute(sa.text("SELECT tableowner FROM pg_tables WHERE tablename = 'users'")).scalar()
        assert owner != conn.execute(sa.text("SELECT current_user")).scalar()


def test_every_tenant_table_has_forced_rls(owner_engine):
    with owner_engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        """)).all()
    assert rows, "no tenant-owned tables found"
    missing = [name for name, enabled, forced in rows if not (enabled and forced)]
    assert missing == []


def test_routes_never_show_other_tenant_rows(client, world):
    assert login(client, world.b.users["admin"].email, world.password).status_code == 302
    target = world.a.users["agent"]
    assert client.get(f"/admin/users/{target.id}").status_code == 404
    page = client.get("/admin/users").get_data(as_text=True)
    assert target.email not in page
    assert world.b.users["agent"].email in page
    token = client.get("/admin/users").get_data(as_text=True).split('"X-CSRF-Token": "')[1].split('"')[0]
    response = client.post(f"/admin/users/{target.id}/deactivate", data={"csrf_token": token})
    assert response.status_code == 404
    with tenant_scope(world.a.id):
        assert Session.get(User, target.id, populate_existing=True).active is True
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert world.a.users["admin"].email not in audit


def test_unknown_ids_are_404(client, world):
    login(client, world.a.users["admin"].email, world.password)
    assert client.get("/admin/users/999999").status_code == 404
    assert client.get("/admin/users/abc").status_code == 404


def test_migrations_have_a_single_head():
    from alembic.script import ScriptDirectory

    from app.migrate import alembic_config

    heads = ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_heads()
    assert len(heads) == 1, f"merge the migration heads: {heads}"


def test_platform_rows_made_unscoped_inside_a_tenant_scope_stay_platform_rows(db, world):
    from app.auth.models import Role
    from app.auth.services import create_user
    from tenants.scoping import unscoped

    with tenant_scope(world.a.id):
        with unscoped():
            admin = create_user(email="second-root@carillon-plateforme.fr", display_name="Root 2",
                                password=world.password, role=Role.ADMIN, level=10)
        assert admin.tenant_id is None and admin.is_platform_admin
        group = UserGroup(code="STAMPED", name="Stamped")
        Session.add(group)
        Session.flush()
        assert group.tenant_id == world.a.id  # tenant rows still get the tenant
        Session.rollback()
