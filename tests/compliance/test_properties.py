"""Property-based tests: the engine against an independent oracle written from the
rules as stated in the law, over random instants, places, campaigns and histories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.compliance import (
    CallHistory,
    NoPresentableNumberError,
    Reason,
    dedicated_zone,
    is_mobile,
    may_dial,
    presented_number,
    resolve_territory,
)
from tests.compliance.conftest import FakeCampaign, FakeLead, never_blocked

# Shared by every property: no example database in the shared tree, no deadline
# (first calls build holiday calendars); ~20 s for the whole module.
PROPERTY_SETTINGS = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

H = 3600
FRENCH_HOURS = {weekday: ((10 * H, 13 * H), (14 * H, 20 * H)) for weekday in range(5)}
# The legal windows as the tests understand them, kept apart from app data on purpose.
EXPECTED_WINDOWS: dict[str, dict[int, tuple[tuple[int, int], ...]]] = {
    "FR": FRENCH_HOURS,
    "MC": FRENCH_HOURS,
    "BE": {**{weekday: ((9 * H, 20 * H),) for weekday in range(5)}, 5: ((10 * H, 13 * H),)},
    "MA": {weekday: ((9 * H, 20 * H),) for weekday in range(6)},
    "GB": {weekday: ((8 * H, 21 * H),) for weekday in range(7)},
    "US": {weekday: ((8 * H, 21 * H),) for weekday in range(7)},
}
CLOSED_ON_HOLIDAYS = {"FR": True, "MC": True, "BE": True, "MA": True, "GB": False, "US": False}
OPT_IN_FROM = date(2026, 8, 11)


@dataclass(frozen=True)
class Place:
    postal_code: str | None
    country_code: str
    state: str | None
    zone: str
    rules: str  # key of EXPECTED_WINDOWS
    holiday_country: str
    holiday_subdivision: str | None


def _metropolitan_places() -> list[Place]:
    departments = [f"{n:02d}" for n in range(1, 96) if n != 20]
    places = []
    for department in departments:
        subdivision = {"57": "57", "67": "6AE", "68": "6AE"}.get(department)
        places.append(Place(f"{department}100", "FR", None, "Europe/Paris", "FR", "FR", subdivision))
    places.append(Place("20090", "FR", None, "Europe/Paris", "FR", "FR", None))
    places.append(Place("20250", "FR", None, "Europe/Paris", "FR", "FR", None))
    return places


PLACES: list[Place] = [
    *_metropolitan_places(),
    Place("97110", "FR", None, "America/Guadeloupe", "FR", "FR", "971"),
    Place("97200", "FR", None, "America/Martinique", "FR", "FR", "972"),
    Place("97300", "FR", None, "America/Cayenne", "FR", "FR", "973"),
    Place("97400", "FR", None, "Indian/Reunion", "FR", "FR", "974"),
    Place("97500", "FR", None, "America/Miquelon", "FR", "FR", "PM"),
    Place("97600", "FR", None, "Indian/Mayotte", "FR", "FR", "976"),
    Place("97133", "FR", None, "America/St_Barthelemy", "FR", "FR", "BL"),
    Place("97150", "FR", None, "America/Marigot", "FR", "FR", "MF"),
    Place("98800", "FR", None, "Pacific/Noumea", "FR", "FR", "NC"),
    Place("98714", "FR", None, "Pacific/Tahiti", "FR", "FR", "PF"),
    Place(None, "RE", None, "Indian/Reunion", "FR", "FR", "974"),
    Place(None, "GP", None, "America/Guadeloupe", "FR", "FR", "971"),
    Place("98000", "FR", None, "Europe/Monaco", "MC", "MC", None),
    Place("98000", "MC", None, "Europe/Monaco", "MC", "MC", None),
    Place("1000", "BE", None, "Europe/Brussels", "BE", "BE", None),
    Place("20000", "MA", None, "Africa/Casablanca", "MA", "MA", None),
    Place("SW1A1AA", "GB", None, "Europe/London", "GB", "GB", None),
    Place("EH11AA", "UK", None, "Europe/London", "GB", "GB", None),
    Place("94103", "US", "CA", "America/Los_Angeles", "US", "US", None),
    Place("60601", "US", "IL", "America/Chicago", "US", "US", None),
    Place("85001", "US", "AZ", "America/Phoenix", "US", "US", None),
    Place("96813", "US", "HI", "Pacific/Honolulu", "US", "US", None),
    Place("10001", "US", None, "America/New_York", "US", "US", None),
    Place("10115", "DE", None, "Europe/Paris", "FR", "DE", None),
]


def _holiday(place: Place, day: date) -> bool:
    return day in holidays.country_holidays(
        place.holiday_country, subdiv=place.holiday_subdivision, years=day.year
    )


def _complete_consent(lead: FakeLead, at: datetime) -> bool:
    fields = (lead.consent_source, lead.consent_at, lead.consent_text, lead.consent_proof)
    return all(fields) and lead.consent_at <= at


def _seconds(local: datetime) -> int:
    return local.hour * H + local.minute * 60 + local.second


def oracle_violations(
    place: Place, lead: FakeLead, campaign: FakeCampaign, history: CallHistory, at: datetime
) -> list[Reason]:
    """Every rule broken by a call at `at`, computed from first principles."""
    local = at.astimezone(ZoneInfo(place.zone))
    seconds = _seconds(local)
    broken: list[Reason] = []
    is_french_law = place.rules == "FR"
    if campaign.prospecting and is_french_law and at.date() >= OPT_IN_FROM and not lead.existing_contract:
        if not _complete_consent(lead, at):
            broken.append(Reason.CONSENT)
    if not (lead.consent_outside_hours and _complete_consent(lead, at)):
        if CLOSED_ON_HOLIDAYS[place.rules] and _holiday(place, local.date()):
            broken.append(Reason.HOLIDAY)
        legal = EXPECTED_WINDOWS[place.rules].get(local.weekday(), ())
        if not any(start <= seconds < end for start, end in legal):
            broken.append(Reason.WINDOW)
    if campaign.calling_hours is not None:
        own = campaign.calling_hours.get(local.weekday(), [])
        if not any(_in_campaign_range(seconds, start, end) for start, end in own):
            broken.append(Reason.WINDOW)
    # Periods are elapsed time (UTC arithmetic), whatever zone the instants carry.
    utc_at = at.astimezone(UTC)
    past = [attempt.astimezone(UTC) for attempt in history.attempts if attempt <= at]
    limits = [campaign.attempt_limit] if campaign.attempt_limit is not None else []
    if campaign.prospecting and place.rules in ("FR", "MC"):
        limits.append(4)
    counted = [attempt for attempt in past if attempt > utc_at - timedelta(days=30)]
    if limits and len(counted) >= min(limits):
        broken.append(Reason.ATTEMPTS)
    if campaign.min_attempt_spacing and past and utc_at < max(past) + campaign.min_attempt_spacing:
        broken.append(Reason.SPACING)
    delays = [campaign.refusal_delay] if campaign.refusal_delay is not None else []
    if campaign.prospecting and place.rules in ("FR", "MC"):
        delays.append(timedelta(days=60))
    if history.last_refusal_at is not None and delays and utc_at < history.last_refusal_at.astimezone(UTC) + max(delays):
        broken.append(Reason.REFUSAL_DELAY)
    return broken


def _in_campaign_range(seconds: int, start: time, end: time) -> bool:
    start_s = start.hour * H + start.minute * 60
    end_s = (end.hour * H + end.minute * 60) or 24 * H
    return start_s <= seconds < end_s


# --- strategies --------------------------------------------------------------------

RANGE_START = datetime(2026, 1, 1, tzinfo=UTC)
RANGE_END = datetime(2028, 12, 31, tzinfo=UTC)


@st.composite
def instants(draw: st.DrawFn, place: Place) -> datetime:
    """Uniform instants, plus local wall times close to window edges."""
    if draw(st.booleans()):
        return draw(
            st.datetimes(
                RANGE_START.replace(tzinfo=None), RANGE_END.replace(tzinfo=None), timezones=st.just(UTC)
            )
        )
    day = draw(st.dates(RANGE_START.date(), RANGE_END.date()))
    hour = draw(st.sampled_from([7, 8, 9, 10, 12, 13, 14, 17, 19, 20, 21]))
    minute, second = draw(st.sampled_from([(0, 0), (59, 59), (30, 0), (0, 1)]))
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=ZoneInfo(place.zone))


DAY = 86400


@st.composite
def histories(draw: st.DrawFn, at: datetime) -> CallHistory:
    edges = st.sampled_from([30 * DAY - 1, 30 * DAY, 30 * DAY + 1, 60, 3600])
    offsets = draw(st.one_of(st.just([]), st.lists(st.one_of(st.integers(0, 45 * DAY), edges), max_size=7)))
    attempts = tuple(at - timedelta(seconds=offset) for offset in offsets)
    refusal_offset = draw(st.one_of(st.none(), st.none(), st.integers(0, 100 * DAY), st.just(60 * DAY)))
    refusal = None if refusal_offset is None else at - timedelta(seconds=refusal_offset)
    return CallHistory(attempts=attempts, last_refusal_at=refusal)


@st.composite
def calling_hours(draw: st.DrawFn) -> dict[int, list[tuple[time, time]]] | None:
    if draw(st.booleans()):
        return None
    result: dict[int, list[tuple[time, time]]] = {}
    for weekday in draw(st.sets(st.integers(0, 6), min_size=1)):
        start = draw(st.integers(0, 23))
        end = draw(st.integers(start + 1, 24))
        result[weekday] = [(time(start, draw(st.sampled_from([0, 30]))), time(end % 24))]
    return result


campaigns = st.builds(
    FakeCampaign,
    prospecting=st.booleans(),
    calling_hours=calling_hours(),
    attempt_limit=st.one_of(st.none(), st.integers(0, 6)),
    min_attempt_spacing=st.one_of(st.none(), st.integers(1, 72).map(lambda h: timedelta(hours=h))),
    refusal_delay=st.one_of(st.none(), st.integers(1, 90).map(lambda d: timedelta(days=d))),
)


@st.composite
def leads(draw: st.DrawFn, place: Place, at: datetime) -> FakeLead:
    consent_at = at + timedelta(days=draw(st.integers(-400, 5)))
    lead = FakeLead(
        postal_code=place.postal_code,
        country_code=place.country_code,
        state=place.state,
        consent_at=consent_at,
        consent_outside_hours=draw(st.booleans()),
        existing_contract=draw(st.booleans()),
    )
    fields = st.sampled_from(["consent_source", "consent_at", "consent_text", "consent_proof"])
    for missing in draw(st.one_of(st.just(set()), st.sets(fields))):
        setattr(lead, missing, None)
    return lead


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Place, FakeLead, FakeCampaign, CallHistory, datetime]:
    place = draw(st.sampled_from(PLACES))
    at = draw(instants(place))
    return place, draw(leads(place, at)), draw(campaigns), draw(histories(at)), at


def decide(lead: FakeLead, campaign: FakeCampaign, at: datetime, history: CallHistory):
    return may_dial(lead, campaign, at, history=history, blocked=never_blocked)


# --- properties --------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(scenarios())
def test_allowed_exactly_when_no_rule_is_broken(scenario):
    place, lead, campaign, history, at = scenario
    decision = decide(lead, campaign, at, history)
    broken = oracle_violations(place, lead, campaign, history, at)
    event(f"reason: {decision.reason}")
    assert decision.allowed == (not broken), (decision, broken)
    if not decision.allowed:
        assert decision.reason in broken


@PROPERTY_SETTINGS
@given(scenarios(), st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))
def test_next_allowed_at_is_the_earliest_allowed_instant(scenario, fraction):
    place, lead, campaign, history, at = scenario
    decision = decide(lead, campaign, at, history)
    if decision.allowed:
        return
    if decision.reason in (Reason.CONSENT, Reason.RED_LIST, Reason.BALANCE, Reason.CHANNEL_LIMIT):
        assert decision.next_allowed_at is None
        return
    if decision.next_allowed_at is None:
        return
    later = decision.next_allowed_at
    event(f"next for {decision.reason}")
    assert later > at
    assert decide(lead, campaign, later, history).allowed
    assert not oracle_violations(place, lead, campaign, history, later)
    between = at + (later - at) * fraction
    if at < between < later:
        assert not decide(lead, campaign, between, history).allowed


@PROPERTY_SETTINGS
@given(scenarios())
def test_a_refused_lead_is_not_allowed_one_second_before_next(scenario):
    place, lead, campaign, history, at = scenario
    decision = decide(lead, campaign, at, history)
    if decision.next_allowed_at is None or decision.next_allowed_at - at <= timedelta(seconds=1):
        return
    just_before = decision.next_allowed_at - timedelta(seconds=1)
    assert oracle_violations(place, lead, campaign, history, just_before)


NUMBER_POOL = [
    "+33162000001",
    "+33163000002",
    "+33270000001",
    "+33271000002",
    "+33377000001",
    "+33378000002",
    "+33424000001",
    "+33425000002",
    "+33568000001",
    "+33569000002",
    "+33948000001",
    "+33949000002",
    "+590947500001",
    "+594947600001",
    "+596947700001",
    "+262947800001",
    "+262947900002",
    "+33145000001",
    "+33556000001",
    "+33612345678",
    "+33712345678",
    "+590690123456",
    "+262692123456",
]


@PROPERTY_SETTINGS
@given(
    st.sampled_from(PLACES),
    st.lists(st.sampled_from(NUMBER_POOL), max_size=8, unique=True),
    st.one_of(st.none(), st.sampled_from(NUMBER_POOL)),
    st.booleans(),
)
def test_presented_number_is_never_a_mobile_and_local_when_possible(place, dids, caller_id, local_presence):
    campaign = FakeCampaign(caller_id=caller_id, dids=dids, local_presence=local_presence)
    lead = FakeLead(postal_code=place.postal_code, country_code=place.country_code, state=place.state)
    presentable = [number for number in [caller_id, *dids] if number and not is_mobile(number)]
    try:
        number = presented_number(campaign, lead)
    except NoPresentableNumberError:
        assert not presentable
        return
    assert number in presentable
    assert not is_mobile(number)
    zone = resolve_territory(place.postal_code, place.country_code, place.state).numbering_zone
    if local_presence and zone and any(dedicated_zone(did) == zone for did in dids):
        assert dedicated_zone(number) == zone
    elif caller_id in presentable:
        assert number == caller_id
