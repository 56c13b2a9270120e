"""What the wallboard shows, assembled from the live state in Redis.

The dialer keeps agent and campaign state in Redis; the call events keep per-day
counters there too (``app.supervision.counters``). A wallboard reads those and the
tenant's directory (names, groups, campaign targets, pause-code names, time zone)
loaded once when its stream opens; it never reads the calls table while it runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.auth.models import User, UserGroup
from app.campaigns.models import Campaign, CampaignAgent, CampaignGroup, PauseCode
from app.extensions import Session
from app.inbound.models import InboundQueue, QueueCampaign
from app.realtime import bus
from app.supervision import counters as day_counters
from tenants.models import Tenant

# Colour cues (seconds, fraction of the abandon target).
LONG_PAUSE_S = 600
LONG_CALL_S = 900
ABANDON_WARN_FRACTION = 0.8


@dataclass(frozen=True)
class Filters:
    """The URL's filters: campaign ids and one user group (empty = everything)."""

    campaign_ids: frozenset[int] = frozenset()
    group_id: int | None = None

    @classmethod
    def parse(cls, campaign_values: list[str], group_value: str | None) -> Filters:
        ids = frozenset(int(v) for v in campaign_values if v.strip().isdigit())
        group = int(group_value) if group_value and group_value.isdigit() else None
        return cls(ids, group)


@dataclass
class Directory:
    """The tenant's names and settings the live rows are decorated with."""

    tenant_id: int
    agents: dict[int, tuple[str, int | None]] = field(default_factory=dict)  # id → (name, group id)
    campaigns: dict[int, tuple[str, float]] = field(default_factory=dict)  # id → (name, abandon target %)
    pause_names: dict[tuple[int, str], str] = field(default_factory=dict)
    group_campaigns: dict[int, frozenset[int]] = field(default_factory=dict)
    queues: dict[int, str] = field(default_factory=dict)  # inbound queue id → name
    queue_campaigns: dict[int, frozenset[int]] = field(default_factory=dict)
    zone: str = day_counters.DEFAULT_ZONE  # the tenant's: where its days begin

    def agent_visible(self, agent_id: int, campaign_id: int | None, filters: Filters) -> bool:
        if filters.campaign_ids and campaign_id not in filters.campaign_ids:
            return False
        if filters.group_id is not None:
            return self.agents.get(agent_id, ("", None))[1] == filters.group_id
        return True

    def queue_visible(self, queue_id: int, filters: Filters) -> bool:
        """A queue shows when one of its campaigns does (every queue without filters)."""
        if queue_id not in self.queues:
            return False
        if not filters.campaign_ids and filters.group_id is None:
            return True
        return any(self.campaign_visible(cid, filters) for cid in self.queue_campaigns.get(queue_id, ()))

    def campaign_visible(self, campaign_id: int, filters: Filters) -> bool:
        if filters.campaign_ids and campaign_id not in filters.campaign_ids:
            return False
        if filters.group_id is not None:
            return campaign_id in self.group_campaigns.get(filters.group_id, frozenset())
        return True


def load_directory(tenant_id: int) -> Directory:
    """One read of the tenant's users, campaigns and pause codes (current tenant scope)."""
    tenant = Session.get(Tenant, tenant_id)
    directory = Directory(tenant_id, zone=(tenant.timezone if tenant else None) or day_counters.DEFAULT_ZONE)
    for user_id, name, group_id in Session.execute(sa.select(User.id, User.display_name, User.group_id)):
        directory.agents[user_id] = (name, group_id)
    for campaign_id, name, target in Session.execute(
            sa.select(Campaign.id, Campaign.name, Campaign.abandon_target).where(Campaign.archived_at.is_(None))):
        directory.campaigns[campaign_id] = (name, round(100.0 * target, 2))
    for campaign_id, code, name in Session.execute(sa.select(PauseCode.campaign_id, PauseCode.code, PauseCode.name)):
        directory.pause_names[(campaign_id, code)] = name
    # a group "works" on the campaigns it is attached to, or those its members are on
    groups: dict[int, set[int]] = {}
    for campaign_id, group_id in Session.execute(sa.select(CampaignGroup.campaign_id, CampaignGroup.group_id)):
        groups.setdefault(group_id, set()).add(campaign_id)
    for campaign_id, group_id in Session.execute(
            sa.select(CampaignAgent.campaign_id, User.group_id).join(User, User.id == CampaignAgent.user_id)
            .where(User.group_id.is_not(None))):
        groups.setdefault(group_id, set()).add(campaign_id)
    directory.group_campaigns = {group: frozenset(ids) for group, ids in groups.items()}
    directory.queues = dict(Session.execute(sa.select(InboundQueue.id, InboundQueue.name)).all())
    queue_campaigns: dict[int, set[int]] = {}
    for queue_id, campaign_id in Session.execute(sa.select(QueueCampaign.queue_id, QueueCampaign.campaign_id)):
        queue_campaigns.setdefault(queue_id, set()).add(campaign_id)
    directory.queue_campaigns = {queue: frozenset(ids) for queue, ids in queue_campaigns.items()}
    return directory


def groups_and_campaigns(directory: Directory) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Choices for the filter bar."""
    groups = [(g.id, g.name) for g in Session.scalars(sa.select(UserGroup).order_by(UserGroup.name))]
    campaigns = sorted(((cid, name) for cid, (name, _) in directory.campaigns.items()), key=lambda c: c[1].lower())
    return groups, campaigns


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _float(value: object, default: float = 0.0) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def agent_row(directory: Directory, agent_id: int, state: dict, counters: dict) -> dict:
    campaign_id = _int(state.get("campaign_id"))
    name, group_id = directory.agents.get(agent_id, (f"#{agent_id}", None))
    pause_code = state.get("pause_code") or ""
    return {
        "id": agent_id,
        "name": name,
        "group_id": group_id,
        "state": state.get("state") or "logged_out",
        "since": _float(state.get("since"), time.time()),
        "campaign_id": campaign_id,
        "campaign": directory.campaigns.get(campaign_id, ("", 0.0))[0] if campaign_id else "",
        "pause_code": pause_code,
        "pause_name": directory.pause_names.get((campaign_id, pause_code), pause_code) if pause_code else "",
        "call_id": state.get("call_id") or "",
        "lead_id": _int(state.get("lead_id")),
        "phone": state.get("phone") or "",
        "virtual": bool(_int(state.get("virtual"))),
        "calls_today": day_counters.agent_calls(counters, agent_id),
    }


def abandon_level(rate: float, target: float) -> str:
    """'alert' at or above the target, 'warn' near it, else 'ok'."""
    if target <= 0:
        return "ok"
    if rate >= target:
        return "alert"
    return "warn" if rate >= ABANDON_WARN_FRACTION * target else "ok"


def campaign_row(directory: Directory, campaign_id: int, stats: dict, counters: dict) -> dict:
    name, target = directory.campaigns.get(campaign_id, (f"#{campaign_id}", 3.0))
    today = day_counters.campaign_figures(counters, campaign_id)
    abandon_today, abandon_30d = today["abandon_rate"], today["abandon_rate_30d"]
    live_rate = _float(stats.get("abandon_rate"))
    return {
        "id": campaign_id,
        "name": name,
        "target": target,
        **{key: int(_float(stats.get(key))) for key in
           ("agents", "ready", "paused", "in_call", "ringing", "wrap_up", "dialling", "waiting")},
        "dial_level": _float(stats.get("dial_level")),
        "dialable": int(_float(stats.get("dialable"))),
        "answer_rate": _float(stats.get("answer_rate")),
        "abandon_live": live_rate,
        "abandon_today": abandon_today,
        "abandon_30d": abandon_30d,
        "calls_today": today["calls"],
        "sales_today": today["sales"],
        "blocks_today": today["blocks"],
        "mode": stats.get("mode") or "",
        "level": abandon_level(max(abandon_today, live_rate), target),
        "level_30d": abandon_level(abandon_30d, target),
    }


def queue_row(directory: Directory, queue_id: int, state: dict) -> dict:
    """One inbound queue: live (waiting now, since when the oldest caller waits, agents)
    and today's counters kept by the call events (telephony.dialer.inbound). Service
    level: answered within the threshold ÷ callers whose wait ended (answered,
    abandoned or overflowed), in %; None before the first one."""
    counts = {key: int(_float(state.get(key))) for key in
              ("waiting", "agents", "ready", "offered", "answered", "answered_in_sl", "abandoned", "overflowed")}
    ended = counts["answered"] + counts["abandoned"] + counts["overflowed"]
    oldest = state.get("oldest_since")
    return {
        "id": queue_id,
        "name": directory.queues.get(queue_id, f"#{queue_id}"),
        **counts,
        "oldest_since": _float(oldest) if oldest not in (None, "") else None,
        "service_level_s": int(_float(state.get("service_level_s"), 20)),
        "service_level": round(100.0 * counts["answered_in_sl"] / ended, 1) if ended else None,
        "average_wait_s": round(_float(state.get("wait_s")) / ended, 1) if ended else None,
    }


def snapshot(directory: Directory, filters: Filters, agents: dict[int, dict] | None = None,
             campaigns: dict[int, dict] | None = None, counters: dict | None = None,
             queues: dict[int, dict] | None = None) -> dict:
    """The whole wallboard, filtered: sent when a stream opens and to resynchronise.
    The state comes from the caller (the tenant feed's copy) or else from Redis."""
    tenant_id = directory.tenant_id
    counters = day_counters.read_counters(tenant_id, directory.zone) if counters is None else counters
    agents = bus.all_agents(tenant_id) if agents is None else agents
    campaigns = bus.all_campaigns(tenant_id) if campaigns is None else campaigns
    queues = bus.all_queues(tenant_id) if queues is None else queues
    agent_rows = [agent_row(directory, agent_id, state, counters) for agent_id, state in agents.items()
                  if directory.agent_visible(agent_id, _int(state.get("campaign_id")), filters)]
    return {
        "now": round(time.time(), 3),
        "agents": agent_rows,
        "campaigns": [campaign_row(directory, campaign_id, stats, counters)
                      for campaign_id, stats in campaigns.items() if directory.campaign_visible(campaign_id, filters)],
        "counters_at": counters.get("reconciled_at"),
        "queues": [queue_row(directory, queue_id, state) for queue_id, state in queues.items()
                   if directory.queue_visible(queue_id, filters)],
    }


def delta(directory: Directory, filters: Filters, agents: dict[int, dict], campaigns: dict[int, dict],
          counters: dict, queues: dict[int, dict] | None = None) -> dict | None:
    """The changes of one batch of bus events that this wallboard may see."""
    out_agents: dict[str, dict | None] = {}
    for agent_id, state in agents.items():
        campaign_id = _int(state.get("campaign_id"))
        if not directory.agent_visible(agent_id, campaign_id, filters):
            continue
        if state.get("state") == "logged_out":
            out_agents[str(agent_id)] = None
        else:
            out_agents[str(agent_id)] = agent_row(directory, agent_id, state, counters)
    out_campaigns = {str(cid): campaign_row(directory, cid, stats, counters)
                     for cid, stats in campaigns.items() if directory.campaign_visible(cid, filters)}
    out_queues = {str(qid): queue_row(directory, qid, state) for qid, state in (queues or {}).items()
                  if directory.queue_visible(qid, filters)}
    if not out_agents and not out_campaigns and not out_queues:
        return None
    return {"now": round(time.time(), 3), "agents": out_agents, "campaigns": out_campaigns, "queues": out_queues}
