"""The Dramatiq broker, its middleware, and the job edge.

Imported before any actor is declared. The broker URL comes from ``REDIS_URL``; the
client connects lazily, so importing this module opens no connection."""

from __future__ import annotations

import contextvars
import logging
import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Middleware
from periodiq import PeriodiqMiddleware

from app.extensions import Session
from tenants.scoping import current_tenant_id, reset_tenant, set_tenant

log = logging.getLogger(__name__)
_token: contextvars.ContextVar[contextvars.Token | None] = contextvars.ContextVar("job_tenant", default=None)


class TenantMiddleware(Middleware):
    """Carries the tenant of the code that enqueued a job into the job, and makes
    each job one transaction: committed when the actor returns, rolled back on error."""

    @property
    def actor_options(self) -> set[str]:
        return {"tenant_id"}

    def before_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int) -> None:
        if "tenant_id" not in message.options:
            message.options["tenant_id"] = current_tenant_id()

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        _token.set(set_tenant(message.options.get("tenant_id")))

    def after_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.Message, *, result=None, exception=None
    ) -> None:
        try:
            if exception is None:
                Session.commit()
            else:
                Session.rollback()
        finally:
            Session.remove()
            token = _token.get()
            if token is not None:
                reset_tenant(token)

    after_skip_message = after_process_message


class AppBootMiddleware(Middleware):
    """Worker processes read the same environment as the web and open their own
    database and Redis handles at boot."""

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # before, not after: Dramatiq starts the worker threads between the two, and a
        # thread must never take a message in a process that has no database yet
        from app.runtime import current_config

        current_config()  # boots once; a worker started inside a booted process reuses it


def make_broker(url: str | None = None) -> RedisBroker:
    broker = RedisBroker(url=url or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), namespace="carillon")
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(TenantMiddleware())
    broker.add_middleware(AppBootMiddleware())
    broker.add_middleware(PeriodiqMiddleware(skip_delay=30))
    return broker


broker = make_broker()
dramatiq.set_broker(broker)
