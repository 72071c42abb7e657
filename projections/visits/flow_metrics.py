"""Patient-flow metrics over a period (domain-spec §1), as pure arithmetic over visit rows.

Which visits count where (each visit counts once per metric, in the period its clock
anchors it to, so a figure never moves when the period is cut differently):

* door-to-triage, door-to-provider, clinic wait, LWBS rate, arrivals per hour: visits that
  **arrived** in the period;
* length of stay, departures per hour: visits that **departed** (discharge or left without
  being seen) in the period; boarding time: visits that **left the ED** (the end of their
  first location period) in the period after a decision to admit;
* no-show and late-cancellation rates: booked visits **scheduled to start** in the period.

Cancelled and entered-in-error visits are excluded everywhere, except that cancelled ones
are the late-cancellation rate's subject. Medians and 90th percentiles are by nearest rank
(the ⌈p·n/100⌉-th smallest value); every statistic comes with its ``n``. Minutes are
numbers. The period is ``[from, to)``; hours are bucketed in the facility time zone
(DST-safe: the repeated hour of an autumn change is two buckets, told apart by their offset).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import msgspec

from projections.shared.occupancy import Counts
from projections.shared.records import from_micros, to_micros
from projections.visits.flow_events import camel

CANCELLED = "cancelled"
ENTERED_IN_ERROR = "entered_in_error"
LWBS = "left_without_being_seen"
_MICROS_PER_MINUTE = 60_000_000


class MetricVisit(msgspec.Struct, array_like=True, frozen=True):
    """The columns of a visit row the metrics read (instants in µs since the epoch)."""

    status: str
    walk_in: int
    scheduled_start: int | None
    arrival_at: int | None
    triage_at: int | None
    provider_seen_at: int | None
    decision_to_admit_at: int | None
    ed_departure_at: int | None
    departure_at: int | None
    left_at: int | None
    disposition: str | None
    no_show_at: int | None
    late_cancellation: int


METRIC_COLUMNS = MetricVisit.__struct_fields__


class Statistic(msgspec.Struct, frozen=True):
    """Minutes: median and 90th percentile by nearest rank over ``n`` visits (null if 0)."""

    #: How many visits the statistic is over.
    n: int
    #: The median in minutes, by nearest rank, to 2 decimals (null when n is 0).
    median: float | None
    #: The 90th percentile in minutes, by nearest rank, to 2 decimals (null when n is 0).
    p90: float | None


class Rate(msgspec.Struct, frozen=True):
    #: The visits counted (those left without being seen, no-shows, late cancellations).
    numerator: int
    #: The visits the rate is out of.
    denominator: int
    #: numerator ÷ denominator (0 to 1), null when the denominator is 0.
    rate: float | None


class LengthOfStay(msgspec.Struct, frozen=True, rename="camel"):
    #: Minutes from arrival to departure, over every visit that departed in the period.
    all: Statistic
    #: By discharge disposition code; ``left_without_being_seen`` for those who left.
    by_disposition: dict[str, Statistic]


class HourCount(msgspec.Struct, frozen=True):
    #: The start of the hour in the facility time zone, with its offset.
    hour: datetime
    #: Visits that arrived in the hour.
    arrivals: int
    #: Visits that departed (discharged or left without being seen) in the hour.
    departures: int


class FlowMetrics(msgspec.Struct, frozen=True, rename=camel):
    #: The period's start (inclusive).
    from_: datetime
    #: The period's end (exclusive).
    to: datetime
    unit: str | None
    #: The facility's IANA time zone, which hours are bucketed in.
    time_zone: str
    #: Visits that arrived in the period.
    arrivals: int
    #: Visits that departed (discharged or left without being seen) in the period.
    departures: int
    #: Minutes from arrival to triage, for visits that arrived in the period.
    door_to_triage: Statistic
    #: Minutes from arrival to first clinician contact, for visits that arrived in the period.
    door_to_provider: Statistic
    #: Booked visits that arrived in the period: minutes from the later of arrival and scheduled
    #: start to being seen.
    clinic_wait: Statistic
    #: Minutes from arrival to departure, for visits that departed in the period.
    length_of_stay: LengthOfStay
    #: Minutes from the decision to admit to leaving the ED, for visits that left it in the period.
    boarding_time: Statistic
    #: Of visits that arrived in the period, those that left without being seen.
    lwbs_rate: Rate
    #: Of booked visits scheduled to start in the period that arrived or were no-shows, the
    #: no-shows.
    no_show_rate: Rate
    #: Of booked visits scheduled to start in the period, those cancelled late.
    late_cancellation_rate: Rate
    #: Hours with at least one arrival or departure, in order (empty hours are left out).
    per_hour: list[HourCount]
    #: For metrics as known at a past time: that time (null: as known now).
    known_at: datetime | None = None
    #: The configured beds at the period's end (`to`), for the unit or the hospital: occupied
    #: (reserved included) over available; null when no unit with beds is configured.
    bed_occupancy: Counts | None = None


def nearest_rank(ordered: Sequence[float], percent: int) -> float | None:
    """The ``percent``-th percentile of sorted values by nearest rank: the ⌈p·n/100⌉-th."""
    if not ordered:
        return None
    rank = max(1, -(-percent * len(ordered) // 100))
    return ordered[rank - 1]


def statistic(minutes: Iterable[float]) -> Statistic:
    ordered = sorted(minutes)
    return Statistic(
        n=len(ordered),
        median=_round(nearest_rank(ordered, 50)),
        p90=_round(nearest_rank(ordered, 90)),
    )


def rate(numerator: int, denominator: int) -> Rate:
    value = round(numerator / denominator, 4) if denominator else None
    return Rate(numerator, denominator, value)


def compute_metrics(
    visits: Iterable[MetricVisit],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    unit: str | None = None,
    known_at: datetime | None = None,
) -> FlowMetrics:
    low, high = to_micros(start), to_micros(end)
    assert low is not None and high is not None

    def within(moment: int | None) -> bool:
        return moment is not None and low <= moment < high

    to_triage: list[float] = []
    to_provider: list[float] = []
    clinic_wait: list[float] = []
    stays: dict[str, list[float]] = {}
    boarding: list[float] = []
    arrived = lwbs = departed = 0
    booked = no_shows = booked_arrivals = late_cancellations = 0
    hours: dict[int, list[int]] = {}
    for v in visits:
        if v.status == ENTERED_IN_ERROR:  # it never happened
            continue
        if v.status == CANCELLED:
            if within(v.scheduled_start) and not v.walk_in:
                booked += 1
                late_cancellations += bool(v.late_cancellation)
            continue
        if within(v.scheduled_start) and not v.walk_in:
            booked += 1
            no_shows += v.no_show_at is not None
            booked_arrivals += v.arrival_at is not None
        if v.arrival_at is not None and within(v.arrival_at):
            arrived += 1
            lwbs += v.left_at is not None
            _bucket(hours, v.arrival_at, zone)[0] += 1
            if v.triage_at is not None:
                to_triage.append(_minutes(v.triage_at - v.arrival_at))
            if v.provider_seen_at is not None:
                to_provider.append(_minutes(v.provider_seen_at - v.arrival_at))
                if v.scheduled_start is not None and not v.walk_in:
                    waited = v.provider_seen_at - max(v.arrival_at, v.scheduled_start)
                    clinic_wait.append(_minutes(max(0, waited)))  # seen early: no wait
        if v.departure_at is not None and v.arrival_at is not None and within(v.departure_at):
            departed += 1
            _bucket(hours, v.departure_at, zone)[1] += 1
            kind = LWBS if v.left_at is not None else (v.disposition or "unknown")
            stays.setdefault(kind, []).append(_minutes(v.departure_at - v.arrival_at))
        if (
            v.ed_departure_at is not None
            and v.decision_to_admit_at is not None
            and within(v.ed_departure_at)
        ):
            boarding.append(_minutes(max(0, v.ed_departure_at - v.decision_to_admit_at)))
    return FlowMetrics(
        from_=start,
        to=end,
        unit=unit,
        time_zone=zone.key,
        arrivals=arrived,
        departures=departed,
        door_to_triage=statistic(to_triage),
        door_to_provider=statistic(to_provider),
        clinic_wait=statistic(clinic_wait),
        length_of_stay=LengthOfStay(
            all=statistic(m for values in stays.values() for m in values),
            by_disposition={kind: statistic(stays[kind]) for kind in sorted(stays)},
        ),
        boarding_time=statistic(boarding),
        lwbs_rate=rate(lwbs, arrived),
        no_show_rate=rate(no_shows, no_shows + booked_arrivals),
        late_cancellation_rate=rate(late_cancellations, booked),
        per_hour=[
            HourCount(_local(hour, zone), counts[0], counts[1])
            for hour, counts in sorted(hours.items())
        ],
        known_at=known_at,
    )


def hour_start(moment: int, zone: ZoneInfo) -> int:
    """The start (µs, UTC) of the facility-local hour that holds ``moment``."""
    local = _local(moment, zone)
    # replace() keeps ``fold``, so the repeated hour of an autumn change stays itself.
    start = local.replace(minute=0, second=0, microsecond=0)
    return to_micros(start.astimezone(timezone.utc))  # type: ignore[return-value]


def _bucket(hours: dict[int, list[int]], moment: int, zone: ZoneInfo) -> list[int]:
    key = hour_start(moment, zone)
    counts = hours.get(key)
    if counts is None:
        counts = hours[key] = [0, 0]
    return counts


def _local(moment: int, zone: ZoneInfo) -> datetime:
    return from_micros(moment).astimezone(zone)  # type: ignore[union-attr]


def _minutes(micros: int) -> float:
    return micros / _MICROS_PER_MINUTE


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
