"""A small JSON-RPC client for Kamailio's jsonrpcs module over HTTP (xhttp).

kamailio.cfg serves it on the private RPC listener at ``/RPC``; the application uses it
to make Kamailio reload the tables it writes.
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from typing import Any

DEFAULT_TIMEOUT_S = 5.0

_ids = itertools.count(1)


class KamailioRpcError(RuntimeError):
    pass


def call(url: str, method: str, *params: Any, timeout: float = DEFAULT_TIMEOUT_S) -> Any:
    """Run one RPC command and return its ``result`` (None for commands without one)."""
    body = {"jsonrpc": "2.0", "method": method, "id": next(_ids)}
    if params:
        body["params"] = list(params)
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise KamailioRpcError(f"{method} at {url}: {exc}") from exc
    try:
        answer = json.loads(payload) if payload.strip() else {}
    except ValueError as exc:
        raise KamailioRpcError(f"{method} at {url}: not JSON: {payload[:200]!r}") from exc
    if "error" in answer:
        raise KamailioRpcError(f"{method} at {url}: {answer['error']}")
    return answer.get("result")
