"""Carriers, their SIP trunks and rate decks, and the media nodes Kamailio dispatches to.

These are platform-level rows, owned by the platform operator and shared by tenants
(a tenant later picks among them), so they are deliberately not ``TenantScoped``.
Kamailio never reads these tables: ``services.sync_kamailio_tables`` renders them into
Kamailio's own tables (``kamailio.tables``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql

from app.core.credentials import EncryptedText
from app.db import Base, Timestamped

TRANSPORTS = ("udp", "tcp", "tls")
CODECS = ("PCMA", "PCMU", "G729", "OPUS", "G722")
# Kamailio's lcr_gw.port is a SMALLINT, so a trunk port must fit a signed 16-bit value.
MAX_GATEWAY_PORT = 32767


class Carrier(Timestamped, Base):
    __tablename__ = "carriers"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(80), unique=True)
    enabled: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())
    rates_updated_at: so.Mapped[dt.datetime | None]

    trunks: so.Mapped[list[Trunk]] = so.relationship(
        back_populates="carrier", cascade="all, delete-orphan", order_by="Trunk.id"
    )
    rates: so.WriteOnlyMapped[CarrierRate] = so.relationship(
        back_populates="carrier", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Carrier {self.id} {self.name!r}>"


class Trunk(Timestamped, Base):
    """One SIP trunk (a signalling address) of a carrier; a carrier may have several."""

    __tablename__ = "trunks"
    __table_args__ = (
        sa.UniqueConstraint("carrier_id", "name"),
        sa.CheckConstraint(f"transport IN {TRANSPORTS!r}", name="transport"),
        sa.CheckConstraint(f"port BETWEEN 1 AND {MAX_GATEWAY_PORT}", name="port"),
        sa.CheckConstraint("channel_limit IS NULL OR channel_limit > 0", name="channel_limit"),
        sa.CheckConstraint("weight BETWEEN 1 AND 254", name="weight"),
        sa.CheckConstraint("strip_digits BETWEEN 0 AND 15", name="strip_digits"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    carrier_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("carriers.id", ondelete="CASCADE"), index=True
    )
    name: so.Mapped[str] = so.mapped_column(sa.String(80))
    # An IP address or a DNS name (Kamailio resolves names itself, SRV included).
    host: so.Mapped[str] = so.mapped_column(sa.String(64))
    port: so.Mapped[int] = so.mapped_column(default=5060, server_default="5060")
    transport: so.Mapped[str] = so.mapped_column(sa.String(8), default="udp", server_default="udp")
    # Digest credentials Kamailio answers the carrier's challenge with (uac_auth); the
    # password is stored encrypted (app.core.credentials), Kamailio's htable gets it clear.
    username: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    password: so.Mapped[str | None] = so.mapped_column(EncryptedText())
    codecs: so.Mapped[list[str]] = so.mapped_column(
        postgresql.ARRAY(sa.String(8)), default=lambda: ["PCMA", "PCMU"], server_default="{PCMA,PCMU}"
    )
    # None means unlimited (plans that allow it); Kamailio counts live calls per trunk.
    channel_limit: so.Mapped[int | None]
    # The carrier accepts any presented number (FullCLI), not only numbers it assigned.
    full_cli: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    enabled: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())
    # Load share between trunks of the same carrier (Kamailio lcr weight, 1-254).
    weight: so.Mapped[int] = so.mapped_column(default=1, server_default="1")
    # Number rewriting the carrier wants: digits stripped, then a technical prefix added.
    strip_digits: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    tech_prefix: so.Mapped[str] = so.mapped_column(sa.String(16), default="", server_default="")

    carrier: so.Mapped[Carrier] = so.relationship(back_populates="trunks")

    def __repr__(self) -> str:
        return f"<Trunk {self.id} {self.name!r} {self.transport}:{self.host}:{self.port}>"


class CarrierRate(Base):
    """One row of a carrier's rate deck: the price of calls to numbers under a prefix."""

    __tablename__ = "carrier_rates"
    __table_args__ = (
        sa.UniqueConstraint("carrier_id", "prefix"),
        # a call's rate is looked up by the prefixes of its number, across carriers
        sa.Index("ix_carrier_rates_prefix", "prefix"),
        sa.CheckConstraint("prefix ~ '^[0-9]{1,16}$'", name="prefix"),
        sa.CheckConstraint("initial_increment > 0 AND billing_increment > 0", name="increments"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    carrier_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("carriers.id", ondelete="CASCADE"))
    # E.164 digits without '+', at most 16 like Kamailio's lcr_rule.prefix.
    prefix: so.Mapped[str] = so.mapped_column(sa.String(16))
    rate_per_minute: so.Mapped[Decimal] = so.mapped_column(sa.Numeric(12, 6))
    connection_fee: so.Mapped[Decimal] = so.mapped_column(
        sa.Numeric(12, 6), default=Decimal(0), server_default="0"
    )
    # Seconds billed for the first block, then per block after it ("60/60", "30/6", "1/1").
    initial_increment: so.Mapped[int] = so.mapped_column(default=60, server_default="60")
    billing_increment: so.Mapped[int] = so.mapped_column(default=60, server_default="60")

    carrier: so.Mapped[Carrier] = so.relationship(back_populates="rates")


class MediaNode(Timestamped, Base):
    """A FreeSWITCH node's SIP side, as Kamailio's dispatcher reaches it."""

    __tablename__ = "media_nodes"
    __table_args__ = (
        sa.CheckConstraint(f"transport IN {TRANSPORTS!r}", name="transport"),
        sa.CheckConstraint("sip_port BETWEEN 1 AND 65535", name="sip_port"),
        sa.CheckConstraint("weight BETWEEN 1 AND 100", name="weight"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    host: so.Mapped[str] = so.mapped_column(sa.String(64))
    sip_port: so.Mapped[int] = so.mapped_column(default=5080, server_default="5080")
    transport: so.Mapped[str] = so.mapped_column(sa.String(8), default="udp", server_default="udp")
    weight: so.Mapped[int] = so.mapped_column(default=1, server_default="1")
    enabled: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())

    def __repr__(self) -> str:
        return f"<MediaNode {self.id} {self.name!r} {self.host}:{self.sip_port}>"
