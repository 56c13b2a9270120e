"""Process-wide handles: the database engines and session, Redis, Babel, CSRF."""

from __future__ import annotations

import redis as redis_lib
import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import Babel
from flask_wtf import CSRFProtect

from tenants import scoping

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


def init_db(owner_url: str, role: str, password: str, **engine_kw: object) -> sa.Engine:
    dispose_db()
    engine = sa.create_engine(
        app_role_url(owner_url, role, password),
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        **engine_kw,
    )
    Session.configure(bind=engine)
    _state["engine"] = engine
    return engine


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
