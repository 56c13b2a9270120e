"""Structured logging: one JSON object per line with the request id and tenant."""

from __future__ import annotations

import json
import logging
import sys

from flask import g, has_request_context

from tenants.scoping import current_tenant_id


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id") if has_request_context() else None
        record.tenant_id = current_tenant_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "tenant_id": getattr(record, "tenant_id", None),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, as_json: bool) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_carillon", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._carillon = True  # type: ignore[attr-defined]
    handler.addFilter(ContextFilter())
    handler.setFormatter(
        JsonFormatter() if as_json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s t=%(tenant_id)s] %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level)
