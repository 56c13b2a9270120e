"""Credentials the product must give back in clear — a carrier trunk's digest password,
which Kamailio answers the carrier's challenges with — are stored encrypted (Fernet:
AES-128-CBC with HMAC-SHA256), so a database dump or a read-only SQL access does not
hand them out. The key is derived (HKDF-SHA256) from CREDENTIALS_KEY, or from
SECRET_KEY when that is not set: changing it makes stored credentials unreadable, so
rotate with CREDENTIALS_OLD_KEYS (comma-separated former keys, still accepted to read).
"""

from __future__ import annotations

import base64
import functools
import os

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class CredentialError(RuntimeError):
    pass


def _fernet_key(secret: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"carillon stored credentials").derive(
        secret.encode())
    return base64.urlsafe_b64encode(derived)


@functools.lru_cache(maxsize=8)
def cipher_for(current: str, old: tuple[str, ...] = ()) -> MultiFernet:
    """Encrypts with ``current``; reads what ``current`` or any ``old`` key wrote."""
    if not current:
        raise CredentialError("no key for stored credentials: set CREDENTIALS_KEY or SECRET_KEY")
    return MultiFernet([Fernet(_fernet_key(key)) for key in (current, *old) if key])


def cipher() -> MultiFernet:
    """The process's cipher, from its environment (the web app, jobs, CLI and
    migrations read the same variables)."""
    current = os.environ.get("CREDENTIALS_KEY") or os.environ.get("SECRET_KEY", "")
    old = tuple(key.strip() for key in os.environ.get("CREDENTIALS_OLD_KEYS", "").split(",") if key.strip())
    return cipher_for(current, old)


def encrypt(value: str) -> str:
    return cipher().encrypt(value.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise CredentialError(
            "a stored credential cannot be read with this key (CREDENTIALS_KEY / SECRET_KEY changed? "
            "list the former key in CREDENTIALS_OLD_KEYS)") from None


class EncryptedText(sa.TypeDecorator):
    """A text column holding ciphertext; Python code sees the clear value."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else decrypt(value)
