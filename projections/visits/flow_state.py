"""A visit as the flow read model folds it: exactly the fields its rows are made of.

It mirrors :class:`domain.visits.visit.PatientVisit` for those fields, compensations included:
before each fact a compensation can cancel (admission, transfer, discharge,
left-without-being-seen, no-show) the state keeps a :meth:`VisitState.snapshot` of its flow
fields, and the compensation restores it, as ``remember_flow`` / ``restore_before`` do in
:mod:`domain.shared.compensation` (the acuity, the schedule and the service unit are not flow
fields, so they are not restored). Beside the domain's fields it keeps *when* the current state
began (for "minutes in this state"), which a compensation restores too.
"""

from __future__ import annotations

from typing import Any

from projections.shared.records import key_text

#: A location period: (unit, bed, start, end); end None while the patient is there.
Period = tuple[str, "str | None", int, "int | None"]


class Knowledge:
    """What the record said when, as the fold keeps it for one visit: the hulls of
    :mod:`projections.visits.flow_knowledge` (never restored by a compensation: a
    compensation is itself a new thing known)."""

    __slots__ = (
        "recorded_at", "board_unit", "board", "locations_revision", "census", "anchors",
        "span", "units", "revision",
    )  # fmt: skip

    def __init__(self) -> None:
        #: The running maximum of the visit's events' timestamps (µs).
        self.recorded_at = 0
        #: The board the visit is on now (None: on none).
        self.board_unit: str | None = None
        #: unit → [since, until or None].
        self.board: dict[str, list[int | None]] = {}
        self.locations_revision = 0
        #: unit → [start, end, 1 if a period there is open now else 0].
        self.census: dict[str, list[int]] = {}
        #: The metric anchors and service unit last noted (the span changes with them).
        self.anchors: tuple[int | None, int | None, int | None, int | None, str] | None = None
        #: [earliest, latest] anchor, or None before any.
        self.span: list[int] | None = None
        self.units: set[str] = set()
        #: Bumped whenever a hull changes: the store then rewrites the visit's history rows.
        self.revision = 0


class VisitState:
    """A visit as the read model folds it: the fields its rows are made of."""

    __slots__ = (
        "id", "version", "position", "patient_ref", "visit_number", "visit_number_authority",
        "status", "status_since",
        "visit_class", "service_unit", "walk_in", "acuity_scale", "acuity_level",
        "scheduled_start", "scheduled_end", "arrival_at", "triage_at", "provider_seen_at",
        "decision_to_admit_at", "target_unit", "admitted_at", "discharged_at", "left_at",
        "disposition", "late_cancellation", "no_show_at", "cancelled_at", "last_event_at",
        "periods", "locations_revision", "facts", "cancelled_version", "known",
    )  # fmt: skip

    def __init__(self, visit_id: str) -> None:
        self.id = visit_id
        self.version = self.position = 0
        self.patient_ref = self.status = self.visit_class = self.service_unit = ""
        #: PV1-19 and its assigning authority, as the creating event gave them (None if not).
        self.visit_number: str | None = None
        self.visit_number_authority: str | None = None
        self.walk_in = self.late_cancellation = False
        self.status_since: int | None = None
        self.acuity_scale: str | None = None
        self.acuity_level: int | None = None
        self.scheduled_start: int | None = None
        self.scheduled_end: int | None = None
        self.arrival_at: int | None = None
        self.triage_at: int | None = None
        self.provider_seen_at: int | None = None
        self.decision_to_admit_at: int | None = None
        self.target_unit: str | None = None
        self.admitted_at: int | None = None
        self.discharged_at: int | None = None
        self.left_at: int | None = None
        self.disposition: str | None = None
        self.no_show_at: int | None = None
        self.cancelled_at: int | None = None
        self.last_event_at: int | None = None
        self.periods: list[Period] = []
        #: Bumped whenever the location rows may change (periods, entered-in-error).
        self.locations_revision = 0
        #: A cancellable fact's event id → (the flow fields just before it, its version).
        self.facts: dict[str, tuple[tuple[Any, ...], int]] = {}
        #: The version of the fact the last folded event cancelled (None: it cancelled none).
        self.cancelled_version: int | None = None
        #: What the record said when (recorded time): never restored by a compensation.
        self.known = Knowledge()

    # ---- what a compensation restores: PatientVisit.FLOW_FIELDS the rows read ---------
    def snapshot(self) -> tuple[Any, ...]:
        return (
            self.status, self.status_since, self.visit_class, list(self.periods),
            self.arrival_at, self.triage_at, self.provider_seen_at, self.decision_to_admit_at,
            self.target_unit, self.admitted_at, self.discharged_at, self.disposition,
            self.left_at, self.no_show_at, self.cancelled_at, self.late_cancellation,
        )  # fmt: skip

    def restore(self, before: tuple[Any, ...]) -> None:
        (
            self.status, self.status_since, self.visit_class, periods,
            self.arrival_at, self.triage_at, self.provider_seen_at, self.decision_to_admit_at,
            self.target_unit, self.admitted_at, self.discharged_at, self.disposition,
            self.left_at, self.no_show_at, self.cancelled_at, self.late_cancellation,
        ) = before  # fmt: skip
        self.periods = list(periods)
        self.locations_revision += 1

    # ---- location periods (invariant 1, as PatientVisit keeps them) ---------------------
    def open_location(self, unit: str, bed: str | None, at: int) -> None:
        self.close_location(at)
        # The unit is indexed (the board's current unit, the census): clipped if too long.
        self.periods.append((key_text(unit), bed, at, None))
        self.locations_revision += 1

    def close_location(self, at: int) -> None:
        periods = self.periods
        if periods and periods[-1][3] is None:
            unit, bed, start, _ = periods[-1]
            periods[-1] = (unit, bed, start, at if at > start else start)
            self.locations_revision += 1
