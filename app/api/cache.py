"""Per-process caches of the API hot path (API keys, webhook subscriptions), kept in
step across processes by one generation stamp in Redis.

Every change that must reach the other processes quickly (a key revoked, a webhook
endpoint added, paused or deleted) gives the stamp a new random value, right away
and again once its transaction has committed. A cached entry is used only while the
stamp still has the value it had when the entry was read from the database, and
never longer than ``MAX_AGE_S`` (changes made elsewhere without a new stamp, such as
a tenant's suspension, arrive within that delay).

Each process reads the stamp from Redis at most once per ``STAMP_REFRESH_S`` (and at
once after it changed the stamp itself): an API request usually costs no Redis round
trip at all, and a key revoked in one process is refused by every other process
within ``STAMP_REFRESH_S``, by the revoking process immediately.

A missing stamp (Redis restarted or flushed) is replaced by a fresh random value, so
entries read before can never match again."""

from __future__ import annotations

import secrets
import time
from collections.abc import Hashable
from typing import Generic, TypeVar

import sqlalchemy as sa
import sqlalchemy.orm as so

GENERATION_KEY = "carillon:apikey:cache-generation"
MAX_AGE_S = 60.0
STAMP_REFRESH_S = 1.0
MAX_ENTRIES = 10_000
_BUMP_AFTER_COMMIT = "carillon_apicache_bump"

V = TypeVar("V")


# (stamp, time.monotonic() when read); reads and writes are single assignments,
# safe across threads and greenlets
_stamp: tuple[str, float] | None = None


def generation() -> str:
    """The current stamp, as read from Redis at most STAMP_REFRESH_S ago."""
    global _stamp
    seen = _stamp
    if seen is not None and time.monotonic() - seen[1] < STAMP_REFRESH_S:
        return seen[0]
    from app.extensions import redis

    read_at = time.monotonic()
    client = redis()
    value = client.get(GENERATION_KEY)
    if value is None:
        client.set(GENERATION_KEY, secrets.token_hex(8), nx=True)
        value = client.get(GENERATION_KEY) or ""
    _stamp = (value, read_at)
    return value


def renew() -> None:
    """A new stamp now: every process's cached entries stop matching (this process at
    once, the others within STAMP_REFRESH_S). For changes made behind the caches."""
    global _stamp
    from app.extensions import redis

    redis().set(GENERATION_KEY, secrets.token_hex(8))
    _stamp = None


def invalidate(session: so.Session | None = None) -> None:
    """Make every process drop its cached entries: now, and again after ``session``
    commits (a process may read the old rows and cache them in between)."""
    from app.extensions import Session

    renew()
    (session or Session()).info[_BUMP_AFTER_COMMIT] = True


@sa.event.listens_for(so.Session, "after_commit")
def _bump_committed(session: so.Session) -> None:
    if session.info.pop(_BUMP_AFTER_COMMIT, None):
        renew()


class LocalCache(Generic[V]):
    """A dict of this process whose entries hold while the generation is unchanged
    and for at most ``max_age_s``."""

    def __init__(self, max_age_s: float = MAX_AGE_S) -> None:
        self.max_age_s = max_age_s
        self._entries: dict[Hashable, tuple[V, str, float]] = {}

    def get(self, key: Hashable) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, stamp, read_at = entry
        if stamp != generation() or time.monotonic() - read_at > self.max_age_s:
            self._entries.pop(key, None)
            return None
        return value

    def put(self, key: Hashable, value: V, stamp: str) -> None:
        """Store ``value`` read from the database after ``stamp`` was read."""
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (value, stamp, time.monotonic())

    def discard(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
