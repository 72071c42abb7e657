"""A visit as FHIR Encounter and Appointment, R4 and R5, and its R5 EncounterHistory: every
version of every history below validates with fhir.resources (R4 against its R4B models,
whose Encounter and Appointment have R4's shape; R5 against the default models), and the
histories walk every visit state and every compensation. fhir.resources checks structure and
types, not code bindings or invariants, so the tests check those that matter here
themselves: each status is a code of its version's value set, no element is empty or null,
and no period ends before it starts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import uuid4

import pytest
from fhir.resources.appointment import Appointment as AppointmentR5
from fhir.resources.encounter import Encounter as EncounterR5
from fhir.resources.encounterhistory import EncounterHistory
from fhir.resources.R4B.appointment import Appointment as AppointmentR4B
from fhir.resources.R4B.encounter import Encounter as EncounterR4B

from adapters.fhir import common, statuses
from adapters.fhir.appointment import appointment_r4, appointment_r5
from adapters.fhir.encounter_history import encounter_histories, history_id, parse_history_id
from adapters.fhir.encounter_r4 import encounter_r4
from adapters.fhir.encounter_r5 import encounter_r5
from domain.visits import vocabulary as v
from domain.visits.visit import PatientVisit
from tests.support.gwt import BOOKED, START, Story, at, given, story_to, walk_in_story

WHY = "entered against the wrong visit"


def booked_with_number() -> Story:
    return Story().do(
        "schedule", at=BOOKED, patient_ref="pt-0001", visit_class="AMB", service_unit="OPD 1",
        scheduled_start=START, scheduled_end=at(30), reason_code="R1", visit_number="V-100",
        visit_number_authority="HOSP A",
    )  # fmt: skip


def inpatient_with_corrections() -> Story:
    """Booked, arrives, triage, clinician, admitted to a bed, a transfer cancelled, leave,
    a discharge cancelled, discharged again (lbtc), closed."""
    return (
        booked_with_number()
        .do("register_arrival", at=at(5), arrival_mode="walked")
        .do("record_triage", at=at(10), role="nurse", acuity_scale="ESI", acuity_level=3)
        .do("start_clinician_contact", at=at(15), role="clinician", clinician_ref="dr-1")
        .do("record_decision_to_admit", at=at(20), role="clinician", target_unit="W1")
        .do("admit", at=at(25), role="clinician", unit="W1", bed="B1")
        .do("transfer", at=at(30), role="nurse", to_unit="W2", to_bed="B4")
        .do("cancel_transfer", at=at(35), role="nurse", reason=WHY)
        .do("start_leave_of_absence", at=at(40), role="nurse")
        .do("end_leave_of_absence", at=at(50), role="nurse")
        .do("discharge", at=at(60), role="clinician", disposition="home")
        .do("cancel_discharge", at=at(65), role="clinician", reason=WHY)
        .do("discharge", at=at(70), role="clinician", disposition="lbtc", destination="HOME")
        .do("close", at=at(80), role="manager")
    )


def admission_cancelled() -> Story:
    return (
        story_to(v.ADMITTED)
        .do("cancel_admission", at=at(40), role="clinician", reason=WHY)
        .do("discharge", at=at(50), role="clinician", disposition="aadvice")
    )


def no_show_reverted_then_left() -> Story:
    return (
        story_to(v.NO_SHOW)
        .do("revert_no_show", at=at(25), reason=WHY)
        .do("register_arrival", at=at(30))
        .do("record_triage", at=at(35), role="nurse", acuity_scale="MTS", acuity_level=4)
        .do("record_left_without_being_seen", at=at(40), role="nurse")
        .do("cancel_left_without_being_seen", at=at(45), role="nurse", reason=WHY)
        .do("record_left_without_being_seen", at=at(50), role="nurse")
        .do("close", at=at(55), role="manager")
    )


def walk_in_deceased() -> Story:
    return (
        walk_in_story()
        .do("record_triage", at=at(5), role="nurse", acuity_scale="ESI", acuity_level=1)
        .do("admit", at=at(10), role="clinician", unit="ICU")
        .do("discharge", at=at(30), role="clinician", disposition="exp", deceased_at=at(25))
    )


STORIES: dict[str, Callable[[], Story]] = {
    "inpatient-with-corrections": inpatient_with_corrections,
    "admission-cancelled": admission_cancelled,
    "no-show-reverted-then-left": no_show_reverted_then_left,
    "cancelled": lambda: story_to(v.CANCELLED),
    "entered-in-error": lambda: story_to(v.ENTERED_IN_ERROR),
    "walk-in-deceased": walk_in_deceased,
}


def versions_of(story: Story) -> list[tuple[PatientVisit, list[Any]]]:
    """The visit as of each of its versions, with the events that made it."""
    return [(given(story.events[:n]), story.events[:n]) for n in range(1, len(story.events) + 1)]


# ---- what fhir.resources does not check ---------------------------------------------------
def assert_well_formed(value: Any, path: str = "") -> None:
    """FHIR JSON has no nulls, empty strings, arrays or objects; a Period never ends before
    it starts (per-1)."""
    assert value not in (None, "", [], {}), f"{path} is empty"
    if isinstance(value, dict):
        if isinstance(value.get("start"), str) and isinstance(value.get("end"), str):
            start, end = (datetime.fromisoformat(value[k]) for k in ("start", "end"))
            assert start <= end, f"{path} ends before it starts"
        for key, item in value.items():
            assert_well_formed(item, f"{path}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            assert_well_formed(item, f"{path}[{n}]")


def validated(model: Any, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource as sent (JSON), parsed by the version's model; the JSON back."""
    sent = json.loads(json.dumps(resource))
    assert_well_formed(sent)
    return dict(json.loads(model.model_validate(sent).model_dump_json(by_alias=True)))


# ---- the walk covers everything ---------------------------------------------------------
def test_the_histories_walk_every_state_and_every_compensation() -> None:
    stories = [make() for make in STORIES.values()]
    reached = {visit.status for story in stories for visit, _ in versions_of(story)}
    assert reached == set(v.STATES)
    compensations = {type(e) for story in stories for e in story.events} & {
        cls for cls in vars(PatientVisit).values()
        if isinstance(cls, type) and issubclass(cls, PatientVisit.Compensation)
        and cls is not PatientVisit.Compensation
    }  # fmt: skip
    assert {cls.__name__ for cls in compensations} == {
        "AdmissionCancelled", "TransferCancelled", "DischargeCancelled",
        "LeftWithoutBeingSeenCancelled", "NoShowReverted",
    }  # fmt: skip


@pytest.mark.parametrize("name", STORIES)
def test_every_version_validates_in_r4_and_r5(name: str) -> None:
    for visit, events in versions_of(STORIES[name]()):
        r4 = validated(EncounterR4B, encounter_r4(visit, events))
        r5 = validated(EncounterR5, encounter_r5(visit))
        assert r4["status"] in statuses.ENCOUNTER_CODES_R4
        assert r5["status"] in statuses.ENCOUNTER_CODES_R5
        assert {h["status"] for h in r4["statusHistory"]} <= set(statuses.ENCOUNTER_CODES_R4)
        assert r4["id"] == r5["id"] == str(visit.id)
        assert r4["meta"]["versionId"] == r5["meta"]["versionId"] == str(visit.version)
        if visit.walk_in:
            assert appointment_r4(visit) is None and appointment_r5(visit) is None
            continue
        booked_r4 = appointment_r4(visit)
        booked_r5 = appointment_r5(visit)
        assert booked_r4 is not None and booked_r5 is not None
        for booked, model in ((booked_r4, AppointmentR4B), (booked_r5, AppointmentR5)):
            shown = validated(model, booked)
            assert shown["status"] in statuses.APPOINTMENT_CODES
            assert ("start" in shown) == ("end" in shown)  # app-2: both or neither


# ---- R4 -------------------------------------------------------------------------------------
def test_r4_status_history_is_the_record_with_its_corrections() -> None:
    story = inpatient_with_corrections()
    visit = given(story.events)

    history = encounter_r4(visit, story.events)["statusHistory"]

    assert [h["status"] for h in history] == [
        "planned", "arrived", "triaged", "in-progress", "onleave", "in-progress", "finished",
        "in-progress", "finished",
    ]  # fmt: skip
    starts = [h["period"]["start"] for h in history]
    assert starts[1:4] == [common.instant(at(m)) for m in (5, 10, 15)]
    # Admission (25) joined the clinician's in-progress; the discharge cancelled at 65.
    assert starts[4:] == [common.instant(at(m)) for m in (40, 50, 60, 65, 70)]
    for earlier, later in zip(history, history[1:], strict=False):
        assert earlier["period"]["end"] == later["period"]["start"]
    assert "end" not in history[-1]["period"]


def test_r4_entered_in_error_ends_the_history() -> None:
    story = story_to(v.ENTERED_IN_ERROR)
    resource = encounter_r4(given(story.events), story.events)

    assert resource["status"] == "entered-in-error"
    assert [h["status"] for h in resource["statusHistory"]] == [
        "planned",
        "arrived",
        "entered-in-error",
    ]
    # It holds no bed any more: its location period closed when it was marked.
    assert [entry["status"] for entry in resource["location"]] == ["completed"]


def test_r4_class_history_follows_admission_and_its_cancellation() -> None:
    story = admission_cancelled()
    resource = encounter_r4(given(story.events), story.events)

    assert [h["class"]["code"] for h in resource["classHistory"]] == ["AMB", "IMP", "AMB"]
    assert resource["class"] == {"system": common.ACT_CODE_SYSTEM, "code": "AMB",
                                 "display": "ambulatory"}  # fmt: skip
    disposition = resource["hospitalization"]["dischargeDisposition"]["coding"]
    assert disposition == [{"system": common.DISCHARGE_DISPOSITION_SYSTEM, "code": "aadvice",
                            "display": "Left against advice"}]  # fmt: skip


def test_r4_locations_periods_identifiers_and_disposition() -> None:
    story = inpatient_with_corrections()
    visit = given(story.events)

    resource = encounter_r4(visit, story.events)

    # The cancelled transfer to W2 is gone, as in the visit's own location periods.
    assert [(e["location"]["display"], e["status"]) for e in resource["location"]] == [
        ("OPD 1", "completed"), ("W1, bed B1", "completed"),
    ]  # fmt: skip
    bed = resource["location"][1]
    assert bed["location"]["identifier"] == {"system": "urn:patient-services:unit:W1:bed",
                                             "value": "B1"}  # fmt: skip
    assert bed["period"] == {"start": common.instant(at(25)), "end": common.instant(at(70))}
    assert resource["period"] == {"start": common.instant(at(5)), "end": common.instant(at(70))}
    assert resource["identifier"] == [
        {"use": "official", "system": "urn:patient-services:visit-number:HOSP%20A",
         "value": "V-100"},
        {"system": common.URI_SYSTEM, "value": f"urn:uuid:{visit.id}"},
    ]  # fmt: skip
    # lbtc is not in FHIR's code system: its "other", and our code beside it.
    codes = resource["hospitalization"]["dischargeDisposition"]["coding"]
    assert [(c["system"], c["code"]) for c in codes] == [
        (common.DISCHARGE_DISPOSITION_SYSTEM, "oth"), (common.LOCAL_DISPOSITION_SYSTEM, "lbtc"),
    ]  # fmt: skip
    assert resource["hospitalization"]["destination"]["display"] == "HOME"
    assert resource["serviceProvider"]["identifier"]["value"] == "OPD 1"
    assert resource["appointment"] == [{"reference": f"Appointment/{visit.id}"}]


def test_a_planned_encounter_shows_its_planned_period_in_r4() -> None:
    story = booked_with_number()
    resource = encounter_r4(given(story.events), story.events)

    assert resource["status"] == "planned"
    assert resource["period"] == {"start": common.instant(START), "end": common.instant(at(30))}
    assert "location" not in resource and "hospitalization" not in resource


# ---- R5 -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("state", "status", "subject_status"),
    [
        (v.SCHEDULED, "planned", None),
        (v.ARRIVED, "in-progress", "arrived"),
        (v.TRIAGED, "in-progress", "triaged"),
        (v.WITH_CLINICIAN, "in-progress", "receiving-care"),
        (v.ADMITTED, "in-progress", "receiving-care"),
        (v.ON_LEAVE, "on-hold", "on-leave"),
        (v.DISCHARGED, "discharged", "departed"),
        (v.CLOSED, "completed", "departed"),
        (v.CANCELLED, "cancelled", None),
        (v.NO_SHOW, "cancelled", None),
        (v.LEFT_WITHOUT_BEING_SEEN, "discontinued", "departed"),
        (v.ENTERED_IN_ERROR, "entered-in-error", None),
    ],
)
def test_r5_status_and_subject_status(state: str, status: str, subject_status: str | None) -> None:
    resource = encounter_r5(given(story_to(state).events))

    assert resource["status"] == status
    shown = resource.get("subjectStatus", {}).get("coding", [{}])[0].get("code")
    assert shown == subject_status


def test_r5_periods_admission_and_bed_form() -> None:
    visit = given(inpatient_with_corrections().events)

    resource = encounter_r5(visit)

    assert resource["actualPeriod"] == {"start": common.instant(at(5)),
                                        "end": common.instant(at(70))}  # fmt: skip
    assert (resource["plannedStartDate"], resource["plannedEndDate"]) == (
        common.instant(START), common.instant(at(30)),
    )  # fmt: skip
    assert resource["class"] == [{"coding": [common.class_coding("IMP")]}]
    assert "statusHistory" not in resource and "hospitalization" not in resource
    assert resource["admission"]["dischargeDisposition"]["coding"][0]["code"] == "oth"
    forms = [entry.get("form", {}).get("coding", [{}])[0].get("code") for entry in
             resource["location"]]  # fmt: skip
    assert forms == [None, "bd"]


def test_a_walk_in_has_no_planned_dates_and_no_appointment() -> None:
    visit = given(walk_in_deceased().events)

    resource = encounter_r5(visit)

    assert "plannedStartDate" not in resource and "appointment" not in resource
    assert resource["admission"]["dischargeDisposition"]["coding"][0]["code"] == "exp"
    assert appointment_r5(visit) is None and appointment_r4(visit) is None


# ---- the patient ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", STORIES)
def test_the_patient_appears_only_as_the_opaque_reference(name: str) -> None:
    story = STORIES[name]()
    visit = given(story.events)
    reference = {
        "type": "Patient",
        "identifier": {"system": common.PATIENT_REF_SYSTEM, "value": visit.patient_ref},
    }
    resources = [encounter_r4(visit, story.events), encounter_r5(visit),
                 appointment_r4(visit), appointment_r5(visit)]  # fmt: skip
    for resource in filter(None, resources):
        assert resource.get("subject", reference) == reference
        for participant in resource.get("participant", []):
            assert participant["actor"] == reference
        text = json.dumps(resource)
        expected = 1 + ("subject" in resource) if resource["resourceType"] == "Appointment" else 1
        assert text.count(visit.patient_ref) == expected, text


# ---- R5 EncounterHistory: R5's statusHistory -------------------------------------------------
@pytest.mark.parametrize("name", STORIES)
def test_every_version_validates_as_r5_encounter_history(name: str) -> None:
    for visit, events in versions_of(STORIES[name]()):
        found = encounter_histories(visit, events)
        assert found, "a visit always has a history"
        for number, resource in enumerate(found, 1):
            sent = json.loads(json.dumps(resource))
            assert_well_formed(sent)
            EncounterHistory.model_validate(sent)
            assert resource["status"] in statuses.ENCOUNTER_CODES_R5
            assert resource["id"] == history_id(visit.id, number)
            assert resource["encounter"] == {"reference": f"Encounter/{visit.id}"}
        # One after another: each stretch ends when the next starts; the last is open.
        periods = [resource["actualPeriod"] for resource in found]
        for earlier, later in zip(periods, periods[1:], strict=False):
            assert earlier["end"] == later["start"]
        assert "end" not in periods[-1]


def test_r5_encounter_history_stretches_of_an_inpatient_with_corrections() -> None:
    story = inpatient_with_corrections()

    found = encounter_histories(given(story.events), story.events)

    shown = [
        (r["status"], r.get("subjectStatus", {}).get("coding", [{}])[0].get("code"),
         r["class"]["coding"][0]["code"])
        for r in found
    ]  # fmt: skip
    assert shown == [
        ("planned", None, "AMB"),
        ("in-progress", "arrived", "AMB"),
        ("in-progress", "triaged", "AMB"),
        ("in-progress", "receiving-care", "AMB"),
        ("in-progress", "receiving-care", "IMP"),  # admitted at 25
        ("on-hold", "on-leave", "IMP"),
        ("in-progress", "receiving-care", "IMP"),
        ("discharged", "departed", "IMP"),  # cancelled at 65
        ("in-progress", "receiving-care", "IMP"),
        ("discharged", "departed", "IMP"),
        ("completed", "departed", "IMP"),
    ]
    admitted = found[4]
    assert admitted["actualPeriod"] == {"start": common.instant(at(25)),
                                        "end": common.instant(at(40))}  # fmt: skip
    # The transfer to W2 (cancelled at 35) happened in this stretch: the record shows it.
    assert [place["location"]["display"] for place in admitted["location"]] == [
        "W1, bed B1", "W2, bed B4",
    ]  # fmt: skip
    assert [place["form"]["coding"][0]["code"] for place in admitted["location"]] == ["bd"] * 2


def test_r5_entered_in_error_is_the_last_encounter_history() -> None:
    story = story_to(v.ENTERED_IN_ERROR)

    found = encounter_histories(given(story.events), story.events)

    assert [r["status"] for r in found] == ["planned", "in-progress", "entered-in-error"]


def test_encounter_history_ids_read_back() -> None:
    visit_id = uuid4()
    assert parse_history_id(history_id(visit_id, 12)) == (visit_id, 12)
    for bad in (str(visit_id), f"{visit_id}-", f"{visit_id}-0", f"{visit_id}-x", "a-1", ""):
        assert parse_history_id(bad) is None
