"""PatientServices.execute and the visit queries, on the in-memory store: authorise →
(replay) → load → decide → save the events and the command record together → answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from application.service import CommandResult, PatientServices
from application.shared.attempts import CommandAttempt
from application.shared.commands import Command
from application.shared.context import RequestContext
from application.shared.errors import (
    CommandValidationError,
    IdempotencyKeyReusedError,
    NotAuthorisedError,
    NotFoundError,
    PreconditionFailedError,
    VersionConflictError,
)
from application.shared.idempotency import CommandIdentity
from application.visits.commands import (
    INTEGRATION,
    VISIT_ACTIONS,
    AdmitPatient,
    CancelVisit,
    CloseVisit,
    CorrectVisitDetails,
    RecordTriage,
    RegisterArrival,
    RegisterWalkIn,
    RescheduleVisit,
    ScheduleVisit,
    StartClinicianContact,
    VisitDetailChanges,
)
from domain.shared.base import event_id_for
from domain.shared.errors import InvalidTransitionError
from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import ARRIVED, SCHEDULED, TRIAGED, WITH_CLINICIAN

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def context(role: str = "clerk", **kwargs: Any) -> RequestContext:
    return RequestContext(
        actor_id=kwargs.pop("actor_id", f"{role}-1"), actor_role=role,
        correlation_id=kwargs.pop("correlation_id", "req-1"), **kwargs,
    )  # fmt: skip


CLERK, NURSE, CLINICIAN = context("clerk"), context("nurse"), context("clinician")


def schedule_visit(**changes: Any) -> ScheduleVisit:
    fields: dict[str, Any] = {
        "patient_ref": "pt-0001", "visit_class": "AMB", "service_unit": "ED",
        "scheduled_start": NOW + timedelta(hours=1), "occurred_at": NOW - timedelta(days=2),
    }  # fmt: skip
    return ScheduleVisit(**{**fields, **changes})


@pytest.fixture
def app(memory_env: dict[str, str]) -> PatientServices:
    return PatientServices(env=memory_env, clock=lambda: NOW)


def log_size(app: PatientServices) -> int:
    return app.recorder.max_notification_id() or 0


def recorded_since(app: PatientServices, position: int) -> list[Any]:
    """The events stored after ``position``, as domain events."""
    return [
        app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(position + 1, 1000)
    ]


def arrived_visit(app: PatientServices) -> UUID:
    visit_id = app.execute(schedule_visit(), CLERK).id
    app.execute(RegisterArrival(occurred_at=NOW - timedelta(minutes=30)), CLERK, target=visit_id)
    return visit_id


# ---- accepted commands --------------------------------------------------------------
def test_an_accepted_command_returns_the_id_the_version_and_the_log_position(
    app: PatientServices,
) -> None:
    scheduled = app.execute(schedule_visit(), CLERK)
    # The patient's bookings are saved first (position 1), the visit the reply names last.
    assert scheduled == CommandResult(
        id=scheduled.id, version=1, position=2, created=True, replayed=False
    )
    arrived = app.execute(RegisterArrival(), CLERK, target=scheduled.id)
    assert arrived == CommandResult(
        id=scheduled.id, version=2, position=3, created=False, replayed=False
    )
    assert app.recorder.position_of(scheduled.id, 2) == arrived.position
    assert app.get_visit(scheduled.id).status == ARRIVED


def test_every_stored_event_carries_the_envelope_of_its_request(app: PatientServices) -> None:
    on_behalf = context("clerk", actor_id="clerk-7", correlation_id="req-a", on_behalf_of="dr-2")
    feed = context(
        INTEGRATION, actor_id="hl7-engine", correlation_id="msg-b", source_system="PAS",
        source_message_id="MSG-0002",
    )  # fmt: skip
    nurse = context("nurse", actor_id="nurse-3", correlation_id="req-c")
    identity = CommandIdentity(scope="user:clerk-7", key="key-a", fingerprint="f-a")
    visit_id = app.execute(schedule_visit(), on_behalf, identity=identity).id
    app.execute(RegisterArrival(occurred_at=NOW - timedelta(minutes=20)), feed, target=visit_id)
    app.execute(
        RecordTriage(acuity_scale="ESI", acuity_level=2, reason="re-triaged after review"),
        nurse, target=visit_id,
    )  # fmt: skip

    scheduled, arrived, triaged = app.visit_events(visit_id)  # read back from the store
    expected: list[tuple[PatientVisit.Event, RequestContext, datetime, str | None]] = [
        (scheduled, on_behalf, NOW - timedelta(days=2), None),
        (arrived, feed, NOW - timedelta(minutes=20), None),
        (triaged, nurse, NOW, "re-triaged after review"),
    ]
    for event, ctx, occurred_at, reason in expected:
        assert (event.actor_id, event.actor_role, event.correlation_id) == (
            ctx.actor_id, ctx.actor_role, ctx.correlation_id,
        )  # fmt: skip
        assert (event.on_behalf_of, event.source_system, event.source_message_id) == (
            ctx.on_behalf_of, ctx.source_system, ctx.source_message_id,
        )  # fmt: skip
        assert (event.occurred_at, event.reason) == (occurred_at, reason)
        assert event.event_id == event_id_for(visit_id, event.originator_version)
        assert event.recorded_at == event.timestamp
    assert scheduled.command_id == identity.command_id
    assert (
        arrived.command_id
        == CommandIdentity(scope="source:PAS", key="MSG-0002", fingerprint="").command_id
    )
    assert isinstance(triaged.command_id, UUID)
    assert len({scheduled.command_id, arrived.command_id, triaged.command_id}) == 3


def test_an_occurred_at_with_an_offset_is_stored_in_utc(app: PatientServices) -> None:
    visit_id = app.execute(schedule_visit(), CLERK).id
    local = datetime(2026, 3, 2, 13, 30, tzinfo=timezone(timedelta(hours=2)))
    app.execute(RegisterArrival(occurred_at=local), CLERK, target=visit_id)
    arrived = app.visit_events(visit_id)[-1]
    assert arrived.occurred_at == local and arrived.occurred_at.utcoffset() == timedelta(0)


# ---- idempotency --------------------------------------------------------------------
def test_a_repeated_command_returns_the_first_result_and_records_nothing(
    app: PatientServices,
) -> None:
    visit_id = app.execute(schedule_visit(), CLERK).id
    identity = CommandIdentity(scope="user:clerk-1", key="arrive-1", fingerprint="f1")
    first = app.execute(RegisterArrival(), CLERK, target=visit_id, identity=identity)
    size = log_size(app)
    again = app.execute(RegisterArrival(), CLERK, target=visit_id, identity=identity)
    assert again == replace(first, replayed=True)
    assert log_size(app) == size
    assert app.get_visit(visit_id).version == first.version


def test_a_repeat_after_the_visit_moved_on_still_returns_the_first_result(
    app: PatientServices,
) -> None:
    visit_id = app.execute(schedule_visit(), CLERK).id
    identity = CommandIdentity(scope="user:clerk-1", key="resched", fingerprint="f1")
    command = RescheduleVisit(scheduled_start=NOW + timedelta(hours=3))
    first = app.execute(command, CLERK, target=visit_id, identity=identity)
    app.execute(RegisterArrival(), CLERK, target=visit_id)
    size = log_size(app)
    # Now refused by the rules (the visit has arrived), yet it is answered as the first time.
    again = app.execute(command, CLERK, target=visit_id, identity=identity)
    assert again == replace(first, replayed=True)
    assert log_size(app) == size


def test_a_repeat_the_rules_would_accept_again_records_nothing(app: PatientServices) -> None:
    visit_id = app.execute(schedule_visit(), CLERK).id
    identity = CommandIdentity(scope="user:clerk-1", key="resched", fingerprint="f1")
    command = RescheduleVisit(scheduled_start=NOW + timedelta(hours=3))
    first = app.execute(command, CLERK, target=visit_id, identity=identity)
    size = log_size(app)
    assert app.execute(command, CLERK, target=visit_id, identity=identity) == replace(
        first, replayed=True
    )
    assert log_size(app) == size
    assert app.get_visit(visit_id).version == 2


def test_a_repeated_creation_returns_the_same_visit(app: PatientServices) -> None:
    identity = CommandIdentity(scope="user:clerk-1", key="book-1", fingerprint="f1")
    first = app.execute(schedule_visit(), CLERK, identity=identity)
    size = log_size(app)
    again = app.execute(schedule_visit(), CLERK, identity=identity)
    assert again == replace(first, replayed=True)
    assert again.created is True
    assert log_size(app) == size


def test_the_same_key_with_another_request_is_refused_and_records_nothing(
    app: PatientServices,
) -> None:
    visit_id = app.execute(schedule_visit(), CLERK).id
    key = CommandIdentity(scope="user:clerk-1", key="k", fingerprint="first-body")
    app.execute(
        RescheduleVisit(scheduled_start=NOW + timedelta(hours=2)),
        CLERK,
        target=visit_id,
        identity=key,
    )
    size = log_size(app)
    with pytest.raises(IdempotencyKeyReusedError) as raised:
        app.execute(
            RescheduleVisit(scheduled_start=NOW + timedelta(hours=5)), CLERK, target=visit_id,
            identity=replace(key, fingerprint="another-body"),
        )  # fmt: skip
    assert raised.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert log_size(app) == size
    assert app.get_visit(visit_id).scheduled_start == NOW + timedelta(hours=2)


def test_a_refused_command_records_no_key_so_a_repeat_runs_again(app: PatientServices) -> None:
    visit_id = app.execute(schedule_visit(), CLERK).id
    identity = CommandIdentity(scope="user:nurse-1", key="triage", fingerprint="f")
    command = RecordTriage(acuity_scale="ESI", acuity_level=3)
    for _ in range(2):
        with pytest.raises(InvalidTransitionError):
            app.execute(command, NURSE, target=visit_id, identity=identity)
    app.execute(RegisterArrival(), CLERK, target=visit_id)
    result = app.execute(command, NURSE, target=visit_id, identity=identity)
    assert (result.version, result.replayed) == (3, False)


def test_a_feed_message_applied_twice_records_nothing_new(app: PatientServices) -> None:
    feed = context(INTEGRATION, source_system="PAS", source_message_id="MSG-1")
    first = app.execute(schedule_visit(), feed)
    size = log_size(app)
    again = app.execute(schedule_visit(), replace(feed, correlation_id="redelivery"))
    assert again == replace(first, replayed=True)
    assert log_size(app) == size


def test_a_feed_resend_with_a_new_idempotency_key_is_still_the_same_message(
    app: PatientServices,
) -> None:
    # domain-spec §0: (source system, message id) identifies the command, whatever key a
    # resending integration engine puts on it.
    feed = context(INTEGRATION, source_system="ADT", source_message_id="MSG-7")
    first = app.execute(schedule_visit(), feed, identity=CommandIdentity("user:hl7", "k1", "f1"))
    size = log_size(app)
    again = app.execute(schedule_visit(), feed, identity=CommandIdentity("user:hl7", "k2", "f2"))
    assert again == replace(first, replayed=True)
    assert log_size(app) == size


def test_a_walk_in_with_two_different_arrival_times_is_refused(app: PatientServices) -> None:
    now = datetime.now(timezone.utc)
    command = RegisterWalkIn(
        patient_ref="pt-0009", visit_class="EMER", service_unit="ED",
        arrival_at=now - timedelta(minutes=5), occurred_at=now - timedelta(minutes=1),
    )  # fmt: skip
    with pytest.raises(CommandValidationError) as refused:
        app.execute(command, context("clerk"))
    assert refused.value.field == "arrivalAt"
    assert log_size(app) == 0


def test_the_same_message_id_from_another_source_system_is_another_message(
    app: PatientServices,
) -> None:
    first = app.execute(
        schedule_visit(), context(INTEGRATION, source_system="PAS", source_message_id="M1")
    )
    other = app.execute(
        schedule_visit(patient_ref="pt-0002"),  # another patient: else a double booking
        context(INTEGRATION, source_system="LAB", source_message_id="M1"),
    )
    assert other.id != first.id and not other.replayed


def test_a_feed_message_id_reused_with_another_body_is_refused(app: PatientServices) -> None:
    feed = context(INTEGRATION, source_system="PAS", source_message_id="MSG-1")
    app.execute(schedule_visit(), feed)
    size = log_size(app)
    with pytest.raises(IdempotencyKeyReusedError):
        app.execute(schedule_visit(patient_ref="pt-0002"), feed)
    assert log_size(app) == size


def test_a_feed_message_id_reused_for_another_visit_is_refused(app: PatientServices) -> None:
    first, second = arrived_visit(app), arrived_visit(app)
    feed = context(INTEGRATION, source_system="PAS", source_message_id="MSG-9")
    triage = RecordTriage(acuity_scale="ESI", acuity_level=3)
    app.execute(triage, feed, target=first)
    size = log_size(app)
    with pytest.raises(IdempotencyKeyReusedError):
        app.execute(triage, feed, target=second)
    assert log_size(app) == size
    assert app.get_visit(second).status == ARRIVED


# ---- preconditions, authorisation, validation ---------------------------------------
def test_a_stale_expected_version_is_refused_and_records_nothing(app: PatientServices) -> None:
    visit_id = arrived_visit(app)
    size = log_size(app)
    with pytest.raises(PreconditionFailedError) as raised:
        app.execute(
            RecordTriage(acuity_scale="ESI", acuity_level=3), NURSE, target=visit_id,
            expected_version=1,
        )  # fmt: skip
    assert (raised.value.code, raised.value.expected, raised.value.actual) == (
        "VERSION_CONFLICT",
        1,
        2,
    )
    assert log_size(app) == size


def test_the_current_expected_version_lets_the_command_through(app: PatientServices) -> None:
    visit_id = arrived_visit(app)
    result = app.execute(
        RecordTriage(acuity_scale="ESI", acuity_level=3), NURSE, target=visit_id, expected_version=2
    )
    assert result.version == 3


@pytest.mark.parametrize(
    ("role", "command"),
    [("nurse", schedule_visit()), ("auditor", schedule_visit()), ("admin", schedule_visit()),
     ("clerk", RecordTriage(acuity_scale="ESI", acuity_level=3)),
     ("nurse", AdmitPatient(unit="W1")), ("clinician", CloseVisit())],
    ids=["nurse-schedules", "auditor-schedules", "admin-schedules", "clerk-triages",
         "nurse-admits", "clinician-closes"],
)  # fmt: skip
def test_a_role_that_may_not_issue_the_command_is_refused_and_only_the_denial_is_recorded(
    app: PatientServices, role: str, command: Command
) -> None:
    visit_id = arrived_visit(app)
    size = log_size(app)
    target = None if command.creates else visit_id
    with pytest.raises(NotAuthorisedError) as raised:
        app.execute(command, context(role, correlation_id="req-9"), target=target)
    assert raised.value.code == "NOT_AUTHORISED"
    [denial] = recorded_since(app, size)
    assert isinstance(denial, CommandAttempt.Refused)
    assert (denial.outcome, denial.code, denial.action) == (
        "denied", "NOT_AUTHORISED", type(command).__name__,
    )  # fmt: skip
    assert (denial.actor_id, denial.actor_role, denial.correlation_id) == (
        f"{role}-1", role, "req-9",
    )  # fmt: skip
    assert denial.target_id == (None if target is None else str(visit_id))
    assert app.get_visit(visit_id).version == 2


def test_authorisation_comes_before_any_replay(app: PatientServices) -> None:
    identity = CommandIdentity(scope="shared", key="k", fingerprint="f")
    app.execute(schedule_visit(), CLERK, identity=identity)
    with pytest.raises(NotAuthorisedError):
        app.execute(schedule_visit(), NURSE, identity=identity)


def test_the_integration_role_may_issue_every_visit_command() -> None:
    for command in (ScheduleVisit, RegisterWalkIn, *VISIT_ACTIONS.values()):
        assert INTEGRATION in command.roles, command.__name__


@pytest.mark.parametrize(
    "command",
    [RegisterArrival(occurred_at=NOW + timedelta(minutes=5, seconds=1)),
     RegisterArrival(occurred_at=NOW + timedelta(days=1))],
    ids=["just-over-5-minutes", "a-day-ahead"],
)  # fmt: skip
def test_an_occurred_at_more_than_5_minutes_ahead_is_refused(
    app: PatientServices, command: Command
) -> None:
    visit_id = app.execute(schedule_visit(), CLERK).id
    size = log_size(app)
    with pytest.raises(CommandValidationError) as raised:
        app.execute(command, CLERK, target=visit_id)
    assert (raised.value.code, raised.value.field) == ("VALIDATION", "occurredAt")
    assert log_size(app) == size


def test_an_occurred_at_5_minutes_ahead_is_accepted(app: PatientServices) -> None:
    visit_id = app.execute(schedule_visit(), CLERK).id
    app.execute(RegisterArrival(occurred_at=NOW + timedelta(minutes=5)), CLERK, target=visit_id)
    assert app.get_visit(visit_id).arrival_at == NOW + timedelta(minutes=5)


def test_a_command_without_occurred_at_happened_now_by_the_clock(app: PatientServices) -> None:
    visit_id = app.execute(schedule_visit(occurred_at=None), CLERK).id
    assert app.visit_events(visit_id)[0].occurred_at == NOW


def test_an_occurred_at_without_an_offset_is_refused(app: PatientServices) -> None:
    visit_id = app.execute(schedule_visit(), CLERK).id
    with pytest.raises(CommandValidationError):
        app.execute(
            RegisterArrival(occurred_at=datetime(2026, 3, 2, 11, 0)), CLERK, target=visit_id
        )


def test_a_walk_in_arrival_more_than_5_minutes_ahead_is_refused(app: PatientServices) -> None:
    walk_in = RegisterWalkIn(
        patient_ref="pt-0003", visit_class="EMER", service_unit="ED",
        arrival_at=NOW + timedelta(hours=1),
    )  # fmt: skip
    with pytest.raises(CommandValidationError) as raised:
        app.execute(walk_in, CLERK)
    assert raised.value.field == "arrivalAt"
    assert log_size(app) == 0


def test_a_walk_in_arrival_time_is_the_events_occurred_at(app: PatientServices) -> None:
    arrival = NOW - timedelta(minutes=40)
    walk_in = RegisterWalkIn(
        patient_ref="pt-3", visit_class="EMER", service_unit="ED", arrival_at=arrival
    )
    visit_id = app.execute(walk_in, CLERK).id
    assert app.visit_events(visit_id)[0].occurred_at == arrival
    assert app.get_visit(visit_id).arrival_at == arrival


def test_a_command_on_an_unknown_visit_is_not_found(app: PatientServices) -> None:
    with pytest.raises(NotFoundError) as raised:
        app.execute(RegisterArrival(), CLERK, target=UUID(int=7))
    assert raised.value.code == "NOT_FOUND"


def test_a_command_aimed_at_something_that_is_not_a_visit_is_not_found(
    app: PatientServices,
) -> None:
    identity = CommandIdentity(scope="user:clerk-1", key="k", fingerprint="f")
    app.execute(schedule_visit(), CLERK, identity=identity)
    with pytest.raises(NotFoundError):
        app.execute(RegisterArrival(), CLERK, target=identity.command_id)  # the command record


def test_a_domain_refusal_records_only_the_refused_attempt(app: PatientServices) -> None:
    visit_id = arrived_visit(app)
    size = log_size(app)
    with pytest.raises(InvalidTransitionError) as raised:
        app.execute(CancelVisit(reason="patient asked"), CLERK, target=visit_id)
    assert raised.value.code == "INVALID_TRANSITION"
    [refusal] = recorded_since(app, size)
    assert isinstance(refusal, CommandAttempt.Refused)
    assert (refusal.outcome, refusal.code, refusal.action, refusal.target_type) == (
        "refused", "INVALID_TRANSITION", "CancelVisit", "PatientVisit",
    )  # fmt: skip
    assert (refusal.target_id, refusal.actor_id) == (str(visit_id), "clerk-1")
    # The command's free text is not copied into the attempt.
    assert refusal.reason is None
    assert app.get_visit(visit_id).version == 2


# ---- races --------------------------------------------------------------------------
class RacingServices(PatientServices):
    """Before each of the next saves, another writer saves first (the rivals, in order)."""

    name = PatientServices.name

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rivals: list[Callable[[], object]] = []
        self.attempts = 0
        self._rival_saving = False

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        if not self._rival_saving:
            self.attempts += 1
            if self.rivals:
                self._rival_saving = True
                try:
                    self.rivals.pop(0)()
                finally:
                    self._rival_saving = False
        return super().save(*objs, **kwargs)


@pytest.fixture
def racing(memory_env: dict[str, str]) -> RacingServices:
    return RacingServices(env=memory_env, clock=lambda: NOW)


def _visit_event_types(app: PatientServices, visit_id: UUID) -> list[str]:
    return [type(e).__name__ for e in app.visit_events(visit_id)]


def test_a_lost_race_without_if_match_is_retried_on_the_fresh_state(racing: RacingServices) -> None:
    visit_id = arrived_visit(racing)
    triage = RecordTriage(acuity_scale="ESI", acuity_level=2)
    racing.rivals = [lambda: racing.execute(triage, NURSE, target=visit_id)]
    racing.attempts = 0
    result = racing.execute(StartClinicianContact(clinician_ref="dr-1"), CLINICIAN, target=visit_id)
    assert racing.attempts == 2
    assert result.version == 4
    assert _visit_event_types(racing, visit_id)[2:] == ["PatientTriaged", "ClinicianContactStarted"]
    visit = racing.get_visit(visit_id)
    assert visit.status == WITH_CLINICIAN and visit.triage_at is not None


def test_a_retry_on_fresh_state_applies_the_rules_again(racing: RacingServices) -> None:
    visit_id = arrived_visit(racing)
    racing.rivals = [lambda: racing.execute(AdmitPatient(unit="W1"), CLINICIAN, target=visit_id)]
    with pytest.raises(InvalidTransitionError):
        racing.execute(RecordTriage(acuity_scale="ESI", acuity_level=2), NURSE, target=visit_id)
    assert _visit_event_types(racing, visit_id)[2:] == ["PatientAdmitted"]


def test_a_lost_race_with_if_match_is_a_precondition_failure(racing: RacingServices) -> None:
    visit_id = arrived_visit(racing)
    racing.rivals = [
        lambda: racing.execute(
            RecordTriage(acuity_scale="ESI", acuity_level=2), NURSE, target=visit_id
        )
    ]
    with pytest.raises(PreconditionFailedError) as raised:
        racing.execute(
            StartClinicianContact(clinician_ref="dr-1"), CLINICIAN, target=visit_id,
            expected_version=2,
        )  # fmt: skip
    assert (raised.value.code, raised.value.expected) == ("VERSION_CONFLICT", 2)
    assert _visit_event_types(racing, visit_id)[2:] == ["PatientTriaged"]
    assert racing.get_visit(visit_id).status == TRIAGED


def test_a_command_that_keeps_losing_races_gives_up_with_a_version_conflict(
    racing: RacingServices,
) -> None:
    visit_id = arrived_visit(racing)
    size = log_size(racing)

    def rival(n: int) -> Callable[[], object]:
        changes = VisitDetailChanges(reason_code=f"R{n}")
        return lambda: racing.execute(CorrectVisitDetails(changes=changes), CLERK, target=visit_id)

    racing.rivals = [rival(n) for n in range(Command.max_attempts)]
    racing.attempts = 0
    with pytest.raises(VersionConflictError) as raised:
        racing.execute(RecordTriage(acuity_scale="ESI", acuity_level=2), NURSE, target=visit_id)
    assert raised.value.code == "VERSION_CONFLICT"
    assert racing.attempts == Command.max_attempts
    assert log_size(racing) == size + Command.max_attempts  # the rivals' corrections only
    assert racing.get_visit(visit_id).status == ARRIVED


def test_a_concurrent_duplicate_of_the_same_command_returns_the_first_result(
    racing: RacingServices,
) -> None:
    visit_id = arrived_visit(racing)
    identity = CommandIdentity(scope="user:nurse-1", key="triage", fingerprint="f")
    triage = RecordTriage(acuity_scale="ESI", acuity_level=2)
    first: list[CommandResult] = []
    racing.rivals = [
        lambda: first.append(racing.execute(triage, NURSE, target=visit_id, identity=identity))
    ]
    result = racing.execute(triage, NURSE, target=visit_id, identity=identity)
    assert result == replace(first[0], replayed=True)
    assert _visit_event_types(racing, visit_id).count("PatientTriaged") == 1


# ---- queries ------------------------------------------------------------------------
def test_a_visit_can_be_read_as_of_a_version(app: PatientServices) -> None:
    visit_id = arrived_visit(app)
    app.execute(RecordTriage(acuity_scale="ESI", acuity_level=2), NURSE, target=visit_id)
    assert [app.get_visit(visit_id, version=v).status for v in (1, 2, 3)] == [
        SCHEDULED, ARRIVED, TRIAGED,
    ]  # fmt: skip
    assert app.get_visit(visit_id, version=2).version == 2
    with pytest.raises(NotFoundError):
        app.get_visit(visit_id, version=4)


def test_a_visit_can_be_read_as_it_stood_at_a_time(app: PatientServices) -> None:
    visit_id = arrived_visit(app)
    app.execute(RecordTriage(acuity_scale="ESI", acuity_level=2), NURSE, target=visit_id)
    recorded = [e.recorded_at for e in app.visit_events(visit_id)]
    assert recorded == sorted(recorded) and len(set(recorded)) == 3
    assert app.get_visit(visit_id, as_of=recorded[0]).status == SCHEDULED
    as_of_second = app.get_visit(visit_id, as_of=recorded[1])
    assert (as_of_second.status, as_of_second.version) == (ARRIVED, 2)
    assert app.get_visit(visit_id, as_of=recorded[2]) == app.get_visit(visit_id)
    with pytest.raises(NotFoundError):
        app.get_visit(visit_id, as_of=recorded[0] - timedelta(microseconds=1))


def test_as_of_a_time_is_what_was_recorded_by_then_not_what_occurred(app: PatientServices) -> None:
    """A late entry (occurred long ago, recorded now) is not visible before it was recorded."""
    visit_id = app.execute(schedule_visit(), CLERK).id
    scheduled_recorded = app.visit_events(visit_id)[0].recorded_at
    app.execute(RegisterArrival(occurred_at=NOW - timedelta(days=1)), CLERK, target=visit_id)
    assert app.get_visit(visit_id, as_of=scheduled_recorded).status == SCHEDULED


def test_reading_an_unknown_visit_is_not_found(app: PatientServices) -> None:
    for kwargs in ({}, {"version": 1}, {"as_of": NOW}):
        with pytest.raises(NotFoundError):
            app.get_visit(UUID(int=9), **kwargs)


def test_the_visit_read_back_from_the_store_equals_the_one_built_by_the_commands(
    app: PatientServices,
) -> None:
    visit_id = arrived_visit(app)
    events = app.visit_events(visit_id)
    rebuilt: Any = None
    for event in events:
        rebuilt = event.mutate(rebuilt)
    assert rebuilt == app.get_visit(visit_id)
