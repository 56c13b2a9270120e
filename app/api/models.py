"""Public API data (T5, I1-I3): lead-import API keys, click-to-call tokens, line pools,
settings, call logs and alerts, idempotency records, outgoing webhooks."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects.postgresql import JSONB

from app.db import Base, TenantScoped, Timestamped, utcnow


class ApiScope(enum.StrEnum):
    READ = "read"
    WRITE = "write"  # implies read


class ApiKey(TenantScoped, Timestamped, Base):
    """A tenant's key for ``X-API-Key`` (lead import and REST API). Only the SHA-256 of
    the key is kept: the key has 256 bits of entropy, so a slow hash adds nothing."""

    __tablename__ = "api_keys"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    prefix: so.Mapped[str] = so.mapped_column(sa.String(24))  # shown in lists to tell keys apart
    key_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    scope: so.Mapped[str] = so.mapped_column(sa.String(8), default=ApiScope.WRITE)
    created_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: so.Mapped[dt.datetime | None]
    last_used_at: so.Mapped[dt.datetime | None]
    last_used_ip: so.Mapped[str | None] = so.mapped_column(sa.String(45))

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: ApiScope) -> bool:
        return self.scope == ApiScope.WRITE or scope == ApiScope.READ


class Click2CallToken(TenantScoped, Timestamped, Base):
    """A bearer token of one user group (``carillon_<GROUP>_<random>``), hashed."""

    __tablename__ = "click2call_tokens"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user_groups.id", ondelete="CASCADE"), index=True)
    prefix: so.Mapped[str] = so.mapped_column(sa.String(64))
    key_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: so.Mapped[dt.datetime | None]
    last_used_at: so.Mapped[dt.datetime | None]
    last_used_ip: so.Mapped[str | None] = so.mapped_column(sa.String(45))

    group = so.relationship("UserGroup", lazy="joined")

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class LineStrategy(enum.StrEnum):
    RANDOM = "random"
    ROUND_ROBIN = "round_robin"  # least recently used first
    LEAST_USED = "least_used"  # fewest calls in total
    PRIORITY = "priority"  # highest priority first


DEFAULT_RATE_LIMIT = 1000


class Click2CallSettings(TenantScoped, Base):
    """One group's click-to-call settings; a group without a row uses the defaults."""

    __tablename__ = "click2call_settings"
    __table_args__ = (sa.UniqueConstraint("group_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user_groups.id", ondelete="CASCADE"))
    strategy: so.Mapped[str] = so.mapped_column(sa.String(16), default=LineStrategy.ROUND_ROBIN)
    rate_limit_per_hour: so.Mapped[int] = so.mapped_column(default=DEFAULT_RATE_LIMIT)
    # Allowed browser origins, host names separated by commas; empty allows all.
    cors_origins: so.Mapped[str] = so.mapped_column(sa.Text, default="")


class Click2CallLine(TenantScoped, Timestamped, Base):
    """A phone line (agent extension) of a group's pool."""

    __tablename__ = "click2call_lines"
    __table_args__ = (sa.UniqueConstraint("group_id", "extension"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user_groups.id", ondelete="CASCADE"), index=True)
    extension: so.Mapped[str] = so.mapped_column(sa.String(32))
    active: so.Mapped[bool] = so.mapped_column(default=True)
    priority: so.Mapped[int] = so.mapped_column(default=0)
    call_count: so.Mapped[int] = so.mapped_column(default=0)
    last_used_at: so.Mapped[dt.datetime | None]


class ApiCallLog(TenantScoped, Base):
    """Every click-to-call request that named a valid token, successful or not."""

    __tablename__ = "api_call_logs"
    __table_args__ = (sa.Index("ix_api_call_logs_group_created", "tenant_id", "group_id", "created_at"),)

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    tenant_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user_groups.id", ondelete="CASCADE"))
    token_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("click2call_tokens.id", ondelete="SET NULL"))
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, server_default=sa.func.now())
    number: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    line: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    success: so.Mapped[bool] = so.mapped_column(default=False)
    status_code: so.Mapped[int] = so.mapped_column(sa.SmallInteger)
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    origin_ip: so.Mapped[str | None] = so.mapped_column(sa.String(45))
    origin: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    response_time_ms: so.Mapped[int] = so.mapped_column(default=0)
    call_uuid: so.Mapped[str | None] = so.mapped_column(sa.String(36))


class AlertKind(enum.StrEnum):
    RATE_LIMIT = "rate_limit"
    FAILURE_RATE = "failure_rate"
    NO_LINE = "no_line"


class ApiAlert(TenantScoped, Timestamped, Base):
    """An in-app alert about a group's click-to-call (also sent by email)."""

    __tablename__ = "api_alerts"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    group_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user_groups.id", ondelete="CASCADE"),
                                                       index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    message: so.Mapped[str] = so.mapped_column(sa.Text)
    acknowledged_at: so.Mapped[dt.datetime | None]


class IdempotencyRecord(TenantScoped, Base):
    """The stored answer to a request sent with ``Idempotency-Key``: a retry gets it again."""

    __tablename__ = "api_idempotency"
    __table_args__ = (sa.UniqueConstraint("api_key_id", "key"),)

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    api_key_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("api_keys.id", ondelete="CASCADE"))
    key: so.Mapped[str] = so.mapped_column(sa.String(255))
    request_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    status_code: so.Mapped[int | None] = so.mapped_column(sa.SmallInteger)
    body: so.Mapped[dict | list | None] = so.mapped_column(JSONB)
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, server_default=sa.func.now(), index=True)


class WebhookEvent(enum.StrEnum):
    LEAD_CREATED = "lead.created"
    LEAD_STATUS_CHANGED = "lead.status_changed"
    CALL_ENDED = "call.ended"
    SALE_CREATED = "sale.created"


class WebhookEndpoint(TenantScoped, Timestamped, Base):
    __tablename__ = "webhook_endpoints"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    url: so.Mapped[str] = so.mapped_column(sa.Text)
    description: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    events: so.Mapped[list] = so.mapped_column(JSONB, default=list)
    # The signing secret must be readable to compute HMACs, unlike API keys.
    secret: so.Mapped[str] = so.mapped_column(sa.String(80))
    active: so.Mapped[bool] = so.mapped_column(default=True)


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(TenantScoped, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),)

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    tenant_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    endpoint_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event: so.Mapped[str] = so.mapped_column(sa.String(40))
    event_id: so.Mapped[str] = so.mapped_column(sa.String(36))
    payload: so.Mapped[dict] = so.mapped_column(JSONB)
    state: so.Mapped[str] = so.mapped_column(sa.String(10), default=DeliveryState.PENDING)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    last_status_code: so.Mapped[int | None] = so.mapped_column(sa.SmallInteger)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, server_default=sa.func.now())
    delivered_at: so.Mapped[dt.datetime | None]

    endpoint = so.relationship(WebhookEndpoint, lazy="joined")
