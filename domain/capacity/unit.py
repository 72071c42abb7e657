"""FacilityUnit: a ward, an emergency department, a clinic or a theatre, with its beds
(FHIR Location). Configured by admins; its id is derived from its code.

A bed is ``{"bed": code, "type": code or None, "closed": bool}``: a closed bed (out of use
for cleaning, repair or staffing) is not available, and while the unit is closed none is.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.capacity.identity import unit_id_for
from domain.shared.base import AuditedAggregate
from domain.shared.errors import DomainValidationError, InvalidTransitionError

#: The kinds of unit (FHIR Location.type, from the HL7 v3 RoleCode service delivery
#: locations: ER, HU, clinic, operating theatre).
UNIT_KINDS = ("ed", "ward", "clinic", "theatre")
#: Beds one unit may list: a bound on the size of one event and of the bed board.
MAX_BEDS = 2000

Bed = dict[str, Any]


def beds_of(given: list[dict[str, Any]]) -> list[Bed]:
    """The beds in their stored shape, each code once."""
    beds = [
        {"bed": b["bed"], "type": b.get("type"), "closed": bool(b.get("closed", False))}
        for b in given
    ]
    if len(beds) > MAX_BEDS:
        raise DomainValidationError(f"a unit may list at most {MAX_BEDS} beds", field="beds")
    codes = [b["bed"] for b in beds]
    if len(set(codes)) != len(codes):
        raise DomainValidationError("each bed may be listed once", field="beds")
    return beds


class FacilityUnit(AuditedAggregate):
    class UnitConfigured(AuditedAggregate.Created):
        code: str
        name: str
        kind: str
        beds: list[Bed]

        def apply(self, unit: FacilityUnit) -> None:
            unit.code, unit.name, unit.kind = self.code, self.name, self.kind
            unit.beds = [dict(b) for b in self.beds]
            unit.open = True

    class UnitClosed(AuditedAggregate.Event):
        def apply(self, unit: FacilityUnit) -> None:
            unit.open = False

    class UnitOpened(AuditedAggregate.Event):
        def apply(self, unit: FacilityUnit) -> None:
            unit.open = True

    class BedsChanged(AuditedAggregate.Event):
        """The unit's bed list, whole: beds added, removed, retyped, closed or reopened."""

        beds: list[Bed]

        def apply(self, unit: FacilityUnit) -> None:
            unit.beds = [dict(b) for b in self.beds]

    @staticmethod
    def create_id(code: str, **_: Any) -> Any:
        return unit_id_for(code)

    @classmethod
    def configure(
        cls, *, code: str, name: str, kind: str, beds: list[dict[str, Any]], at: datetime
    ) -> FacilityUnit:
        if kind not in UNIT_KINDS:
            raise DomainValidationError(
                f"kind must be one of {', '.join(UNIT_KINDS)}", field="kind"
            )
        unit: FacilityUnit = cls._create(
            cls.UnitConfigured, code=code, name=name, kind=kind, beds=beds_of(beds),
            occurred_at=at,
        )  # fmt: skip
        return unit

    def close(self, *, at: datetime) -> None:
        if not self.open:
            raise InvalidTransitionError("the unit is closed already")
        self.trigger_event(self.UnitClosed, occurred_at=at)

    def reopen(self, *, at: datetime) -> None:
        if self.open:
            raise InvalidTransitionError("the unit is open already")
        self.trigger_event(self.UnitOpened, occurred_at=at)

    def change_beds(self, *, beds: list[dict[str, Any]], at: datetime) -> None:
        new = beds_of(beds)
        if new == self.beds:
            raise DomainValidationError("the bed list is the same as now", field="beds")
        self.trigger_event(self.BedsChanged, beds=new, occurred_at=at)

    if TYPE_CHECKING:  # set by UnitConfigured.apply (class annotations would be __init__'s)
        code: str
        name: str
        kind: str
        beds: list[Bed]
        open: bool

    @property
    def available_beds(self) -> int:
        """Beds in use: none while the unit is closed, else those not closed."""
        return sum(1 for b in self.beds if not b["closed"]) if self.open else 0
