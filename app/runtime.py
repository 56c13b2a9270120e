"""Process boot: one Config per process, and the database/Redis handles built from it.
Used by the web app factory, the Dramatiq worker and the CLI alike."""

from __future__ import annotations

import threading

from app import extensions
from app.config import Config

_current: dict[str, Config] = {}
_lock = threading.Lock()


def boot(config: Config) -> Config:
    import app.models  # noqa: F401  (every mapper known before the first query)

    extensions.init_db(config.DATABASE_URL, config.APP_DB_ROLE, config.APP_DB_PASSWORD)
    extensions.init_redis(config.REDIS_URL)
    # published last: another thread that sees a config also finds the handles ready
    _current["config"] = config
    return config


def boot_from_env() -> Config:
    return boot(Config.from_env())


def current_config() -> Config:
    if "config" not in _current:
        with _lock:
            if "config" not in _current:
                return boot_from_env()
    return _current["config"]
