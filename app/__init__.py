"""Carillon: the Flask application factory."""

from __future__ import annotations

import pathlib

from flask import Flask, g, session
from flask_babel import get_locale

from app.config import Config


def create_app(config: Config | None = None) -> Flask:
    # imported here so that `import app.db` (models, migrations) pulls in no engine
    from app import extensions
    from app.core.logging import configure_logging
    from app.runtime import boot

    config = config or Config.from_env()
    boot(config)
    configure_logging(config.LOG_LEVEL, config.LOG_JSON)

    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.update(config.flask_settings())
    app.config["CARILLON"] = config
    trust_proxies(app, config.PROXY_HOPS)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(pathlib.Path(__file__).resolve().parent.parent / "translations")

    extensions.csrf.init_app(app)
    extensions.babel.init_app(app, locale_selector=select_locale)

    from app.core import edge

    edge.install(app)
    register_blueprints(app)
    return app


def trust_proxies(app: Flask, hops: int) -> None:
    """Behind ``hops`` reverse proxies, the client's address, scheme and host are the
    ones they forward; with none, forwarded headers are a client's claim and ignored."""
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def select_locale() -> str:
    chosen = session.get("locale")
    if chosen in ("fr", "en"):
        return chosen
    user = g.get("user")
    if user is not None and user.locale in ("fr", "en"):
        return user.locale
    return "fr"


def register_blueprints(app: Flask) -> None:
    from app.audit.views import bp as audit_bp
    from app.auth.views import bp as auth_bp
    from app.campaigns.views import bp as campaigns_bp
    from app.core.views import bp as core_bp
    from app.core.views import i18n as i18n_bp
    from app.leads.views import bp as leads_bp
    from app.users.views import bp as users_bp
    from tenants.views import bp as tenants_bp

    for bp in (core_bp, i18n_bp, auth_bp, users_bp, audit_bp, tenants_bp, campaigns_bp, leads_bp):
        app.register_blueprint(bp)
    from app.api import register as register_api

    register_api(app)
    from app.supervision.views import bp as supervision_bp

    app.register_blueprint(supervision_bp)
    from app.reports.views import bp as reports_bp

    app.register_blueprint(reports_bp)
    from app.agent.views import bp as agent_bp
    from app.messaging.views import bp as messaging_bp

    app.register_blueprint(agent_bp)
    app.register_blueprint(messaging_bp)
    from app.recordings.views import bp as recordings_bp

    app.register_blueprint(recordings_bp)
    from app.telephony_http.views import bp as freeswitch_http_bp

    app.register_blueprint(freeswitch_http_bp)
    from app.telephony_http.platform import bp as telephony_platform_bp

    app.register_blueprint(telephony_platform_bp)
    from app.inbound.views import bp as inbound_bp

    app.register_blueprint(inbound_bp)


__all__ = ["create_app", "get_locale"]
