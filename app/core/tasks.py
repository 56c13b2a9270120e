import dramatiq
from periodiq import cron

import jobs.broker  # noqa: F401  (binds actors to the configured broker)
from app.core.mail import Mail, mailer_from_config
from app.runtime import current_config


@dramatiq.actor(queue_name="mail", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_email(to: str, subject: str, text: str, html: str | None = None) -> None:
    """Deliver one email; SMTP errors raise and Dramatiq retries with backoff."""
    mailer_from_config(current_config()).send(Mail(to=to, subject=subject, text=text, html=html))


HEARTBEAT_KEY = "carillon:scheduler:heartbeat"


@dramatiq.actor(queue_name="default", periodic=cron("* * * * *"), max_retries=0)
def scheduler_heartbeat() -> None:
    """Proves every minute that the scheduler and a worker are alive; /healthz shows
    the age of the last beat."""
    import time

    from app.extensions import redis

    redis().set(HEARTBEAT_KEY, f"{time.time():.0f}", ex=3600)
