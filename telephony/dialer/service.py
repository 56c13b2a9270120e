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
from telephony.callcontrol import CallControl, OriginateRequest
from telephony.dialer.calls import AgentState, CallRecord, IllegalTransition
from telephony.dialer.engine import CampaignEngine, CampaignSettings, MachineAction
from telephony.dialer.hopper import Hopper
from telephony.dialer.live import DEMO_PROFILE, LiveSimulator
from telephony.dialer.outcomes import close_orphans, finish_call, record_originate
from telephony.dialer.pacing import DialMode
from tenants.scoping import tenant_scope, unscoped

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


def settings_for(campaign: Campaign) -> CampaignSettings:
    return CampaignSettings(
        tenant_id=campaign.tenant_id,
        campaign_id=campaign.id,
        mode=DialMode(campaign.dial_mode),
        caller_id=campaign.caller_id or "",
        amd=campaign.amd,
        machine_action=MachineAction.VOICEMAIL if campaign.voicemail_audio else MachineAction.DROP,
        voicemail_audio=campaign.voicemail_audio,
        abandon_target=campaign.abandon_target,
        dial_speed=campaign.dial_speed,
        record=campaign.recording,
    )


class _WallClock:
    """Service time in seconds; the engine guards itself against jumps."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class _RecordingControl:
    """Writes the CDR row when a call is launched, then forwards to the backend."""

    def __init__(self, backend: CallControl, name: str, wall: Callable[[], dt.datetime]) -> None:
        self._backend = backend
        self._name = name
        self._wall = wall

    def originate(self, request: OriginateRequest) -> None:
        record_originate(request, self._name, self._wall())
        self._backend.originate(request)

    def hangup(self, call_id: str, cause: str = "NORMAL_CLEARING") -> None:
        self._backend.hangup(call_id, cause)

    def bridge_to_agent(self, call_id: str, agent_id: int) -> None:
        self._backend.bridge_to_agent(call_id, agent_id)

    def play_message(self, call_id: str, audio: str) -> None:
        self._backend.play_message(call_id, audio)


class CampaignRunner:
    """One campaign driven by this process (it holds the campaign's advisory lock)."""

    def __init__(
        self,
        campaign: Campaign,
        clock: Callable[[], float],
        *,
        seed: int = 0,
        virtual_agents: Sequence[int] = (),
        epoch_wall: float | None = None,
    ) -> None:
        self.tenant_id = campaign.tenant_id
        self.campaign_id = campaign.id
        self._clock = clock
        # unix time at which ``clock()`` read 0: CDR times and compliance use wall time
        self._epoch_wall = time.time() - clock() if epoch_wall is None else epoch_wall
        human_codes = [s.code for s in campaign.statuses if not s.system and not s.answering_machine] or [
            "INJ"
        ]
        self.virtual_agents = set(virtual_agents)
        self.backend = LiveSimulator(
            DEMO_PROFILE, seed, human_codes=human_codes, virtual_agents=self.virtual_agents
        )
        self.backend.set_time(clock())
        control = _RecordingControl(self.backend, "simulated", self.wall_now)
        self.engine = CampaignEngine(
            settings_for(campaign),
            control,
            _WallClock(clock),
            Hopper(campaign.id, clock=self.wall_now),
            on_call_finished=self._finished,
        )
        self.backend.attach(self.engine)
        self._last_tick = -1.0
        self._published: dict[int, tuple] = {}
        self._pending_logout: set[int] = set()
        for agent_id in virtual_agents:
            self.engine.login(agent_id)

    def wall(self, t: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._epoch_wall + t, dt.UTC)

    def wall_now(self) -> dt.datetime:
        return self.wall(self._clock())

    def _finished(self, record: CallRecord) -> None:
        campaign = Session.get(Campaign, self.campaign_id)
        if campaign is not None:
            finish_call(campaign, record, self.wall)

    def step(self) -> None:
        now = self._clock()
        with tenant_scope(self.tenant_id):
            try:
                self.backend.set_time(now)
                self.apply_commands(bus.pop_commands(self.campaign_id))
                self.backend.pump(now)
                ticked = now - self._last_tick >= 1.0
                if ticked:
                    self._last_tick = now
                    self.check_presence()
                    self.engine.tick()
                Session.commit()
            except Exception:
                Session.rollback()
                raise
            finally:
                Session.remove()
        self.publish_agents()
        if ticked:
            bus.publish_campaign(self.tenant_id, self.campaign_id, self.stats())

    # ------------------------------------------------------------ agents
    def apply_commands(self, commands: list[bus.AgentCommand]) -> None:
        """Apply the agents' actions in order. A command that does not fit the agent's
        state (a disposition clicked twice, a pause during a call) changes nothing and
        is reported to that agent's page."""
        for command in commands:
            if command.tenant_id != self.tenant_id or command.campaign_id != self.campaign_id:
                continue  # never act on another tenant's agent, whatever the list held
            try:
                self._apply(command)
            except IllegalTransition as refused:
                bus.publish(
                    self.tenant_id,
                    {
                        "type": "refused",
                        "agent_id": command.agent_id,
                        "command": command.kind,
                        "reason": str(refused),
                    },
                )

    def _apply(self, command: bus.AgentCommand) -> None:
        engine = self.engine
        agent_id = command.agent_id
        if command.kind == "login":
            if agent_id not in engine.agents:
                engine.login(agent_id)
            self._pending_logout.discard(agent_id)
        elif command.kind == "ready":
            engine.resume(agent_id)
        elif command.kind == "pause":
            engine.pause(agent_id, command.pause_code or "PAUSE")
        elif command.kind == "disposition":
            agent = engine.agents.get(agent_id)
            if agent is None or (command.call_id and agent.call_id != command.call_id):
                raise IllegalTransition("this call is already closed")
            engine.disposition(agent_id, command.status or "INJ", pause_code=command.pause_code)
            self._logout_if_pending(agent_id)
        elif command.kind == "hangup":
            agent = engine.agents.get(agent_id)
            if agent is None or agent.call_id is None or agent.state is not AgentState.IN_CALL:
                raise IllegalTransition("no call to hang up")
            self.backend.hangup(agent.call_id)
        elif command.kind == "logout":
            self._pending_logout.add(agent_id)
            self._logout_if_pending(agent_id)

    def _logout_if_pending(self, agent_id: int) -> None:
        """Log out now if idle; an agent in a call or wrap-up is logged out once the
        call is dispositioned (the customer is never cut off by a logout)."""
        agent = self.engine.agents.get(agent_id)
        if agent_id not in self._pending_logout or agent is None:
            return
        if agent.state in (AgentState.READY, AgentState.PAUSED):
            self.engine.logout(agent_id)
            self._pending_logout.discard(agent_id)

    def check_presence(self) -> None:
        """An agent whose page is gone (no heartbeat within the grace period) is logged
        out: idle at once, otherwise when the current call is dispositioned."""
        for agent_id in list(self.engine.agents):
            if agent_id in self.virtual_agents or bus.is_alive(self.tenant_id, agent_id):
                continue
            self._pending_logout.add(agent_id)
            self._logout_if_pending(agent_id)

    def publish_agents(self) -> None:
        engine = self.engine
        seen = set()
        for agent_id, agent in engine.agents.items():
            seen.add(agent_id)
            call = engine.calls.get(agent.call_id) if agent.call_id else None
            key = (agent.state, agent.since, agent.pause_code, agent.call_id)
            if self._published.get(agent_id) == key:
                continue
            self._published[agent_id] = key
            bus.publish_agent(
                self.tenant_id,
                agent_id,
                {
                    "state": str(agent.state),
                    "since": self.wall(agent.since).timestamp(),
                    "campaign_id": self.campaign_id,
                    "pause_code": agent.pause_code or "",
                    "call_id": agent.call_id or "",
                    "lead_id": call.lead_id if call and call.lead_id else "",
                    "phone": call.destination if call else "",
                    "virtual": int(agent_id in self.virtual_agents),
                },
            )
        for agent_id in set(self._published) - seen:
            del self._published[agent_id]
            bus.publish_agent(
                self.tenant_id, agent_id, {"state": "logged_out", "campaign_id": self.campaign_id}
            )

    def stats(self) -> dict[str, float | int]:
        snap = self.engine.snapshot()
        counters = snap.counters
        states = [a.state for a in self.engine.agents.values()]
        answered = counters.live + counters.machines_detected
        busy = len(snap.in_call_since) + len(snap.wrap_up_since)
        return {
            "agents": len(states),
            "ready": states.count(AgentState.READY),
            "paused": states.count(AgentState.PAUSED),
            "in_call": states.count(AgentState.IN_CALL),
            "ringing": states.count(AgentState.RINGING),
            "wrap_up": states.count(AgentState.WRAP_UP),
            "dialling": len(snap.outstanding_dialled_at),
            "waiting": snap.calls_waiting,
            "dials": counters.dials,
            "answered": answered,
            "abandoned": counters.abandoned,
            "abandon_rate": round(100.0 * counters.abandoned / counters.live, 2) if counters.live else 0.0,
            "answer_rate": round(100.0 * answered / counters.dials, 1) if counters.dials else 0.0,
            "dial_level": round(len(snap.outstanding_dialled_at) / busy, 2) if busy else 0.0,
            "mode": str(self.engine.settings.mode),
            "updated_at": round(time.time(), 3),
        }


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
    ) -> None:
        self._clock = clock
        self._epoch_wall = epoch_wall
        self._discover_every = discover_every_s
        self._virtual_agents = virtual_agents
        self._tenant_ids = tenant_ids
        self.held: dict[int, _Held] = {}
        self._last_discovery = -float("inf")

    def candidates(self) -> list[Campaign]:
        # The service owns calls for every tenant: it lists campaigns across tenants on
        # purpose, then works inside each campaign's tenant scope.
        with unscoped():
            stmt = sa.select(Campaign).where(
                Campaign.active, Campaign.archived_at.is_(None), Campaign.dial_mode.in_(list(AUTOMATIC_MODES))
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
        with tenant_scope(campaign.tenant_id):
            campaign = Session.get(Campaign, campaign.id)
            closed = close_orphans(campaign.id, self._wall_now())
            agents = self._agents_for(campaign) if self._virtual_agents else []
            runner = CampaignRunner(
                campaign, self._clock, seed=campaign.id, virtual_agents=agents, epoch_wall=self._epoch_wall
            )
            Session.commit()
            Session.remove()
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
            stop.wait(max(0.0, interval_s - (time.monotonic() - started)))
        for campaign_id in list(self.held):
            self.release(campaign_id)
