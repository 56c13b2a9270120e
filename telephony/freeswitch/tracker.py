"""Translate FreeSWITCH events into ``CallEvent``s for the calls this backend owns.

Pure bookkeeping, no I/O: the backend feeds it events and acts on what it returns.
Rules taken from the recorded sessions (fixture README):

- A call is keyed by its call id; its channel uuid is the call id for calls the
  dialer places (``origination_uuid``) and for inbound callers, so events map back
  without variables. A customer an agent hands to a queue becomes a new call on the
  same channel (``hand_over``): from then on that channel's events are the new call's.
- ``+OK`` from BACKGROUND_JOB is not an answer (early media may "succeed" an
  originate); only CHANNEL_ANSWER is. A ``-ERR`` closes the call at once only when no
  channel was ever seen, otherwise CHANNEL_HANGUP_COMPLETE (which carries the CDR)
  closes it, whatever order the two arrive in.
- Each state is reported once: repeated or late events never produce a second
  ANSWERED or a second HANGUP, which is what makes reconciliation after a reconnect
  safe to run while events are still flowing.
"""

from __future__ import annotations

import enum
import re
from collections import OrderedDict
from dataclasses import dataclass

from telephony.callcontrol import CallEvent, EventKind
from telephony.freeswitch.amd import AnsweringMachineDetector
from telephony.freeswitch.protocol import EslEvent, parse_job_result

AGENT_CONFERENCE_PREFIX = "agent-"
MAX_UNMATCHED_JOBS = 1000
_AGENT_CONFERENCE = re.compile(r"^agent-(?P<tenant>\d+)-(?P<agent>\d+)$")
_ORIGINATION_UUID = re.compile(r"origination_uuid=([0-9a-fA-F-]{36})")

# CDR figures copied from CHANNEL_HANGUP_COMPLETE (``variable_`` prefix dropped), under
# FreeSWITCH's own names so nothing is lost in translation. Call quality (spec V8):
# MOS ``rtp_audio_in_mos``, jitter ``rtp_audio_in_jitter_{min,max}_variance``, loss
# ``rtp_audio_in_jitter_loss_rate`` with ``rtp_audio_in_flaw_total``; absent on legs
# without RTP (null endpoints, calls never answered).
CDR_VARIABLES = (
    "hangup_cause",
    "hangup_cause_q850",
    "sip_term_status",
    "sip_hangup_disposition",
    "proto_specific_hangup_cause",
    "duration",
    "billsec",
    "progresssec",
    "answersec",
    "waitsec",
    "start_epoch",
    "answer_epoch",
    "end_epoch",
    "amd_result",
    "amd_cause",
    "record_seconds",
    "rtp_audio_in_mos",
    "rtp_audio_in_quality_percentage",
    "rtp_audio_in_jitter_min_variance",
    "rtp_audio_in_jitter_max_variance",
    "rtp_audio_in_jitter_loss_rate",
    "rtp_audio_in_jitter_burst_rate",
    "rtp_audio_in_packet_count",
    "rtp_audio_in_skip_packet_count",
    "rtp_audio_in_flaw_total",
    "rtp_audio_out_packet_count",
    "read_codec",
    "write_codec",
)


def agent_conference_name(tenant_id: int, agent_id: int) -> str:
    """The agent's personal conference: its WebRTC leg waits there while logged in."""
    return f"{AGENT_CONFERENCE_PREFIX}{tenant_id}-{agent_id}"


def parse_agent_conference(name: str) -> tuple[int, int] | None:
    """``agent-7-42`` (optionally ``@profile``) -> ``(7, 42)``."""
    match = _AGENT_CONFERENCE.match(name.split("@", 1)[0])
    return (int(match["tenant"]), int(match["agent"])) if match else None


class CallState(enum.StrEnum):
    DIALLING = "dialling"
    RINGING = "ringing"
    ANSWERED = "answered"
    BRIDGED = "bridged"
    ENDED = "ended"


LIVE_AFTER_ANSWER = frozenset({CallState.ANSWERED, CallState.BRIDGED})


@dataclass(slots=True)
class TrackedCall:
    call_id: str
    tenant_id: int
    campaign_id: int
    lead_id: int | None
    node: str
    created_at: float
    state: CallState = CallState.DIALLING
    amd: bool = False
    amd_done: bool = False
    job_uuid: str | None = None
    channel_seen: bool = False
    job_error: str | None = None
    hangup_cause: str | None = None
    agent_id: int | None = None
    pending_agent_id: int | None = None
    conference: str | None = None
    record_path: str | None = None
    recording: bool = False
    hangup_after_playback: bool = False
    esl_session: int = 0  # the node's ESL session the call was placed on
    cancel_cause: str | None = None  # hangup asked before the channel existed
    channel: str = ""  # the FreeSWITCH channel uuid ("": the call id)
    destination: str = ""  # the number dialled (outbound calls)
    # the previous call's file, stopped when the channel was handed over: its late
    # RECORD_STOP is not this call's recording
    stale_record_path: str | None = None

    def __post_init__(self) -> None:
        self.channel = self.channel or self.call_id


def cdr_fields(event: EslEvent) -> dict[str, str]:
    data = {name: value for name in CDR_VARIABLES if (value := event.variable(name)) is not None}
    if "hangup_cause" not in data and event.get("Hangup-Cause"):
        data["hangup_cause"] = event.get("Hangup-Cause")
    return data


class CallTracker:
    """The open calls of one backend and the rules that turn events into CallEvents."""

    def __init__(self, detector: AnsweringMachineDetector | None = None) -> None:
        self.detector = detector
        self.calls: dict[str, TrackedCall] = {}
        self._by_channel: dict[str, str] = {}  # channel uuid -> call id
        self._jobs: dict[str, str] = {}
        # Job results that matched no call yet: the reply naming the job may be
        # handled after its BACKGROUND_JOB. Bounded: every subscriber gets every job.
        self._unmatched_jobs: OrderedDict[str, EslEvent] = OrderedDict()

    def add(self, call: TrackedCall) -> None:
        self.calls[call.call_id] = call
        self._by_channel[call.channel] = call.call_id
        if call.job_uuid:
            self._jobs[call.job_uuid] = call.call_id

    def bind_job(self, call_id: str, job_uuid: str, node: str = "", now: float = 0.0) -> list[CallEvent]:
        """Tie a Job-UUID to a call; returns what an already-received result implies."""
        if call_id not in self.calls or not job_uuid:
            return []
        self.calls[call_id].job_uuid = job_uuid
        self._jobs[job_uuid] = call_id
        early = self._unmatched_jobs.pop(job_uuid, None)
        return self._on_job(node, early, early.timestamp or now) if early is not None else []

    def get(self, call_id: str) -> TrackedCall | None:
        return self.calls.get(call_id)

    def on_channel(self, channel: str) -> TrackedCall | None:
        """The call a FreeSWITCH channel (uuid) carries now."""
        return self.calls.get(self._by_channel.get(channel, ""))

    def channels(self) -> set[str]:
        return set(self._by_channel)

    def open_calls(self, node: str | None = None) -> list[TrackedCall]:
        return [c for c in self.calls.values() if node is None or c.node == node]

    def count_by_node(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for call in self.calls.values():
            counts[call.node] = counts.get(call.node, 0) + 1
        return counts

    # -- transitions shared by events and reconciliation ---------------------------

    def ring(self, call: TrackedCall, at: float, data: dict[str, str]) -> list[CallEvent]:
        if call.state is not CallState.DIALLING:
            return []
        call.state = CallState.RINGING
        return [self._event(call, EventKind.RINGING, at, data=data)]

    def answer(self, call: TrackedCall, at: float, data: dict[str, str]) -> list[CallEvent]:
        if call.state not in (CallState.DIALLING, CallState.RINGING):
            return []
        call.state = CallState.ANSWERED
        events = [self._event(call, EventKind.ANSWERED, at, data=data)]
        if not call.amd:
            # Without detection an answered call is connectable at once (callcontrol).
            events.append(self._event(call, EventKind.HUMAN, at, data={**data, "amd": "off"}))
            call.amd_done = True
        return events

    def bridge(
        self, call: TrackedCall, agent_id: int | None, at: float, data: dict[str, str]
    ) -> list[CallEvent]:
        if call.state is CallState.ENDED or (call.state is CallState.BRIDGED and call.agent_id == agent_id):
            return []
        call.state = CallState.BRIDGED
        call.agent_id = agent_id
        call.pending_agent_id = None
        return [self._event(call, EventKind.BRIDGED, at, agent_id=agent_id, data=data)]

    def close(
        self, call_id: str, cause: str, at: float, data: dict[str, str] | None = None
    ) -> list[CallEvent]:
        """End a call once; later calls for the same id return nothing."""
        call = self.calls.pop(call_id, None)
        if call is None:
            return []
        if self._by_channel.get(call.channel) == call_id:
            del self._by_channel[call.channel]
        if call.job_uuid:
            self._jobs.pop(call.job_uuid, None)
        call.state = CallState.ENDED
        return [self._event(call, EventKind.HANGUP, at, cause=cause, agent_id=call.agent_id, data=data or {})]

    def hand_over(self, call_id: str, new_call_id: str, cause: str, at: float,
                  data: dict[str, str]) -> list[CallEvent]:
        """The channel of ``call_id`` now carries a new call (a customer transferred to a
        queue): the old call ends here (its HANGUP, with ``cause``), the new one is
        answered and waits for an agent. Returns the old call's HANGUP."""
        call = self.calls.get(call_id)
        if call is None:
            return []
        successor = TrackedCall(
            call_id=new_call_id, tenant_id=call.tenant_id, campaign_id=0, lead_id=call.lead_id, node=call.node,
            created_at=at, state=CallState.ANSWERED, amd_done=True, channel_seen=True, channel=call.channel,
            destination=call.destination, esl_session=call.esl_session, stale_record_path=call.record_path)
        events = self.close(call_id, cause, at, data)
        self.add(successor)
        return events

    # -- events ---------------------------------------------------------------------

    def handle(self, node: str, event: EslEvent, now: float) -> list[CallEvent]:
        at = event.timestamp or now
        if event.name == "BACKGROUND_JOB":
            return self._on_job(node, event, at)
        if event.key == "conference::maintenance":
            return self._on_conference(node, event, at)
        if event.name == "CHANNEL_BRIDGE":
            return self._on_bridge(node, event, at)
        call = self.on_channel(event.unique_id)
        if call is None:
            return []
        # A detector stopped by the hangup itself has no verdict worth reporting.
        if self.detector is not None and call.amd and not call.amd_done and call.hangup_cause is None:
            verdict = self.detector.classify(event)
            if verdict is not None:
                call.amd_done = True
                detail = {"node": node, "amd_result": verdict.result, "amd_cause": verdict.cause}
                return [self._event(call, verdict.kind, at, data=detail)]
        return self._on_channel_event(node, call, event, at)

    def _on_channel_event(self, node: str, call: TrackedCall, event: EslEvent, at: float) -> list[CallEvent]:
        data = {"node": node}
        name = event.name
        if name == "CHANNEL_CREATE":
            call.channel_seen = True
        elif name in ("CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA"):
            call.channel_seen = True
            return self.ring(call, at, data)
        elif name == "CHANNEL_ANSWER":
            call.channel_seen = True
            return self.answer(call, at, data)
        elif name == "CHANNEL_HANGUP":
            call.hangup_cause = event.get("Hangup-Cause") or call.hangup_cause
        elif name == "CHANNEL_HANGUP_COMPLETE":
            cause = event.get("Hangup-Cause") or call.hangup_cause or call.job_error or "UNKNOWN"
            return self.close(call.call_id, cause, at, {**data, **cdr_fields(event)})
        elif name in ("RECORD_START", "RECORD_STOP") and (
                call.stale_record_path and event.get("Record-File-Path") == call.stale_record_path):
            return []  # the file of the call this channel carried before
        elif name == "RECORD_START":
            call.recording = True
            path = event.get("Record-File-Path") or call.record_path or ""
            return [self._event(call, EventKind.RECORDING_STARTED, at, data={**data, "path": path})]
        elif name == "RECORD_STOP":
            call.recording = False
            stop_data = {
                **data,
                "path": event.get("Record-File-Path") or call.record_path or "",
                "completion_cause": event.get("Record-Completion-Cause"),
            }
            return [self._event(call, EventKind.RECORDING_STOPPED, at, data=stop_data)]
        return []

    def _on_job(self, node: str, event: EslEvent, at: float) -> list[CallEvent]:
        call_id = self._jobs.get(event.get("Job-UUID"))
        if call_id is None:
            # Jobs sent on a previous session reach every subscriber (fixture 09):
            # fall back to the uuid we set ourselves in the originate arguments.
            match = _ORIGINATION_UUID.search(event.get("Job-Command-Arg"))
            call_id = self._by_channel.get(match.group(1)) if match else None
        call = self.calls.get(call_id or "")
        if call is None:
            self._unmatched_jobs[event.get("Job-UUID")] = event
            while len(self._unmatched_jobs) > MAX_UNMATCHED_JOBS:
                self._unmatched_jobs.popitem(last=False)
            return []
        if event.get("Job-Command") not in ("originate", ""):
            return []
        ok, text = parse_job_result(event.body)
        if ok:
            return []
        call.job_error = text
        if call.channel_seen:
            return []  # CHANNEL_HANGUP_COMPLETE follows with the CDR
        return self.close(call.call_id, text, at, {"node": node, "hangup_cause": text})

    def _on_bridge(self, node: str, event: EslEvent, at: float) -> list[CallEvent]:
        legs = (
            event.unique_id,
            event.get("Bridge-A-Unique-ID"),
            event.get("Bridge-B-Unique-ID"),
            event.get("Other-Leg-Unique-ID"),
        )
        for uuid in legs:
            call = self.on_channel(uuid)
            if call is not None and call.pending_agent_id is not None:
                return self.bridge(call, call.pending_agent_id, at, {"node": node, "mode": "bridge"})
        return []

    def _on_conference(self, node: str, event: EslEvent, at: float) -> list[CallEvent]:
        if event.get("Action") != "add-member":
            return []
        call = self.on_channel(event.unique_id)
        parsed = parse_agent_conference(event.get("Conference-Name"))
        if call is None or parsed is None or parsed[0] != call.tenant_id:
            return []
        call.conference = event.get("Conference-Name")
        data = {
            "node": node,
            "mode": "conference",
            "conference": call.conference,
            "member_id": event.get("Member-ID"),
        }
        return self.bridge(call, parsed[1], at, data)

    @staticmethod
    def _event(
        call: TrackedCall,
        kind: EventKind,
        at: float,
        *,
        cause: str | None = None,
        agent_id: int | None = None,
        data: dict[str, str] | None = None,
    ) -> CallEvent:
        return CallEvent(
            call_id=call.call_id, kind=kind, at=at, cause=cause, agent_id=agent_id, data=dict(data or {})
        )
