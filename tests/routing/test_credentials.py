"""A trunk's digest password is stored encrypted (app.core.credentials): the row holds
ciphertext, the application and Kamailio's htable get the clear value, a changed key
reads nothing without the former one listed, and the migration encrypts the passwords
stored before it (and its downgrade gives them back)."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from alembic import command

from app.core import credentials
from app.extensions import Session
from app.migrate import alembic_config
from kamailio import tables as kt
from telephony.routing.models import Carrier, Trunk
from telephony.routing.services import write_kamailio_tables
from tests.conftest import _admin_engine

SECRET = "Trunk-pässword-42"
BEFORE = "20261127_0140_manual_list"


@pytest.fixture()
def trunk(db):
    carrier = Carrier(name="Alpha")
    Session.add(carrier)
    Session.flush()
    trunk = Trunk(carrier_id=carrier.id, name="alpha-1", host="192.0.2.10", username="carillon", password=SECRET)
    Session.add(trunk)
    Session.commit()
    return trunk.id


def test_the_row_holds_ciphertext_and_the_application_the_clear_password(trunk, owner_engine):
    with owner_engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT password FROM trunks WHERE id = :id"), {"id": trunk}).scalar()
    assert SECRET not in stored and stored.startswith("gAAAAA")  # a Fernet token
    Session.expire_all()
    assert Session.get(Trunk, trunk).password == SECRET
    write_kamailio_tables(Session())  # Kamailio answers the carrier's challenge with the clear value
    assert SECRET in {row.key_value for row in Session.execute(sa.select(kt.htable))}
    Session.rollback()


def test_a_changed_key_reads_nothing_unless_the_former_one_is_listed(monkeypatch):
    monkeypatch.setenv("CREDENTIALS_KEY", "first key")
    token = credentials.encrypt(SECRET)
    monkeypatch.setenv("CREDENTIALS_KEY", "second key")
    with pytest.raises(credentials.CredentialError, match="CREDENTIALS_OLD_KEYS"):
        credentials.decrypt(token)
    monkeypatch.setenv("CREDENTIALS_OLD_KEYS", "unrelated, first key")
    assert credentials.decrypt(token) == SECRET
    # new values are written with the current key only
    monkeypatch.delenv("CREDENTIALS_OLD_KEYS")
    assert credentials.decrypt(credentials.encrypt("other")) == "other"
    monkeypatch.delenv("CREDENTIALS_KEY")
    monkeypatch.delenv("SECRET_KEY")
    with pytest.raises(credentials.CredentialError, match="SECRET_KEY"):
        credentials.encrypt(SECRET)


def test_the_migration_encrypts_stored_passwords_and_its_downgrade_restores_them():
    name = f"carillon_cred_{os.getpid()}"
    with _admin_engine().connect() as admin:
        admin.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(os.environ["DATABASE_URL"]).set(database=name).render_as_string(hide_password=False)
    engine = _admin_engine(name)
    try:
        command.upgrade(alembic_config(url), BEFORE)
        with engine.connect() as connection:
            carrier = connection.execute(sa.text("INSERT INTO carriers (name) VALUES ('Alpha') RETURNING id")).scalar()
            connection.execute(sa.text("INSERT INTO trunks (carrier_id, name, host, username, password) "
                                       "VALUES (:c, 'a', '192.0.2.1', 'u', :p), (:c, 'b', '192.0.2.2', NULL, NULL)"),
                               {"c": carrier, "p": SECRET})
        command.upgrade(alembic_config(url), "heads")
        with engine.connect() as connection:
            stored = dict(connection.execute(sa.text("SELECT name, password FROM trunks")).all())
        assert stored["b"] is None and stored["a"] != SECRET and credentials.decrypt(stored["a"]) == SECRET
        command.downgrade(alembic_config(url), BEFORE)
        with engine.connect() as connection:
            assert dict(connection.execute(sa.text("SELECT name, password FROM trunks")).all()) == {
                "a": SECRET, "b": None}
    finally:
        engine.dispose()
        with _admin_engine().connect() as admin:
            admin.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

