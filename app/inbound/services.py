"""Inbound calling rules: DIDs, IVR menus and queues, their destinations and the
opening hours. Service functions flush, never commit (the request edge commits)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import sqlalchemy as sa
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from app.auth.models import User, UserGroup
from app.campaigns.models import Campaign
from app.extensions import Session
from app.inbound.models import (
    DestinationKind,
    Did,
    InboundQueue,
    IvrMenu,
    IvrOption,
    QueueCampaign,
    QueueGroup,
)
from app.leads.phones import normalize_phone

# An audio file or stream FreeSWITCH can play; no blanks (one dialplan argument).
_AUDIO = re.compile(r"^[A-Za-z0-9_.:/\-%(),;@+=]{1,255}$")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
DIGITS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#")


class InboundError(ValueError):
    """A rule refused the change; ``field`` names the form field to show it under."""

    def __init__(self, field: str, message: LazyString | str) -> None:
        super().__init__(str(message))
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Destination:
    kind: DestinationKind
    target: int | None = None
    number: str | None = None

    @classmethod
    def of(cls, obj: object, prefix: str) -> Destination | None:
        kind = getattr(obj, f"{prefix}_kind")
        if not kind:
            return None
        return cls(DestinationKind(kind), getattr(obj, f"{prefix}_target"), getattr(obj, f"{prefix}_number"))

    def store(self, obj: object, prefix: str) -> None:
        setattr(obj, f"{prefix}_kind", self.kind.value)
        setattr(obj, f"{prefix}_target", self.target)
        setattr(obj, f"{prefix}_number", self.number)


def clear_destination(obj: object, prefix: str) -> None:
    for suffix in ("kind", "target", "number"):
        setattr(obj, f"{prefix}_{suffix}", None)


def check_audio(value: str, field: str) -> str:
    value = (value or "").strip()
    if not _AUDIO.match(value):
        raise InboundError(field, _l("Give an audio file name without spaces (for example carillon/accueil.wav)."))
    return value


def e164(raw: str, field: str, country: str = "FR") -> str:
    result = normalize_phone(raw, country)
    if result.e164 is None:
        raise InboundError(field, _l("%(number)s is not a valid phone number.", number=raw))
    return result.e164


def make_destination(kind: str, target: object, number: str | None, field: str, *, country: str = "FR",
                     exclude_ivr: int | None = None) -> Destination:
    """A destination checked against the current tenant's rows: a queue, IVR menu or
    agent of another tenant is simply not found here."""
    try:
        chosen = DestinationKind(kind)
    except ValueError:
        raise InboundError(field, _l("Choose a destination.")) from None
    if chosen is DestinationKind.EXTERNAL:
        return Destination(chosen, None, e164(number or "", field, country))
    if chosen is DestinationKind.MESSAGE:
        return Destination(chosen, None, check_audio(number or "", field))
    try:
        target_id = int(target)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InboundError(field, _l("Choose the destination's target.")) from None
    model = {DestinationKind.QUEUE: InboundQueue, DestinationKind.IVR: IvrMenu, DestinationKind.AGENT: User}[chosen]
    row = Session.get(model, target_id)
    if row is None or (chosen is DestinationKind.AGENT and not row.active):
        raise InboundError(field, _l("This destination does not exist."))
    if chosen is DestinationKind.IVR and exclude_ivr is not None and target_id == exclude_ivr:
        raise InboundError(field, _l("A menu cannot send callers back to itself on timeout."))
    return Destination(chosen, target_id, None)


# ------------------------------------------------------------------ opening hours
def parse_hours(days: Iterable[str]) -> dict[str, list[list[str]]] | None:
    """Seven texts (Monday first) like ``09:00-12:30, 14:00-18:00`` → the stored
    form; all empty → None (always open). A bad range raises ``InboundError``."""
    hours: dict[str, list[list[str]]] = {}
    for day, text in enumerate(days):
        ranges = []
        for part in (p for p in (text or "").split(",") if p.strip()):
            match = _RANGE.match(part)
            if match is None:
                raise InboundError(f"hours-{day}", _l("Write the hours as 09:00-12:30, 14:00-18:00."))
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
                raise InboundError(f"hours-{day}", _l("Write the hours as 09:00-12:30, 14:00-18:00."))
            start, end = f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}"
            if end <= start:
                raise InboundError(f"hours-{day}", _l("The end of a time range must be after its start."))
            ranges.append([start, end])
        if ranges:
            hours[str(day)] = sorted(ranges)
    return hours or None


def format_hours(hours: Mapping[str, list[list[str]]] | None) -> list[str]:
    return [", ".join(f"{a}-{b}" for a, b in (hours or {}).get(str(day), [])) for day in range(7)]


def holiday_name(did: Did, day: dt.date) -> str | None:
    if not did.holiday_country:
        return None
    try:
        calendar = holidays.country_holidays(did.holiday_country, years=day.year)
    except NotImplementedError:
        return None
    return calendar.get(day)


def is_open(did: Did, at: dt.datetime) -> bool:
    """Whether the DID's opening hours take calls at ``at``: public holidays of its
    country and its own closed dates are closed; no hours at all is always open."""
    local = at.astimezone(ZoneInfo(did.time_zone))
    day = local.date()
    if day in (did.closed_dates or []) or holiday_name(did, day) is not None:
        return False
    if did.hours is None:
        return True
    now = local.strftime("%H:%M")
    return any(start <= now < end for start, end in did.hours.get(str(local.weekday()), []))


def did_destination(did: Did, at: dt.datetime) -> tuple[Destination | None, bool]:
    """Where a call to ``did`` goes now, and whether the DID is open. Closed with no
    closed destination: None (the call is refused)."""
    if is_open(did, at):
        return Destination.of(did, "dest"), True
    return Destination.of(did, "closed"), False


# ------------------------------------------------------------------ queues
QUEUE_FIELDS = ("priority", "max_wait_s", "hold_music", "announce_position", "service_level_s", "recording",
                "wrapup_s", "simulated_per_hour", "active")


def _name_taken(model: type, name: str, exclude_id: int | None) -> bool:
    stmt = sa.select(model.id).where(sa.func.lower(model.name) == name.strip().lower())
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    return Session.scalar(stmt) is not None


def save_queue(queue: InboundQueue | None, name: str, settings: Mapping[str, object],
               overflow: Destination | None, campaign_ids: Iterable[int], group_ids: Iterable[int]) -> InboundQueue:
    """Create (``queue`` None) or update a queue with its accepting campaigns and groups."""
    name = (name or "").strip()
    if not name:
        raise InboundError("name", _l("Give a name."))
    if _name_taken(InboundQueue, name, queue.id if queue else None):
        raise InboundError("name", _l("Another queue already has this name."))
    hold_music = check_audio(str(settings.get("hold_music") or "local_stream://moh"), "hold_music")
    if queue is None:
        queue = InboundQueue(name=name)
        Session.add(queue)
    queue.name = name
    for key in QUEUE_FIELDS:
        if key in settings:
            setattr(queue, key, settings[key])
    queue.hold_music = hold_music
    Session.flush()
    if overflow is not None and overflow.kind is DestinationKind.QUEUE and overflow.target == queue.id:
        raise InboundError("overflow_kind", _l("A queue cannot overflow into itself."))
    if overflow is None:
        clear_destination(queue, "overflow")
    else:
        overflow.store(queue, "overflow")
    _set_links(QueueCampaign, "campaign_id", Campaign, queue.id, campaign_ids, "campaigns")
    _set_links(QueueGroup, "group_id", UserGroup, queue.id, group_ids, "groups")
    Session.flush()
    return queue


def active_queue(queue_id: int) -> bool:
    """Whether ``queue_id`` is an active queue of the current tenant (a transfer target)."""
    return Session.scalar(sa.select(InboundQueue.id).where(InboundQueue.id == queue_id, InboundQueue.active)) is not None


def _set_links(link: type, column: str, model: type, queue_id: int, ids: Iterable[int], field: str) -> None:
    wanted = set(ids)
    found = set(Session.scalars(sa.select(model.id).where(model.id.in_(wanted)))) if wanted else set()
    if found != wanted:
        raise InboundError(field, _l("This destination does not exist."))
    Session.execute(sa.delete(link).where(link.queue_id == queue_id))
    for target in sorted(wanted):
        Session.add(link(queue_id=queue_id, **{column: target}))


def queue_campaign_ids(queue: InboundQueue) -> list[int]:
    return list(Session.scalars(sa.select(QueueCampaign.campaign_id).where(QueueCampaign.queue_id == queue.id)))


def queue_group_ids(queue: InboundQueue) -> list[int]:
    return list(Session.scalars(sa.select(QueueGroup.group_id).where(QueueGroup.queue_id == queue.id)))


def _referenced_by(kind: DestinationKind, target: int) -> list[str]:
    """Names of the DIDs, menus and queues whose destinations point at ``target``."""
    names: list[str] = []
    for model, prefixes, label in ((Did, ("dest", "closed"), "number"), (InboundQueue, ("overflow",), "name"),
                                   (IvrMenu, ("timeout",), "name")):
        for prefix in prefixes:
            names += Session.scalars(sa.select(getattr(model, label)).where(
                getattr(model, f"{prefix}_kind") == kind.value, getattr(model, f"{prefix}_target") == target))
    names += Session.scalars(sa.select(IvrMenu.name).join(IvrOption, IvrOption.menu_id == IvrMenu.id).where(
        IvrOption.dest_kind == kind.value, IvrOption.dest_target == target))
    return sorted(set(names))


def delete_queue(queue: InboundQueue) -> None:
    used = _referenced_by(DestinationKind.QUEUE, queue.id)
    if used:
        raise InboundError("delete", _l("Still used by %(names)s.", names=", ".join(used)))
    Session.delete(queue)
    Session.flush()


# ------------------------------------------------------------------ IVR menus
@dataclass(frozen=True)
class OptionSpec:
    digit: str
    label: str
    destination: Destination


def save_ivr(menu: IvrMenu | None, name: str, settings: Mapping[str, object], timeout: Destination | None,
             options: list[OptionSpec]) -> IvrMenu:
    name = (name or "").strip()
    if not name:
        raise InboundError("name", _l("Give a name."))
    if _name_taken(IvrMenu, name, menu.id if menu else None):
        raise InboundError("name", _l("Another menu already has this name."))
    greeting = check_audio(str(settings.get("greeting_audio") or ""), "greeting_audio")
    invalid = str(settings.get("invalid_audio") or "").strip()
    invalid = check_audio(invalid, "invalid_audio") if invalid else None
    digits = [o.digit for o in options]
    if len(set(digits)) != len(digits) or any(d not in DIGITS for d in digits):
        raise InboundError("options", _l("Each key can lead to one destination only."))
    if not options and timeout is None:
        raise InboundError("options", _l("Give at least one key, or a destination when no key is pressed."))
    if menu is None:
        menu = IvrMenu(name=name, greeting_audio=greeting)
        Session.add(menu)
    menu.name, menu.greeting_audio, menu.invalid_audio = name, greeting, invalid
    for key in ("timeout_s", "max_retries"):
        if key in settings:
            setattr(menu, key, settings[key])
    if timeout is None:
        clear_destination(menu, "timeout")
    else:
        timeout.store(menu, "timeout")
    Session.flush()
    Session.execute(sa.delete(IvrOption).where(IvrOption.menu_id == menu.id))
    for spec in options:
        option = IvrOption(menu_id=menu.id, digit=spec.digit, label=spec.label.strip()[:120])
        spec.destination.store(option, "dest")
        Session.add(option)
    Session.flush()
    Session.expire(menu, ["options"])
    return menu


def delete_ivr(menu: IvrMenu) -> None:
    used = [name for name in _referenced_by(DestinationKind.IVR, menu.id) if name != menu.name]
    if used:
        raise InboundError("delete", _l("Still used by %(names)s.", names=", ".join(used)))
    Session.delete(menu)
    Session.flush()


# ------------------------------------------------------------------ DIDs
def save_did(did: Did | None, number: str, settings: Mapping[str, object], destination: Destination,
             closed: Destination | None, country: str = "FR") -> Did:
    """Create or update a DID. A number already held by any tenant is refused, in the
    same words whoever holds it (nothing of another tenant is disclosed)."""
    normalized = e164(number, "number", country)
    zone = str(settings.get("time_zone") or "Europe/Paris")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InboundError("time_zone", _l("Unknown time zone.")) from None
    holiday_country = str(settings.get("holiday_country") or "").strip().upper() or None
    if holiday_country is not None and holiday_country not in holidays.list_supported_countries():
        raise InboundError("holiday_country", _l("No public holiday calendar for this country."))
    created = did is None
    if did is None:
        did = Did(number=normalized, dest_kind=destination.kind.value)
    did.number = normalized
    did.label = str(settings.get("label") or "").strip()[:120]
    did.active = bool(settings.get("active", True))
    did.time_zone = zone
    did.hours = settings.get("hours")  # type: ignore[assignment]
    did.holiday_country = holiday_country
    did.closed_dates = sorted(set(settings.get("closed_dates") or []))  # type: ignore[arg-type]
    destination.store(did, "dest")
    if closed is None:
        clear_destination(did, "closed")
    else:
        closed.store(did, "closed")
    try:
        with Session.begin_nested():
            if created:
                Session.add(did)
            Session.flush()
    except IntegrityError:
        if not created:
            Session.refresh(did)
        raise InboundError("number", _l("This number is already in use.")) from None
    return did


def delete_did(did: Did) -> None:
    Session.delete(did)
    Session.flush()


# ------------------------------------------------------------------ choices
def destination_choices() -> dict[str, list[tuple[int, str]]]:
    """The current tenant's targets, for the destination pickers."""
    return {
        "queue": [(q.id, q.name) for q in Session.scalars(sa.select(InboundQueue).order_by(InboundQueue.name))],
        "ivr": [(m.id, m.name) for m in Session.scalars(sa.select(IvrMenu).order_by(IvrMenu.name))],
        "agent": [(u.id, u.display_name) for u in Session.scalars(
            sa.select(User).where(User.active.is_(True), User.tenant_id.is_not(None)).order_by(User.display_name))],
    }


def describe(destination: Destination | None, names: Mapping[str, Mapping[int, str]]) -> str:
    """A destination in words, for the lists."""
    if destination is None:
        return "—"
    if destination.kind in (DestinationKind.EXTERNAL, DestinationKind.MESSAGE):
        return f"{KIND_LABELS[destination.kind]} · {destination.number}"
    name = names.get(destination.kind.value, {}).get(destination.target or 0, f"#{destination.target}")
    return f"{KIND_LABELS[destination.kind]} · {name}"


KIND_LABELS = {
    DestinationKind.QUEUE: _l("Queue"),
    DestinationKind.IVR: _l("IVR menu"),
    DestinationKind.AGENT: _l("Agent"),
    DestinationKind.EXTERNAL: _l("External number"),
    DestinationKind.MESSAGE: _l("Message, then hang up"),
}
