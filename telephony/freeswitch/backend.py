"""``FreeSwitchCallControl``: the dialer's ``CallControl`` over FreeSWITCH ESL.

One ESL session per media node. New calls go to the connected node with the fewest
open calls. Channel uuids are the application's call ids (``origination_uuid``), so
every event maps back to its call; the one exception is a customer an agent hands to
an inbound queue (``hand_to_queue``): the channel then carries a new call (a new CDR),
so commands go to ``TrackedCall.channel`` and events are looked up by channel. Answered customers join the
agent's personal conference ``agent-<tenant>-<agent>`` with ``uuid_transfer <uuid>
conference:<name>@<profile> inline`` (recorded working in fixture 07); supervision
uses that conference's member controls (fixture 08b) rather than ``eavesdrop``, which
crashed FreeSWITCH 1.11.1 with ``null`` legs (fixture README, surprise 8).

After an ESL drop the session reconnects with exponential backoff, subscribes again,
then reconciles: live channels from ``show channels as json`` (keyed by uuid: caller
ids are swapped after answer and custom variables are absent, so neither is used)
against the open calls. Calls still up get the state they reached during the gap;
calls whose channel is gone (confirmed with ``uuid_exists``, since ``show channels``
lags) are closed with ``CAUSE_CHANNEL_GONE``. If a node stays unreachable longer than
``node_lost_grace_s`` its calls are closed with ``CAUSE_NODE_UNREACHABLE`` and, should
their channels turn up again, they are hung up rather than left unbilled.
"""

from __future__ import annotations

import logging
import time
import uuid as uuid_module
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gevent

from telephony.callcontrol import (
    CallControlError,
    CallEvent,
    Clock,
    EventKind,
    OriginateRequest,
    SupervisionMode,
    TransferKind,
)
from telephony.freeswitch import commands
from telephony.freeswitch.amd import AnsweringMachineDetector
from telephony.freeswitch.client import (
    EslClient,
    EslDisconnected,
    EslError,
    EslNotSent,
    EslTimeout,
    EventFormat,
)
from telephony.freeswitch.nodes import ConferenceDirectory, FreeSwitchNode
from telephony.freeswitch.protocol import (
    EslEvent,
    MalformedEvent,
    parse_channel_dump,
    parse_job_result,
    parse_json_rows,
    reply_ok,
)
from telephony.freeswitch.tracker import (
    LIVE_AFTER_ANSWER,
    CallTracker,
    TrackedCall,
    agent_conference_name,
    parse_agent_conference,
)

log = logging.getLogger(__name__)

CAUSE_NO_MEDIA_NODE = "CARILLON_NO_MEDIA_NODE"  # no FreeSWITCH connected: nothing dialled
CAUSE_ORIGINATE_NOT_SENT = "CARILLON_ORIGINATE_NOT_SENT"  # the bgapi never reached the node
CAUSE_CHANNEL_GONE = "CARILLON_CHANNEL_GONE_DURING_ESL_OUTAGE"  # ended while we were not listening
CAUSE_NODE_UNREACHABLE = "CARILLON_MEDIA_NODE_UNREACHABLE"  # node down longer than the grace
# The customer left the campaign's call for an inbound queue: the channel lives on as a new call.
CAUSE_TRANSFERRED_TO_QUEUE = "CARILLON_TRANSFERRED_TO_QUEUE"
# Read by record_session / uuid_record when a recording starts: two channels, what the
# channel hears from the customer (read) on the left, what it sends them (the agent's
# conference) on the right. A channel variable: it stays for every later part (split).
RECORD_STEREO = ("RECORD_STEREO", "true")

BASE_EVENTS = (
    "BACKGROUND_JOB",
    "CHANNEL_CREATE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "RECORD_START",
    "RECORD_STOP",
    "PLAYBACK_STOP",
    "CUSTOM conference::maintenance",
)
_ANSWERED_CALLSTATES = ("ACTIVE", "HELD")
_RINGING_CALLSTATES = ("RINGING", "EARLY")


def subscription_tokens(names: Sequence[str]) -> list[str]:
    """One ``event`` line: plain names first, then ``CUSTOM`` and every subclass
    (FreeSWITCH reads all words after ``CUSTOM`` as subclasses)."""
    plain: list[str] = []
    custom: list[str] = []
    for name in names:
        words = name.split()
        if words and words[0] == "CUSTOM":
            custom.extend(w for w in words[1:] if w not in custom)
        elif name not in plain:
            plain.append(name)
    return plain + (["CUSTOM", *custom] if custom else [])


def handler_keys(names: Sequence[str]) -> list[str]:
    """The keys handlers register under: event names, and subclasses for CUSTOM."""
    tokens = subscription_tokens(names)
    return [t for t in tokens if t != "CUSTOM"]


class SystemClock:
    def now(self) -> float:
        return time.time()


@dataclass(slots=True)
class ConsultLeg:
    """A warm transfer under way: the customer waits (muted and deaf in the agent's
    conference) while the agent talks with the target."""

    call_id: str
    kind: TransferKind
    target: str
    conference: str  # the consulting agent's conference
    node: str
    leg_uuid: str  # the external leg dialled in, or the target agent's own leg moved in
    customer_member: str
    target_conference: str | None = None  # the target agent's conference (agent kind)


@dataclass(slots=True)
class SupervisionLeg:
    supervision_id: str  # the supervisor leg's channel uuid
    call_id: str
    conference: str
    node: str
    mode: SupervisionMode
    member_id: str | None = None


class FreeSwitchCallControl:
    """CallControl (and AgentCallControl) over one ESL session per FreeSWITCH node."""

    def __init__(
        self,
        nodes: Sequence[FreeSwitchNode],
        sink: Callable[[CallEvent], None],
        *,
        clock: Clock | None = None,
        detector: AnsweringMachineDetector | None = None,
        recordings_dir: str = "/var/lib/freeswitch/recordings",
        variable_prefix: str = "carillon_",
        event_format: EventFormat = "json",
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        connect_timeout: float = 5.0,
        command_timeout: float = 10.0,
        idle_timeout: float | None = 60.0,
        node_lost_grace_s: float = 60.0,
        interconnect_profile: str = "interconnect",
        owns_call: Callable[[str], bool] | None = None,
    ) -> None:
        if not nodes:
            raise ValueError("at least one FreeSWITCH node is needed")
        self.nodes = {node.name: node for node in nodes}
        self._sink = sink
        self._clock = clock or SystemClock()
        self.detector = detector
        self.recordings_dir = recordings_dir.rstrip("/")
        self.prefix = variable_prefix
        self.node_lost_grace_s = node_lost_grace_s
        self.interconnect_profile = interconnect_profile
        self._owns_call = owns_call
        self.tracker = CallTracker(detector)
        self.conferences = ConferenceDirectory()
        self.supervisions: dict[str, SupervisionLeg] = {}
        self.consults: dict[str, ConsultLeg] = {}  # warm transfers, by customer call id
        self._masked: set[str] = set()  # calls whose recording is masked (card payment)
        self._abandoned: dict[str, set[str]] = {name: set() for name in self.nodes}
        self._lost_timers: dict[str, gevent.Greenlet] = {}
        events = list(BASE_EVENTS) + list(detector.subscriptions if detector else ())
        self.clients: dict[str, EslClient] = {}
        for node in nodes:
            client = EslClient(
                node.host,
                node.port,
                node.password,
                events=subscription_tokens(events),
                event_format=event_format,
                on_connected=self._on_connected,
                on_disconnected=self._on_disconnected,
                connect_timeout=connect_timeout,
                command_timeout=command_timeout,
                idle_timeout=idle_timeout,
                backoff_initial=backoff_initial,
                backoff_max=backoff_max,
                name=node.name,
            )
            handler = self._event_handler(node.name)
            for key in handler_keys(events):
                client.on(key, handler)
            self.clients[node.name] = client

    # -- lifecycle --------------------------------------------------------------------

    def start(self, wait_s: float = 0.0) -> bool:
        """Connect every node; with ``wait_s``, wait that long for all of them."""
        for client in self.clients.values():
            client.start()
        if wait_s <= 0:
            return all(c.connected for c in self.clients.values())
        deadline = time.monotonic() + wait_s
        for client in self.clients.values():
            client.wait_connected(max(0.0, deadline - time.monotonic()))
        return all(c.connected for c in self.clients.values())

    def stop(self) -> None:
        for timer in self._lost_timers.values():
            timer.kill(block=False)
        self._lost_timers.clear()
        for client in self.clients.values():
            client.stop()

    def active_calls(self) -> dict[str, int]:
        counts = dict.fromkeys(self.nodes, 0)
        counts.update(self.tracker.count_by_node())
        return counts

    def pick_node(self) -> str | None:
        """The connected node with the fewest open calls (ties: declaration order).

        Counts this backend's calls; dialer processes own disjoint campaigns, so each
        spreads its own load and the sum stays balanced."""
        counts = self.active_calls()
        connected = [name for name in self.nodes if self.clients[name].connected]
        return min(connected, key=lambda name: counts[name]) if connected else None

    # -- CallControl -----------------------------------------------------------------

    def originate(self, request: OriginateRequest) -> None:
        commands.check_uuid(request.call_id)
        commands.check_number(request.destination)
        commands.check_number(request.caller_id)
        node_name = self.pick_node()
        now = self._clock.now()
        call = TrackedCall(
            call_id=request.call_id,
            tenant_id=request.tenant_id,
            campaign_id=request.campaign_id,
            lead_id=request.lead_id,
            node=node_name or "",
            created_at=now,
            amd=request.amd and self.detector is not None,
            destination=request.destination,
        )
        if request.record:
            call.record_path = self.recording_path(request.tenant_id, request.call_id)
        self.tracker.add(call)
        if node_name is None:
            self._emit(self.tracker.close(call.call_id, CAUSE_NO_MEDIA_NODE, now, {"node": ""}))
            return
        node = self.nodes[node_name]
        call.esl_session = self.clients[node_name].connections_made
        line = commands.originate(
            node.dial_string(request.destination), self._variables(request), self._apps(call)
        )
        job_uuid = str(uuid_module.uuid4())
        # Known before sending: the BACKGROUND_JOB may be handled before bgapi returns.
        self.tracker.bind_job(call.call_id, job_uuid)
        try:
            returned_job = self.clients[node_name].bgapi(line, job_uuid=job_uuid)
            if returned_job != job_uuid:
                self._emit(self.tracker.bind_job(call.call_id, returned_job, node_name, now))
        except EslNotSent:
            self._emit(self.tracker.close(call.call_id, CAUSE_ORIGINATE_NOT_SENT, now, {"node": node_name}))
        except (EslDisconnected, EslTimeout) as exc:
            # The command may have reached the node: reconciliation after the
            # reconnect (or the unreachable-node grace) settles this call.
            log.warning("originate %s on %s: no reply (%s)", call.call_id, node_name, exc)
        except EslError as exc:
            log.warning("originate %s on %s: %s", call.call_id, node_name, exc)
            self._emit(
                self.tracker.close(
                    call.call_id, str(exc) or CAUSE_ORIGINATE_NOT_SENT, now, {"node": node_name}
                )
            )

    def hangup(self, call_id: str, cause: str = "NORMAL_CLEARING") -> None:
        call = self.tracker.get(call_id)
        if call is None:
            return  # already ended: hangup is idempotent
        reply = self._api(call, commands.uuid_kill(call.channel, cause), strict=False)
        if reply is not None and not reply_ok(reply) and not call.channel_seen:
            # The originate is still in flight: kill the channel as soon as it shows up.
            call.cancel_cause = cause

    def bridge_to_agent(self, call_id: str, agent_id: int) -> None:
        call = self._answered_call(call_id)
        conference = agent_conference_name(call.tenant_id, agent_id)
        info = self.conferences.get(conference)
        node = self.nodes[call.node]
        call.pending_agent_id = agent_id
        if info is not None and info.node != call.node:
            target = self.nodes[info.node]
            if not target.sip_address:
                raise CallControlError(f"agent {agent_id} is on node {info.node}, which has no sip_address")
            # The customer stays on its node, bridged over SIP into the agent's node.
            dial = f"sofia/{self.interconnect_profile}/{conference}@{target.sip_address}"
            line = commands.uuid_transfer_inline(call.channel, [("bridge", dial)])
        else:
            line = commands.uuid_transfer_inline(
                call.channel, [("conference", f"{conference}@{node.conference_profile}")]
            )
        self._api(call, line)

    def play_message(self, call_id: str, audio: str) -> None:
        call = self.tracker.get(call_id)
        if call is None:
            return
        call.hangup_after_playback = True
        reply = self._api(call, commands.uuid_broadcast(call.channel, audio, "aleg"), strict=False)
        if reply is None or not reply_ok(reply):
            log.warning("play_message on %s failed (%r); hanging up", call_id, reply)
            self.hangup(call_id)

    # -- AgentCallControl --------------------------------------------------------------

    def transfer(self, call_id: str, kind: TransferKind, target: str) -> None:
        call = self._answered_call(call_id)
        if kind is TransferKind.AGENT:
            if not target.isdigit():
                raise CallControlError(f"agent id expected, got {target!r}")
            self.bridge_to_agent(call_id, int(target))
        elif kind is TransferKind.EXTERNAL:
            dial = self.nodes[call.node].dial_string(commands.check_number(target))
            self._api(call, commands.uuid_transfer_inline(call.channel, [("bridge", dial)]))
            call.agent_id = None
        elif kind is TransferKind.QUEUE:
            # the same call moves to another queue (an inbound caller's overflow)
            self._api(call, self._queue_extension(call, target))
            call.agent_id = None

    def hand_to_queue(self, call_id: str, queue_id: str) -> str:
        """An agent's cold transfer of their customer to an inbound queue: the customer
        becomes a new inbound call (its own call id and CDR) on the same channel, and
        enters the queue through the dialplan's queue extension, exactly as a caller of
        a DID does (hold music, position, the arrival announced to whichever dialer
        serves the queue, overflow). The campaign's call ends here (HANGUP with
        ``CAUSE_TRANSFERRED_TO_QUEUE``, the new call id in its data); its recording part
        is closed first (the queue records the new call if it records). Returns the new
        call id."""
        call = self._answered_call(call_id)
        line = self._queue_extension(call, queue_id)
        new_call_id = str(uuid_module.uuid4())
        p = self.prefix
        variables = {f"{p}call_id": new_call_id, f"{p}transferred_from": call_id}
        if call.destination:
            variables[f"{p}caller"] = call.destination
        if call.record_path and call.recording:
            self._api(call, commands.uuid_record(call.channel, "stop", call.record_path), strict=False)
        self._api(call, commands.uuid_setvar_multi(call.channel, variables))
        try:
            self._api(call, line)
        except CallControlError:
            # the channel stays this call's (a restart must not take it for the new one);
            # its recording part is closed all the same
            self._api(call, commands.uuid_setvar(call.channel, f"{p}call_id", call_id), strict=False)
            raise
        self._masked.discard(call_id)
        self._emit(self.tracker.hand_over(call_id, new_call_id, CAUSE_TRANSFERRED_TO_QUEUE, self._clock.now(),
                                          {"node": call.node, "transferred_to": new_call_id}))
        return new_call_id

    def _queue_extension(self, call: TrackedCall, queue_id: str) -> str:
        if not queue_id.isdigit():
            raise CallControlError(f"queue id expected, got {queue_id!r}")
        return commands.uuid_transfer_extension(call.channel, f"queue-{queue_id}", f"tenant-{call.tenant_id}")

    def consult(self, call_id: str, kind: TransferKind, target: str) -> None:
        """Warm transfer, first step. The customer stays in the agent's conference, muted
        and deaf; an external number is dialled into that conference, or the target
        agent's own leg is moved into it, so that the two agents talk."""
        call = self._answered_call(call_id)
        if call_id in self.consults:
            raise CallControlError(f"call {call_id} already has a consultation")
        info = self.conferences.get(call.conference or "")
        if info is None or call.channel not in info.members:
            raise CallControlError(f"call {call_id} is not in an agent conference")
        node = self.nodes[info.node]
        customer = info.members[call.channel]
        if kind is TransferKind.EXTERNAL:
            leg = str(uuid_module.uuid4())
            variables = {
                "origination_uuid": leg,
                f"{self.prefix}tenant_id": str(call.tenant_id),
                f"{self.prefix}consult_of": call_id,
            }
            dial = node.dial_string(commands.check_number(target))
            app = f"&conference({info.name}@{node.conference_profile})"
            consult = ConsultLeg(call_id, kind, target, info.name, info.node, leg, customer)
            self._mute_member(info.name, info.node, customer, True)
            try:
                self.clients[info.node].bgapi(f"originate {commands.format_variables(variables)}{dial} {app}")
            except EslError as exc:
                self._mute_member(info.name, info.node, customer, False)
                raise CallControlError(f"consultation originate failed: {exc}") from exc
        elif kind is TransferKind.AGENT:
            if not target.isdigit():
                raise CallControlError(f"agent id expected, got {target!r}")
            target_conference = agent_conference_name(call.tenant_id, int(target))
            leg = self._agent_leg(target_conference)
            consult = ConsultLeg(call_id, kind, target, info.name, info.node, leg, customer, target_conference)
            self._mute_member(info.name, info.node, customer, True)
            self._node_api(info.node, commands.uuid_transfer_inline(
                leg, [("conference", f"{info.name}@{node.conference_profile}")]))
        else:
            raise CallControlError("a queue takes the call at once: transfer it cold")
        self.consults[call_id] = consult

    def complete_consult(self, call_id: str) -> None:
        """The customer goes to the consulted party; the consulting agent stays alone
        in their conference (ready for the next call)."""
        consult = self._consult(call_id)
        if consult.kind is TransferKind.EXTERNAL:
            call = self.tracker.get(call_id)
            channel = call.channel if call is not None else call_id
            self._node_api(consult.node, f"uuid_bridge {commands.check_uuid(channel)} "
                                         f"{commands.check_uuid(consult.leg_uuid)}")
            if call is not None:
                call.agent_id = None
        else:
            self._return_agent_leg(consult)
            self.bridge_to_agent(call_id, int(consult.target))
        del self.consults[call_id]

    def cancel_consult(self, call_id: str) -> None:
        """Back to the customer: the external leg is hung up (or the target agent's leg
        goes home), and the customer hears and is heard again."""
        consult = self.consults.pop(call_id, None)
        if consult is None:
            return
        if consult.kind is TransferKind.EXTERNAL:
            self._node_api(consult.node, commands.uuid_kill(consult.leg_uuid), strict=False)
        else:
            self._return_agent_leg(consult)
        if self.tracker.get(call_id) is not None:
            self._mute_member(consult.conference, consult.node, consult.customer_member, False)

    def _consult(self, call_id: str) -> ConsultLeg:
        consult = self.consults.get(call_id)
        if consult is None:
            raise CallControlError(f"call {call_id} has no consultation under way")
        return consult

    def _agent_leg(self, conference: str) -> str:
        info = self.conferences.get(conference)
        if info is None:
            raise CallControlError(f"no agent leg in conference {conference}: the agent's phone is not connected")
        others = self.tracker.channels() | set(self.supervisions)
        leg = next((uuid for uuid in info.members if uuid not in others), None)
        if leg is None:
            raise CallControlError(f"no agent leg in conference {conference}")
        return leg

    def _return_agent_leg(self, consult: ConsultLeg) -> None:
        node = self.nodes[consult.node]
        self._node_api(consult.node, commands.uuid_transfer_inline(
            consult.leg_uuid, [("conference", f"{consult.target_conference}@{node.conference_profile}")]))

    def _mute_member(self, conference: str, node: str, member_id: str, on: bool) -> None:
        for action in (("mute", "deaf") if on else ("unmute", "undeaf")):
            self._node_api(node, commands.conference_member(conference, action, member_id))

    def hold(self, call_id: str, on: bool) -> None:
        call = self._answered_call(call_id)
        self._api(call, commands.uuid_hold(call.channel, on))

    def mute_agent(self, call_id: str, on: bool) -> None:
        call = self._answered_call(call_id)
        conference, agent_member = self._agent_member(call)
        self._api(call, commands.conference_member(conference, "mute" if on else "unmute", agent_member))

    def send_dtmf(self, call_id: str, digits: str) -> None:
        call = self._answered_call(call_id)
        self._api(call, commands.uuid_send_dtmf(call.channel, digits))

    def start_recording(self, call_id: str) -> str:
        call = self._answered_call(call_id)
        call.record_path = call.record_path or self.recording_path(call.tenant_id, call_id)
        # inbound calls, or a call dialled unrecorded: the originate did not set it
        self._api(call, commands.uuid_setvar(call.channel, *RECORD_STEREO))
        self._api(call, commands.uuid_record(call.channel, "start", call.record_path))
        return call.record_path

    def stop_recording(self, call_id: str) -> None:
        call = self._answered_call(call_id)
        if call.record_path:
            self._api(call, commands.uuid_record(call.channel, "stop", call.record_path))

    def pause_recording(self, call_id: str) -> None:
        self._mask_recording(call_id, "mask")
        self._masked.add(call_id)

    def resume_recording(self, call_id: str) -> None:
        self._mask_recording(call_id, "unmask")
        self._masked.discard(call_id)

    def split_recording(self, call_id: str, part: int) -> tuple[str, str]:
        """Close the file being recorded and carry on in part ``part``'s file (transfers,
        maximum length): ``uuid_record stop`` then ``start`` (a gap of a few ms at most);
        a masked recording stays masked. Returns (closed path, new path)."""
        call = self._answered_call(call_id)
        if not call.record_path:
            raise CallControlError(f"call {call_id} is not recorded")
        closed = call.record_path
        path = self.recording_path(call.tenant_id, call_id, part)
        if path == closed:
            raise CallControlError(f"call {call_id} is already recording part {part}")
        self._api(call, commands.uuid_record(call.channel, "stop", closed))
        call.record_path = path
        self._api(call, commands.uuid_record(call.channel, "start", path))
        if call_id in self._masked:
            self._api(call, commands.uuid_record(call.channel, "mask", path))
        return closed, path

    def supervise(
        self,
        call_id: str,
        supervisor_id: int,
        endpoint: str,
        mode: SupervisionMode,
        *,
        leg_uuid: str | None = None,
    ) -> str:
        """Call ``endpoint`` (e.g. ``user/sup10@tenant7.example``) muted into the agent
        conference; the mode is applied when its member joins. Returns the leg uuid."""
        call = self._answered_call(call_id)
        if not call.conference:
            raise CallControlError(f"call {call_id} is not in an agent conference")
        info = self.conferences.get(call.conference)
        node_name = info.node if info else call.node
        node = self.nodes[node_name]
        leg_uuid = commands.check_uuid(leg_uuid or str(uuid_module.uuid4()))
        variables = {
            "origination_uuid": leg_uuid,
            f"{self.prefix}tenant_id": str(call.tenant_id),
            f"{self.prefix}supervisor_id": str(supervisor_id),
            f"{self.prefix}supervised_call_id": call_id,
        }
        # Everybody joins muted (listening); the mode is applied once the member exists.
        app = f"&conference({call.conference}@{node.conference_profile}+flags{{mute}})"
        line = f"originate {commands.format_variables(variables)}{commands.check_token(endpoint, 'endpoint')} {app}"
        self.supervisions[leg_uuid] = SupervisionLeg(leg_uuid, call_id, call.conference, node_name, mode)
        try:
            self.clients[node_name].bgapi(line)
        except EslError as exc:
            self.supervisions.pop(leg_uuid, None)
            raise CallControlError(f"supervision originate failed: {exc}") from exc
        return leg_uuid

    def set_supervision_mode(self, supervision_id: str, mode: SupervisionMode) -> None:
        leg = self.supervisions.get(supervision_id)
        if leg is None:
            raise CallControlError(f"no supervision {supervision_id}")
        previous, leg.mode = leg.mode, mode
        if leg.member_id is not None:
            self._apply_supervision(leg, previous)

    def end_supervision(self, supervision_id: str) -> None:
        leg = self.supervisions.pop(supervision_id, None)
        if leg is None:
            return
        if leg.mode is SupervisionMode.TAKE_OVER:
            self._restore_agent(leg)
        if leg.member_id is not None:
            # As recorded in 08b: hup the member, the conference hangs the leg up.
            self._node_api(leg.node, commands.conference_member(leg.conference, "hup", leg.member_id))
        else:
            self._node_api(leg.node, commands.uuid_kill(supervision_id), strict=False)

    # -- helpers ---------------------------------------------------------------------

    def recording_path(self, tenant_id: int, call_id: str, part: int = 1) -> str:
        """Part 1 is ``<call id>.wav``; later parts (after a split) ``<call id>-p<n>.wav``."""
        name = call_id if part <= 1 else f"{call_id}-p{part}"
        return f"{self.recordings_dir}/{tenant_id}/{name}.wav"

    def _variables(self, request: OriginateRequest) -> dict[str, str]:
        p = self.prefix
        variables = {
            "origination_uuid": request.call_id,
            "origination_caller_id_number": request.caller_id,
            "originate_timeout": str(commands.ring_timeout(request.ring_timeout_s)),
            # Early media must not count as an answer (fixture 08a).
            "ignore_early_media": "true",
            f"{p}tenant_id": str(request.tenant_id),
            f"{p}campaign_id": str(request.campaign_id),
            f"{p}call_id": request.call_id,
        }
        if request.lead_id is not None:
            variables[f"{p}lead_id"] = str(request.lead_id)
        if request.record:
            variables[RECORD_STEREO[0]] = RECORD_STEREO[1]
        for name, value in request.variables.items():
            # Callers add data, they cannot override the routing variables above.
            variables.setdefault(name if name.startswith(p) else f"{p}{name}", value)
        return variables

    def _apps(self, call: TrackedCall) -> list[tuple[str, str]]:
        apps: list[tuple[str, str]] = []
        if call.record_path:
            apps.append(("record_session", call.record_path))
        if call.amd and self.detector is not None:
            apps.extend(self.detector.answer_applications())
        apps.append(("park", ""))
        return apps

    def _answered_call(self, call_id: str) -> TrackedCall:
        call = self.tracker.get(call_id)
        if call is None:
            raise CallControlError(f"no open call {call_id}")
        if call.state not in LIVE_AFTER_ANSWER:
            raise CallControlError(f"call {call_id} is {call.state}, not answered")
        return call

    def _agent_member(self, call: TrackedCall) -> tuple[str, str]:
        info = self.conferences.get(call.conference or "")
        if info is None:
            raise CallControlError(f"call {call.call_id} is not in an agent conference")
        others = self.tracker.channels() | set(self.supervisions)
        for uuid, member_id in info.members.items():
            if uuid not in others:
                return info.name, member_id
        raise CallControlError(f"no agent leg in conference {info.name}")

    def _mask_recording(self, call_id: str, action: str) -> None:
        call = self._answered_call(call_id)
        if not call.record_path:
            raise CallControlError(f"call {call_id} is not recorded")
        self._api(call, commands.uuid_record(call.channel, action, call.record_path))

    def _api(self, call: TrackedCall, line: str, *, strict: bool = True) -> str | None:
        return self._node_api(call.node, line, strict=strict)

    def _node_api(self, node: str, line: str, *, strict: bool = True) -> str | None:
        try:
            reply = self.clients[node].api(line)
        except EslError as exc:
            if strict:
                raise CallControlError(f"{line.split()[0]} on {node}: {exc}") from exc
            log.warning("%s on %s: %s", line.split()[0], node, exc)
            return None
        if strict and not reply_ok(reply):
            raise CallControlError(f"{line.split()[0]} on {node}: {reply.strip()}")
        return reply

    def _emit(self, events: list[CallEvent]) -> None:
        for event in events:
            if event.kind is EventKind.HANGUP:
                self._masked.discard(event.call_id)
            try:
                self._sink(event)
            except Exception:
                log.exception("call event sink failed on %s %s", event.call_id, event.kind)

    # -- events ----------------------------------------------------------------------

    def _event_handler(self, node: str) -> Callable[[EslEvent], None]:
        def handle(event: EslEvent) -> None:
            self._on_event(node, event)

        return handle

    def _on_event(self, node: str, event: EslEvent) -> None:
        if event.key == "conference::maintenance":
            self._on_conference_event(node, event)
        elif event.name == "BACKGROUND_JOB":
            self._on_supervision_job(event)
        events = self.tracker.handle(node, event, self._clock.now())
        self._emit(events)
        call = self.tracker.on_channel(event.unique_id)
        if call is None:
            return
        if any(e.kind is EventKind.ANSWERED for e in events) and call.amd and self.detector is not None:
            for line in self.detector.answer_commands(call.channel):
                self._api(call, line, strict=False)
        if event.name == "PLAYBACK_STOP" and call.hangup_after_playback:
            self._api(call, commands.uuid_kill(call.channel), strict=False)
        cancel_cause = call.cancel_cause
        if cancel_cause and event.name in (
            "CHANNEL_CREATE",
            "CHANNEL_PROGRESS",
            "CHANNEL_PROGRESS_MEDIA",
            "CHANNEL_ANSWER",
        ):
            call.channel_seen = True
            self._api(call, commands.uuid_kill(call.channel, cancel_cause), strict=False)

    def _on_conference_event(self, node: str, event: EslEvent) -> None:
        action = event.get("Action")
        name = event.get("Conference-Name")
        if parse_agent_conference(name) is None:
            return
        if action == "add-member":
            self.conferences.member_added(node, name, event.unique_id, event.get("Member-ID"))
            leg = self.supervisions.get(event.unique_id)
            if leg is not None and leg.member_id is None:
                leg.member_id = event.get("Member-ID")
                self._apply_supervision(leg, SupervisionMode.LISTEN)
        elif action == "del-member":
            self.conferences.member_removed(name, event.unique_id)
            self.supervisions.pop(event.unique_id, None)
        elif action == "conference-destroy":
            self.conferences.destroyed(node, name)

    def _on_supervision_job(self, event: EslEvent) -> None:
        """A supervisor leg that could not be called is forgotten (the supervisor's
        phone was unreachable); its error is logged for the supervision screen."""
        arg = event.get("Job-Command-Arg")
        for leg_uuid in [u for u in self.supervisions if f"origination_uuid={u}" in arg]:
            ok, text = parse_job_result(event.body)
            if not ok:
                log.warning("supervision leg %s failed: %s", leg_uuid, text)
                self.supervisions.pop(leg_uuid, None)

    def _apply_supervision(self, leg: SupervisionLeg, previous: SupervisionMode) -> None:
        """Conference member controls as recorded in fixture 08b."""
        info = self.conferences.get(leg.conference)
        supervised = self.tracker.get(leg.call_id)
        customer = info.members.get(supervised.channel if supervised else leg.call_id) if info else None
        sup = leg.member_id
        if sup is None or customer is None:
            log.warning("supervision %s: members not known yet", leg.supervision_id)
            return
        lines: list[str] = []
        if previous is SupervisionMode.TAKE_OVER and leg.mode is not SupervisionMode.TAKE_OVER:
            self._restore_agent(leg)
        if leg.mode is SupervisionMode.LISTEN:
            lines = [
                commands.conference_member(leg.conference, "relate", sup, customer, "clear"),
                commands.conference_member(leg.conference, "mute", sup),
            ]
        elif leg.mode is SupervisionMode.WHISPER:
            lines = [
                commands.conference_member(leg.conference, "relate", sup, customer, "nospeak"),
                commands.conference_member(leg.conference, "unmute", sup),
            ]
        else:
            lines = [
                commands.conference_member(leg.conference, "relate", sup, customer, "clear"),
                commands.conference_member(leg.conference, "unmute", sup),
            ]
            if leg.mode is SupervisionMode.TAKE_OVER:
                call = self.tracker.get(leg.call_id)
                if call is not None:
                    _, agent_member = self._agent_member(call)
                    lines += [
                        commands.conference_member(leg.conference, "mute", agent_member),
                        commands.conference_member(leg.conference, "deaf", agent_member),
                    ]
        for line in lines:
            self._node_api(leg.node, line, strict=False)

    def _restore_agent(self, leg: SupervisionLeg) -> None:
        call = self.tracker.get(leg.call_id)
        if call is None:
            return
        try:
            _, agent_member = self._agent_member(call)
        except CallControlError:
            return
        for action in ("undeaf", "unmute"):
            self._node_api(
                leg.node, commands.conference_member(leg.conference, action, agent_member), strict=False
            )

    # -- reconnection ----------------------------------------------------------------

    def _on_disconnected(self, client: EslClient, reason: str) -> None:
        node = client.name
        if self.node_lost_grace_s <= 0 or node in self._lost_timers:
            return
        session = client.connections_made
        self._lost_timers[node] = gevent.spawn(self._close_if_still_lost, node, session)

    def _close_if_still_lost(self, node: str, session: int) -> None:
        gevent.sleep(self.node_lost_grace_s)
        self._lost_timers.pop(node, None)
        client = self.clients[node]
        if client.connected or client.connections_made != session:
            return
        now = self._clock.now()
        for call in self.tracker.open_calls(node):
            self._abandoned[node].add(call.channel)
            self._emit(self.tracker.close(call.call_id, CAUSE_NODE_UNREACHABLE, now, {"node": node}))
        self.conferences.forget_node(node)

    def _on_connected(self, client: EslClient) -> None:
        node = client.name
        timer = self._lost_timers.pop(node, None)
        if timer is not None:
            timer.kill(block=False)
        try:
            self.reconcile(node)
        except (EslError, MalformedEvent) as exc:
            log.error("reconcile of %s failed: %s", node, exc)

    def reconcile(self, node: str) -> None:
        """Bring open calls on ``node`` in line with the channels it really has.

        Only calls placed on an earlier ESL session are checked: a call originated
        while this runs is not in ``show channels`` yet and must not look vanished.
        """
        client = self.clients[node]
        mark = self.conferences.mark()
        self.conferences.load_json_list(node, client.api("conference json_list"), mark)
        live = {
            row["uuid"]: row
            for row in parse_json_rows(client.api("show channels as json"))
            if row.get("uuid")
        }
        now = self._clock.now()
        data = {"node": node, "reconciled": "true"}
        session = client.connections_made
        for call in self.tracker.open_calls(node):
            if call.esl_session >= session:
                continue  # placed on this very session: its events are already ours
            row = live.get(call.channel)
            if row is not None:
                self._emit(self._catch_up(call, row.get("callstate", ""), now, data))
            elif client.api(commands.uuid_exists(call.channel)).strip() != "true":
                log.warning("call %s vanished from %s during the ESL outage", call.call_id, node)
                self._emit(
                    self.tracker.close(call.call_id, call.hangup_cause or CAUSE_CHANNEL_GONE, now, data)
                )
        for uuid, row in live.items():
            if self.tracker.on_channel(uuid) is not None:
                continue
            if uuid in self._abandoned[node]:
                # Reported ended to the dialer while the node was unreachable: end it.
                client.api(commands.uuid_kill(uuid, "NORMAL_CLEARING"))
                self._abandoned[node].discard(uuid)
            elif self._owns_call is not None:
                self._adopt(node, uuid, row, now, data)

    def _catch_up(
        self, call: TrackedCall, callstate: str, now: float, data: dict[str, str]
    ) -> list[CallEvent]:
        call.channel_seen = True
        if callstate in _RINGING_CALLSTATES:
            return self.tracker.ring(call, now, data)
        if callstate not in _ANSWERED_CALLSTATES:
            return []
        events = self.tracker.ring(call, now, data) + self.tracker.answer(call, now, data)
        # A transfer into an agent conference may also have completed unseen.
        info = self.conferences.find_member(call.channel)
        parsed = parse_agent_conference(info.name) if info else None
        if info is not None and parsed is not None and parsed[0] == call.tenant_id:
            call.conference = info.name
            bridge_data = {
                **data,
                "mode": "conference",
                "conference": info.name,
                "member_id": info.members[call.channel],
            }
            events += self.tracker.bridge(call, parsed[1], now, bridge_data)
        return events

    def _adopt(self, node: str, uuid: str, row: dict[str, str], now: float, data: dict[str, str]) -> None:
        """Take back a call of ours from a previous process (its variables say so)."""
        try:
            commands.check_uuid(uuid)
            variables = parse_channel_dump(self.clients[node].api(commands.uuid_dump_json(uuid)))
        except (ValueError, EslError) as exc:
            log.warning("cannot inspect channel %s on %s: %s", uuid, node, exc)
            return
        p = f"variable_{self.prefix}"
        tenant, campaign, lead = (
            variables.get(f"{p}{name}", "") for name in ("tenant_id", "campaign_id", "lead_id")
        )
        # the channel carries the call it was placed for, or the one it became when
        # its customer was handed to a queue (``hand_to_queue``)
        call_id = variables.get(f"{p}call_id", "")
        handed_over = call_id != uuid and variables.get(f"{p}transferred_from")
        if (call_id != uuid and not handed_over) or not (tenant.isdigit() and campaign.isdigit()):
            return  # not placed by a Carillon dialer
        if self._owns_call is None or not self._owns_call(call_id):
            return  # another dialer process owns that campaign
        try:
            commands.check_uuid(call_id)
        except ValueError:
            return
        call = TrackedCall(
            call_id=call_id,
            channel=uuid,
            tenant_id=int(tenant),
            campaign_id=int(campaign),
            lead_id=int(lead) if lead.isdigit() else None,
            node=node,
            created_at=now,
            channel_seen=True,
            esl_session=self.clients[node].connections_made,
        )
        self.tracker.add(call)
        log.info("adopted call %s (channel %s) on %s (%s)", call_id, uuid, node, row.get("callstate"))
        self._emit(self._catch_up(call, row.get("callstate", ""), now, {**data, "adopted": "true"}))
