"""Test session: real PostgreSQL and Redis.

Uses DATABASE_URL / REDIS_URL when set (this machine runs both), otherwise starts the
embedded servers. Each session creates its own throwaway database, migrates it with
Alembic as the owner, and the app connects as the non-owner role, as in production.
Tables are emptied after each test that touched the database."""

from __future__ import annotations

import os
import pathlib
import tempfile
import uuid

import pytest
import sqlalchemy as sa

ROOT = pathlib.Path(__file__).resolve().parent.parent
_TMP = pathlib.Path(tempfile.mkdtemp(prefix="carillon-tests-"))


def _bootstrap_environment() -> tuple[str, object | None]:
    from app.embedded import EmbeddedServices

    services = None
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        services = EmbeddedServices(ROOT / "var" / "test-services")
        if not os.environ.get("DATABASE_URL"):
            os.environ["DATABASE_URL"] = services.start_postgres()
        if not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"] = services.start_redis()
    server_url = os.environ["DATABASE_URL"]
    os.environ.setdefault("SECRET_KEY", "test-" + uuid.uuid4().hex)
    os.environ["REDIS_URL"] = _session_redis_db(os.environ["REDIS_URL"])
    return server_url, services


def _session_redis_db(url: str) -> str:
    """A Redis database of this test session's own (1-15), emptied first: live state, rate
    limits and job queues of two test runs on one server never mix."""
    import urllib.parse

    import redis

    parts = urllib.parse.urlsplit(url)
    db = _claim_redis_db()
    if parts.scheme == "unix":
        query = dict(urllib.parse.parse_qsl(parts.query))
        query["db"] = str(db)
        # urlunsplit would drop the "//" of an empty host ("unix:/path"), which redis refuses
        url = f"unix://{parts.path}?{urllib.parse.urlencode(query)}"
    else:
        url = urllib.parse.urlunsplit(parts._replace(path=f"/{db}"))
    redis.Redis.from_url(url).flushdb()
    return url


_REDIS_DB_LOCK = None


def _claim_redis_db() -> int:
    """The first of Redis's databases 1-15 no other test session on this machine holds: a
    lock file per database, held (flock) until this process exits, so concurrent sessions
    never share one (a process-id modulo could collide)."""
    import atexit
    import fcntl

    global _REDIS_DB_LOCK
    for db in range(1, 16):
        handle = open(pathlib.Path(tempfile.gettempdir()) / f"carillon-test-redis-{db}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _REDIS_DB_LOCK = handle
        atexit.register(handle.close)
        return db
    raise RuntimeError("15 test sessions already hold Redis databases 1-15 on this machine")


SERVER_URL, _SERVICES = _bootstrap_environment()
TEST_DB = f"carillon_test_{os.getpid()}"


def _admin_engine(database: str | None = None) -> sa.Engine:
    from app.extensions import sqlalchemy_url

    url = sqlalchemy_url(SERVER_URL)
    if database:
        url = url.set(database=database)
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _create_test_database() -> str:
    from app.extensions import sqlalchemy_url

    with _admin_engine().connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{TEST_DB}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{TEST_DB}"'))
    return sqlalchemy_url(SERVER_URL).set(database=TEST_DB).render_as_string(hide_password=False)


os.environ["DATABASE_URL"] = _create_test_database()
os.environ.update({"SESSION_COOKIE_SECURE": "false", "MAIL_BACKEND": "file",
                   "MAIL_FILE_DIR": str(_TMP / "mail"), "LOG_JSON": "false", "LOG_LEVEL": "WARNING"})

from app.migrate import upgrade  # noqa: E402

upgrade(os.environ["DATABASE_URL"])


def pytest_sessionfinish(session, exitstatus):
    from app.extensions import dispose_db

    dispose_db()
    with _admin_engine().connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)'))
    if _SERVICES is not None:
        _SERVICES.stop()


@pytest.fixture(scope="session")
def owner_engine() -> sa.Engine:
    """The owner's connection (bypasses row-level security): for setup and checks only."""
    return _admin_engine(TEST_DB)


@pytest.fixture(scope="session")
def app():
    from app import create_app
    from app.config import Config

    application = create_app(Config.from_env())
    application.config.update(TESTING=True)
    return application


@pytest.fixture()
def client(app):
    """A browser session in English: assertions read the msgids, whatever the French
    catalogue says (the French default is tested on its own client)."""
    test_client = app.test_client()
    with test_client.session_transaction() as session:
        session["locale"] = "en"
    return test_client


def _truncate_all(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        tables = conn.execute(sa.text(
            "SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )).scalar()
        if tables:
            conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    # the rows went behind the API's per-process caches (as another process's change
    # would): renew the stamp they check, or the next test may still see them
    from app.api import cache

    cache.renew()


@pytest.fixture()
def db(app, owner_engine):
    """A clean database for the test, emptied afterwards."""
    from app.extensions import Session

    yield Session
    Session.rollback()
    Session.remove()
    _truncate_all(owner_engine)


@pytest.fixture()
def mail_dir() -> pathlib.Path:
    path = pathlib.Path(os.environ["MAIL_FILE_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.eml"):
        old.unlink()
    return path


PASSWORD = "Correct-horse-42"


@pytest.fixture()
def world(db):
    """Two tenants, always: A and B, each with a user of every role."""
    from tests.factories import make_world

    return make_world(PASSWORD)


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Argon2 with production parameters costs ~50 ms a hash; tests create many users.
    The algorithm and the code path stay the same, only the cost parameters drop."""
    import argon2

    from app.auth import services

    original = services._hasher
    services._hasher = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    services._hasher = original


@pytest.fixture()
def stub_worker():
    """Runs the jobs queued so far on the real Redis broker with a real Dramatiq
    worker, and waits until they are done."""
    import dramatiq

    import jobs  # noqa: F401  (loads the broker and every actor)

    def run() -> None:
        broker = dramatiq.get_broker()
        worker = dramatiq.Worker(broker, worker_timeout=100, worker_threads=1)
        worker.start()
        try:
            for queue in list(broker.get_declared_queues()):
                broker.join(queue, timeout=20_000)
            worker.join()
        finally:
            worker.stop()

    broker = dramatiq.get_broker()  # every actor imported above: every queue declared
    for queue in list(broker.get_declared_queues()):
        broker.flush(queue)
    return run

