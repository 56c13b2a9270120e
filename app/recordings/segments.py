"""Recording parts on the dialer's side: which part of each live recorded call is
being written and since when, the calls whose part reached the maximum length, and
what happens when the media server has cut a part (transfers, maximum length).

``PartClock`` is plain bookkeeping (no I/O, no database): the FreeSWITCH campaign
backend owns one and asks it, at each step, which calls are due for a split."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable

log = logging.getLogger("carillon.recordings")

LIMIT_REFRESH_S = 60.0  # the tenant's setting is re-read this often


class PartClock:
    """``load_limit`` returns the maximum part length in seconds (``None``: no limit);
    it is called at most once per ``LIMIT_REFRESH_S`` (it reads the database)."""

    def __init__(self, load_limit: Callable[[], float | None]) -> None:
        self._load_limit = load_limit
        self._limit: float | None = None
        self._limit_read_at: dt.datetime | None = None
        self._live: dict[str, dt.datetime] = {}  # live calls: when their current part began
        self._numbers: dict[str, int] = {}  # calls split at least once: their current part

    def started(self, call_id: str, at: dt.datetime) -> None:
        """The call was answered: its first part starts recording."""
        self._live.setdefault(call_id, at)

    def part(self, call_id: str) -> int:
        """The number of the part being written (1 for a call never split)."""
        return self._numbers.get(call_id, 1)

    def split(self, call_id: str, at: dt.datetime) -> int:
        """A new part starts at ``at``; returns its number."""
        number = self._numbers[call_id] = self.part(call_id) + 1
        self._live[call_id] = at
        return number

    def ended(self, call_id: str) -> None:
        """No more splits for this call (hung up); its part number is kept for ``take``."""
        self._live.pop(call_id, None)

    def take(self, call_id: str) -> int:
        """The call's last part number, forgotten (asked once the call is finished)."""
        self._live.pop(call_id, None)
        return self._numbers.pop(call_id, 1)

    def limit(self, now: dt.datetime) -> float | None:
        if self._limit_read_at is None or (now - self._limit_read_at).total_seconds() >= LIMIT_REFRESH_S:
            self._limit_read_at = now
            self._limit = self._load_limit()
        return self._limit

    def due(self, now: dt.datetime) -> list[str]:
        """The live calls whose current part has reached the maximum length."""
        if not self._live:
            return []
        limit = self.limit(now)
        if not limit:
            return []
        return [call_id for call_id, began in self._live.items() if (now - began).total_seconds() >= limit]


def tenant_limit() -> float | None:
    """The current tenant's maximum part length (the caller holds the tenant scope)."""
    from app.recordings import services
    from app.runtime import current_config

    return services.max_part_seconds(current_config().RECORDINGS_RETENTION_DAYS)


def part_closed(tenant_id: int, call_id: str, source_path: str, at: dt.datetime) -> int | None:
    """The media server closed a part's WAV at ``at`` and records on in a new file:
    register the part and queue its conversion (the job waits for the commit).
    Returns the closed part's recording id."""
    from app.recordings import services, tasks

    closed = services.close_part(uuid.UUID(call_id), source_path, at)
    if closed is None:
        return None
    tasks.convert_recording.send_with_options(args=(closed.id,), tenant_id=tenant_id)
    log.info("call %s: recording part %d closed (%s)", call_id, closed.part, source_path)
    return closed.id
