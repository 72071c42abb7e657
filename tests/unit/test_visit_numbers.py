"""Visit numbers (HL7 v2 PV1-19 with its assigning authority) on the two creations of a visit:
recorded, validated, the id derived from them, a duplicate refused, and creation events stored
before visit numbers existed still loading (upcast from version 1)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from adapters.memory import MEMORY_ENV
from application.budget.commands import CreateBudgetLine
from application.service import PatientServices
from application.shared.context import RequestContext
from application.shared.errors import AlreadyExistsError
from application.visits.commands import RegisterWalkIn, ScheduleVisit
from domain.shared.errors import DomainValidationError
from domain.visits.identity import VISIT_NUMBER_NAMESPACE, visit_id_for
from domain.visits.visit import PatientVisit
from tests.support.gwt import BOOKED, START, Expect, at, then, then_refused, when

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CLERK = RequestContext(actor_id="clerk-1", actor_role="clerk", correlation_id="req-1")


def scheduled(**numbers: Any) -> Any:
    return when(
        PatientVisit, "schedule", at=BOOKED, patient_ref="pt-0001", visit_class="AMB",
        service_unit="CLINIC-3", scheduled_start=START, **numbers,
    )  # fmt: skip


def walked_in(**numbers: Any) -> Any:
    return when(
        PatientVisit, "register_walk_in", at=at(0), patient_ref="pt-0002", visit_class="EMER",
        service_unit="ED", **numbers,
    )  # fmt: skip


CREATIONS = {"schedule": scheduled, "walk_in": walked_in}
EVENTS = {"schedule": PatientVisit.VisitScheduled, "walk_in": PatientVisit.WalkInRegistered}


# ---- recorded on both creations ---------------------------------------------------------------
@pytest.mark.parametrize("creation", sorted(CREATIONS))
def test_a_creation_records_the_visit_number_and_its_authority(creation: str) -> None:
    outcome = CREATIONS[creation](visit_number="V-0042", visit_number_authority="HOSP-A")
    then(
        outcome,
        Expect(EVENTS[creation], visit_number="V-0042", visit_number_authority="HOSP-A"),
    )
    visit = outcome.visit
    assert (visit.visit_number, visit.visit_number_authority) == ("V-0042", "HOSP-A")
    assert visit.id == visit_id_for("V-0042", "HOSP-A")


@pytest.mark.parametrize("creation", sorted(CREATIONS))
def test_a_visit_number_needs_no_authority(creation: str) -> None:
    outcome = CREATIONS[creation](visit_number="V-0042")
    then(outcome, Expect(EVENTS[creation], visit_number="V-0042", visit_number_authority=None))
    assert outcome.visit.id == visit_id_for("V-0042", None)
    assert outcome.visit.visit_number_authority is None


@pytest.mark.parametrize("creation", sorted(CREATIONS))
def test_a_creation_without_a_number_has_none_and_a_random_id(creation: str) -> None:
    first, second = CREATIONS[creation](), CREATIONS[creation]()
    then(first, Expect(EVENTS[creation], visit_number=None, visit_number_authority=None))
    assert (first.visit.visit_number, first.visit.visit_number_authority) == (None, None)
    assert first.visit.id != second.visit.id
    assert first.visit.id.version == 4  # random, not derived


# ---- validation -----------------------------------------------------------------------------
SCHEDULE = {"patient_ref": "pt-1", "visit_class": "AMB", "service_unit": "ED",
            "scheduled_start": START}  # fmt: skip
WALK_IN = {"patient_ref": "pt-1", "visit_class": "EMER", "service_unit": "ED"}


@pytest.mark.parametrize(("command", "fields"), [("schedule", SCHEDULE),
                                                 ("register_walk_in", WALK_IN)])  # fmt: skip
@pytest.mark.parametrize(
    ("numbers", "field"),
    [
        ({"visit_number_authority": "HOSP-A"}, "visitNumberAuthority"),
        ({"visit_number": "  "}, "visitNumber"),
        ({"visit_number": ""}, "visitNumber"),
        ({"visit_number": "V-1", "visit_number_authority": " "}, "visitNumberAuthority"),
        ({"visit_number": "V-1", "visit_number_authority": "A|B"}, "visitNumberAuthority"),
    ],
    ids=["authority-without-number", "blank-number", "empty-number", "blank-authority",
         "authority-with-separator"],
)  # fmt: skip
def test_an_invalid_visit_number_is_refused(
    command: str, fields: dict[str, Any], numbers: dict[str, str], field: str
) -> None:
    error = then_refused(
        PatientVisit, command, DomainValidationError, "VALIDATION", at=BOOKED,
        **fields, **numbers,
    )  # fmt: skip
    assert error.field == field


# ---- the id -----------------------------------------------------------------------------------
def test_the_namespace_is_fixed_and_the_id_is_derived_from_authority_and_number() -> None:
    assert uuid5(NAMESPACE_URL, "urn:patient-services:visit-number") == VISIT_NUMBER_NAMESPACE
    assert visit_id_for("V-1", "HOSP-A") == uuid5(VISIT_NUMBER_NAMESPACE, "HOSP-A|V-1")
    assert visit_id_for("V-1", None) == uuid5(VISIT_NUMBER_NAMESPACE, "|V-1")
    # The same number under another authority, or none, is another visit; exact, not folded.
    ids = {visit_id_for("V-1", "HOSP-A"), visit_id_for("V-1", "HOSP-B"),
           visit_id_for("V-1", None), visit_id_for("v-1", "HOSP-A")}  # fmt: skip
    assert len(ids) == 4


def test_a_derived_id_never_changes() -> None:
    """Feeds find visits by it and stored visits hold it: pinned, so that no change of the
    derivation (namespace, separator, order) goes unnoticed."""
    assert visit_id_for("V-1", "HOSP-A") == UUID("ba4392ae-4643-5c32-b948-45fda998ff08")
    assert visit_id_for("V-1", None) == UUID("ddf79ca6-f5ec-59f6-98f3-17dc069110a2")


# ---- through the application: a duplicate is refused ------------------------------------------
@pytest.fixture
def app() -> PatientServices:
    return PatientServices(env=dict(MEMORY_ENV), clock=lambda: NOW)


def schedule(**changes: Any) -> ScheduleVisit:
    fields: dict[str, Any] = {
        "patient_ref": "pt-0001", "visit_class": "AMB", "service_unit": "ED",
        "scheduled_start": NOW + timedelta(hours=1),
    }  # fmt: skip
    return ScheduleVisit(**{**fields, **changes})


def walk_in(**changes: Any) -> RegisterWalkIn:
    return RegisterWalkIn(
        **{"patient_ref": "pt-0002", "visit_class": "EMER", "service_unit": "ED", **changes}
    )


def test_a_command_has_a_natural_key_only_with_a_visit_number() -> None:
    assert schedule(visit_number="V-1").natural_key
    assert walk_in(visit_number="V-1", visit_number_authority="H").natural_key
    assert not schedule().natural_key and not walk_in().natural_key
    # A budget line's key is its class's: unchanged by the per-instance property.
    assert CreateBudgetLine.natural_key
    line = CreateBudgetLine(fiscal_year=2026, cost_centre="CC-1", category="supplies",
                            currency="GBP")  # fmt: skip
    assert line.natural_key


@pytest.mark.parametrize("second", [schedule, walk_in], ids=["schedule", "walk_in"])
def test_a_second_visit_with_the_same_number_and_authority_is_refused(
    app: PatientServices, second: Any
) -> None:
    first = app.execute(schedule(visit_number="V-7", visit_number_authority="HOSP-A"), CLERK)
    assert first.id == visit_id_for("V-7", "HOSP-A")
    before = app.recorder.max_notification_id()

    with pytest.raises(AlreadyExistsError) as refused:
        app.execute(second(visit_number="V-7", visit_number_authority="HOSP-A"), CLERK)

    assert refused.value.code == "ALREADY_EXISTS"
    assert refused.value.aggregate_id == first.id
    visit = app.get_visit(first.id)
    assert (visit.version, visit.patient_ref, visit.walk_in) == (1, "pt-0001", False)
    # Only the refusal is written (an attempt, for the audit trail), never an event of the visit.
    assert len(list(app.events.get(first.id))) == 1
    [attempt] = app.recorder.select_notifications((before or 0) + 1, 10)
    assert attempt.originator_id != first.id


def test_the_same_number_under_another_authority_or_none_is_another_visit(
    app: PatientServices,
) -> None:
    ids = {
        app.execute(schedule(visit_number="V-7", visit_number_authority="HOSP-A"), CLERK).id,
        # Another patient's: one patient may not hold two overlapping bookings.
        app.execute(
            schedule(visit_number="V-7", visit_number_authority="HOSP-B", patient_ref="pt-0003"),
            CLERK,
        ).id,  # fmt: skip
        app.execute(walk_in(visit_number="V-7"), CLERK).id,
    }
    assert len(ids) == 3
    assert app.get_visit(visit_id_for("V-7", None)).walk_in


def test_visits_without_a_number_are_never_duplicates(app: PatientServices) -> None:
    first = app.execute(schedule(), CLERK)
    second = app.execute(schedule(patient_ref="pt-0003"), CLERK)
    assert first.id != second.id and first.created and second.created


# ---- stored before visit numbers: version 1 of the creation events ------------------------
@pytest.mark.parametrize("creation", sorted(CREATIONS))
def test_a_creation_stored_before_visit_numbers_loads_without_one(creation: str) -> None:
    outcome = CREATIONS[creation]()
    mapper = PatientServices(env=dict(MEMORY_ENV)).mapper
    stored = mapper.to_stored_event(outcome.events[0])
    state = msgspec.json.decode(stored.state)
    assert state.pop("class_version") == 2
    assert (state.pop("visit_number"), state.pop("visit_number_authority")) == (None, None)
    version_1 = StoredEvent(
        originator_id=stored.originator_id, originator_version=stored.originator_version,
        topic=stored.topic, state=msgspec.json.encode(state),
    )  # fmt: skip

    read = mapper.to_domain_event(version_1)

    assert type(read) is EVENTS[creation]
    assert (read.visit_number, read.visit_number_authority) == (None, None)
    visit = read.mutate(None)
    assert (visit.visit_number, visit.visit_number_authority) == (None, None)
    assert visit == outcome.visit
