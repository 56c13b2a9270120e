"""The hopper (D1): hands the campaign engine the next leads it may dial now.

Order: due shared callbacks first, then recycled leads by priority, then new leads in
the campaign's dial order. Every candidate passes the compliance engine (``may_dial``)
before it is handed out; a refused lead is parked until ``next_allowed_at`` (or a day
when no instant would help), and the refusal is logged with its reason.

Concurrency: candidates are read with ``FOR UPDATE SKIP LOCKED`` and a lead handed
out is reserved (its ``next_attempt_at`` moves past the reservation), both in one
transaction, so several dialer processes never take the same lead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.calls.models import Call
from app.campaigns.compliance import histories_for, lead_for_campaign, log_block
from app.campaigns.models import Callback, CallbackState, Campaign, DialOrder
from app.compliance import (
    ALLOW_ALL_LIMITS,
    CallHistory,
    Decision,
    Limits,
    NoPresentableNumberError,
    may_dial,
    presented_number,
    record_refusal,
)
from app.db import utcnow
from app.extensions import Session
from app.leads.models import Lead, LeadList, LeadStatus
from app.leads.redlist import blocked_numbers
from telephony.dialer.engine import LeadToDial

NEVER = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
REFUSED_RETRY = dt.timedelta(days=1)  # consent or red list: look again tomorrow, not every second
RESERVATION = dt.timedelta(minutes=10)  # longer than any call; the outcome sets the real next time
SYSTEM_FINAL = (LeadStatus.DNC.value, LeadStatus.ERASED.value)


class Hopper:
    """``LeadSource`` of one campaign, backed by PostgreSQL. Call ``take`` inside the
    tenant's scope; it flushes and leaves the commit to its caller (the service commits
    right after, so reservations are visible to other processes at once)."""

    def __init__(
        self,
        campaign_id: int,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        limits: Limits = ALLOW_ALL_LIMITS,
        reservation: dt.timedelta = RESERVATION,
        window: int = 3,
    ) -> None:
        self.campaign_id = campaign_id
        self._clock = clock
        self._limits = limits
        self._reservation = reservation
        self._window = window
        self.last_refusals: dict[int, Decision] = {}  # lead id -> why the last screening refused it

    def count_dialable(self, cap: int = 100_000) -> int:
        """Leads of the active lists due now and not final (what the hopper can still
        draw on), counted up to ``cap`` so that a huge list costs a bounded scan. Leads
        the compliance engine will hold back are included: it decides at refill."""
        campaign = Session.get(Campaign, self.campaign_id)
        if campaign is None:
            return 0
        now = self._clock()
        lists = sa.select(LeadList.id).where(LeadList.campaign_id == campaign.id, LeadList.active)
        final = _final_codes(campaign)
        total = 0
        # two index range scans (never dialled / due again) rather than one OR
        for due in (Lead.next_attempt_at.is_(None), Lead.next_attempt_at <= now):
            capped = (sa.select(Lead.id).where(Lead.list_id.in_(lists), due, Lead.status.not_in(final),
                                                 *self._attempt_cap(campaign))
                      .limit(cap - total).subquery())
            total += Session.scalar(sa.select(sa.func.count()).select_from(capped)) or 0
            if total >= cap:
                break
        return total

    def take(self, n: int) -> list[LeadToDial]:
        if n <= 0:
            return []
        campaign = Session.get(Campaign, self.campaign_id)
        if campaign is None or not campaign.active or campaign.archived_at is not None:
            return []
        now = self._clock()
        list_ids = list(
            Session.scalars(
                sa.select(LeadList.id).where(LeadList.campaign_id == campaign.id, LeadList.active)
            )
        )
        if not list_ids:
            return []
        final = _final_codes(campaign)
        taken: list[LeadToDial] = []
        for source in (self._callback_leads, self._recycled_leads, self._new_leads):
            want = n - len(taken)
            if want <= 0:
                break
            for _ in range(4):  # a few rounds when refusals thin a batch out
                candidates = source(campaign, list_ids, final, now, want * self._window)
                if not candidates:
                    break
                taken.extend(self._screen(campaign, candidates, now, want))
                want = n - len(taken)
                if want <= 0 or len(candidates) < want * self._window:
                    break
        Session.flush()
        return taken

    def take_lead(self, lead_id: int) -> LeadToDial | str:
        """One lead an agent chose to dial (MANUEL, PREVIEW): locked, screened by the
        compliance engine like any other and reserved; or the reason it may not be
        dialled now (a compliance reason code, ``closed`` or ``in_call``)."""
        campaign = Session.get(Campaign, self.campaign_id)
        if campaign is None:
            return "closed"
        lists = sa.select(LeadList.id).where(LeadList.campaign_id == campaign.id, LeadList.active)
        found = self._locked(sa.select(Lead).where(Lead.id == lead_id, Lead.list_id.in_(lists),
                                                   Lead.status.not_in(_final_codes(campaign))))
        if not found:
            return "closed"
        self.last_refusals.pop(lead_id, None)
        taken = self._screen(campaign, found, self._clock(), 1)
        Session.flush()
        if taken:
            return taken[0]
        refusal = self.last_refusals.pop(lead_id, None)
        return str(refusal.reason) if refusal is not None else "in_call"

    # ---------------------------------------------------------------- sources
    def _locked(self, stmt: sa.Select) -> list[Lead]:
        # no eager joins: FOR UPDATE locks the leads alone, and the plan stays an index scan
        stmt = stmt.options(so.lazyload("*")).with_for_update(skip_locked=True, of=Lead)
        return list(Session.scalars(stmt))

    def _callback_leads(
        self, campaign: Campaign, list_ids: Sequence[int], final: set[str], now: dt.datetime, limit: int
    ) -> list[Lead]:
        # Shared callbacks only: a personal callback waits for its agent (agent screen).
        due = list(
            Session.scalars(
                sa.select(Callback)
                .where(
                    Callback.campaign_id == campaign.id,
                    Callback.state == CallbackState.PENDING,
                    Callback.agent_id.is_(None),
                    Callback.due_at <= now,
                )
                .order_by(Callback.priority.desc(), Callback.due_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not due:
            return []
        leads = {
            lead.id: lead
            for lead in self._locked(
                sa.select(Lead).where(Lead.id.in_([cb.lead_id for cb in due]), Lead.status.not_in(final))
            )
        }
        picked = []
        for callback in due:
            lead = leads.get(callback.lead_id)
            if lead is not None:
                callback.state = CallbackState.DONE
                callback.completed_at = now
                picked.append(lead)
        return picked

    def _recycled_leads(
        self, campaign: Campaign, list_ids: Sequence[int], final: set[str], now: dt.datetime, limit: int
    ) -> list[Lead]:
        return self._locked(
            sa.select(Lead)
            .where(
                Lead.list_id.in_(list_ids),
                Lead.next_attempt_at <= now,
                Lead.status.not_in(final),
                *self._attempt_cap(campaign),
            )
            .order_by(Lead.priority.desc(), Lead.next_attempt_at, Lead.id)
            .limit(limit)
        )

    def _new_leads(
        self, campaign: Campaign, list_ids: Sequence[int], final: set[str], now: dt.datetime, limit: int
    ) -> list[Lead]:
        stmt = sa.select(Lead).where(
            Lead.list_id.in_(list_ids),
            Lead.next_attempt_at.is_(None),
            Lead.status.not_in(final),
            *self._attempt_cap(campaign),
        )
        return self._locked(stmt.order_by(*_dial_order(campaign)).limit(limit))

    @staticmethod
    def _attempt_cap(campaign: Campaign) -> list[sa.ColumnElement]:
        if campaign.attempt_limit is None:
            return []
        return [Lead.attempts < campaign.attempt_limit]

    # -------------------------------------------------------------- screening
    def _screen(self, campaign: Campaign, leads: list[Lead], now: dt.datetime, want: int) -> list[LeadToDial]:
        phones = [lead.phone_number for lead in leads]
        histories = histories_for(phones, now)
        blocked = blocked_numbers(campaign.tenant_id, campaign.id, phones)
        open_calls = set(
            Session.scalars(
                sa.select(Call.lead_id).where(
                    Call.lead_id.in_([lead.id for lead in leads]), Call.ended_at.is_(None)
                )
            )
        )
        out: list[LeadToDial] = []
        for lead in leads:
            if len(out) >= want:
                break  # stays unreserved: the next refill sees it again
            if lead.id in open_calls:
                lead.next_attempt_at = now + self._reservation  # a call is still on it
                continue
            subject = lead_for_campaign(lead, campaign)
            decision = may_dial(
                subject,
                campaign,
                now,
                history=histories.get(lead.phone_number, CallHistory()),
                blocked=lambda _t, _c, phone: phone in blocked,
                limits=self._limits,
            )
            if not decision.allowed:
                self.last_refusals[lead.id] = decision
                record_refusal(log_block, subject, campaign, decision, now)
                lead.next_attempt_at = _parked_until(decision, now)
                continue
            try:
                caller_id = presented_number(campaign, lead) if campaign.local_presence else None
            except NoPresentableNumberError:
                caller_id = None
            lead.next_attempt_at = now + self._reservation
            out.append(LeadToDial(lead.id, lead.phone_number, caller_id))
        return out


def _final_codes(campaign: Campaign) -> set[str]:
    codes = {s.code for s in campaign.statuses if s.final or s.not_treatable}
    return codes | set(SYSTEM_FINAL)


def _dial_order(campaign: Campaign) -> list[sa.ColumnElement]:
    order = campaign.dial_order
    if order == DialOrder.RANDOM:
        return [sa.func.random()]
    if order == DialOrder.NEWEST_LEAD:
        return [Lead.id.desc()]
    if order == DialOrder.POSTAL_CODE:
        return [Lead.postal_code.asc().nulls_last(), Lead.id]
    if order == DialOrder.OLDEST_ATTEMPT:
        return [Lead.last_attempt_at.asc().nulls_first(), Lead.id]
    return [Lead.next_attempt_at.asc().nulls_first(), Lead.id]  # list order: ix_leads_hopper's order


def _parked_until(decision: Decision, now: dt.datetime) -> dt.datetime:
    if decision.next_allowed_at is not None and decision.next_allowed_at > now:
        return decision.next_allowed_at
    return now + REFUSED_RETRY
