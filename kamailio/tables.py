"""Kamailio's own tables, in the PostgreSQL schema ``kamailio``.

The column definitions are those Kamailio 5.6 ships (Debian package ``kamailio``,
``/usr/share/kamailio/postgres/{standard,lcr,dispatcher,auth_db,htable}-create.sql``); the
modules check ``version.table_version`` at start-up, so the versions below must match
the installed Kamailio. They are SQLAlchemy Core tables on their own ``MetaData`` (not
the application's ``Base``): Kamailio owns their shape, the application only fills
them (``telephony.routing.services.sync_kamailio_tables``).

The one DDL source for both the Alembic migration and the integration tests is
``create_statements()`` / ``drop_statements()``.

Kamailio connects as its own role whose ``search_path`` is ``kamailio``
(``ALTER ROLE kamailio SET search_path = kamailio``), because the 5.6 modules cannot
be told a schema: they query unqualified table names.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateSchema, CreateTable, DropSchema, ExecutableDDLElement

SCHEMA = "kamailio"

metadata = sa.MetaData(schema=SCHEMA)

version = sa.Table(
    "version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("table_name", sa.String(32), nullable=False),
    sa.Column("table_version", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.UniqueConstraint("table_name", name="version_table_name_idx"),
)

lcr_gw = sa.Table(
    "lcr_gw",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("lcr_id", sa.SmallInteger, nullable=False),
    sa.Column("gw_name", sa.String(128)),
    sa.Column("ip_addr", sa.String(50)),
    sa.Column("hostname", sa.String(64)),
    sa.Column("port", sa.SmallInteger),
    sa.Column("params", sa.String(64)),
    sa.Column("uri_scheme", sa.SmallInteger),
    sa.Column("transport", sa.SmallInteger),
    sa.Column("strip", sa.SmallInteger),
    sa.Column("prefix", sa.String(16), server_default=sa.text("NULL")),
    sa.Column("tag", sa.String(64), server_default=sa.text("NULL")),
    sa.Column("flags", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("defunct", sa.Integer, server_default=sa.text("NULL")),
    sa.Index("lcr_gw_lcr_id_idx", "lcr_id"),
)

lcr_rule_target = sa.Table(
    "lcr_rule_target",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("lcr_id", sa.SmallInteger, nullable=False),
    sa.Column("rule_id", sa.Integer, nullable=False),
    sa.Column("gw_id", sa.Integer, nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("weight", sa.Integer, nullable=False, server_default=sa.text("1")),
    sa.UniqueConstraint("rule_id", "gw_id", name="lcr_rule_target_rule_id_gw_id_idx"),
    sa.Index("lcr_rule_target_lcr_id_idx", "lcr_id"),
)

lcr_rule = sa.Table(
    "lcr_rule",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("lcr_id", sa.SmallInteger, nullable=False),
    sa.Column("prefix", sa.String(16), server_default=sa.text("NULL")),
    sa.Column("from_uri", sa.String(64), server_default=sa.text("NULL")),
    sa.Column("request_uri", sa.String(64), server_default=sa.text("NULL")),
    sa.Column("mt_tvalue", sa.String(128), server_default=sa.text("NULL")),
    sa.Column("stopper", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("enabled", sa.Integer, nullable=False, server_default=sa.text("1")),
    sa.UniqueConstraint("lcr_id", "prefix", "from_uri", name="lcr_rule_lcr_id_prefix_from_uri_idx"),
)

dispatcher = sa.Table(
    "dispatcher",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("setid", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("destination", sa.String(192), nullable=False, server_default=sa.text("''")),
    sa.Column("flags", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("priority", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("attrs", sa.String(128), nullable=False, server_default=sa.text("''")),
    sa.Column("description", sa.String(64), nullable=False, server_default=sa.text("''")),
)

# Agents' SIP credentials, written by the application (HA1 digests only: the
# ``password`` column stays empty because kamailio.cfg sets auth_db calculate_ha1=0).
subscriber = sa.Table(
    "subscriber",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, server_default=sa.text("''")),
    sa.Column("domain", sa.String(64), nullable=False, server_default=sa.text("''")),
    sa.Column("password", sa.String(64), nullable=False, server_default=sa.text("''")),
    sa.Column("ha1", sa.String(128), nullable=False, server_default=sa.text("''")),
    sa.Column("ha1b", sa.String(128), nullable=False, server_default=sa.text("''")),
    sa.UniqueConstraint("username", "domain", name="subscriber_account_idx"),
    sa.Index("subscriber_username_idx", "username"),
)

# Key/value rows loaded into a Kamailio hash table (htable module); here the trunks'
# digest credentials ("<trunk id>:username" / "<trunk id>:password"), for uac_auth().
htable = sa.Table(
    "htable",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key_name", sa.String(64), nullable=False, server_default=sa.text("''")),
    sa.Column("key_type", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("value_type", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("key_value", sa.String(128), nullable=False, server_default=sa.text("''")),
    sa.Column("expires", sa.Integer, nullable=False, server_default=sa.text("0")),
)

# The ``version`` rows Kamailio 5.6 checks for each table it reads.
TABLE_VERSIONS: dict[str, int] = {
    "version": 1,
    "lcr_gw": 3,
    "lcr_rule_target": 1,
    "lcr_rule": 3,
    "dispatcher": 4,
    "subscriber": 7,
    "htable": 2,
}


def create_statements() -> list[ExecutableDDLElement | sa.Insert]:
    """Everything that creates the schema, its tables, indexes and version rows."""
    statements: list[ExecutableDDLElement | sa.Insert] = [CreateSchema(SCHEMA, if_not_exists=True)]
    for table in metadata.sorted_tables:
        statements.append(CreateTable(table))
        statements.extend(CreateIndex(index) for index in sorted(table.indexes, key=lambda i: str(i.name)))
    statements.append(
        version.insert().values(
            [{"table_name": name, "table_version": number} for name, number in TABLE_VERSIONS.items()]
        )
    )
    return statements


def access_statements(app_role: str, kamailio_role: str, kamailio_password: str = "") -> list[sa.TextClause]:
    """Grants for the two roles that use the schema.

    The application's role (created by the foundation migration) rewrites the tables;
    it is granted only if it exists, so a bare test database works too. Kamailio's own
    login role only reads them, and finds them by its search_path in this database."""
    for role in (app_role, kamailio_role):
        if not role.replace("_", "").isalnum():
            raise ValueError(f"invalid role name {role!r}")
    password = "'" + kamailio_password.replace("'", "''") + "'"
    statements = [
        f"""DO $$ BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{app_role}') THEN
                GRANT USAGE ON SCHEMA {SCHEMA} TO {app_role};
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {SCHEMA} TO {app_role};
                GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {app_role};
            END IF;
        END $$""",
        f"DO $$ BEGIN CREATE ROLE {kamailio_role} LOGIN NOSUPERUSER; "
        f"EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        f"ALTER ROLE {kamailio_role} PASSWORD {password}" if kamailio_password else "SELECT 1",
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {kamailio_role}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {kamailio_role}",
        f"DO $$ BEGIN EXECUTE format('ALTER ROLE {kamailio_role} IN DATABASE %I SET search_path = {SCHEMA}', "
        f"current_database()); END $$",
    ]
    return [sa.text(statement) for statement in statements]


def drop_statements() -> list[ExecutableDDLElement]:
    return [DropSchema(SCHEMA, cascade=True, if_exists=True)]


def create_sql() -> str:
    """The PostgreSQL text of ``create_statements()``, for review and for ``psql``."""
    dialect = postgresql.dialect()
    parts = []
    for statement in create_statements():
        compiled = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        parts.append(f"{str(compiled).strip()};")
    return "\n\n".join(parts) + "\n"
