"""The refusals of booking into capacity (domain-spec §0: ``SLOT_FULL``, ``DOUBLE_BOOKING``)."""

from __future__ import annotations

from uuid import UUID

from domain.shared.errors import DomainError


class SlotFullError(DomainError):
    """Every place of the slot (its capacity and overbooking allowance) is claimed."""

    code = "SLOT_FULL"


class DoubleBookingError(DomainError):
    """The patient already holds an active booking that overlaps this one."""

    code = "DOUBLE_BOOKING"

    def __init__(self, other_visit_id: UUID) -> None:
        super().__init__(
            f"the patient already holds an overlapping booking: visit {other_visit_id}",
            field="scheduledStart",
        )
        self.other_visit_id = other_visit_id
