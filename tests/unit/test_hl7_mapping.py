"""Given a visit's earlier messages, when the next HL7 message arrives, then the visit is
where the message says and the ACK says what happened (in-memory store)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from application.service import PatientServices
from application.shared.errors import VersionConflictError
from domain.visits.identity import visit_id_for
from tests.support.hl7_messages import Adt, Siu, err_code, msa, processor

VISIT = visit_id_for("V1001", "RFH")


def send(services: PatientServices, *messages: Adt | Siu) -> list[str]:
    """Each message's one ACK (original mode)."""
    handler = processor(services)
    replies = []
    for message in messages:
        [reply] = handler.handle(message.er7())
        replies.append(reply)
    return replies


def codes(replies: list[str]) -> list[str]:
    return [msa(reply)[0] for reply in replies]


def events_of(services: PatientServices) -> list[str]:
    return [type(event).__name__ for event in services.visit_events(VISIT)]


def test_register_admit_transfer_and_discharge_walk_a_visit_to_discharged(
    memory_services: PatientServices,
) -> None:
    replies = send(
        memory_services,
        Adt("A04", "m1"),
        Adt("A01", "m2", location="W1^12^B^RFH", evn_time="202612011010"),
        Adt("A02", "m3", location="W2^3^A^RFH", prior_location="W1^12^B^RFH",
            evn_time="202612011020"),
        Adt("A03", "m4", location="W2^3^A^RFH", disposition="01", evn_time="202612011100",
            discharge_time="202612011045"),
    )  # fmt: skip

    assert codes(replies) == ["AA"] * 4
    assert [msa(reply)[1] for reply in replies] == ["m1", "m2", "m3", "m4"]
    visit = memory_services.get_visit(VISIT)
    assert visit.status == "discharged"
    assert visit.visit_number == "V1001" and visit.visit_number_authority == "RFH"
    assert visit.disposition == "home"
    # PV1-45 is when the discharge happened (10:45 in London in December = UTC).
    assert visit.discharged_at == datetime(2026, 12, 1, 10, 45, tzinfo=timezone.utc)
    assert [(p["unit"], p["bed"]) for p in visit.location_periods] == [
        ("ED", None), ("W1", "12-B"), ("W2", "3-A"),
    ]  # fmt: skip


def test_an_admission_of_a_visit_never_seen_registers_it_first(
    memory_services: PatientServices,
) -> None:
    [reply] = send(memory_services, Adt("A01", "m1", patient_class="I", location="W1^^^RFH"))

    assert msa(reply) == ("AA", "m1")
    assert events_of(memory_services) == ["WalkInRegistered", "PatientAdmitted"]
    visit = memory_services.get_visit(VISIT)
    assert (visit.status, visit.visit_class) == ("admitted", "IMP")


def test_a_pre_admitted_visit_arrives_before_it_is_admitted(
    memory_services: PatientServices,
) -> None:
    replies = send(
        memory_services,
        Adt("A05", "m1", patient_class="P", location="W1^^^RFH", expected_admit="202612011200"),
        Adt("A01", "m2", location="W1^^^RFH", evn_time="202612011105"),
    )

    assert codes(replies) == ["AA", "AA"]
    assert events_of(memory_services) == ["VisitScheduled", "PatientArrived", "PatientAdmitted"]


def test_a_transfer_before_its_admission_is_refused_and_records_nothing(
    memory_services: PatientServices,
) -> None:
    [reply] = send(memory_services, Adt("A02", "m1", location="W2^^^RFH"))

    assert msa(reply) == ("AE", "m1")
    assert err_code(reply) == "NOT_FOUND"
    assert "204^Unknown key identifier^HL70357" in reply
    assert events_of(memory_services) == []


def test_a_resend_gets_the_same_answer_and_records_nothing_new(
    memory_services: PatientServices,
) -> None:
    first, again = send(memory_services, Adt("A04", "m1"), Adt("A04", "m1"))

    assert codes([first, again]) == ["AA", "AA"]
    # The ACK's own control id (MSH-10) is the same for a resend too.
    assert first.split("\r")[0].split("|")[9] == again.split("\r")[0].split("|")[9]
    assert events_of(memory_services) == ["WalkInRegistered"]


def test_another_message_under_a_used_control_id_is_refused(
    memory_services: PatientServices,
) -> None:
    first, other = send(memory_services, Adt("A04", "m1"), Adt("A01", "m1", location="W1^^^RFH"))

    assert codes([first, other]) == ["AA", "AE"]
    assert err_code(other) == "IDEMPOTENCY_KEY_REUSED"
    assert events_of(memory_services) == ["WalkInRegistered"]


def test_an_event_time_more_than_five_minutes_ahead_is_an_error_not_a_crash(
    memory_services: PatientServices,
) -> None:
    # The application's clock is the real one: an hour from now, with its offset.
    ahead = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y%m%d%H%M%S+0000")
    [reply] = send(memory_services, Adt("A04", "m1", evn_time=ahead))

    assert msa(reply)[0] == "AE"
    assert err_code(reply) == "VALIDATION"
    assert events_of(memory_services) == []


def test_the_envelope_comes_from_the_message(memory_services: PatientServices) -> None:
    send(memory_services, Adt("A04", "ctl-42", operator="OP17^Operator^Ann"))

    [event] = memory_services.visit_events(VISIT)
    assert event.actor_id == "hl7:PAS"
    assert event.actor_role == "integration"
    assert event.on_behalf_of == "OP17"
    assert (event.source_system, event.source_message_id) == ("PAS/RFH", "ctl-42")
    # EVN-6, wall-clock time in the facility's zone.
    assert event.occurred_at == datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def test_the_patient_ref_is_a_keyed_hash_never_the_record_number(
    memory_services: PatientServices,
) -> None:
    send(memory_services, Adt("A04", "m1"))

    ref = memory_services.get_visit(VISIT).patient_ref
    assert ref.startswith("mrn-") and "MRN123" not in ref
    other = visit_id_for("V2002", "RFH")
    send(memory_services, Adt("A04", "m2", visit_number="V2002^^^RFH"))
    assert memory_services.get_visit(other).patient_ref == ref  # same patient, same ref


@pytest.mark.parametrize(
    ("history", "cancel", "event", "status"),
    [
        (["A04", "A01"], "A11", "AdmissionCancelled", "arrived"),
        (["A01", "A02"], "A12", "TransferCancelled", "admitted"),
        (["A01", "A03"], "A13", "DischargeCancelled", "admitted"),
    ],
)
def test_cancellations_compensate_the_latest_fact(
    memory_services: PatientServices, history: list[str], cancel: str, event: str, status: str
) -> None:
    earlier = [
        Adt(trigger, f"m{n}", location=f"W{n}^^^RFH", disposition="01",
            evn_time=f"2026120110{n}0")
        for n, trigger in enumerate(history)
    ]  # fmt: skip
    replies = send(memory_services, *earlier, Adt(cancel, "mc", evn_time="202612011030"))

    assert codes(replies) == ["AA"] * (len(history) + 1)
    assert events_of(memory_services)[-1] == event
    assert memory_services.get_visit(VISIT).status == status


def test_a_cancelled_registration_of_an_outpatient_is_entered_in_error(
    memory_services: PatientServices,
) -> None:
    replies = send(memory_services, Adt("A04", "m1"), Adt("A11", "m2", evn_time="202612011010"))

    assert codes(replies) == ["AA", "AA"]
    assert memory_services.get_visit(VISIT).status == "entered_in_error"


def test_leave_of_absence_out_and_back(memory_services: PatientServices) -> None:
    replies = send(
        memory_services,
        Adt("A01", "m1", location="W1^^^RFH"),
        Adt("A21", "m2", evn_time="202612011010"),
        Adt("A22", "m3", evn_time="202612011020"),
    )

    assert codes(replies) == ["AA"] * 3
    assert events_of(memory_services)[-2:] == ["LeaveOfAbsenceStarted", "LeaveOfAbsenceEnded"]


def test_delete_visit_and_cancel_pre_admit(memory_services: PatientServices) -> None:
    deleted = send(memory_services, Adt("A04", "m1"), Adt("A23", "m2", evn_time="202612011010"))
    assert codes(deleted) == ["AA", "AA"]
    assert memory_services.get_visit(VISIT).status == "entered_in_error"

    other = visit_id_for("V3003", "RFH")
    cancelled = send(
        memory_services,
        Adt("A05", "p1", visit_number="V3003^^^RFH", expected_admit="202612201000"),
        Adt("A38", "p2", visit_number="V3003^^^RFH", evn_time="202612011010"),
    )
    assert codes(cancelled) == ["AA", "AA"]
    assert memory_services.get_visit(other).status == "cancelled"


def test_class_changes_and_an_update_correct_only_what_differs(
    memory_services: PatientServices,
) -> None:
    replies = send(
        memory_services,
        Adt("A04", "m1", patient_class="O", location="CLINIC^^^RFH"),
        Adt("A06", "m2", patient_class="I", evn_time="202612011010"),
        Adt("A08", "m3", patient_class="I", evn_time="202612011020"),  # nothing differs
        Adt("A07", "m4", patient_class="O", evn_time="202612011030"),
    )

    assert codes(replies) == ["AA"] * 4
    assert events_of(memory_services) == [
        "WalkInRegistered", "VisitDetailsCorrected", "VisitDetailsCorrected",
    ]  # fmt: skip
    assert memory_services.get_visit(VISIT).visit_class == "AMB"


def test_bookings_from_siu(memory_services: PatientServices) -> None:
    appointment = visit_id_for("APPT77", "SCH:CLINIC")
    replies = send(
        memory_services,
        Siu("S12", "s1"),
        Siu("S13", "s2", start="202612160900", end="202612160930"),
        Siu("S26", "s3", start="202612160900", end="202612160930"),
    )

    assert codes(replies) == ["AA", "AA", "AE"]  # a no-show before the slot is refused
    visit = memory_services.get_visit(appointment)
    assert visit.status == "scheduled"
    assert visit.scheduled_start == datetime(2026, 12, 16, 9, 0, tzinfo=timezone.utc)
    [cancel] = send(memory_services, Siu("S15", "s4"))
    assert msa(cancel)[0] == "AA"
    assert memory_services.get_visit(appointment).status == "cancelled"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (Adt("A09", "x1"), "UNSUPPORTED_TRIGGER"),
        (Adt("A04", "x2", version="2.2"), "UNSUPPORTED_VERSION"),
        (Adt("A04", "x3", processing_id="T"), "UNSUPPORTED_PROCESSING_ID"),
    ],
)
def test_what_is_not_taken_is_rejected_and_records_nothing(
    memory_services: PatientServices, message: Adt, code: str
) -> None:
    [reply] = send(memory_services, message)

    assert msa(reply)[0] == "AR"
    assert err_code(reply) == code
    assert events_of(memory_services) == []


def test_a_sender_off_the_allow_list_is_rejected(memory_services: PatientServices) -> None:
    handler = processor(memory_services, allowed_senders=("LAB^RFH", "PAS^OTHER"))
    [reply] = handler.handle(Adt("A04", "m1").er7())

    assert msa(reply)[0] == "AR" and err_code(reply) == "UNKNOWN_SENDER"
    allowed = processor(memory_services, allowed_senders=("PAS",))
    assert msa(allowed.handle(Adt("A04", "m1").er7())[0])[0] == "AA"


def test_a_message_without_a_visit_number_is_an_error(memory_services: PatientServices) -> None:
    [reply] = send(memory_services, Adt("A04", "m1", visit_number=""))

    assert msa(reply)[0] == "AE" and err_code(reply) == "REQUIRED_FIELD_MISSING"


@pytest.mark.parametrize(
    ("accept", "application", "expected"),
    [
        ("AL", "NE", ["CA"]),
        ("AL", "AL", ["CA", "AA"]),
        ("NE", "AL", ["AA"]),
        ("ER", "ER", []),
        ("AL", "SU", ["CA", "AA"]),
    ],
)
def test_enhanced_mode_sends_the_acks_asked_for(
    memory_services: PatientServices, accept: str, application: str, expected: list[str]
) -> None:
    replies = processor(memory_services).handle(
        Adt("A04", "m1", accept_ack=accept, application_ack=application).er7()
    )

    assert codes(replies) == expected
    assert events_of(memory_services) == ["WalkInRegistered"]


def test_enhanced_mode_refusal_is_a_commit_error_then_the_application_error(
    memory_services: PatientServices,
) -> None:
    replies = processor(memory_services).handle(
        Adt("A02", "m1", accept_ack="AL", application_ack="ER").er7()
    )

    assert codes(replies) == ["CE", "AE"]
    assert all(err_code(reply) == "NOT_FOUND" for reply in replies)


def test_garbage_is_rejected(memory_services: PatientServices) -> None:
    [reply] = processor(memory_services).handle("this is not HL7")

    assert msa(reply)[0] == "AR"
    assert err_code(reply) == "UNPARSEABLE_MESSAGE"


def test_a_rejected_message_asking_only_for_the_application_ack_gets_an_ar(
    memory_services: PatientServices,
) -> None:
    replies = processor(memory_services).handle(
        Adt("A04", "m1", version="9.9", accept_ack="NE", application_ack="AL").er7()
    )

    assert codes(replies) == ["AR"]
    assert err_code(replies[0]) == "UNSUPPORTED_VERSION"


class _AlwaysRacing:
    """An application whose writes keep losing to another writer."""

    def execute(self, *args: object, **kwargs: object) -> None:
        raise VersionConflictError("the aggregate kept changing concurrently")


def test_a_visit_that_keeps_changing_concurrently_is_a_transient_reject() -> None:
    handler = processor(_AlwaysRacing())  # type: ignore[arg-type]
    [reply] = handler.handle(Adt("A04", "m1").er7())

    # Not AE (a rule said no): AR, so the engine resends it later.
    assert msa(reply) == ("AR", "m1")
    assert err_code(reply) == "VERSION_CONFLICT"
    assert "206^Application record locked^HL70357" in reply
