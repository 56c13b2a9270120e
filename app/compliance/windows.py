"""Calling windows in a lead's local time: open now? when does it next open?

All comparisons are made on the lead's local wall clock (seconds since local
midnight), so DST days need no special case except finding the first real instant
of a wall time that falls in a spring-forward gap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.compliance.rules import DAY_SECONDS, WHOLE_DAY, CountryRule, Interval, is_public_holiday
from app.compliance.territories import Territory

# A year and a month: long enough to cross any run of holidays and weekends, short
# enough to give up quickly on a campaign whose hours never meet the legal window.
SEARCH_HORIZON_DAYS = 400


@dataclass(frozen=True)
class WindowSpec:
    zone: ZoneInfo
    rule: CountryRule
    holiday_country: str
    holiday_subdivision: str | None
    legal_window_lifted: bool
    campaign_hours: Mapping[int, tuple[Interval, ...]] | None

    @classmethod
    def build(
        cls,
        territory: Territory,
        rule: CountryRule,
        *,
        legal_window_lifted: bool,
        campaign_hours: Mapping[int, Sequence[tuple[time, time]]] | None,
    ) -> WindowSpec:
        return cls(
            zone=territory.zone,
            rule=rule,
            holiday_country=territory.holiday_country,
            holiday_subdivision=territory.holiday_subdivision,
            legal_window_lifted=legal_window_lifted and rule.consent_lifts_window,
            campaign_hours=None if campaign_hours is None else campaign_intervals(campaign_hours),
        )

    def closed_by_holiday(self, day: date) -> bool:
        return (
            not self.legal_window_lifted
            and self.rule.closed_on_holidays
            and is_public_holiday(day, self.holiday_country, self.holiday_subdivision)
        )

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        if self.legal_window_lifted:
            legal = WHOLE_DAY
        elif self.closed_by_holiday(day):
            return ()
        else:
            legal = self.rule.windows.get(day.weekday(), ())
        if self.campaign_hours is None:
            return legal
        return intersect(legal, self.campaign_hours.get(day.weekday(), ()))

    def is_open(self, instant: datetime) -> bool:
        local = instant.astimezone(self.zone)
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        return any(start <= seconds < end for start, end in self.intervals_on(local.date()))

    def next_opening(self, instant: datetime) -> datetime | None:
        """`instant` itself when open, else the first instant the window opens."""
        if self.is_open(instant):
            return instant
        first_day = instant.astimezone(self.zone).date()
        for offset in range(SEARCH_HORIZON_DAYS):
            day = first_day + timedelta(days=offset)
            for start, _end in self.intervals_on(day):
                candidate = first_instant_at(day, start, self.zone)
                if candidate > instant and self.is_open(candidate):
                    return candidate
        return None


def campaign_intervals(
    calling_hours: Mapping[int, Sequence[tuple[time, time]]],
) -> dict[int, tuple[Interval, ...]]:
    """Campaign hours as sorted second intervals; end 00:00 means midnight."""
    result: dict[int, tuple[Interval, ...]] = {}
    for weekday, ranges in calling_hours.items():
        intervals = []
        for start, end in ranges:
            start_s = _seconds(start)
            end_s = _seconds(end) or DAY_SECONDS
            if end_s > start_s:
                intervals.append((start_s, end_s))
        result[weekday] = tuple(sorted(intervals))
    return result


def intersect(left: Sequence[Interval], right: Sequence[Interval]) -> tuple[Interval, ...]:
    result = []
    for left_start, left_end in left:
        for right_start, right_end in right:
            start, end = max(left_start, right_start), min(left_end, right_end)
            if end > start:
                result.append((start, end))
    return tuple(sorted(result))


def first_instant_at(day: date, seconds: int, zone: ZoneInfo) -> datetime:
    """Earliest instant whose local wall time on `day` is at or after `seconds`.

    For an ambiguous wall time (autumn) this is its first occurrence; for a wall time
    skipped by a spring-forward jump it is the instant of the jump.
    """
    wall = datetime.combine(day, time()) + timedelta(seconds=seconds)
    earlier = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(earlier, zone) == wall:
        return earlier
    # In a gap zoneinfo maps fold=1 before the jump and fold=0 after it; bisect.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = earlier
    if low > high:
        low, high = high, low
    while (high - low) > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _wall(middle, zone) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) if _wall(high.replace(microsecond=0), zone) >= wall else high


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _seconds(value: time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second
