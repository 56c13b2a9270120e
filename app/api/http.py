"""What every API blueprint shares: the request preamble (no cookie identity, a 1 MB
body limit), JSON body parsing, and the error answers ``{"success": false, "error":
...}`` of the product guide."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, default_exceptions

from app.api import messages
from app.extensions import Session
from tenants.scoping import set_request_tenant

log = logging.getLogger("carillon.api")

MAX_BODY_BYTES = 1024 * 1024


class ApiError(Exception):
    """An answer other than success; ``errors`` details invalid fields."""

    def __init__(self, status: int, message: str, errors: dict | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}


def error_body(message: str, errors: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "error": message}
    if errors:
        body["errors"] = errors
    return body


def api_preamble() -> None:
    """Runs first on every API request: APIs authenticate with their own credentials
    only, so whatever identity the session cookie carries is dropped here."""
    g.user = None
    g.tenant = None
    set_request_tenant(None)
    request.max_content_length = MAX_BODY_BYTES
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, messages.BODY_TOO_LARGE)


def json_body() -> Any:
    """The parsed JSON body, or a 4xx ApiError saying what is wrong with it."""
    if not request.is_json:
        raise ApiError(415, messages.NOT_JSON)
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError(400, messages.EMPTY_BODY)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, messages.BAD_JSON, {"body": [str(error)]}) from None


def answer(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> ResponseReturnValue:
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _api_error(error: ApiError) -> ResponseReturnValue:
    Session.rollback()
    return answer(error_body(error.message, error.errors), error.status, error.headers)


def _http_error(error: HTTPException) -> ResponseReturnValue:
    Session.rollback()
    status = error.code or 500
    errors = None
    data = getattr(error, "data", None)
    if isinstance(data, dict) and "messages" in data:
        # webargs validation (flask-smorest ``arguments``): field errors by location
        messages_by_location = data["messages"]
        errors = messages_by_location.get("json") or messages_by_location.get("query") or messages_by_location
        message = messages.INVALID_FIELDS
        status = 400 if status == 422 else status
    elif status == 413:
        message = messages.BODY_TOO_LARGE
    elif status == 404:
        message = messages.NOT_FOUND
    elif status == 405:
        message = messages.METHOD_NOT_ALLOWED
    elif status >= 500:
        log.exception("API error %s on %s", status, request.path, exc_info=error)
        message = messages.SERVER_ERROR
    else:
        message = error.description or error.name
    headers = {"Allow": ", ".join(error.valid_methods)} if getattr(error, "valid_methods", None) else None
    return answer(error_body(message, errors), status, headers)


def _unexpected(error: Exception) -> ResponseReturnValue:
    Session.rollback()
    log.exception("unexpected API error on %s", request.path, exc_info=error)
    return answer(error_body(messages.SERVER_ERROR), 500)


def install_api_blueprint(bp: Blueprint, *before: Callable[[], None]) -> None:
    """Error handlers, and the preamble first, then ``before`` (authentication), on
    every request of ``bp``."""
    bp.before_request(api_preamble)
    for hook in before:
        bp.before_request(hook)
    bp.register_error_handler(ApiError, _api_error)
    # Flask prefers a handler registered for the status code, even the app's, over a
    # blueprint's handler for the exception class: register ours for every code.
    for code in default_exceptions:
        bp.register_error_handler(code, _http_error)
    bp.register_error_handler(HTTPException, _http_error)
    bp.register_error_handler(Exception, _unexpected)


def client_ip() -> str | None:
    return request.remote_addr
