"""Our visit states as each FHIR version's codes, and back (for searches by ``status``).

The R5 Encounter codes are the domain's own :data:`~domain.visits.vocabulary.FHIR_STATUS`.
R4 (and R4B) has fewer "where is the patient" states in ``Encounter.status`` itself
(``arrived``, ``triaged``, ``onleave``) and none for leaving without being seen; R5 moved those
to ``subjectStatus``. Several of our states share one FHIR code, which is why a search by a
FHIR status stands for every state mapped to it (:func:`states_for`).
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.visits import vocabulary as v

#: Encounter.status, R4 / R4B (http://hl7.org/fhir/encounter-status, 4.0.1).
ENCOUNTER_R4: Mapping[str, str] = {
    v.SCHEDULED: "planned",
    v.ARRIVED: "arrived",
    v.TRIAGED: "triaged",
    v.WITH_CLINICIAN: "in-progress",
    v.ADMITTED: "in-progress",
    v.ON_LEAVE: "onleave",
    v.DISCHARGED: "finished",
    v.CLOSED: "finished",
    v.CANCELLED: "cancelled",
    # R4 has no "no-show": the encounter never began (the Appointment says noshow).
    v.NO_SHOW: "cancelled",
    # The patient arrived and left: the encounter began and ended (R5 says discontinued).
    v.LEFT_WITHOUT_BEING_SEEN: "finished",
    v.ENTERED_IN_ERROR: "entered-in-error",
}
#: Encounter.status, R5 (http://hl7.org/fhir/encounter-status, 5.0.0).
ENCOUNTER_R5: Mapping[str, str] = v.FHIR_STATUS

#: Every code of each version's Encounter.status value set (the ones we never send too:
#: a search for them is valid and finds nothing).
ENCOUNTER_CODES_R4 = (
    "planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
    "entered-in-error", "unknown",
)  # fmt: skip
ENCOUNTER_CODES_R5 = (
    "planned", "in-progress", "on-hold", "discharged", "completed", "cancelled",
    "discontinued", "entered-in-error", "unknown",
)  # fmt: skip

#: Encounter.subjectStatus, R5 (http://terminology.hl7.org/CodeSystem/encounter-subject-status):
#: where R5 keeps what R4 said in the status. None: not present (not yet, or never, arrived).
SUBJECT_STATUS_SYSTEM = "http://terminology.hl7.org/CodeSystem/encounter-subject-status"
SUBJECT_STATUS_R5: Mapping[str, tuple[str, str] | None] = {
    v.SCHEDULED: None,
    v.ARRIVED: ("arrived", "Arrived"),
    v.TRIAGED: ("triaged", "Triaged"),
    v.WITH_CLINICIAN: ("receiving-care", "Receiving Care"),
    v.ADMITTED: ("receiving-care", "Receiving Care"),
    v.ON_LEAVE: ("on-leave", "On Leave"),
    v.DISCHARGED: ("departed", "Departed"),
    v.CLOSED: ("departed", "Departed"),
    v.CANCELLED: None,
    v.NO_SHOW: None,
    v.LEFT_WITHOUT_BEING_SEEN: ("departed", "Departed"),
    v.ENTERED_IN_ERROR: None,
}

#: Appointment.status, the same codes in R4 and R5 (http://hl7.org/fhir/appointmentstatus).
#: The appointment is fulfilled once a clinician has seen the patient; a patient who left
#: before that never had it (cancelled, with the reason).
APPOINTMENT: Mapping[str, str] = {
    v.SCHEDULED: "booked",
    v.ARRIVED: "arrived",
    v.TRIAGED: "arrived",
    v.WITH_CLINICIAN: "fulfilled",
    v.ADMITTED: "fulfilled",
    v.ON_LEAVE: "fulfilled",
    v.DISCHARGED: "fulfilled",
    v.CLOSED: "fulfilled",
    v.CANCELLED: "cancelled",
    v.NO_SHOW: "noshow",
    v.LEFT_WITHOUT_BEING_SEEN: "cancelled",
    v.ENTERED_IN_ERROR: "entered-in-error",
}
APPOINTMENT_CODES = (
    "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
    "entered-in-error", "checked-in", "waitlist",
)  # fmt: skip


def states_for(mapping: Mapping[str, str], codes: frozenset[str]) -> frozenset[str]:
    """Our states that ``mapping`` shows as one of ``codes`` (empty if none: ``unknown``)."""
    return frozenset(state for state, code in mapping.items() if code in codes)
