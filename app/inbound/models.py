"""Inbound numbers (DIDs), IVR menus and queues (in-groups).

A *destination* is stored as three columns with a common prefix: ``<prefix>_kind``
(one of ``DestinationKind``), ``<prefix>_target`` (the queue, IVR or agent id) and
``<prefix>_number`` (an E.164 number, or the audio file of a message). The service
layer (``app.inbound.services``) checks that the target exists in the same tenant;
a queue or IVR still named by a destination cannot be deleted."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB

from app.db import Base, TenantScoped, Timestamped


class DestinationKind(enum.StrEnum):
    QUEUE = "queue"
    IVR = "ivr"
    AGENT = "agent"
    EXTERNAL = "external"  # an E.164 number, dialled out through the SIP edge
    MESSAGE = "message"  # play an audio file, then hang up


class QueueStrategy(enum.StrEnum):
    LONGEST_IDLE = "longest_idle"


class InboundQueue(TenantScoped, Timestamped, Base):
    """A queue (in-group): callers wait here until a ready agent of one of the
    accepting campaigns is free, at most ``max_wait_s``, then go to the overflow."""

    __tablename__ = "inbound_queues"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name"),
        sa.CheckConstraint("priority BETWEEN 0 AND 9", name="priority"),
        sa.CheckConstraint("max_wait_s BETWEEN 10 AND 3600", name="max_wait"),
        sa.CheckConstraint("service_level_s BETWEEN 1 AND 600", name="service_level"),
        sa.CheckConstraint("wrapup_s BETWEEN 0 AND 600", name="wrapup"),
        sa.CheckConstraint("simulated_per_hour BETWEEN 0 AND 3600", name="simulated_rate"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    active: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())
    priority: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=5, server_default="5")
    strategy: so.Mapped[str] = so.mapped_column(sa.String(16), default=QueueStrategy.LONGEST_IDLE,
                                                server_default=QueueStrategy.LONGEST_IDLE.value)
    max_wait_s: so.Mapped[int] = so.mapped_column(default=120, server_default="120")
    overflow_kind: so.Mapped[str | None] = so.mapped_column(sa.String(12))
    overflow_target: so.Mapped[int | None]
    overflow_number: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    hold_music: so.Mapped[str] = so.mapped_column(sa.String(255), default="local_stream://moh",
                                                  server_default="local_stream://moh")
    announce_position: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    service_level_s: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=20, server_default="20")
    recording: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    wrapup_s: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=30, server_default="30")
    # Demo ("simulated" dialer backend) only: Poisson arrivals per hour.
    simulated_per_hour: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=0, server_default="0")


class QueueCampaign(TenantScoped, Base):
    """A campaign whose logged-in agents take this queue's calls (blending)."""

    __tablename__ = "inbound_queue_campaigns"

    queue_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("inbound_queues.id", ondelete="CASCADE"),
                                                primary_key=True)
    campaign_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
                                                   primary_key=True, index=True)


class QueueGroup(TenantScoped, Base):
    """When a queue has groups, only agents of these groups take its calls."""

    __tablename__ = "inbound_queue_groups"

    queue_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("inbound_queues.id", ondelete="CASCADE"),
                                                primary_key=True)
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user_groups.id", ondelete="CASCADE"),
                                                primary_key=True)


class IvrMenu(TenantScoped, Timestamped, Base):
    """A voice menu (SVI): greeting, one key per option; no key or a wrong key
    replays the greeting up to ``max_retries`` times, then the timeout destination."""

    __tablename__ = "ivr_menus"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name"),
        sa.CheckConstraint("timeout_s BETWEEN 1 AND 60", name="timeout"),
        sa.CheckConstraint("max_retries BETWEEN 1 AND 9", name="retries"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    greeting_audio: so.Mapped[str] = so.mapped_column(sa.String(255))
    invalid_audio: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    timeout_s: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=5, server_default="5")
    max_retries: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=3, server_default="3")
    timeout_kind: so.Mapped[str | None] = so.mapped_column(sa.String(12))
    timeout_target: so.Mapped[int | None]
    timeout_number: so.Mapped[str | None] = so.mapped_column(sa.String(255))

    options: so.Mapped[list[IvrOption]] = so.relationship(
        back_populates="menu", order_by="IvrOption.digit", cascade="all, delete-orphan", passive_deletes=True)


class IvrOption(TenantScoped, Base):
    __tablename__ = "ivr_options"
    __table_args__ = (
        sa.UniqueConstraint("menu_id", "digit"),
        sa.CheckConstraint("digit ~ '^[0-9*#]$'", name="digit"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    menu_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("ivr_menus.id", ondelete="CASCADE"), index=True)
    digit: so.Mapped[str] = so.mapped_column(sa.String(1))
    label: so.Mapped[str] = so.mapped_column(sa.String(120), default="", server_default="")
    dest_kind: so.Mapped[str] = so.mapped_column(sa.String(12))
    dest_target: so.Mapped[int | None]
    dest_number: so.Mapped[str | None] = so.mapped_column(sa.String(255))

    menu: so.Mapped[IvrMenu] = so.relationship(back_populates="options")


class Did(TenantScoped, Timestamped, Base):
    """An inbound number. ``number`` is unique across every tenant: a DID belongs to
    one tenant only. ``hours`` is ``{"0": [["09:00", "12:30"], ...]}`` (weekday 0 =
    Monday, in ``time_zone``); NULL means always open. Public holidays of
    ``holiday_country`` (the ``holidays`` package) and ``closed_dates`` are closed."""

    __tablename__ = "dids"
    __table_args__ = (sa.UniqueConstraint("number"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    number: so.Mapped[str] = so.mapped_column(sa.String(20))
    label: so.Mapped[str] = so.mapped_column(sa.String(120), default="", server_default="")
    active: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())
    dest_kind: so.Mapped[str] = so.mapped_column(sa.String(12))
    dest_target: so.Mapped[int | None]
    dest_number: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    time_zone: so.Mapped[str] = so.mapped_column(sa.String(64), default="Europe/Paris",
                                                 server_default="Europe/Paris")
    hours: so.Mapped[dict | None] = so.mapped_column(JSONB)
    holiday_country: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    closed_dates: so.Mapped[list[dt.date]] = so.mapped_column(postgresql.ARRAY(sa.Date), default=list,
                                                              server_default="{}")
    closed_kind: so.Mapped[str | None] = so.mapped_column(sa.String(12))
    closed_target: so.Mapped[int | None]
    closed_number: so.Mapped[str | None] = so.mapped_column(sa.String(255))
