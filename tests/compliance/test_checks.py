from __future__ import annotations

from datetime import time, timedelta

from app.compliance import REASON_LABELS, RULES, Reason, Severity, check_campaign_limits
from tests.compliance.conftest import FakeCampaign


def _codes(campaign: FakeCampaign, country: str | None = "FR") -> list[str]:
    return [warning.code for warning in check_campaign_limits(campaign, country)]


def test_clean_campaign_has_no_warning():
    campaign = FakeCampaign(
        attempt_limit=4,
        refusal_delay=timedelta(days=60),
        calling_hours={0: [(time(10, 0), time(13, 0)), (time(14, 0), time(18, 0))]},
    )
    assert _codes(campaign) == []


def test_attempt_limit_above_four_is_warned():
    warnings = check_campaign_limits(FakeCampaign(attempt_limit=6))
    assert [(w.severity, w.code) for w in warnings] == [(Severity.WARNING, "attempt_limit_above_legal")]
    assert "6" in str(warnings[0].message) and "4" in str(warnings[0].message)


def test_non_prospecting_campaign_may_set_any_limit():
    assert _codes(FakeCampaign(prospecting=False, attempt_limit=10, refusal_delay=timedelta(days=1))) == []


def test_short_refusal_delay_is_warned():
    assert _codes(FakeCampaign(refusal_delay=timedelta(days=30))) == ["refusal_delay_below_legal"]


def test_hours_beyond_the_legal_window_are_warned_with_the_rule():
    campaign = FakeCampaign(calling_hours={5: [(time(10, 0), time(12, 0))]})
    warnings = check_campaign_limits(campaign)
    assert [w.code for w in warnings] == ["hours_exceed_legal"]
    assert "D223-9" in str(warnings[0].message)
    assert _codes(FakeCampaign(calling_hours={0: [(time(9, 0), time(20, 0))]})) == ["hours_exceed_legal"]


def test_us_campaign_checked_against_tcpa():
    assert _codes(FakeCampaign(attempt_limit=9, calling_hours={6: [(time(9, 0), time(20, 0))]}), "US") == []


def test_every_reason_has_a_french_label():
    assert set(REASON_LABELS) == set(Reason)
    assert str(REASON_LABELS[Reason.HOLIDAY]) == "Jour férié"


def test_every_rule_has_a_summary_and_a_source():
    for rule in RULES.values():
        assert str(rule.summary) and rule.source
