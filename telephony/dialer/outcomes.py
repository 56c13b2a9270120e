"""What a call leaves behind: its CDR row, the lead's next state, the attempt that the
compliance engine counts, callbacks and the contact's timeline.

Called by the dialer service inside the tenant's scope; flushes, never commits."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable

import sqlalchemy as sa

from app.calls.models import Call
from app.calls.services import price_call
from app.campaigns.callbacks import schedule_callback_from_status
from app.campaigns.compliance import record_attempt
from app.campaigns.models import Campaign, CampaignStatus
from app.extensions import Session
from app.leads.models import Lead, RecycleRule, TimelineEvent
from telephony.callcontrol import OriginateRequest
from telephony.dialer.calls import CallRecord, CallState
from telephony.dialer.hopper import NEVER

# The dialler's own outcomes (C3 system statuses created with every campaign).
SYSTEM_STATUS = {
    CallState.NO_ANSWER: "NRP",
    CallState.BUSY: "OCC",
    CallState.FAILED: "CNG",
    CallState.ABANDONED: "ABD",
    CallState.MACHINE_DROPPED: "AMD",
    CallState.VOICEMAIL_LEFT: "AMD",
}
INVALID_NUMBER_CAUSES = frozenset({"UNALLOCATED_NUMBER", "INVALID_NUMBER_FORMAT", "NO_ROUTE_DESTINATION"})

ToWall = Callable[[float], dt.datetime]


def record_originate(request: OriginateRequest, backend: str, at: dt.datetime) -> Call:
    """The CDR row exists from the moment the call is launched: a service that
    restarts finds it open and never dials that lead again blindly."""
    call = Call(
        id=uuid.UUID(request.call_id),
        campaign_id=request.campaign_id,
        lead_id=request.lead_id,
        phone_number=request.destination,
        caller_id=request.caller_id,
        state=CallState.DIALLING,
        started_at=at,
        backend=backend,
        times={CallState.DIALLING.value: at.isoformat()},
    )
    Session.add(call)
    Session.flush()
    return call


def status_code_for(record: CallRecord) -> str:
    if record.disposition:
        return record.disposition
    if record.state is CallState.FAILED and record.cause in INVALID_NUMBER_CAUSES:
        return "NI"
    return SYSTEM_STATUS.get(record.state, "CNG")


def finish_call(campaign: Campaign, record: CallRecord, to_wall: ToWall) -> Call | None:
    """Complete the CDR and move the lead on once the engine is done with a call."""
    call = Session.get(Call, uuid.UUID(record.call_id))
    if call is None:
        return None
    times = {state.value: to_wall(t).isoformat() for state, t in record.times.items()}
    code = status_code_for(record)
    _complete_cdr(call, record, times, code, to_wall)
    lead = Session.get(Lead, record.lead_id) if record.lead_id is not None else None
    if lead is not None:
        status = next((s for s in campaign.statuses if s.code == code), None)
        _move_lead(campaign, lead, status, code, call)
        record_attempt(campaign, lead, call.started_at, status)
        if status is not None and status.callback:
            schedule_callback_from_status(
                lead, campaign, status, agent_id=record.agent_id, now=call.ended_at or call.started_at
            )
        Session.add(
            TimelineEvent(
                lead_id=lead.id,
                kind="call",
                occurred_at=call.started_at,
                user_id=call.agent_id,
                summary=f"{code} · {call.state}",
                data={"call_id": str(call.id), "talk_s": call.talk_s, "cause": call.cause},
            )
        )
    Session.flush()
    return call


def _complete_cdr(call: Call, record: CallRecord, times: dict[str, str], code: str, to_wall: ToWall) -> None:
    call.disposition = code
    call.is_machine = record.is_machine
    call.times = times
    call.answered_at = to_wall(record.times[CallState.ANSWERED]) if CallState.ANSWERED in record.times else None
    dialled = record.times.get(CallState.DIALLING)
    answered = record.times.get(CallState.ANSWERED)
    if dialled is not None:
        call.ring_s = round((answered if answered is not None else record.ended_at or dialled) - dialled, 3)
    record_ending(call, record, to_wall)


def record_ending(call: Call, record: CallRecord, to_wall: ToWall) -> None:
    """What every call's CDR takes from the engine's record once it is over (outbound
    here, inbound in telephony.dialer.inbound): state, cause, agent, the bridge / end /
    wrap-up instants, talk and wrap-up durations, the call's data, and its cost."""

    def at(state: CallState) -> dt.datetime | None:
        return to_wall(record.times[state]) if state in record.times else None

    call.state = record.state
    call.cause = record.cause
    call.agent_id = record.agent_id
    call.abandoned = record.state is CallState.ABANDONED
    call.bridged_at = at(CallState.BRIDGED)
    call.ended_at = to_wall(record.ended_at) if record.ended_at is not None else at(record.state)
    call.wrapup_ended_at = at(CallState.DISPOSITIONED)
    if CallState.BRIDGED in record.times and CallState.WRAP_UP in record.times:
        call.talk_s = round(record.times[CallState.WRAP_UP] - record.times[CallState.BRIDGED], 3)
    if CallState.WRAP_UP in record.times and CallState.DISPOSITIONED in record.times:
        call.wrapup_s = round(record.times[CallState.DISPOSITIONED] - record.times[CallState.WRAP_UP], 3)
    call.data = {**call.data, **record.data}
    price_call(call, billed_seconds(call))


def billed_seconds(call: Call) -> int:
    """Answer to hang-up in whole seconds, a started second counting (carriers bill
    that way); the media server's own ``billsec`` when it gave one; 0 if not answered."""
    billsec = str(call.data.get("billsec", ""))
    if billsec.isdigit():
        return int(billsec)
    if call.answered_at is None or call.ended_at is None:
        return 0
    return max(0, math.ceil(round((call.ended_at - call.answered_at).total_seconds(), 3)))


def _move_lead(campaign: Campaign, lead: Lead, status: CampaignStatus | None, code: str, call: Call) -> None:
    lead.attempts += 1
    lead.last_attempt_at = call.started_at
    lead.status = code
    if status is not None and (status.final or status.not_treatable):
        lead.next_attempt_at = NEVER
        return
    rule = Session.scalar(
        sa.select(RecycleRule).where(
            RecycleRule.campaign_id == campaign.id, RecycleRule.status == code, RecycleRule.active
        )
    )
    if rule is not None and lead.recycles < rule.max_recycles:
        # L7: the status comes back after its delay, with the rule's priority
        lead.recycles += 1
        lead.priority = {"high": 10, "normal": 0, "low": -10}.get(str(rule.priority), 0)
        lead.next_attempt_at = (call.ended_at or call.started_at) + dt.timedelta(minutes=rule.delay_minutes)
    else:
        # not recyclable: only a rule (or a manager's reset) brings it back
        lead.next_attempt_at = NEVER


def close_orphans(campaign_id: int, now: dt.datetime, cause: str = "SERVICE_RESTART") -> int:
    """After a restart with a backend that cannot report on calls launched before
    (the simulator), calls still open in the CDR are closed as failed; their leads stay
    reserved until their reservation ends, so none is dialled twice."""
    return fail_open_calls(Call.campaign_id == campaign_id, now, cause)


def fail_open_calls(where: sa.ColumnElement[bool], now: dt.datetime, cause: str) -> int:
    """Close the open CDR rows matching ``where`` as failed with ``cause`` (nothing to
    bill: an unknown end). Returns how many were closed."""
    calls = list(Session.scalars(sa.select(Call).where(where, Call.ended_at.is_(None))))
    for call in calls:
        call.state = CallState.FAILED
        call.cause = cause
        call.ended_at = now
        call.times = {**call.times, CallState.FAILED.value: now.isoformat()}
    Session.flush()
    return len(calls)
