"""Account rules: passwords, lockout, two-factor, tokens, user management."""

from __future__ import annotations

import datetime as dt
import io
import secrets

import argon2
import pyotp
import qrcode
import qrcode.image.svg
import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.audit.services import record_event
from app.auth.models import Role, User, UserGroup
from app.auth.permissions import ROLE_DEFAULT_LEVEL
from app.db import utcnow
from app.extensions import Session
from app.runtime import current_config
from tenants.scoping import unscoped

_hasher = argon2.PasswordHasher()
# Compared against when the email is unknown, so that timing does not reveal which
# addresses have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 10


class AuthError(Exception):
    """A login that must be refused; ``code`` says why (for the message and the audit)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (argon2.exceptions.VerifyMismatchError, argon2.exceptions.InvalidHashError):
        return False


def find_user_by_email(email: str) -> User | None:
    # Login happens before any tenant is known: the one place users are looked up
    # across tenants.
    with unscoped():
        return Session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()))


def authenticate(email: str, password: str) -> User:
    """Check a password login. Counts failures and locks the account after the
    configured number; raises AuthError with a code; audits every outcome."""
    # Runs before any tenant is known and writes to the user row (failure counts,
    # lockout): the login edge is allowed to span tenants.
    with unscoped():
        try:
            return _authenticate(email, password)
        finally:
            Session.flush()


def _authenticate(email: str, password: str) -> User:
    config = current_config()
    user = find_user_by_email(email)
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        record_event("login.locked", actor=user, tenant_id=user.tenant_id, details={"email": email})
        raise AuthError("locked")
    if not verify_password(user, password):
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= config.LOGIN_MAX_FAILURES:
                lock_user(user)
        record_event(
            "login.failure",
            actor=user,
            tenant_id=user.tenant_id if user else None,
            details={"email": email[:254]},
        )
        raise AuthError("invalid")
    if not user.active:
        record_event("login.inactive", actor=user, tenant_id=user.tenant_id)
        raise AuthError("inactive")
    if not user.email_verified:
        raise AuthError("unverified")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    return user


def lock_user(user: User) -> None:
    config = current_config()
    user.locked_until = utcnow() + dt.timedelta(minutes=config.LOGIN_LOCKOUT_MINUTES)
    user.failed_logins = 0
    record_event("user.locked", actor=user, tenant_id=user.tenant_id, target_type="user", target_id=user.id)


def complete_login(user: User) -> None:
    with unscoped():
        user.last_login_at = utcnow()
        record_event("login.success", actor=user, tenant_id=user.tenant_id)


def save_own_account(user: User) -> None:
    """Flush changes a user makes to their own row (a platform admin has no tenant,
    so the row is outside every tenant scope)."""
    with unscoped():
        Session.flush()


# --- two-factor -------------------------------------------------------------------

def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str, issuer: str = "Carillon") -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def totp_qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buf = io.BytesIO()
    image.save(buf)
    return buf.getvalue().decode()


def check_totp(secret: str | None, code: str) -> bool:
    if not secret:
        return False
    code = "".join(ch for ch in code if ch.isdigit())
    return len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


def enable_totp(user: User, secret: str, code: str) -> bool:
    if not check_totp(secret, code):
        return False
    user.totp_secret = secret
    user.totp_enabled = True
    record_event("user.2fa_enabled", actor=user, tenant_id=user.tenant_id, target_type="user", target_id=user.id)
    save_own_account(user)
    return True


def needs_totp_enrolment(user: User) -> bool:
    tenant = user_tenant(user)
    return bool(tenant and tenant.require_2fa and not user.totp_enabled)


def user_tenant(user: User):  # -> Tenant | None
    from tenants.models import Tenant

    return Session.get(Tenant, user.tenant_id) if user.tenant_id else None


# --- signed tokens (password reset, email verification) ----------------------------

def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_config().SECRET_KEY, salt=salt)


def _fingerprint(user: User) -> str:
    # The token dies once the password (or the epoch) changes, so it works only once.
    return f"{user.password_hash[-12:]}:{user.session_epoch}"


def make_reset_token(user: User) -> str:
    return _serializer("password-reset").dumps({"u": user.id, "f": _fingerprint(user)})


def user_from_reset_token(token: str) -> User | None:
    try:
        data = _serializer("password-reset").loads(token, max_age=current_config().PASSWORD_RESET_MAX_AGE_S)
    except (BadSignature, SignatureExpired):
        return None
    with unscoped():
        user = Session.get(User, data.get("u"))
    if user is None or _fingerprint(user) != data.get("f"):
        return None
    return user


def make_verify_token(user: User) -> str:
    return _serializer("email-verify").dumps({"u": user.id, "e": user.email.lower()})


def verify_email_token(token: str) -> User | None:
    try:
        data = _serializer("email-verify").loads(token, max_age=current_config().EMAIL_VERIFY_MAX_AGE_S)
    except (BadSignature, SignatureExpired):
        return None
    with unscoped():
        user = Session.get(User, data.get("u"))
    if user is None or user.email.lower() != data.get("e"):
        return None
    user.email_verified = True
    return user


def set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    user.failed_logins = 0
    user.locked_until = None


# --- user management ---------------------------------------------------------------

def email_taken(email: str, *, exclude_id: int | None = None) -> bool:
    user = find_user_by_email(email)
    return user is not None and user.id != exclude_id


def create_user(
    *,
    email: str,
    display_name: str,
    password: str,
    role: Role,
    level: int | None = None,
    group: UserGroup | None = None,
    tenant_id: int | None = None,
    email_verified: bool = True,
) -> User:
    user = User(
        email=email.strip(),
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=role,
        level=level or ROLE_DEFAULT_LEVEL[role],
        group_id=group.id if group else None,
        email_verified=email_verified,
        tenant_id=tenant_id,
    )
    Session.add(user)
    Session.flush()
    record_event("user.created", tenant_id=user.tenant_id, target_type="user", target_id=user.id,
                 details={"email": user.email, "role": str(role), "level": user.level})
    return user


def update_user(user: User, **changes: object) -> dict[str, list]:
    diff = {}
    for key, value in changes.items():
        old = getattr(user, key)
        if old != value:
            diff[key] = [old, value]
            setattr(user, key, value)
    if "active" in diff and not user.active:
        user.session_epoch += 1  # a deactivated user is logged out everywhere
    if diff:
        record_event("user.updated", target_type="user", target_id=user.id,
                     details={k: [str(a), str(b)] for k, (a, b) in diff.items()})
    return diff


def list_groups() -> list[UserGroup]:
    return list(Session.scalars(sa.select(UserGroup).order_by(UserGroup.name)))


def create_group(code: str, name: str) -> UserGroup:
    group = UserGroup(code=code.strip().upper(), name=name.strip())
    Session.add(group)
    Session.flush()
    record_event("group.created", target_type="user_group", target_id=group.id, details={"code": group.code})
    return group
