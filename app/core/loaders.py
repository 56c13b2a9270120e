"""Load an object of the current tenant or answer 404: the one helper views use."""

from __future__ import annotations

from typing import TypeVar

from flask import abort

from app.extensions import Session

T = TypeVar("T")


def get_or_404(model: type[T], object_id: object) -> T:
    try:
        key = int(object_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        abort(404)
    # Session.get goes through the tenant criteria, so another tenant's row is simply
    # not found here.
    obj = Session.get(model, key, populate_existing=True)
    if obj is None:
        abort(404)
    return obj
