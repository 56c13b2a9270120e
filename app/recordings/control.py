"""Recording orders (payment pause/resume, split) from the web to the dialer service that holds the
call's ESL session: a Redis list per campaign, drained at each step of that
campaign's runner (``telephony.dialer.runner``)."""

from __future__ import annotations

import json

from app.extensions import redis

PAUSE = "pause"
RESUME = "resume"
SPLIT = "split"  # close the current part and record on in a new file (transfers, maximum length)


def queue_key(campaign_id: int | None) -> str:
    return f"carillon:recording-control:{campaign_id or 0}"


def send(campaign_id: int | None, call_id: str, action: str) -> None:
    redis().rpush(queue_key(campaign_id), json.dumps({"call_id": call_id, "action": action}))


def pop(campaign_id: int, limit: int = 100) -> list[tuple[str, str]]:
    key = queue_key(campaign_id)
    pipe = redis().pipeline()
    pipe.lrange(key, 0, limit - 1)
    pipe.ltrim(key, limit, -1)
    raw, _ = pipe.execute()
    orders = [json.loads(item) for item in raw]
    return [(order["call_id"], order["action"]) for order in orders]
