"""The vocabulary of the trail's ``action`` values (``GET /api/v1/audit/actions``) is read from
the code: every event class of every aggregate, every command the routes issue, every read a
guard denies and every access action appear, each with the FHIR codes the export uses."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from eventsourcing.domain import Aggregate
from litestar import Litestar

from adapters.fhir.audit_event_actions import aggregate_types
from adapters.http.app import create_app
from adapters.http.audit_vocabulary import ActionTerm, vocabulary
from adapters.settings import Settings
from application.service import PatientServices
from application.shared.access import ACCESS_ACTIONS
from tests.support.histories import EXPECTED_EVENTS


@pytest.fixture
def app(settings: Settings, memory_services: PatientServices) -> Litestar:
    return create_app(settings, memory_services)


@pytest.fixture
def terms(app: Litestar) -> list[ActionTerm]:
    return vocabulary(app)


def guard_names(app: Litestar, prefix: str) -> set[str]:
    return {guard.__name__.removeprefix(prefix)
            for route in app.routes for handler in getattr(route, "route_handlers", ())
            for guard in handler.resolve_guards() if guard.__name__.startswith(prefix)}  # fmt: skip


def by_kind(terms: list[ActionTerm], kind: str) -> dict[str, ActionTerm]:
    return {term.action: term for term in terms if term.kind == kind}


def nested_events(aggregate: type[Aggregate]) -> Iterator[str]:
    for name, value in vars(aggregate).items():
        if inspect.isclass(value) and issubclass(value, Aggregate.Event):
            yield name


def test_every_event_class_of_every_aggregate_appears(terms: list[ActionTerm]) -> None:
    events = {(t.aggregate_type, t.action) for t in terms if t.kind in ("event", "bookkeeping")}
    # Independently of how the vocabulary finds them: the events the history walks record.
    expected = {(aggregate, name) for aggregate, names in EXPECTED_EVENTS.items()
                for name in names if aggregate != "CommandAttempt"}  # fmt: skip
    assert expected <= events
    assert ("TrailExport", "Exported") in {(t.aggregate_type, t.action) for t in terms}
    # And no class nested in an aggregate is missed: each is listed or is a base of others.
    for aggregate_type, aggregate in aggregate_types().items():
        if aggregate_type in ("CommandAttempt", "AccessRecord"):
            continue  # their entries name the command tried, or what was read
        listed = {action for kind, action in events | {("TrailExport", "Exported")}
                  if kind == aggregate_type}  # fmt: skip
        for name in nested_events(aggregate):
            event = getattr(aggregate, name)
            bases = name in ("Event", "Created") or any(
                issubclass(getattr(aggregate, other), event) and other != name
                for other in nested_events(aggregate)
            )
            assert name in listed or bases, (aggregate_type, name)


def test_abstract_event_bases_are_not_listed(terms: list[ActionTerm]) -> None:
    events = {t.action for t in terms if t.kind == "event"}
    assert not events & {"Event", "Created", "Compensation", "Posting", "BudgetChanged"}


def test_every_command_a_route_issues_appears_as_attempted(
    app: Litestar, terms: list[ActionTerm]
) -> None:
    commands = by_kind(terms, "command")
    issued = guard_names(app, "may_issue_")
    assert issued and issued <= commands.keys()
    assert {f"{name} with X-Source-System" for name in issued} <= commands.keys()
    assert commands["DischargePatient"].fhir_actions == ["U"]
    assert commands["ScheduleVisit"].fhir_actions == ["C"]
    assert commands["ApplyVisitMessage"].fhir_actions == ["E"]  # a message of several steps
    assert commands["DischargePatient"].types["denied"].code == "110113"
    assert commands["DischargePatient"].types["feed"].code == "110110"
    assert "feed" not in commands["ApproveBudget"].types  # no feed issues budget commands


def test_every_read_a_guard_denies_and_every_access_appears(
    app: Litestar, terms: list[ActionTerm]
) -> None:
    denied = by_kind(terms, "denied read")
    assert {f"read {what}" for what in guard_names(app, "may_read_")} == denied.keys()
    assert {"read visits", "read audit trail", "read flow board"} <= denied.keys()
    assert denied["read visits"].fhir_actions == ["E", "R"]  # a search, or one visit by id
    assert denied["read flow board"].fhir_actions == ["E"]
    accesses = by_kind(terms, "access")
    assert set(ACCESS_ACTIONS) == accesses.keys()
    assert accesses["read visit"].interactions == ["read"]
    assert accesses["search visits"].interactions == ["search-type"]
    assert all(term.entry_kind == "access" for term in (*denied.values(), *accesses.values()))
