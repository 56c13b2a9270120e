"""Campaign settings, statuses and pause codes (C1, C3, C4). Functions flush, never commit."""

from __future__ import annotations

import datetime as dt
import pathlib
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from app.auth.models import User, UserGroup
from app.campaigns.models import (
    STATUS_FLAGS,
    Campaign,
    CampaignAgent,
    CampaignGroup,
    CampaignStatus,
    PauseCode,
    PauseMode,
    StatusCategory,
)
from app.db import utcnow
from app.extensions import Session
from app.leads.models import LeadList, RecycleRule


class CampaignError(ValueError):
    """A rule refused the change; ``field`` names the form field to show it under."""

    def __init__(self, field: str, message: LazyString | str) -> None:
        super().__init__(str(message))
        self.field = field
        self.message = message


@dataclass(frozen=True)
class StatusSpec:
    code: str
    name: str
    category: StatusCategory
    flags: frozenset[str] = frozenset()
    system: bool = False


# Names are data the manager edits, created in French, the language of the guide and
# of the agents who read them on their disposition buttons.
DEFAULT_STATUSES: tuple[StatusSpec, ...] = (
    StatusSpec("VT", "Vente", StatusCategory.COMMERCIAL, frozenset({"sale", "final"})),
    StatusSpec("RDV", "Rendez-vous", StatusCategory.COMMERCIAL, frozenset({"sale", "final"})),
    StatusSpec("RP", "Rappel", StatusCategory.COMMERCIAL, frozenset({"callback"})),
    StatusSpec("RF", "Refus", StatusCategory.COMMERCIAL, frozenset({"not_interested", "final"})),
    StatusSpec("REP", "Répondeur", StatusCategory.ADMINISTRATIVE, frozenset({"answering_machine"})),
    StatusSpec("INJ", "Injoignable", StatusCategory.ADMINISTRATIVE),
    StatusSpec("HC", "Hors cible", StatusCategory.ADMINISTRATIVE, frozenset({"not_treatable", "final"})),
    StatusSpec("FN", "Faux numéro", StatusCategory.TECHNICAL, frozenset({"not_treatable", "final"})),
)
# Outcomes the dialler sets by itself (C3); they cannot be deleted.
SYSTEM_STATUSES: tuple[StatusSpec, ...] = (
    StatusSpec("NRP", "Ne répond pas", StatusCategory.SYSTEM, system=True),
    StatusSpec("OCC", "Occupé", StatusCategory.SYSTEM, system=True),
    StatusSpec("CNG", "Congestion réseau", StatusCategory.SYSTEM, system=True),
    StatusSpec("AMD", "Répondeur détecté", StatusCategory.SYSTEM, frozenset({"answering_machine"}), system=True),
    StatusSpec("ABD", "Appel abandonné", StatusCategory.SYSTEM, system=True),
    StatusSpec("NI", "Numéro invalide", StatusCategory.SYSTEM, frozenset({"not_treatable", "final"}), system=True),
    StatusSpec("DNC", "Liste rouge", StatusCategory.SYSTEM, frozenset({"final"}), system=True),
)
DEFAULT_PAUSE_CODES: tuple[tuple[str, str], ...] = (
    ("PAUSE", "Pause courte"),
    ("REPAS", "Repas"),
    ("FORMATION", "Formation"),
    ("REUNION", "Réunion d'équipe"),
    ("TECHNIQUE", "Problème technique"),
    ("SANITAIRE", "Pause sanitaire"),
)
# The French legal window (D223-9), the default a new campaign starts from.
DEFAULT_HOURS: dict[str, list[list[str]]] = {
    str(day): [["10:00", "13:00"], ["14:00", "20:00"]] for day in range(5)
}
SETTING_FIELDS: tuple[str, ...] = (
    "name", "dial_mode", "trunk_id", "caller_id", "local_presence", "dids", "recording", "dial_order",
    "attempt_limit", "min_attempt_spacing", "refusal_delay", "hours_data", "amd", "dial_speed",
    "abandon_target", "script_id", "pause_mode", "prospecting", "existing_contract", "wrapup_s", "wrapup_status",
)


# ------------------------------------------------------------------ campaigns
def name_taken(name: str, exclude_id: int | None = None) -> bool:
    stmt = sa.select(Campaign.id).where(sa.func.lower(Campaign.name) == name.strip().lower())
    if exclude_id is not None:
        stmt = stmt.where(Campaign.id != exclude_id)
    return Session.scalar(stmt) is not None


def create_campaign(name: str, settings: Mapping[str, object] | None = None) -> Campaign:
    """A new campaign, inactive until it has a list, with the default statuses and
    pause codes and the legal calling hours."""
    if name_taken(name):
        raise CampaignError("name", _l("Another campaign already has this name."))
    campaign = Campaign(name=name.strip(), active=False, hours_data=dict(DEFAULT_HOURS), dids=[])
    Session.add(campaign)
    apply_settings(campaign, settings or {})
    Session.flush()
    create_default_statuses(campaign)
    create_default_pause_codes(campaign)
    return campaign


def apply_settings(campaign: Campaign, settings: Mapping[str, object]) -> None:
    hours = settings.get("hours_data")
    if hours:
        check_hours(hours)  # type: ignore[arg-type]
    name = settings.get("name")
    if name is not None and name_taken(str(name), exclude_id=campaign.id):
        raise CampaignError("name", _l("Another campaign already has this name."))
    for key, value in settings.items():
        if key not in SETTING_FIELDS:
            raise KeyError(key)
        setattr(campaign, key, value.strip() if isinstance(value, str) and key == "name" else value)


def update_campaign(campaign: Campaign, settings: Mapping[str, object]) -> Campaign:
    apply_settings(campaign, settings)
    Session.flush()
    return campaign


def check_hours(hours: Mapping[str, Sequence[Sequence[str]]]) -> None:
    """Each range must end after it starts and ranges of a day must not overlap."""
    for day, ranges in hours.items():
        parsed = sorted((dt.time.fromisoformat(start), dt.time.fromisoformat(end)) for start, end in ranges)
        for start, end in parsed:
            if end <= start:
                raise CampaignError(f"hours-{day}", _l("The end of a time range must be after its start."))
        for (_, first_end), (second_start, _) in zip(parsed, parsed[1:], strict=False):
            if second_start < first_end:
                raise CampaignError(f"hours-{day}", _l("The time ranges of a day overlap."))


def clone_campaign(source: Campaign, name: str) -> Campaign:
    """A copy of the settings, statuses, pause codes and assignments; lists, callbacks
    and history stay with the original. The copy starts inactive."""
    if name_taken(name):
        raise CampaignError("name", _l("Another campaign already has this name."))
    settings = {key: getattr(source, key) for key in SETTING_FIELDS if key != "name"}
    settings["dids"] = list(source.dids)
    settings["hours_data"] = None if source.hours_data is None else dict(source.hours_data)
    clone = Campaign(name=name.strip(), active=False, voicemail_audio=source.voicemail_audio)
    Session.add(clone)
    apply_settings(clone, settings)
    Session.flush()
    for status in source.statuses:
        Session.add(CampaignStatus(campaign_id=clone.id, **_status_values(status)))
    for pause in source.pause_codes:
        Session.add(PauseCode(campaign_id=clone.id, code=pause.code, name=pause.name, position=pause.position))
    set_assignments(clone, assigned_agent_ids(source), assigned_group_ids(source))
    Session.flush()
    return clone


def _status_values(status: CampaignStatus) -> dict[str, object]:
    values = {flag: getattr(status, flag) for flag in STATUS_FLAGS}
    values.update(code=status.code, name=status.name, category=status.category, system=status.system,
                  position=status.position)
    return values


def archive_campaign(campaign: Campaign) -> None:
    campaign.archived_at = utcnow()
    campaign.active = False
    Session.flush()


def restore_campaign(campaign: Campaign) -> None:
    campaign.archived_at = None
    Session.flush()


def campaign_lists(campaign: Campaign) -> list[LeadList]:
    return list(Session.scalars(sa.select(LeadList).where(LeadList.campaign_id == campaign.id)
                                .order_by(LeadList.name)))


def active_list_count(campaign: Campaign) -> int:
    return Session.scalar(sa.select(sa.func.count()).select_from(LeadList).where(
        LeadList.campaign_id == campaign.id, LeadList.active.is_(True))) or 0


def set_active_lists(campaign: Campaign, list_ids: Iterable[int]) -> None:
    wanted = set(list_ids)
    for lead_list in campaign_lists(campaign):
        lead_list.active = lead_list.id in wanted
    Session.flush()


def set_campaign_active(campaign: Campaign, active: bool) -> None:
    """Activation needs at least one active list, and an archived campaign stays off."""
    if active and campaign.archived:
        raise CampaignError("active", _l("An archived campaign cannot be activated; restore it first."))
    if active and active_list_count(campaign) == 0:
        raise CampaignError("active", _l("Activate at least one list before activating the campaign."))
    campaign.active = active
    Session.flush()


def recycle_rules(campaign: Campaign) -> list[RecycleRule]:
    return list(Session.scalars(sa.select(RecycleRule).where(RecycleRule.campaign_id == campaign.id)
                                .order_by(RecycleRule.status)))


# ---------------------------------------------------------------- assignment
def assigned_agent_ids(campaign: Campaign) -> list[int]:
    return list(Session.scalars(sa.select(CampaignAgent.user_id).where(CampaignAgent.campaign_id == campaign.id)))


def assigned_group_ids(campaign: Campaign) -> list[int]:
    return list(Session.scalars(sa.select(CampaignGroup.group_id).where(CampaignGroup.campaign_id == campaign.id)))


def set_assignments(campaign: Campaign, agent_ids: Iterable[int], group_ids: Iterable[int]) -> None:
    """Replace the assigned agents and groups; ids of another tenant are not found by
    the scoped queries below and so are ignored."""
    agents = set(Session.scalars(sa.select(User.id).where(User.id.in_(set(agent_ids)))))
    groups = set(Session.scalars(sa.select(UserGroup.id).where(UserGroup.id.in_(set(group_ids)))))
    Session.execute(sa.delete(CampaignAgent).where(CampaignAgent.campaign_id == campaign.id))
    Session.execute(sa.delete(CampaignGroup).where(CampaignGroup.campaign_id == campaign.id))
    Session.add_all(CampaignAgent(campaign_id=campaign.id, user_id=user_id) for user_id in sorted(agents))
    Session.add_all(CampaignGroup(campaign_id=campaign.id, group_id=group_id) for group_id in sorted(groups))
    Session.flush()


def campaign_agents(campaign: Campaign) -> list[User]:
    """Agents assigned directly or through one of the campaign's groups."""
    direct = sa.select(CampaignAgent.user_id).where(CampaignAgent.campaign_id == campaign.id)
    via_group = sa.select(User.id).join(CampaignGroup, CampaignGroup.group_id == User.group_id).where(
        CampaignGroup.campaign_id == campaign.id)
    stmt = sa.select(User).where(User.active.is_(True), sa.or_(User.id.in_(direct), User.id.in_(via_group)))
    return list(Session.scalars(stmt.order_by(User.display_name)))


# ------------------------------------------------------------------ statuses
def create_default_statuses(campaign: Campaign) -> None:
    for position, spec in enumerate(DEFAULT_STATUSES + SYSTEM_STATUSES):
        Session.add(CampaignStatus(
            campaign_id=campaign.id, code=spec.code, name=spec.name, category=spec.category,
            system=spec.system, position=position, **{flag: flag in spec.flags for flag in STATUS_FLAGS},
        ))
    Session.flush()


def normalise_code(code: str) -> str:
    return code.strip().upper()


def _check_status_code(campaign: Campaign, code: str, exclude_id: int | None) -> None:
    if not (2 <= len(code) <= 3 and code.isalnum()):
        raise CampaignError("code", _l("A status code has 2 or 3 letters or digits."))
    stmt = sa.select(CampaignStatus.id).where(CampaignStatus.campaign_id == campaign.id,
                                              CampaignStatus.code == code)
    if exclude_id is not None:
        stmt = stmt.where(CampaignStatus.id != exclude_id)
    if Session.scalar(stmt) is not None:
        raise CampaignError("code", _l("This campaign already has a status with code %(code)s.", code=code))


def add_status(campaign: Campaign, code: str, name: str, category: str, flags: Iterable[str]) -> CampaignStatus:
    code = normalise_code(code)
    _check_status_code(campaign, code, None)
    chosen = set(flags)
    position = 1 + (Session.scalar(sa.select(sa.func.max(CampaignStatus.position))
                                   .where(CampaignStatus.campaign_id == campaign.id)) or 0)
    status = CampaignStatus(campaign_id=campaign.id, code=code, name=name.strip(), category=category,
                            position=position, **{flag: flag in chosen for flag in STATUS_FLAGS})
    Session.add(status)
    Session.flush()
    return status


def update_status(status: CampaignStatus, code: str, name: str, category: str, flags: Iterable[str]) -> None:
    """System statuses keep their code (the dialler sets them by code)."""
    code = normalise_code(code)
    if status.system and code != status.code:
        raise CampaignError("code", _l("The code of a system status cannot change."))
    _check_status_code(status.campaign, code, status.id)
    chosen = set(flags)
    status.code, status.name = code, name.strip()
    if not status.system:
        status.category = category
    for flag in STATUS_FLAGS:
        setattr(status, flag, flag in chosen)
    Session.flush()


def delete_status(status: CampaignStatus) -> None:
    if status.system:
        raise CampaignError("code", _l("System statuses cannot be deleted."))
    Session.delete(status)
    Session.flush()


def reorder_statuses(campaign: Campaign, ordered_ids: Sequence[int]) -> None:
    position = {status_id: index for index, status_id in enumerate(ordered_ids)}
    for status in campaign.statuses:
        status.position = position.get(status.id, len(position) + status.position)
    Session.flush()


def status_by_code(campaign: Campaign, code: str) -> CampaignStatus | None:
    return Session.scalar(sa.select(CampaignStatus).where(CampaignStatus.campaign_id == campaign.id,
                                                          CampaignStatus.code == normalise_code(code)))


# --------------------------------------------------------------- pause codes
def create_default_pause_codes(campaign: Campaign) -> None:
    for position, (code, name) in enumerate(DEFAULT_PAUSE_CODES):
        Session.add(PauseCode(campaign_id=campaign.id, code=code, name=name, position=position))
    Session.flush()


def add_pause_code(campaign: Campaign, code: str, name: str) -> PauseCode:
    code = normalise_code(code)
    if not (2 <= len(code) <= 12 and code.replace("_", "").isalnum()):
        raise CampaignError("code", _l("A pause code has 2 to 12 letters, digits or underscores."))
    exists = Session.scalar(sa.select(PauseCode.id).where(PauseCode.campaign_id == campaign.id,
                                                          PauseCode.code == code))
    if exists is not None:
        raise CampaignError("code", _l("This campaign already has the pause code %(code)s.", code=code))
    position = 1 + (Session.scalar(sa.select(sa.func.max(PauseCode.position))
                                   .where(PauseCode.campaign_id == campaign.id)) or 0)
    pause = PauseCode(campaign_id=campaign.id, code=code, name=name.strip(), position=position)
    Session.add(pause)
    Session.flush()
    return pause


def delete_pause_code(pause: PauseCode) -> None:
    Session.delete(pause)
    Session.flush()


def set_pause_mode(campaign: Campaign, mode: str) -> None:
    campaign.pause_mode = PauseMode(mode)
    if campaign.pause_mode is PauseMode.MANDATORY and not campaign.pause_codes:
        raise CampaignError("pause_mode", _l("A mandatory pause code needs at least one code."))
    Session.flush()


# ----------------------------------------------------------------- voicemail
VOICEMAIL_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg"}


def voicemail_dir(upload_root: pathlib.Path, tenant_id: int) -> pathlib.Path:
    return upload_root / "voicemail" / str(tenant_id)


def store_voicemail(campaign: Campaign, stream: IO[bytes], filename: str, upload_root: pathlib.Path) -> str:
    """Keep the uploaded audio under a generated name (never the client's) and point
    the campaign at it; the media nodes fetch it from there."""
    suffix = pathlib.PurePath(filename).suffix.lower()
    if suffix not in VOICEMAIL_TYPES:
        raise CampaignError("voicemail", _l("A WAV or MP3 file."))
    folder = voicemail_dir(upload_root, campaign.tenant_id)
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{uuid.uuid4().hex}{suffix}"
    with open(folder / stored, "wb") as out:
        shutil.copyfileobj(stream, out)
    campaign.voicemail_audio = stored
    Session.flush()
    return stored
