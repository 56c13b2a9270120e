"""Worked examples of may_dial() against the French rule and the other country rows."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.compliance import (
    CallHistory,
    Decision,
    Reason,
    RefusalRecord,
    may_dial,
    record_refusal,
)
from app.compliance.windows import first_instant_at
from tests.compliance.conftest import FakeCampaign, FakeLead, never_blocked, paris, without_consent

NO_HISTORY = CallHistory()


def dial(lead: FakeLead, campaign: FakeCampaign, at: datetime, history: CallHistory = NO_HISTORY) -> Decision:
    return may_dial(lead, campaign, at, history=history, blocked=never_blocked)


def refused(reason: Reason, next_allowed_at: datetime | None) -> Decision:
    return Decision(allowed=False, reason=reason, next_allowed_at=next_allowed_at)


# --- legal window, France ------------------------------------------------------


def test_friday_1959_allowed_and_2000_refused_until_monday_10():
    lead, campaign = FakeLead(), FakeCampaign()
    assert dial(lead, campaign, paris(2026, 11, 27, 19, 59)).allowed
    assert dial(lead, campaign, paris(2026, 11, 27, 19, 59, 59)).allowed
    assert dial(lead, campaign, paris(2026, 11, 27, 20, 0)) == refused(
        Reason.WINDOW, paris(2026, 11, 30, 10, 0)
    )


def test_window_opens_at_10_sharp():
    assert dial(FakeLead(), FakeCampaign(), paris(2026, 11, 30, 9, 59)) == refused(
        Reason.WINDOW, paris(2026, 11, 30, 10, 0)
    )
    assert dial(FakeLead(), FakeCampaign(), paris(2026, 11, 30, 10, 0)).allowed


def test_lunch_gap_reopens_at_14():
    lead, campaign = FakeLead(), FakeCampaign()
    assert dial(lead, campaign, paris(2026, 11, 25, 12, 59)).allowed
    assert dial(lead, campaign, paris(2026, 11, 25, 13, 0)).reason == Reason.WINDOW
    assert dial(lead, campaign, paris(2026, 11, 25, 13, 30)) == refused(
        Reason.WINDOW, paris(2026, 11, 25, 14, 0)
    )


@pytest.mark.parametrize("weekday_date", [(2026, 11, 28), (2026, 11, 29)])
def test_weekend_refused_until_monday(weekday_date):
    decision = dial(FakeLead(), FakeCampaign(), paris(*weekday_date, 11, 0))
    assert decision == refused(Reason.WINDOW, paris(2026, 11, 30, 10, 0))


def test_bastille_day_is_a_holiday():
    assert dial(FakeLead(), FakeCampaign(), paris(2026, 7, 14, 11, 0)) == refused(
        Reason.HOLIDAY, paris(2026, 7, 15, 10, 0)
    )


def test_easter_monday_is_a_holiday():
    # Before opt-in (11 Aug 2026): the lead needs no consent here.
    lead = without_consent(FakeLead())
    assert dial(lead, FakeCampaign(), paris(2026, 4, 6, 11, 0)) == refused(
        Reason.HOLIDAY, paris(2026, 4, 7, 10, 0)
    )


def test_holiday_before_a_weekend_skips_to_monday():
    # Armistice 2027 is a Thursday; Friday is open.
    assert dial(FakeLead(), FakeCampaign(), paris(2027, 11, 11, 11, 0)).next_allowed_at == paris(
        2027, 11, 12, 10, 0
    )
    # 25 Dec 2026 is a Friday: next opening is Monday 28.
    assert dial(FakeLead(), FakeCampaign(), paris(2026, 12, 24, 20, 0)).next_allowed_at == paris(
        2026, 12, 28, 10, 0
    )


def test_alsace_moselle_good_friday():
    at = paris(2026, 4, 3, 11, 0)
    lead = without_consent(FakeLead(postal_code="67000"))
    assert dial(lead, FakeCampaign(), at).reason == Reason.HOLIDAY
    assert dial(without_consent(FakeLead()), FakeCampaign(), at).allowed


def test_corsica_is_metropolitan():
    assert dial(FakeLead(postal_code="20000"), FakeCampaign(), paris(2026, 11, 25, 10, 30)).allowed
    assert (
        dial(FakeLead(postal_code="20200"), FakeCampaign(), paris(2026, 11, 25, 20, 30)).reason
        == Reason.WINDOW
    )


# --- overseas ----------------------------------------------------------------------


def test_reunion_lead_uses_reunion_time():
    reunion = ZoneInfo("Indian/Reunion")
    lead = FakeLead(postal_code="97400")
    # 09:00 in Paris is 12:00 in Saint-Denis: open there, closed in Paris.
    assert dial(lead, FakeCampaign(), paris(2026, 11, 25, 9, 0)).allowed
    assert not dial(FakeLead(), FakeCampaign(), paris(2026, 11, 25, 9, 0)).allowed
    # 17:30 in Paris is 20:30 in Saint-Denis: closed until 10:00 Réunion time.
    assert dial(lead, FakeCampaign(), paris(2026, 11, 25, 17, 30)) == refused(
        Reason.WINDOW, datetime(2026, 11, 26, 10, 0, tzinfo=reunion)
    )


def test_reunion_by_country_code_without_postal_code():
    lead = FakeLead(postal_code=None, country_code="RE")
    assert dial(lead, FakeCampaign(), paris(2026, 11, 25, 9, 0)).allowed


def test_guadeloupe_abolition_day_is_a_holiday_there_only():
    guadeloupe = ZoneInfo("America/Guadeloupe")
    at = datetime(2026, 5, 27, 11, 0, tzinfo=guadeloupe)  # 17:00 in Paris
    lead = without_consent(FakeLead(postal_code="97110"))
    assert dial(lead, FakeCampaign(), at) == refused(
        Reason.HOLIDAY, datetime(2026, 5, 28, 10, 0, tzinfo=guadeloupe)
    )
    assert dial(without_consent(FakeLead()), FakeCampaign(), at).allowed


def test_reunion_20_december():
    lead = FakeLead(postal_code="97400")
    at = datetime(2027, 12, 20, 11, 0, tzinfo=ZoneInfo("Indian/Reunion"))
    assert dial(lead, FakeCampaign(), at).reason == Reason.HOLIDAY


def test_mayotte_and_guyane_zones():
    # 15:00 UTC on a Wednesday is 18:00 in Mayotte and 12:00 in Cayenne.
    at = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert dial(FakeLead(postal_code="97600"), FakeCampaign(), at).allowed
    assert dial(FakeLead(postal_code="97300"), FakeCampaign(), at).allowed
    # 17:30 UTC: 20:30 in Mayotte (closed), 14:30 in Cayenne (open).
    late = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)
    assert dial(FakeLead(postal_code="97600"), FakeCampaign(), late).reason == Reason.WINDOW
    assert dial(FakeLead(postal_code="97300"), FakeCampaign(), late).allowed


# --- express consent ---------------------------------------------------------------


def test_express_consent_allows_weekend_and_evening_calls():
    lead = FakeLead(consent_outside_hours=True)
    assert dial(lead, FakeCampaign(), paris(2026, 11, 28, 11, 0)).allowed
    assert dial(lead, FakeCampaign(), paris(2026, 11, 25, 21, 0)).allowed
    assert dial(lead, FakeCampaign(), paris(2026, 7, 14, 11, 0)).allowed


def test_express_consent_without_proof_does_not_lift_the_window():
    lead = FakeLead(consent_outside_hours=True, consent_proof=None)
    # Non-prospecting campaign, so only the window (not opt-in) is in play.
    assert dial(lead, FakeCampaign(prospecting=False), paris(2026, 11, 28, 11, 0)).reason == Reason.WINDOW


def test_express_consent_recorded_later_opens_from_its_date():
    lead = FakeLead(consent_outside_hours=True, consent_at=paris(2026, 11, 28, 9, 0))
    decision = dial(lead, FakeCampaign(prospecting=False), paris(2026, 11, 27, 20, 30))
    assert decision == refused(Reason.WINDOW, paris(2026, 11, 28, 9, 0))


def test_express_consent_still_bound_by_campaign_hours():
    lead = FakeLead(consent_outside_hours=True)
    campaign = FakeCampaign(calling_hours={5: [(time(9, 0), time(12, 0))]})
    assert dial(lead, campaign, paris(2026, 11, 28, 9, 30)).allowed
    assert dial(lead, campaign, paris(2026, 11, 28, 12, 0)) == refused(
        Reason.WINDOW, paris(2026, 12, 5, 9, 0)
    )


# --- attempts, spacing, refusal ----------------------------------------------------

FOUR_ATTEMPTS = CallHistory(attempts=tuple(paris(2026, 11, day, 10, 30) for day in (2, 9, 16, 23)))


def test_fifth_attempt_in_30_days_waits_for_the_oldest_to_expire():
    decision = dial(FakeLead(), FakeCampaign(), paris(2026, 11, 25, 11, 0), FOUR_ATTEMPTS)
    assert decision == refused(Reason.ATTEMPTS, paris(2026, 12, 2, 10, 30))
    assert dial(FakeLead(), FakeCampaign(), paris(2026, 12, 2, 10, 30), FOUR_ATTEMPTS).allowed
    assert not dial(FakeLead(), FakeCampaign(), paris(2026, 12, 2, 10, 29), FOUR_ATTEMPTS).allowed


def test_attempt_window_is_thirty_days_of_elapsed_time_across_dst():
    # 1 March is winter time, 31 March summer time: 30 days after 10:30 CET is
    # 11:30 CEST, not 10:30 (found by the property test).
    history = CallHistory(attempts=(paris(2026, 3, 2, 10, 30),))
    decision = dial(FakeLead(), FakeCampaign(attempt_limit=1), paris(2026, 3, 3, 11, 0), history)
    assert decision == refused(Reason.ATTEMPTS, paris(2026, 4, 1, 11, 30))
    assert not dial(FakeLead(), FakeCampaign(attempt_limit=1), paris(2026, 4, 1, 11, 29), history).allowed
    assert dial(FakeLead(), FakeCampaign(attempt_limit=1), paris(2026, 4, 1, 11, 30), history).allowed


def test_three_attempts_leave_one():
    history = CallHistory(attempts=FOUR_ATTEMPTS.attempts[1:])
    assert dial(FakeLead(), FakeCampaign(), paris(2026, 11, 25, 11, 0), history).allowed


def test_campaign_limit_lower_than_legal():
    decision = dial(FakeLead(), FakeCampaign(attempt_limit=2), paris(2026, 11, 25, 11, 0), FOUR_ATTEMPTS)
    assert decision == refused(Reason.ATTEMPTS, paris(2026, 12, 16, 10, 30))


def test_campaign_limit_higher_than_legal_is_capped():
    decision = dial(FakeLead(), FakeCampaign(attempt_limit=10), paris(2026, 11, 25, 11, 0), FOUR_ATTEMPTS)
    assert decision.reason == Reason.ATTEMPTS


def test_non_prospecting_campaign_has_no_legal_cap():
    assert dial(
        FakeLead(), FakeCampaign(prospecting=False), paris(2026, 11, 25, 11, 0), FOUR_ATTEMPTS
    ).allowed
    limited = FakeCampaign(prospecting=False, attempt_limit=3)
    assert dial(FakeLead(), limited, paris(2026, 11, 25, 11, 0), FOUR_ATTEMPTS).reason == Reason.ATTEMPTS


def test_attempt_expiring_outside_window_moves_to_next_opening():
    # Oldest counted attempt at Friday 19:00 leaves the window on Sunday 19:00.
    history = CallHistory(attempts=tuple(paris(2026, 11, day, 19, 0) for day in (6, 13, 20, 23)))
    decision = dial(FakeLead(), FakeCampaign(), paris(2026, 11, 25, 11, 0), history)
    assert decision.next_allowed_at == paris(2026, 12, 7, 10, 0)


def test_zero_limit_is_permanent():
    assert dial(FakeLead(), FakeCampaign(attempt_limit=0), paris(2026, 11, 25, 11, 0)) == refused(
        Reason.ATTEMPTS, None
    )


def test_minimum_spacing():
    campaign = FakeCampaign(min_attempt_spacing=timedelta(hours=48))
    history = CallHistory(attempts=(paris(2026, 11, 24, 15, 0),))
    assert dial(FakeLead(), campaign, paris(2026, 11, 25, 11, 0), history) == refused(
        Reason.SPACING, paris(2026, 11, 26, 15, 0)
    )


def test_refusal_blocks_60_days_then_next_opening():
    history = CallHistory(last_refusal_at=paris(2026, 9, 1, 15, 0))
    decision = dial(FakeLead(), FakeCampaign(), paris(2026, 10, 1, 11, 0), history)
    # 31 Oct is a Saturday, 1 Nov a Sunday and All Saints: Monday 2 Nov 10:00.
    assert decision == refused(Reason.REFUSAL_DELAY, paris(2026, 11, 2, 10, 0))
    assert dial(FakeLead(), FakeCampaign(), paris(2026, 11, 2, 10, 0), history).allowed


def test_campaign_refusal_delay_longer_than_legal_wins():
    history = CallHistory(last_refusal_at=paris(2026, 9, 1, 15, 0))
    campaign = FakeCampaign(refusal_delay=timedelta(days=90))
    # 90 days of elapsed time: 15:00 summer time is 14:00 winter time on 30 Nov.
    assert dial(FakeLead(), campaign, paris(2026, 11, 2, 10, 0), history).next_allowed_at == paris(
        2026, 11, 30, 14, 0
    )
    shorter = FakeCampaign(refusal_delay=timedelta(days=10))
    assert dial(FakeLead(), shorter, paris(2026, 10, 1, 11, 0), history).reason == Reason.REFUSAL_DELAY


def test_refusal_reported_before_other_time_reasons():
    history = CallHistory(attempts=FOUR_ATTEMPTS.attempts, last_refusal_at=paris(2026, 11, 23, 10, 31))
    decision = dial(FakeLead(), FakeCampaign(), paris(2026, 11, 28, 11, 0), history)
    assert decision == refused(Reason.REFUSAL_DELAY, paris(2027, 1, 22, 10, 31))


# --- consent (opt-in from 11 August 2026) -----------------------------------------


def test_prospecting_without_consent_refused_for_good():
    lead = without_consent(FakeLead())
    assert dial(lead, FakeCampaign(), paris(2026, 11, 25, 11, 0)) == refused(Reason.CONSENT, None)


def test_prospecting_without_consent_before_opt_in_date():
    lead = without_consent(FakeLead())
    assert dial(lead, FakeCampaign(), paris(2026, 8, 10, 11, 0)).allowed
    assert dial(lead, FakeCampaign(), paris(2026, 8, 11, 11, 0)).reason == Reason.CONSENT


def test_window_closed_on_eve_of_opt_in_gives_no_next_time():
    # Monday 10 Aug 20:00: the window reopens on 11 Aug, when consent is required.
    decision = dial(without_consent(FakeLead()), FakeCampaign(), paris(2026, 8, 10, 20, 0))
    assert decision == refused(Reason.WINDOW, None)


@pytest.mark.parametrize("missing", ["consent_source", "consent_at", "consent_text", "consent_proof"])
def test_incomplete_consent_is_no_consent(missing):
    lead = FakeLead()
    setattr(lead, missing, None)
    assert dial(lead, FakeCampaign(), paris(2026, 11, 25, 11, 0)).reason == Reason.CONSENT


def test_consent_dated_after_the_call_does_not_count():
    lead = FakeLead(consent_at=datetime(2026, 12, 1, tzinfo=UTC))
    assert dial(lead, FakeCampaign(), paris(2026, 11, 25, 11, 0)).reason == Reason.CONSENT


def test_existing_contract_exempt_from_consent_not_from_window():
    lead = without_consent(FakeLead(existing_contract=True))
    assert dial(lead, FakeCampaign(), paris(2026, 11, 25, 11, 0)).allowed
    assert dial(lead, FakeCampaign(), paris(2026, 11, 28, 11, 0)).reason == Reason.WINDOW
    assert dial(lead, FakeCampaign(), paris(2026, 11, 25, 11, 0), FOUR_ATTEMPTS).reason == Reason.ATTEMPTS


def test_non_prospecting_campaign_needs_no_consent():
    assert dial(
        without_consent(FakeLead()), FakeCampaign(prospecting=False), paris(2026, 11, 25, 11, 0)
    ).allowed


def test_opt_in_is_french_only():
    lead = without_consent(FakeLead(postal_code="1000", country_code="BE"))
    assert dial(
        lead, FakeCampaign(), datetime(2026, 11, 25, 11, 0, tzinfo=ZoneInfo("Europe/Brussels"))
    ).allowed


# --- campaign hours ----------------------------------------------------------------


NARROW = {weekday: [(time(15, 0), time(18, 0))] for weekday in range(5)}
WIDE = {weekday: [(time(8, 0), time(22, 0))] for weekday in range(7)}


def test_campaign_hours_narrower_than_legal():
    campaign = FakeCampaign(calling_hours=NARROW)
    assert dial(FakeLead(), campaign, paris(2026, 11, 25, 10, 30)) == refused(
        Reason.WINDOW, paris(2026, 11, 25, 15, 0)
    )
    assert dial(FakeLead(), campaign, paris(2026, 11, 25, 17, 59)).allowed
    assert dial(FakeLead(), campaign, paris(2026, 11, 25, 18, 0)) == refused(
        Reason.WINDOW, paris(2026, 11, 26, 15, 0)
    )


def test_campaign_hours_wider_than_legal_do_not_widen():
    campaign = FakeCampaign(calling_hours=WIDE)
    assert dial(FakeLead(), campaign, paris(2026, 11, 25, 9, 0)) == refused(
        Reason.WINDOW, paris(2026, 11, 25, 10, 0)
    )
    assert dial(FakeLead(), campaign, paris(2026, 11, 25, 13, 30)).reason == Reason.WINDOW
    assert dial(FakeLead(), campaign, paris(2026, 11, 25, 21, 0)).reason == Reason.WINDOW
    assert dial(FakeLead(), campaign, paris(2026, 11, 28, 11, 0)).reason == Reason.WINDOW


def test_campaign_closed_every_day_gives_no_next_time():
    campaign = FakeCampaign(calling_hours={5: [(time(9, 0), time(12, 0))]})
    assert dial(FakeLead(), campaign, paris(2026, 11, 25, 11, 0)) == refused(Reason.WINDOW, None)


def test_campaign_hours_ending_at_midnight():
    campaign = FakeCampaign(prospecting=False, calling_hours={0: [(time(19, 0), time(0, 0))]})
    lead = FakeLead(country_code="US", postal_code="10001", state="NY")
    new_york = ZoneInfo("America/New_York")
    assert dial(lead, campaign, datetime(2026, 11, 30, 20, 30, tzinfo=new_york)).allowed
    assert dial(lead, campaign, datetime(2026, 11, 30, 21, 0, tzinfo=new_york)).reason == Reason.WINDOW


# --- DST -------------------------------------------------------------------------


def test_spring_forward_weekend():
    # Friday 27 March 2026 20:00 CET -> Monday 30 March 10:00 CEST (08:00 UTC).
    decision = dial(FakeLead(), FakeCampaign(), paris(2026, 3, 27, 20, 0))
    assert decision.next_allowed_at == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_fall_back_weekend():
    # Friday 23 October 2026 20:00 CEST -> Monday 26 October 10:00 CET (09:00 UTC).
    decision = dial(FakeLead(), FakeCampaign(), paris(2026, 10, 23, 20, 0))
    assert decision.next_allowed_at == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


def test_us_dst_start():
    # Sunday 8 March 2026 America/New_York springs forward at 02:00.
    lead = FakeLead(country_code="US", postal_code="10001", state="NY")
    at = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 01:00 EST
    decision = dial(lead, FakeCampaign(prospecting=False), at)
    assert decision.next_allowed_at == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # 08:00 EDT


def test_first_instant_in_spring_gap_is_the_jump():
    assert first_instant_at(
        datetime(2026, 3, 29).date(), int(2.5 * 3600), ZoneInfo("Europe/Paris")
    ) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_first_instant_of_ambiguous_time_is_its_first_occurrence():
    assert first_instant_at(
        datetime(2026, 10, 25).date(), int(2.5 * 3600), ZoneInfo("Europe/Paris")
    ) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_campaign_hours_inside_dst_gap():
    # A UK lead with a Sunday 01:00-03:00 slot: 01:00-02:00 does not exist on 29 March 2026.
    lead = FakeLead(country_code="GB", postal_code="SW1A1AA", consent_outside_hours=True)
    campaign = FakeCampaign(prospecting=False, calling_hours={6: [(time(1, 30), time(3, 0))]})
    decision = dial(lead, campaign, datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    # 01:30 GMT would be skipped; the first real instant is the jump at 01:00 UTC (02:00 BST).
    assert decision.next_allowed_at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


# --- other countries ---------------------------------------------------------------


def test_us_tcpa_hours_in_the_lead_state():
    lead = FakeLead(country_code="US", postal_code="94103", state="CA")
    la = ZoneInfo("America/Los_Angeles")
    assert dial(lead, FakeCampaign(), datetime(2026, 11, 28, 8, 0, tzinfo=la)).allowed  # Saturday is fine
    assert dial(lead, FakeCampaign(), datetime(2026, 11, 28, 21, 0, tzinfo=la)) == refused(
        Reason.WINDOW, datetime(2026, 11, 29, 8, 0, tzinfo=la)
    )


def test_us_without_state_uses_new_york():
    lead = FakeLead(country_code="US", postal_code=None)
    at = datetime(2026, 11, 25, 8, 30, tzinfo=ZoneInfo("America/New_York"))
    assert dial(lead, FakeCampaign(), at).allowed


def test_belgium_sunday_and_holiday_closed():
    lead = FakeLead(country_code="BE", postal_code="1000")
    brussels = ZoneInfo("Europe/Brussels")
    assert dial(lead, FakeCampaign(), datetime(2026, 11, 29, 11, 0, tzinfo=brussels)).reason == Reason.WINDOW
    # 21 July: Belgian National Day, a Tuesday in 2026.
    assert dial(lead, FakeCampaign(), datetime(2026, 7, 21, 11, 0, tzinfo=brussels)).reason == Reason.HOLIDAY
    assert dial(lead, FakeCampaign(), datetime(2026, 11, 28, 12, 0, tzinfo=brussels)).allowed


def test_morocco_uses_casablanca_time():
    lead = FakeLead(country_code="MA", postal_code="20000")
    casablanca = ZoneInfo("Africa/Casablanca")
    assert dial(lead, FakeCampaign(), datetime(2026, 11, 25, 19, 30, tzinfo=casablanca)).allowed
    # Green March day, 6 November.
    assert (
        dial(lead, FakeCampaign(), datetime(2026, 11, 6, 11, 0, tzinfo=casablanca)).reason == Reason.HOLIDAY
    )


def test_uk_every_day_8_to_21():
    lead = FakeLead(country_code="UK", postal_code="SW1A1AA")
    london = ZoneInfo("Europe/London")
    assert dial(lead, FakeCampaign(), datetime(2026, 11, 29, 20, 59, tzinfo=london)).allowed
    assert dial(lead, FakeCampaign(), datetime(2026, 12, 25, 12, 0, tzinfo=london)).allowed


def test_monaco_follows_french_hours_in_monaco_time():
    lead = FakeLead(postal_code="98000")
    assert dial(lead, FakeCampaign(), paris(2026, 11, 25, 11, 0)).allowed
    # 19 November: Monaco National Day.
    assert dial(lead, FakeCampaign(), paris(2026, 11, 19, 11, 0)).reason == Reason.HOLIDAY


# --- red lists, billing hooks, logging --------------------------------------------


def test_red_list_is_checked_with_tenant_campaign_and_number():
    calls = []

    def blocked(tenant_id: object, campaign_id: object, phone_number: str) -> bool:
        calls.append((tenant_id, campaign_id, phone_number))
        return True

    decision = may_dial(
        FakeLead(), FakeCampaign(), paris(2026, 11, 25, 11, 0), history=NO_HISTORY, blocked=blocked
    )
    assert decision == refused(Reason.RED_LIST, None)
    assert calls == [(3, 7, "+33145000001")]


def test_red_list_wins_over_a_closed_window():
    decision = may_dial(
        FakeLead(), FakeCampaign(), paris(2026, 11, 28, 11, 0), history=NO_HISTORY, blocked=lambda *_: True
    )
    assert decision == refused(Reason.RED_LIST, None)


class _Limits:
    def __init__(self, balance: bool, channel: bool) -> None:
        self.balance, self.channel = balance, channel

    def has_balance(self, campaign: object) -> bool:
        return self.balance

    def has_free_channel(self, campaign: object) -> bool:
        return self.channel


@pytest.mark.parametrize(
    ("limits", "reason"),
    [(_Limits(False, True), Reason.BALANCE), (_Limits(True, False), Reason.CHANNEL_LIMIT)],
)
def test_billing_hooks(limits, reason):
    decision = may_dial(
        FakeLead(),
        FakeCampaign(),
        paris(2026, 11, 25, 11, 0),
        history=NO_HISTORY,
        blocked=never_blocked,
        limits=limits,
    )
    assert decision == refused(reason, None)


def test_naive_datetimes_are_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        dial(FakeLead(), FakeCampaign(), datetime(2026, 11, 25, 11, 0))
    with pytest.raises(ValueError, match="history.attempts"):
        dial(
            FakeLead(),
            FakeCampaign(),
            paris(2026, 11, 25, 11, 0),
            CallHistory(attempts=(datetime(2026, 11, 1),)),
        )


def test_record_refusal_sends_reason_to_sink():
    records: list[RefusalRecord] = []
    at = paris(2026, 11, 28, 11, 0)
    lead, campaign = FakeLead(), FakeCampaign()
    decision = dial(lead, campaign, at)
    assert record_refusal(records.append, lead, campaign, decision, at)
    assert records == [
        RefusalRecord(
            tenant_id=3,
            campaign_id=7,
            lead_id=1,
            phone_number="+33145000001",
            reason=Reason.WINDOW,
            at=at,
            next_allowed_at=paris(2026, 11, 30, 10, 0),
        )
    ]
    assert not record_refusal(
        records.append, lead, campaign, dial(lead, campaign, paris(2026, 11, 30, 10, 0)), at
    )
    assert len(records) == 1
