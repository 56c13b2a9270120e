"""Sending, listing and reading internal messages; live delivery over the tenant's
event channel (the agent's SSE stream forwards those addressed to its user)."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import lazy_gettext as _l

from app.auth.models import User
from app.auth.permissions import Permission, can
from app.db import utcnow
from app.extensions import Session
from app.messaging.models import Message, MessageRead
from app.realtime import bus

MAX_BODY = 2000
_PENDING = "carillon.messaging.pending"


class MessageError(ValueError):
    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


def recipients_for(sender: User) -> list[User]:
    """Users of the sender's tenant a message can go to (everyone but the sender)."""
    return list(Session.scalars(sa.select(User).where(User.active.is_(True), User.id != sender.id,
                                                      User.tenant_id.is_not(None)).order_by(User.display_name)))


def send_message(sender: User, body: str, recipient_id: int | None) -> Message:
    """One-to-one to ``recipient_id``, or a broadcast (supervisors only) when None."""
    body = (body or "").strip()
    if not body:
        raise MessageError(_l("Write a message first."))
    if len(body) > MAX_BODY:
        raise MessageError(_l("A message has at most %(n)d characters.", n=MAX_BODY))
    if recipient_id is None:
        if not can(sender, Permission.SUPERVISE):
            raise MessageError(_l("Only supervisors can write to everyone."))
    elif Session.scalar(sa.select(User.id).where(User.id == recipient_id, User.active.is_(True))) is None:
        # a query, so another tenant's user is simply not found
        raise MessageError(_l("Unknown recipient."))
    message = Message(sender_id=sender.id, recipient_id=recipient_id, body=body, sent_at=utcnow())
    Session.add(message)
    Session.flush()
    return message


def announce(tenant_id: int, message: Message) -> None:
    """Tell the recipients' pages; call once the message is committed."""
    bus.publish_message(tenant_id, message.id, message.recipient_id, message.sender_id)


def announce_after_commit(tenant_id: int, message: Message) -> None:
    """Announce once the surrounding transaction commits (a page reads it then)."""
    Session().info.setdefault(_PENDING, []).append((tenant_id, message))


@sa.event.listens_for(so.Session, "after_commit")
def _announce_committed(session: so.Session) -> None:
    for tenant_id, message in session.info.pop(_PENDING, []):
        announce(tenant_id, message)


@sa.event.listens_for(so.Session, "after_rollback")
def _drop_rolled_back(session: so.Session) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING, None)


def _visible_to(user: User) -> sa.ColumnElement[bool]:
    return sa.or_(Message.recipient_id == user.id, Message.recipient_id.is_(None), Message.sender_id == user.id)


def conversation(user: User, limit: int = 50) -> list[Message]:
    stmt = sa.select(Message).where(_visible_to(user)).order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit)
    return list(Session.scalars(stmt))


def get_message_for(user: User, message_id: int) -> Message | None:
    return Session.scalar(sa.select(Message).where(Message.id == message_id, _visible_to(user)))


def unread_count(user: User) -> int:
    read = sa.select(MessageRead.message_id).where(MessageRead.user_id == user.id)
    stmt = sa.select(sa.func.count(Message.id)).where(
        sa.or_(Message.recipient_id == user.id, Message.recipient_id.is_(None)),
        sa.or_(Message.sender_id.is_(None), Message.sender_id != user.id),
        Message.id.not_in(read))
    return int(Session.scalar(stmt) or 0)


def mark_all_read(user: User) -> int:
    read = sa.select(MessageRead.message_id).where(MessageRead.user_id == user.id)
    ids = list(Session.scalars(sa.select(Message.id).where(
        sa.or_(Message.recipient_id == user.id, Message.recipient_id.is_(None)), Message.id.not_in(read))))
    Session.add_all(MessageRead(message_id=message_id, user_id=user.id) for message_id in ids)
    Session.flush()
    return len(ids)
