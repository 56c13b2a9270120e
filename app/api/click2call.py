"""Click-to-call (I2): line pools, allocation strategies, the hourly rate limit, call
logs, statistics and alerts. The view only authenticates and hands over."""

from __future__ import annotations

import datetime as dt
import logging
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError

from app import extensions
from app.api import messages
from app.api.dialer import current_dialer
from app.api.http import ApiError
from app.api.models import (
    DEFAULT_RATE_LIMIT,
    AlertKind,
    ApiAlert,
    ApiCallLog,
    Click2CallLine,
    Click2CallSettings,
    Click2CallToken,
    LineStrategy,
)
from app.api.schemas import Click2CallIn
from app.auth.models import Role, User
from app.db import utcnow
from app.extensions import Session
from app.leads.phones import normalize_phone
from app.leads.redlist import is_blocked

log = logging.getLogger("carillon.click2call")

ALERT_RATE_SHARE = 0.8
ALERT_FAILURE_SHARE = 0.10
ALERT_MIN_CALLS = 10  # below this many calls in the hour a failure rate says little
_schema = Click2CallIn()

# Reserve one call in the group's hourly window, atomically: concurrent requests
# can never push the count past the limit. Returns {allowed, count}.
_RESERVE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= tonumber(ARGV[1]) then
  return {0, current}
end
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return {1, count}
"""
# Give a reservation back (the call failed: failed calls are not counted).
_RELEASE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


def _window() -> tuple[int, int]:
    now = int(time.time())
    return now // 3600, 3600 - now % 3600


def _rate_key(tenant_id: int, group_id: int, hour: int) -> str:
    return f"carillon:c2c:rate:{tenant_id}:{group_id}:{hour}"


def _stats_key(tenant_id: int, group_id: int, hour: int) -> str:
    return f"carillon:c2c:hour:{tenant_id}:{group_id}:{hour}"


class RateLimiter:
    def __init__(self) -> None:
        client = extensions.redis()
        self._reserve = client.register_script(_RESERVE)
        self._release = client.register_script(_RELEASE)

    def reserve(self, tenant_id: int, group_id: int, limit: int) -> tuple[bool, int, str]:
        hour, _ = _window()
        key = _rate_key(tenant_id, group_id, hour)
        allowed, count = self._reserve(keys=[key], args=[limit, 3600 + 60])
        return bool(allowed), int(count), key

    def release(self, key: str) -> None:
        self._release(keys=[key])

    @staticmethod
    def used(tenant_id: int, group_id: int) -> int:
        hour, _ = _window()
        return int(extensions.redis().get(_rate_key(tenant_id, group_id, hour)) or 0)


def settings_for(group_id: int) -> Click2CallSettings:
    found = Session.scalar(sa.select(Click2CallSettings).where(Click2CallSettings.group_id == group_id))
    return found or Click2CallSettings(group_id=group_id, strategy=LineStrategy.ROUND_ROBIN,
                                       rate_limit_per_hour=DEFAULT_RATE_LIMIT, cors_origins="")


def save_settings(group_id: int, *, strategy: str, rate_limit_per_hour: int, cors_origins: str) -> Click2CallSettings:
    settings = Session.scalar(sa.select(Click2CallSettings).where(Click2CallSettings.group_id == group_id))
    if settings is None:
        settings = Click2CallSettings(group_id=group_id)
        Session.add(settings)
    settings.strategy = LineStrategy(strategy)
    settings.rate_limit_per_hour = rate_limit_per_hour
    settings.cors_origins = ", ".join(allowed_hosts(cors_origins))
    Session.flush()
    return settings


def allowed_hosts(text: str) -> list[str]:
    """``exemple.com, https://app.exemple.com`` -> the host names, lower case."""
    hosts = []
    for item in text.replace(";", ",").replace("\n", ",").split(","):
        item = item.strip().lower()
        if not item:
            continue
        host = urllib.parse.urlsplit(item if "//" in item else "//" + item).hostname or ""
        if host and host not in hosts:
            hosts.append(host)
    return hosts


def origin_allowed(settings: Click2CallSettings, origin: str | None) -> bool:
    """Browsers send ``Origin``; server-side callers (curl, PHP, Python) do not, and the
    allow-list, a browser protection, does not apply to them."""
    hosts = allowed_hosts(settings.cors_origins or "")
    if not hosts or not origin:
        return True
    host = urllib.parse.urlsplit(origin).hostname
    return bool(host) and host.lower() in hosts


def _active_lines(group_id: int) -> sa.Select:
    return sa.select(Click2CallLine).where(Click2CallLine.group_id == group_id, Click2CallLine.active)


_ORDER = {
    LineStrategy.ROUND_ROBIN: (Click2CallLine.last_used_at.asc().nulls_first(), Click2CallLine.id),
    LineStrategy.LEAST_USED: (Click2CallLine.call_count.asc(), Click2CallLine.last_used_at.asc().nulls_first(),
                              Click2CallLine.id),
    LineStrategy.PRIORITY: (Click2CallLine.priority.desc(), Click2CallLine.last_used_at.asc().nulls_first(),
                            Click2CallLine.id),
    LineStrategy.RANDOM: (sa.func.random(),),
}


def choose_line(group_id: int, strategy: str, requested: str | None) -> Click2CallLine:
    if requested is not None:
        line = Session.scalar(_active_lines(group_id).where(Click2CallLine.extension == requested)
                              .with_for_update())
        if line is None:
            raise ApiError(400, messages.LINE_NOT_ALLOWED)
        return line
    stmt = _active_lines(group_id).order_by(*_ORDER[LineStrategy(strategy)]).limit(1)
    # Concurrent calls take different lines: a line being given out is skipped.
    line = Session.scalar(stmt.with_for_update(skip_locked=True)) or Session.scalar(stmt.with_for_update())
    if line is None:
        raise ApiError(503, messages.NO_LINE)
    return line


@dataclass
class CallOutcome:
    status: int
    body: dict[str, Any]


def write_log(tenant_id: int, *, apart: bool, **values: Any) -> int:
    """One row of the call log. A placed call's row goes with the request's transaction
    (committed with the line's counters); a failed call's row is written ``apart``, since
    the request's transaction is rolled back when it answers an error."""
    insert = sa.insert(ApiCallLog).values(tenant_id=tenant_id, **values).returning(ApiCallLog.id)
    if not apart:
        return Session.execute(insert).scalar_one()
    return _write_apart(tenant_id, insert).scalar_one()


def _write_apart(tenant_id: int, statement: sa.Executable) -> sa.CursorResult:
    """Run ``statement`` in a transaction of its own for ``tenant_id``, committed at once."""
    with extensions.engine().begin() as conn:
        conn.exec_driver_sql("SELECT set_config('app.tenant_id', %(t)s, true)", {"t": str(tenant_id)})
        return conn.execute(statement)


def place_call(token: Click2CallToken, raw: object, *, ip: str | None, origin: str | None,
               started: float) -> CallOutcome:
    tenant_id, group = token.tenant_id, token.group
    settings = settings_for(group.id)
    number = raw.get("number_to_call") if isinstance(raw, dict) else None
    line_name: str | None = None
    reservation: str | None = None
    limiter = RateLimiter()
    try:
        if not origin_allowed(settings, origin):
            raise ApiError(403, messages.ORIGIN_FORBIDDEN)
        if raw is None:
            raise ApiError(400, messages.NUMBER_REQUIRED)
        try:
            data = _schema.load(raw)  # type: ignore[arg-type]
        except ValidationError as error:
            missing = isinstance(error.messages, dict) and "number_to_call" in error.messages and not number
            raise ApiError(400, messages.NUMBER_REQUIRED if missing else messages.INVALID_FIELDS,
                           error.messages if isinstance(error.messages, dict) else None) from None
        number = data["number_to_call"]
        phone = normalize_phone(number, "FR")
        if not phone.ok:
            raise ApiError(400, messages.NUMBER_INVALID, {"number_to_call": [str(phone.reason)]})
        if is_blocked(tenant_id, None, phone.e164):
            raise ApiError(422, messages.NUMBER_BLOCKED)
        allowed, _count, key = limiter.reserve(tenant_id, group.id, settings.rate_limit_per_hour)
        if not allowed:
            raise ApiError(429, messages.RATE_LIMITED, headers={"Retry-After": str(_window()[1])})
        reservation = key
        line = choose_line(group.id, settings.strategy, data.get("phone_line_used"))
        line_name = line.extension
        try:
            placed = current_dialer().place(tenant_id=tenant_id, line=line.extension, destination=phone.e164,
                                            group=group.code)
        except Exception as error:  # noqa: BLE001 - any backend failure is the caller's 502
            log.warning("click2call originate failed: %s", error)
            raise ApiError(502, messages.CALL_FAILED % (str(error) or type(error).__name__)) from None
        line.call_count += 1
        line.last_used_at = utcnow()
        Session.flush()
    except ApiError as error:
        if reservation is not None:
            limiter.release(reservation)
        elapsed = int((time.perf_counter() - started) * 1000)
        ref, token_id, rate_limit = GroupRef(group.id, group.code), token.id, settings.rate_limit_per_hour
        # The request answers an error, so nothing of its transaction is kept: it ends
        # here, giving its connection back before the log takes one (a burst of failures
        # never holds two connections per request).
        Session.rollback()
        write_log(tenant_id, apart=True, group_id=ref.id, token_id=token_id, number=_clip(number), line=line_name,
                  success=False, status_code=error.status, error=error.message, origin_ip=ip,
                  origin=_clip(origin, 255), response_time_ms=elapsed)
        _after_call(tenant_id, ref, rate_limit, success=False, no_line=error.status == 503)
        raise
    elapsed = int((time.perf_counter() - started) * 1000)
    call_id = write_log(tenant_id, apart=False, group_id=group.id, token_id=token.id, number=_clip(number),
                        line=line.extension, success=True, status_code=200, error=None, origin_ip=ip,
                        origin=_clip(origin, 255), response_time_ms=elapsed, call_uuid=placed.call_uuid)
    _after_call(tenant_id, GroupRef(group.id, group.code), settings.rate_limit_per_hour, success=True, no_line=False)
    return CallOutcome(200, {
        "success": True,
        "message": messages.CALL_STARTED % number,
        # the guide's short JavaScript example reads these two at the top level
        "call_id": call_id,
        "phone_line_used": line.extension,
        "data": {"call_id": call_id, "phone_line_used": line.extension, "number_called": number,
                 "group": group.code, "response_time_ms": elapsed},
    })


def _clip(value: object, size: int = 40) -> str | None:
    return None if value is None else str(value)[:size]


# ----------------------------------------------------------------- alerts


@dataclass(frozen=True)
class GroupRef:
    """A group's id and code, read once: still valid after the request's transaction ends."""

    id: int
    code: str


def _after_call(tenant_id: int, group: GroupRef, rate_limit: int | None, *, success: bool,
                no_line: bool) -> None:
    try:
        client = extensions.redis()
        hour, _ = _window()
        key = _stats_key(tenant_id, group.id, hour)
        pipe = client.pipeline()
        pipe.hincrby(key, "total", 1)
        if not success:
            pipe.hincrby(key, "failed", 1)
        pipe.expire(key, 3700)
        pipe.hgetall(key)
        figures = pipe.execute()[-1]
        total, failed = int(figures.get("total", 0)), int(figures.get("failed", 0))
        used = RateLimiter.used(tenant_id, group.id)
        if rate_limit and used > ALERT_RATE_SHARE * rate_limit:
            raise_alert(tenant_id, group, AlertKind.RATE_LIMIT,
                        f"Groupe {group.code} : {used} appels sur {rate_limit} autorisés "
                        f"cette heure (plus de 80 % du rate limit).")
        if total >= ALERT_MIN_CALLS and failed / total > ALERT_FAILURE_SHARE:
            raise_alert(tenant_id, group, AlertKind.FAILURE_RATE,
                        f"Groupe {group.code} : {failed} échecs sur {total} appels cette heure "
                        f"(taux d'échec supérieur à 10 %).")
        if no_line:
            raise_alert(tenant_id, group, AlertKind.NO_LINE,
                        f"Groupe {group.code} : aucune ligne disponible dans le pool click-to-call.")
    except Exception:  # noqa: BLE001 - alerts must never fail the call they describe
        log.exception("click2call alert check failed")


def raise_alert(tenant_id: int, group: GroupRef, kind: AlertKind, message: str) -> bool:
    """Record and email an alert, at most once an hour per group and kind."""
    gate = f"carillon:c2c:alert:{tenant_id}:{group.id}:{kind}"
    if not extensions.redis().set(gate, "1", nx=True, ex=3600):
        return False
    # apart: the alert stands even when the request answers an error
    _write_apart(tenant_id, sa.insert(ApiAlert).values(tenant_id=tenant_id, group_id=group.id, kind=kind,
                                                       message=message))
    from app.core.notifications import absolute_url
    from app.core.tasks import send_email

    admins = Session.scalars(sa.select(User.email).where(
        User.tenant_id == tenant_id, User.active, User.role == Role.ADMIN, User.level >= 9)).all()
    link = absolute_url(f"/admin/click2call?group={group.id}&tab=stats")
    for email in admins:
        send_email.send(email, f"Carillon click-to-call : alerte {group.code}", f"{message}\n\n{link}\n")
    return True


# ----------------------------------------------------------------- statistics


def status(token: Click2CallToken) -> dict[str, Any]:
    group = token.group
    settings = settings_for(group.id)
    lines = Session.scalars(sa.select(Click2CallLine).where(Click2CallLine.group_id == group.id)).all()
    used = RateLimiter.used(token.tenant_id, group.id)
    _, reset_in = _window()
    hour = summary(group.id, dt.timedelta(hours=1))
    return {
        "group": group.code,
        "strategy": settings.strategy,
        "lines_total": len(lines),
        "lines_available": sum(1 for line in lines if line.active),
        "last_hour": {k: hour[k] for k in ("total", "succeeded", "failed", "success_rate", "avg_response_ms")},
        "rate_limit": {"limit": settings.rate_limit_per_hour, "used": used,
                       "remaining": max(settings.rate_limit_per_hour - used, 0), "reset_in_s": reset_in},
    }


def summary(group_id: int, period: dt.timedelta) -> dict[str, Any]:
    since = utcnow() - period
    row = Session.execute(sa.select(
        sa.func.count(), sa.func.count().filter(ApiCallLog.success), sa.func.avg(ApiCallLog.response_time_ms),
    ).where(ApiCallLog.group_id == group_id, ApiCallLog.created_at >= since)).one()
    total, succeeded, average = int(row[0]), int(row[1]), row[2]
    return {"total": total, "succeeded": succeeded, "failed": total - succeeded,
            "success_rate": round(100.0 * succeeded / total, 1) if total else None,
            "avg_response_ms": round(float(average)) if average is not None else None}


def per_line(group_id: int, period: dt.timedelta) -> list[dict[str, Any]]:
    since = utcnow() - period
    figures = {row.line: row for row in Session.execute(sa.select(
        ApiCallLog.line, sa.func.count().label("calls"), sa.func.count().filter(ApiCallLog.success).label("ok"),
        sa.func.avg(ApiCallLog.response_time_ms).label("avg"), sa.func.max(ApiCallLog.created_at).label("last"),
    ).where(ApiCallLog.group_id == group_id, ApiCallLog.created_at >= since, ApiCallLog.line.is_not(None))
        .group_by(ApiCallLog.line))}
    rows = []
    for line in Session.scalars(sa.select(Click2CallLine).where(Click2CallLine.group_id == group_id)
                                .order_by(Click2CallLine.priority.desc(), Click2CallLine.extension)):
        f = figures.get(line.extension)
        rows.append({"line": line, "calls_24h": f.calls if f else 0,
                     "success_rate": round(100.0 * f.ok / f.calls, 1) if f and f.calls else None,
                     "avg_response_ms": round(float(f.avg)) if f and f.avg is not None else None})
    return rows


ERROR_ADVICE = {
    messages.TOKEN_INVALID: "Régénérez un nouveau token.",
    messages.NO_LINE: "Ajoutez des lignes au pool ou activez les lignes existantes.",
    messages.LINE_NOT_ALLOWED: "Vérifiez que la ligne est dans le pool du groupe et activée.",
    messages.RATE_LIMITED: "Attendez la remise à zéro horaire ou augmentez la limite.",
    messages.ORIGIN_FORBIDDEN: "Ajoutez le domaine dans les paramètres CORS.",
    messages.NUMBER_INVALID: "Envoyez le numéro au format national ou international (+33...).",
}


def top_errors(group_id: int, period: dt.timedelta, limit: int = 5) -> list[dict[str, Any]]:
    since = utcnow() - period
    rows = Session.execute(sa.select(ApiCallLog.error, sa.func.count().label("n")).where(
        ApiCallLog.group_id == group_id, ApiCallLog.created_at >= since, ~ApiCallLog.success)
        .group_by(ApiCallLog.error).order_by(sa.desc("n")).limit(limit)).all()
    return [{"error": r.error, "count": r.n, "advice": ERROR_ADVICE.get(r.error or "", "")} for r in rows]


def recent_logs(group_id: int, limit: int = 100) -> list[ApiCallLog]:
    return list(Session.scalars(sa.select(ApiCallLog).where(ApiCallLog.group_id == group_id)
                                .order_by(ApiCallLog.id.desc()).limit(limit)))


def alerts(group_id: int) -> list[ApiAlert]:
    return list(Session.scalars(sa.select(ApiAlert).where(ApiAlert.group_id == group_id,
                                                          ApiAlert.acknowledged_at.is_(None))
                                .order_by(ApiAlert.id.desc()).limit(20)))
