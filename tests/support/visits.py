"""Visit traffic for tests of the read-model machinery."""

from __future__ import annotations

from application.service import PatientServices
from application.shared.context import RequestContext
from application.visits.commands import RecordTriage, RegisterWalkIn

CLERK = RequestContext(actor_id="c1", actor_role="clerk", correlation_id="t")
NURSE = RequestContext(actor_id="n1", actor_role="nurse", correlation_id="t")


def record_visits(services: PatientServices, count: int) -> list[int]:
    """A walk-in and its triage per visit; returns the positions of the events written."""
    positions = []
    for _ in range(count):
        walk_in = RegisterWalkIn(patient_ref="pt-1", visit_class="EMER", service_unit="ED")
        first = services.execute(walk_in, CLERK)
        triage = RecordTriage(acuity_scale="ESI", acuity_level=3)
        second = services.execute(triage, NURSE, target=first.id)
        positions += [first.position, second.position]
    return positions
