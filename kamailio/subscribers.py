"""Agents' SIP credentials in ``kamailio.subscriber``, which Kamailio's auth_db reads.

Only digests are stored (kamailio.cfg sets ``calculate_ha1`` to 0): HA1 is
MD5(username:realm:password) as SIP digest authentication defines it (browsers' SIP
stacks such as JsSIP speak MD5 only), so the realm is part of the credential and a
change of SIP domain means new passwords. Functions flush and never commit.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql

from kamailio.tables import subscriber


def ha1(username: str, realm: str, password: str) -> str:
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def ha1b(username: str, realm: str, password: str) -> str:
    """The digest for clients that send ``user@domain`` as their username."""
    return hashlib.md5(f"{username}@{realm}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def set_subscriber(session: so.Session, username: str, domain: str, password: str) -> None:
    """Create or update an agent's SIP account."""
    digests = {"ha1": ha1(username, domain, password), "ha1b": ha1b(username, domain, password)}
    statement = postgresql.insert(subscriber).values(username=username, domain=domain, password="", **digests)
    session.execute(statement.on_conflict_do_update(constraint="subscriber_account_idx", set_=digests))
    session.flush()


def remove_subscriber(session: so.Session, username: str, domain: str) -> None:
    """Delete an agent's SIP account; its current registration lapses at expiry."""
    session.execute(
        sa.delete(subscriber).where(subscriber.c.username == username, subscriber.c.domain == domain)
    )
    session.flush()
