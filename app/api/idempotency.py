"""``Idempotency-Key``: a retried POST gets the stored answer of the first attempt
instead of creating its leads twice.

The record is inserted before the work, inside the request's transaction: a
concurrent retry with the same key blocks on the unique index until the first
request ends, then either replays its committed answer or, if the first one failed
(and rolled back), does the work itself. Only successful answers are kept, since a
failed request wrote nothing and may be retried as is."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from flask import request
from sqlalchemy.exc import IntegrityError

from app.api import messages
from app.api.http import ApiError
from app.api.keys import ApiCaller
from app.api.models import IdempotencyRecord
from app.extensions import Session

HEADER = "Idempotency-Key"


@dataclass
class Replay:
    status: int
    body: dict | list


def _request_hash() -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0" + request.path.encode() + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def begin(api_key: ApiCaller) -> tuple[IdempotencyRecord | None, Replay | None]:
    """Claim the request's key: (record to complete, None), or (None, stored answer),
    or (None, None) when the request has no key."""
    key = request.headers.get(HEADER)
    if key is None:
        return None, None
    key = key.strip()
    if not key or len(key) > 255:
        raise ApiError(400, messages.IDEMPOTENCY_KEY_TOO_LONG)
    fingerprint = _request_hash()
    record = IdempotencyRecord(api_key_id=api_key.id, key=key, request_hash=fingerprint)
    try:
        with Session.begin_nested():
            Session.add(record)
    except IntegrityError:
        existing = Session.scalar(sa.select(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == api_key.id, IdempotencyRecord.key == key))
        if existing is None or existing.status_code is None:
            # the first attempt rolled back between our insert and this read: retry
            return begin(api_key)
        if existing.request_hash != fingerprint:
            raise ApiError(422, messages.IDEMPOTENCY_MISMATCH) from None
        return None, Replay(existing.status_code, existing.body or {})
    return record, None


def complete(record: IdempotencyRecord | None, status: int, body: dict) -> None:
    if record is not None:
        record.status_code = status
        record.body = body
        Session.flush()
