"""Supervision jobs: the agent state recorder (for the pause report)."""

from __future__ import annotations

import dramatiq
from periodiq import cron

import app.models  # noqa: F401  (a worker loads no view: every mapper must be known)
import jobs.broker  # noqa: F401  (binds actors to the configured broker)
from app.supervision import recorder

LISTEN_S = 55


@dramatiq.actor(queue_name="recorder", max_retries=0, periodic=cron("* * * * *"), time_limit=(LISTEN_S + 20) * 1000)
def record_agent_states() -> None:
    """Listens to the live bus for most of a minute; the next run takes over."""
    recorder.listen(LISTEN_S)
