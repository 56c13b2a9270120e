"""The dialer service: runs the campaigns' engines against a call-control backend.

One PostgreSQL advisory lock per campaign (session-level, on a connection the service
keeps open) elects the process that drives it, so two services never dial for the same
campaign; another service takes over when the holder's connection goes away.

Each step, per campaign and inside that tenant's scope: deliver the backend's events,
let the engine pace (the hopper hands it leads), write CDRs and lead outcomes, commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from app.auth.models import Role, User
from app.campaigns.models import Campaign
from app.campaigns.models import DialMode as CampaignDialMode
from app.extensions import Session, engine
from app.realtime import bus
from telephony.dialer.backends import Backends, SimulatedBackends
from telephony.dialer.engine import _uuid_call_id
from telephony.dialer.runner import CampaignRunner
from tenants.scoping import tenant_transaction, unscoped

log = logging.getLogger("carillon.dialer")

LOCK_NAMESPACE = 0x0CA7  # first key of pg_try_advisory_lock(int, int): this service's locks
AUTOMATIC_MODES = frozenset(
    {
        CampaignDialMode.PROGRESSIF,
        CampaignDialMode.TURBO,
        CampaignDialMode.AUTOMATIQUE1,
        CampaignDialMode.AUTOMATIQUE2,
        CampaignDialMode.AUTOMATIQUE3,
    }
)
# Inbound only (RÉCEPTION): never dials; its agents take the queues that accept it.
INBOUND_MODES = frozenset({CampaignDialMode.RECEPTION})
# The agent dials (one call at a time, for themself): the runner carries their "dial".
AGENT_DIALLED_MODES = frozenset({CampaignDialMode.MANUEL, CampaignDialMode.PREVIEW})


@dataclass
class _Held:
    runner: CampaignRunner
    lock: sa.Connection


class DialerService:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        discover_every_s: float = 10.0,
        virtual_agents: bool = True,
        tenant_ids: Sequence[int] | None = None,
        epoch_wall: float | None = None,
        backends: Backends | None = None,
        new_call_id: Callable[[], str] = _uuid_call_id,
    ) -> None:
        self._clock = clock
        self._epoch_wall = epoch_wall
        self._discover_every = discover_every_s
        self.backends = backends or SimulatedBackends()
        self._new_call_id = new_call_id
        self._virtual_agents = virtual_agents and self.backends.virtual_agents_allowed
        self._tenant_ids = tenant_ids
        self.held: dict[int, _Held] = {}
        self._last_discovery = -float("inf")
        from telephony.dialer.inbound import make_router

        # inbound queues, served before the campaigns step (blending); None turns them off
        self.inbound = make_router(self.backends, clock, epoch_wall=epoch_wall, tenant_ids=tenant_ids)

    def candidates(self) -> list[Campaign]:
        # The service owns calls for every tenant: it lists campaigns across tenants on
        # purpose, then works inside each campaign's tenant scope.
        with unscoped():
            stmt = sa.select(Campaign).where(
                Campaign.active, Campaign.archived_at.is_(None),
                Campaign.dial_mode.in_(list(AUTOMATIC_MODES | AGENT_DIALLED_MODES | INBOUND_MODES)),
            )
            if self._tenant_ids is not None:
                stmt = stmt.where(Campaign.tenant_id.in_(self._tenant_ids))
            campaigns = list(Session.scalars(stmt))
            Session.commit()
        return campaigns

    def discover(self) -> None:
        self._last_discovery = self._clock()
        wanted = {c.id: c for c in self.candidates()}
        for campaign_id in list(self.held):
            if campaign_id not in wanted:
                self.release(campaign_id)
        for campaign_id, campaign in wanted.items():
            if campaign_id not in self.held:
                self._try_acquire(campaign)

    def _try_acquire(self, campaign: Campaign) -> None:
        lock = engine().connect()
        got = lock.execute(
            sa.text("SELECT pg_try_advisory_lock(:ns, :id)"), {"ns": LOCK_NAMESPACE, "id": campaign.id}
        ).scalar()
        lock.commit()
        if not got:
            lock.close()
            return
        with tenant_transaction(campaign.tenant_id):
            campaign = Session.get(Campaign, campaign.id)
            # simulated agents cannot choose a lead: MANUEL / PREVIEW run with people only
            agents = (self._agents_for(campaign)
                      if self._virtual_agents and campaign.dial_mode not in AGENT_DIALLED_MODES else [])
            runner = CampaignRunner(
                campaign, self._clock, seed=campaign.id, virtual_agents=agents, epoch_wall=self._epoch_wall,
                backends=self.backends, new_call_id=self._new_call_id,
            )
            closed = self.backends.recover_open_calls(campaign.id, runner.backend, self._wall_now())
        if closed:
            log.warning("campaign %s: closed %d calls left open by a previous service", campaign.id, closed)
        log.info(
            "driving campaign %s (tenant %s) with %d virtual agents",
            campaign.id,
            campaign.tenant_id,
            len(agents),
        )
        self.held[campaign.id] = _Held(runner, lock)

    def _wall_now(self) -> dt.datetime:
        if self._epoch_wall is None:
            return dt.datetime.now(dt.UTC)
        return dt.datetime.fromtimestamp(self._epoch_wall + self._clock(), dt.UTC)

    @staticmethod
    def _agents_for(campaign: Campaign) -> list[int]:
        return list(
            Session.scalars(sa.select(User.id).where(User.active, User.role == Role.AGENT).order_by(User.id))
        )

    def release(self, campaign_id: int) -> None:
        held = self.held.pop(campaign_id, None)
        if held is None:
            return
        bus.clear_campaign(held.runner.tenant_id, campaign_id, held.runner.engine.agents)
        try:
            held.lock.execute(
                sa.text("SELECT pg_advisory_unlock(:ns, :id)"), {"ns": LOCK_NAMESPACE, "id": campaign_id}
            )
            held.lock.commit()
        finally:
            held.lock.close()

    def step(self) -> None:
        if self._clock() - self._last_discovery >= self._discover_every:
            self.discover()
        if self.inbound is not None:
            try:
                self.inbound.step({campaign_id: held.runner for campaign_id, held in self.held.items()})
            except Exception:
                log.exception("inbound queues failed this step")
        for campaign_id, held in list(self.held.items()):
            try:
                held.runner.step()
            except Exception:
                log.exception("campaign %s failed; releasing it", campaign_id)
                self.release(campaign_id)

    def run(self, stop: threading.Event, interval_s: float = 0.2) -> None:
        while not stop.is_set():
            started = time.monotonic()
            self.step()
            self.backends.wait(stop, max(0.0, interval_s - (time.monotonic() - started)))
        if self.inbound is not None:
            self.inbound.close()
        for campaign_id in list(self.held):
            self.release(campaign_id)
        self.backends.close()
