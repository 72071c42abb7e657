"""The two FHIR versions served, each with its own resource shapes and status codes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.fhir.appointment import appointment_r4, appointment_r5
from adapters.fhir.capability import FhirVersion
from adapters.fhir.encounter_r4 import encounter_r4
from adapters.fhir.encounter_r5 import encounter_r5
from adapters.fhir.statuses import (
    ENCOUNTER_CODES_R4,
    ENCOUNTER_CODES_R5,
    ENCOUNTER_R4,
    ENCOUNTER_R5,
)
from domain.visits.visit import PatientVisit

EncounterOf = Callable[[PatientVisit, Sequence[PatientVisit.Event]], dict[str, Any]]
AppointmentOf = Callable[[PatientVisit], dict[str, Any] | None]


@dataclass(frozen=True)
class Release:
    #: The path segment (``/fhir/r4``) and the prefix of route names and operation ids.
    name: str
    fhir_version: FhirVersion
    encounter: EncounterOf
    appointment: AppointmentOf
    #: Our state → this version's Encounter.status, and every code of its value set.
    encounter_status: Mapping[str, str]
    encounter_codes: tuple[str, ...]
    #: R5 keeps a visit's status history in EncounterHistory resources (R4 in the Encounter).
    encounter_history: bool = False


R4 = Release(
    name="r4", fhir_version="4.0.1", encounter=encounter_r4, appointment=appointment_r4,
    encounter_status=ENCOUNTER_R4, encounter_codes=ENCOUNTER_CODES_R4,
)  # fmt: skip
R5 = Release(
    name="r5", fhir_version="5.0.0",
    # R5 has no statusHistory: its Encounter needs only the visit.
    encounter=lambda visit, _events: encounter_r5(visit), appointment=appointment_r5,
    encounter_status=ENCOUNTER_R5, encounter_codes=ENCOUNTER_CODES_R5, encounter_history=True,
)  # fmt: skip
RELEASES = (R4, R5)
