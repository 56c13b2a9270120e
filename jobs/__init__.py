"""Dramatiq jobs. ``dramatiq jobs`` (worker) and ``periodiq jobs`` (scheduler) load
this package, which imports the broker first and then every feature's actors."""

import app.models  # noqa: F401  (every mapper known before a job queries)
from jobs import broker  # noqa: F401  (must come first: actors bind to it)
from jobs.registry import import_all_actors

import_all_actors()
