"""Credentials of the public APIs (T5): lead-import/REST API keys and click-to-call
bearer tokens. Generated with 256 bits of entropy, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa

from app.api.cache import MAX_AGE_S, LocalCache, generation, invalidate
from app.api.models import ApiKey, ApiScope, Click2CallToken
from app.audit.services import record_event
from app.auth.models import UserGroup
from app.db import utcnow
from app.extensions import Session
from tenants.scoping import unscoped

PRODUCT = "carillon"
# Last use is written at most this often per credential: each write is a row lock
# that concurrent requests with the same key would queue behind.
LAST_USED_RESOLUTION_S = 30


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Issued:
    """A freshly made credential: ``secret`` is shown to its owner once and never stored."""

    record: ApiKey | Click2CallToken
    secret: str


def create_api_key(name: str, scope: ApiScope = ApiScope.WRITE, *, created_by: int | None = None) -> Issued:
    secret = f"{PRODUCT}_key_{secrets.token_urlsafe(32)}"
    key = ApiKey(name=name.strip()[:120], prefix=secret[:20], key_hash=digest(secret), scope=ApiScope(scope),
                 created_by=created_by)
    Session.add(key)
    Session.flush()
    record_event("api_key.created", target_type="api_key", target_id=key.id, details={"name": key.name,
                                                                                     "scope": key.scope})
    return Issued(key, secret)


def revoke_api_key(key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        Session.flush()
        forget_caller(key.key_hash)
        record_event("api_key.revoked", target_type="api_key", target_id=key.id, details={"name": key.name})


def group_token_label(code: str) -> str:
    # The group code goes into the token as-is when it is token-safe, else simplified.
    return re.sub(r"[^A-Za-z0-9-]", "", code.upper()) or "GROUP"


def create_click2call_token(group: UserGroup, *, created_by: int | None = None) -> Issued:
    secret = f"{PRODUCT}_{group_token_label(group.code)}_{secrets.token_urlsafe(32)}"
    token = Click2CallToken(group_id=group.id, prefix=secret[: len(secret) - 36], key_hash=digest(secret),
                            created_by=created_by)
    Session.add(token)
    Session.flush()
    record_event("click2call_token.created", target_type="click2call_token", target_id=token.id,
                 details={"group": group.code})
    return Issued(token, secret)


def revoke_click2call_token(token: Click2CallToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        Session.flush()
        record_event("click2call_token.revoked", target_type="click2call_token", target_id=token.id)


@dataclass(frozen=True)
class ApiCaller:
    """What a request needs to know about its API key, cached in each process
    (``app.api.cache``) so that an API request does not query the database to
    authenticate."""

    id: int
    tenant_id: int
    name: str
    scope: str
    tenant_slug: str
    tenant_status: str
    key_hash: str = ""

    def allows(self, scope: ApiScope) -> bool:
        return self.scope == ApiScope.WRITE or scope == ApiScope.READ


# A revoked key is refused at once by every process (``revoke_api_key`` renews the
# cache generation); a tenant's suspension reaches cached keys within MAX_AGE_S.
_callers: LocalCache[ApiCaller] = LocalCache(MAX_AGE_S)
# When this process last wrote each key's last use (time.monotonic()), by key hash.
_touched: dict[str, float] = {}


def forget_caller(key_hash: str) -> None:
    """Every process stops accepting the key from its cache (now and at commit)."""
    _callers.discard(key_hash)
    invalidate()


def find_caller(secret: str | None) -> ApiCaller | None:
    from tenants.models import Tenant

    if not secret or len(secret) > 200:
        return None
    key_hash = digest(secret)
    cached = _callers.get(key_hash)
    if cached is not None:
        return cached
    stamp = generation()
    with unscoped():
        row = Session.execute(sa.select(ApiKey.id, ApiKey.tenant_id, ApiKey.name, ApiKey.scope, Tenant.slug,
                                        Tenant.status).join(Tenant, Tenant.id == ApiKey.tenant_id)
                              .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))).first()
    if row is None:
        return None
    caller = ApiCaller(*row, key_hash=key_hash)
    _callers.put(key_hash, caller, stamp)
    return caller


def touch_caller(caller: ApiCaller, ip: str | None) -> None:
    """Record the key's last use, at most once per LAST_USED_RESOLUTION_S per process."""
    now = time.monotonic()
    key_hash = caller.key_hash
    last = _touched.get(key_hash)
    if last is not None and now - last < LAST_USED_RESOLUTION_S:
        return
    if len(_touched) >= 10_000:
        _touched.clear()
    _touched[key_hash] = now
    Session.execute(sa.update(ApiKey).where(ApiKey.id == caller.id).values(last_used_at=utcnow(), last_used_ip=ip))


def find_api_key(secret: str | None) -> ApiKey | None:
    """The active key ``secret`` names, whatever its tenant. The one cross-tenant
    lookup of the APIs: the key is what tells which tenant is asking."""
    if not secret or len(secret) > 200:
        return None
    with unscoped():
        return Session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == digest(secret), ApiKey.revoked_at.is_(None)))


def find_click2call_token(secret: str | None) -> Click2CallToken | None:
    if not secret or len(secret) > 300:
        return None
    with unscoped():
        return Session.scalar(sa.select(Click2CallToken).where(Click2CallToken.key_hash == digest(secret),
                                                               Click2CallToken.revoked_at.is_(None)))


def touch(credential: ApiKey | Click2CallToken, ip: str | None) -> None:
    now = utcnow()
    last = credential.last_used_at
    if last is None or (now - last).total_seconds() >= LAST_USED_RESOLUTION_S or credential.last_used_ip != ip:
        credential.last_used_at = now
        credential.last_used_ip = ip
