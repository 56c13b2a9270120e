"""Public APIs (T5, I1-I3): lead import, click-to-call, REST v1, OpenAPI document,
outgoing webhooks, and their administration pages."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

SPEC = {
    "API_TITLE": "Carillon API",
    "API_VERSION": "1",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
}


class ProductApi(Api):
    """flask-smorest's Api without its app-wide error handler: the HTML pages keep
    theirs, and each API blueprint answers errors in the guide's shape itself."""

    def _register_error_handlers(self) -> None:
        """Errors are handled per blueprint (``app.api.http.install_api_blueprint``)."""


def register(app: Flask) -> ProductApi:
    from app import extensions
    from app.api import admin, external, public, v1
    from app.api import webhooks as _webhooks  # noqa: F401  (connects the signal receivers)

    for name, value in SPEC.items():
        app.config.setdefault(name, value)
    api = ProductApi(app, spec_kwargs={"servers": [{"url": "/"}]})
    api.spec.components.security_scheme("ApiKey", {"type": "apiKey", "in": "header", "name": "X-API-Key"})
    api.spec.components.security_scheme("Bearer", {"type": "http", "scheme": "bearer"})
    for bp in (external.bp, public.bp, v1.bp):
        extensions.csrf.exempt(bp)
        api.register_blueprint(bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(admin.docs)
    app.extensions["carillon_api"] = api
    return api
