"""Messages between users of one tenant: one-to-one, or broadcast (no recipient)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.db import Base, TenantScoped, utcnow


class Message(TenantScoped, Base):
    __tablename__ = "messages"
    __table_args__ = (sa.Index("ix_messages_recipient_sent", "tenant_id", "recipient_id", "sent_at"),)

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    sender_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # NULL: a broadcast to every user of the tenant
    recipient_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    sent_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, server_default=sa.func.now())

    sender = so.relationship("User", foreign_keys=[sender_id])
    recipient = so.relationship("User", foreign_keys=[recipient_id])

    @property
    def broadcast(self) -> bool:
        return self.recipient_id is None


class MessageRead(TenantScoped, Base):
    """Who has read which message (a broadcast is read by each user on their own)."""

    __tablename__ = "message_reads"

    message_id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.ForeignKey("messages.id", ondelete="CASCADE"),
                                                  primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    read_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, server_default=sa.func.now())
