"""One typed configuration, read from the environment only (12-factor).

Defaults live here once; secrets have no fallback and are checked at boot.
`.env.example` documents every variable."""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields


class ConfigError(RuntimeError):
    pass


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Config:
    SECRET_KEY: str
    DATABASE_URL: str
    REDIS_URL: str
    # The application connects as this non-owner role so that PostgreSQL row-level
    # security applies; migrations run as the owner in DATABASE_URL.
    APP_DB_ROLE: str = "carillon_app"
    APP_DB_PASSWORD: str = ""
    BASE_URL: str = "http://127.0.0.1:5000"
    SESSION_COOKIE_SECURE: bool = True
    MAIL_BACKEND: str = "console"  # console | file | smtp
    MAIL_FILE_DIR: str = "var/mail"
    MAIL_FROM: str = "Carillon <no-reply@carillon.invalid>"
    SMTP_HOST: str = "localhost"
    SMTP_PORT: int = 25
    SMTP_USER: str = ""
    SMTP_PASSWORD: str = ""
    SMTP_STARTTLS: bool = False
    # Reverse proxies in front of the application (compose.yaml's nginx: 1): their
    # X-Forwarded-For/-Proto/-Host are believed for that many hops, so logs, audit and
    # the click-to-call log see the client's address. 0: clients connect directly.
    PROXY_HOPS: int = 0
    LOG_LEVEL: str = "INFO"
    LOG_JSON: bool = True
    DEFAULT_LOCALE: str = "fr"
    LOGIN_MAX_FAILURES: int = 5
    LOGIN_LOCKOUT_MINUTES: int = 15
    PASSWORD_RESET_MAX_AGE_S: int = 3600
    EMAIL_VERIFY_MAX_AGE_S: int = 7 * 24 * 3600
    TRIAL_CREDIT_EUR: str = "10.00"
    DIALER_BACKEND: str = "simulated"  # simulated | freeswitch
    # FreeSWITCH event sockets for DIALER_BACKEND=freeswitch: "host:port:password" items,
    # comma-separated (one per media node).
    FREESWITCH_NODES: str = ""
    # Where FreeSWITCH writes its WAV files, as the dialer and the workers see it.
    FREESWITCH_RECORDINGS_DIR: str = "/var/lib/freeswitch/recordings"
    # mod_xml_curl: the HTTP basic secret FreeSWITCH sends (user "freeswitch", see
    # xml_curl.conf.xml), and the addresses it may call from (IPs or CIDR blocks,
    # comma-separated). No secret: every fetch is refused.
    FREESWITCH_XMLCURL_SECRET: str = ""
    FREESWITCH_XMLCURL_ALLOW: str = "127.0.0.1/32,::1/128"
    # SIP domain (digest realm) agents register in; their usernames are t<tenant>a<user>.
    SIP_DOMAIN: str = "sip.carillon.invalid"
    # Kamailio's WebSocket listener the browser softphones register to (wss://...);
    # empty: the agent page runs its softphone in simulation mode (demo backend).
    SIP_WS_URL: str = ""
    # Kamailio JSON-RPC endpoints (xhttp), comma-separated: routing tables are reloaded on each.
    KAMAILIO_RPC_URLS: str = ""
    # Where converted recordings (MP3) are kept: local (RECORDINGS_DIR, one
    # sub-directory per tenant) or s3 (an S3-compatible bucket, keys per tenant).
    RECORDINGS_STORAGE: str = "local"
    RECORDINGS_DIR: str = "var/recordings"
    RECORDINGS_S3_ENDPOINT: str = ""
    RECORDINGS_S3_BUCKET: str = ""
    RECORDINGS_S3_REGION: str = "us-east-1"
    RECORDINGS_S3_ACCESS_KEY: str = ""
    RECORDINGS_S3_SECRET_KEY: str = ""
    # Kept this many days unless the tenant sets its own retention.
    RECORDINGS_RETENTION_DAYS: int = 365
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Config:
        env = dict(os.environ if env is None else env)
        values: dict[str, object] = {}
        missing = []
        for f in fields(cls):
            if f.name == "extra":
                continue
            if f.name in overrides:
                values[f.name] = overrides[f.name]
                continue
            raw = env.get(f.name)
            if raw is None:
                if f.default is MISSING:
                    missing.append(f.name)
                continue
            default = f.default
            if isinstance(default, bool):
                values[f.name] = _bool(raw)
            elif isinstance(default, int):
                values[f.name] = int(raw)
            else:
                values[f.name] = raw
        if missing:
            raise ConfigError(f"missing required environment variables: {', '.join(missing)}")
        return cls(**values)  # type: ignore[arg-type]

    def flask_settings(self) -> dict[str, object]:
        return {
            "SECRET_KEY": self.SECRET_KEY,
            "SESSION_COOKIE_SECURE": self.SESSION_COOKIE_SECURE,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_NAME": "carillon_session",
            "PERMANENT_SESSION_LIFETIME": 12 * 3600,
            "WTF_CSRF_HEADERS": ["X-CSRF-Token", "X-CSRFToken"],
            "WTF_CSRF_TIME_LIMIT": None,
            "MAX_CONTENT_LENGTH": 250 * 1024 * 1024,
            "BABEL_DEFAULT_LOCALE": self.DEFAULT_LOCALE,
            "BABEL_TRANSLATION_DIRECTORIES": "translations",
            "SIP_DOMAIN": self.SIP_DOMAIN,
            "SIP_WS_URL": self.SIP_WS_URL,
        }
