"""Process-wide handles: the database engines and session, Redis, Babel, CSRF."""

from __future__ import annotations

import select

import psycopg
import redis as redis_lib
import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import Babel
from flask_wtf import CSRFProtect

from tenants import scoping

try:  # the real poll() under gevent too: a zero-timeout poll needs no hub
    from gevent.monkey import get_original

    _poll = get_original("select", "poll")
except ImportError:  # pragma: no cover - gevent is a dependency
    from select import poll as _poll

babel = Babel()
csrf = CSRFProtect()

# The one session of the application. The request (or job) edge commits once;
# service functions only flush.
Session = so.scoped_session(so.sessionmaker(expire_on_commit=False, autoflush=True))
scoping.install(Session)

_state: dict[str, object] = {}


def sqlalchemy_url(url: str) -> sa.URL:
    parsed = sa.make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def app_role_url(owner_url: str, role: str, password: str) -> sa.URL:
    """The application's connection: same server and database as the owner's
    DATABASE_URL, as the non-owner role that row-level security applies to."""
    return sqlalchemy_url(owner_url).set(username=role, password=password or None)


# A pooled connection older than this is replaced at checkout: the backstop for a
# connection that died without telling (a firewall dropping idle flows).
POOL_RECYCLE_S = 1800


def init_db(owner_url: str, role: str, password: str, **engine_kw: object) -> sa.Engine:
    dispose_db()
    engine = sa.create_engine(
        app_role_url(owner_url, role, password),
        pool_size=10,
        max_overflow=20,
        pool_recycle=POOL_RECYCLE_S,
        **engine_kw,
    )
    # No pool_pre_ping (a round trip on every checkout): a dead connection is seen
    # without asking the server, and a disconnect met in a statement invalidates the
    # whole pool (SQLAlchemy's default), so the next requests reconnect.
    sa.event.listen(engine, "checkout", _refuse_dead_connection)
    Session.configure(bind=engine)
    _state["engine"] = engine
    return engine


def _refuse_dead_connection(dbapi_connection, _record, _proxy) -> None:
    """Checkout check without a round trip: an idle connection has nothing to read,
    so a readable socket means the server said goodbye (restart, terminated backend,
    idle timeout) and the pool takes another connection."""
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:  # not psycopg: nothing cheap to look at
        return
    try:
        readable = False
        if not dbapi_connection.closed:
            poller = _poll()
            poller.register(pgconn.socket, select.POLLIN)
            readable = bool(poller.poll(0))
    except psycopg.OperationalError:  # libpq knows the connection is lost
        readable = True
    if dbapi_connection.closed or readable:
        raise sa.exc.DisconnectionError("the server closed this pooled connection")


def _ensure_booted() -> None:
    # Worker threads may run before the boot middleware; the environment is the same.
    if "engine" not in _state or "redis" not in _state:
        from app.runtime import current_config

        current_config()


def engine() -> sa.Engine:
    _ensure_booted()
    return _state["engine"]  # type: ignore[return-value]


def dispose_db(close: bool = True) -> None:
    """Drop the engine. In a forked child pass ``close=False``: the pooled connections
    belong to the parent, and closing them would cut the parent's sessions."""
    if close:
        Session.remove()
    else:
        Session.registry.clear()
    old = _state.pop("engine", None)
    if old is not None:
        old.dispose(close=close)  # type: ignore[attr-defined]


def init_redis(url: str) -> redis_lib.Redis:
    client = redis_lib.Redis.from_url(url, decode_responses=True, health_check_interval=30)
    _state["redis"] = client
    return client


def redis() -> redis_lib.Redis:
    _ensure_booted()
    return _state["redis"]  # type: ignore[return-value]
