"""The FHIR resources besides Encounter and Appointment (CapabilityStatement, OperationOutcome,
searchset Bundle) validate with fhir.resources in R4 (R4B models) and R5; and the Encounter
search's parameters mean what the CapabilityStatement says."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any
from uuid import uuid4

import pytest
from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.capabilitystatement import CapabilityStatement as CapabilityR5
from fhir.resources.operationoutcome import OperationOutcome as OutcomeR5
from fhir.resources.R4B.bundle import Bundle as BundleR4B
from fhir.resources.R4B.capabilitystatement import CapabilityStatement as CapabilityR4B
from fhir.resources.R4B.operationoutcome import OperationOutcome as OutcomeR4B

from adapters.fhir import common
from adapters.fhir.bundle import searchset
from adapters.fhir.capability import capability_statement
from adapters.fhir.encounter_r4 import encounter_r4
from adapters.fhir.encounter_r5 import encounter_r5
from adapters.fhir.outcome import ISSUE_CODES, operation_outcome
from adapters.fhir.search import NOTHING, IdentifierQuery, identifier_query, states_of
from adapters.fhir.statuses import ENCOUNTER_R4, ENCOUNTER_R5
from domain.visits import vocabulary as v
from tests.support.gwt import given, story_to

#: http://hl7.org/fhir/issue-type (the same in R4 and R5), the codes the routes may send.
ISSUE_TYPES = {"invalid", "login", "forbidden", "not-found", "not-supported", "too-long",
               "exception", "transient", "too-costly"}  # fmt: skip


def parsed(model: Any, resource: dict[str, Any]) -> Any:
    return model.model_validate(json.loads(json.dumps(resource)))


@pytest.mark.parametrize(
    ("fhir_version", "model"), [("4.0.1", CapabilityR4B), ("5.0.0", CapabilityR5)]
)
def test_the_capability_statement_validates_and_names_what_is_served(
    fhir_version: Any, model: Any
) -> None:
    statement = capability_statement(
        fhir_version, base_url="https://example.org/fhir/r4", software_version="1.2.3"
    )

    shown = parsed(model, statement)

    assert shown.fhirVersion == fhir_version
    assert shown.format == ["json"] and shown.kind == "instance"
    [rest] = shown.rest
    assert rest.mode == "server" and "Bearer" in rest.security.description
    resources = {r.type: r for r in rest.resource}
    assert set(resources) == {"Encounter", "Appointment", "Location", "Schedule", "Slot"}
    assert {p.name for p in resources["Slot"].searchParam} == {"schedule", "start", "status"}
    assert resources["Slot"].versioning == "no-version"
    encounter = resources["Encounter"]
    assert {i.code for i in encounter.interaction} == {"read", "vread", "search-type"}
    assert {(p.name, p.type) for p in encounter.searchParam} == {
        ("identifier", "token"), ("patient", "reference"), ("status", "token"),
    }  # fmt: skip
    assert {i.code for i in resources["Appointment"].interaction} == {"read", "vread"}
    assert statement["implementation"]["url"] == "https://example.org/fhir/r4"


@pytest.mark.parametrize("model", [OutcomeR4B, OutcomeR5])
def test_an_operation_outcome_validates_with_one_issue_per_text(model: Any) -> None:
    outcome = operation_outcome("invalid", ["_count: Expected `int` >= 1", "status: bad"])

    shown = parsed(model, outcome)

    assert [(i.severity, i.code) for i in shown.issue] == [("error", "invalid")] * 2
    assert shown.issue[1].diagnostics == "status: bad"
    # No text at all: still one issue, without diagnostics (never an empty string).
    assert operation_outcome("exception", [])["issue"] == [
        {"severity": "error", "code": "exception"}
    ]


def test_the_issue_codes_are_fhir_issue_types() -> None:
    assert set(ISSUE_CODES.values()) <= ISSUE_TYPES


@pytest.mark.parametrize(
    ("model", "encounter"),
    [(BundleR4B, lambda visit, events: encounter_r4(visit, events)),
     (BundleR5, lambda visit, events: encounter_r5(visit))],
)  # fmt: skip
def test_a_searchset_validates_with_full_encounters(model: Any, encounter: Any) -> None:
    story = story_to(v.ADMITTED)
    visit = given(story.events)
    base = "https://example.org/fhir/r5"

    bundle = searchset(
        [encounter(visit, story.events)], base_url=base, self_url=f"{base}/Encounter?patient=x",
        next_url=f"{base}/Encounter?patient=x&_cursor={visit.id}",
        at=datetime(2026, 3, 2, tzinfo=timezone.utc),
    )  # fmt: skip

    shown = parsed(model, bundle)
    assert shown.type == "searchset"
    [entry] = shown.entry
    assert entry.fullUrl == f"{base}/Encounter/{visit.id}"
    assert entry.search.mode == "match"
    assert [link.relation for link in shown.link] == ["self", "next"]


def test_an_empty_searchset_has_no_entry_array() -> None:
    bundle = searchset([], base_url="b", self_url="b/Encounter?patient=x", next_url=None,
                       at=datetime(2026, 3, 2, tzinfo=timezone.utc))  # fmt: skip

    assert "entry" not in bundle  # FHIR JSON has no empty arrays
    assert parsed(BundleR5, bundle).entry is None


# ---- the search's parameters --------------------------------------------------------------
def test_visit_number_systems_carry_the_authority_percent_encoded_and_back() -> None:
    for authority in ("HOSP", "HOSP A", "1.2.840:x/y", None):
        system = common.visit_number_system(authority)
        assert " " not in system
        assert common.authority_of_system(system) == (True, authority)
    assert common.authority_of_system("urn:other") == (False, None)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("V-1", IdentifierQuery(visit_number="V-1")),
        ("urn:patient-services:visit-number|V-1",
         IdentifierQuery(visit_number="V-1", authority=None, authority_given=True)),
        ("urn:patient-services:visit-number:HOSP%20A|V-1",
         IdentifierQuery(visit_number="V-1", authority="HOSP A", authority_given=True)),
        ("http://other.example/ids|V-1", NOTHING),
        ("|V-1", NOTHING),
        ("urn:ietf:rfc:3986|not-a-urn", NOTHING),
        ("urn:ietf:rfc:3986|urn:uuid:not-a-uuid", NOTHING),
    ],
)  # fmt: skip
def test_an_identifier_token_names_a_visit_number_or_nothing(
    token: str, expected: IdentifierQuery
) -> None:
    assert identifier_query(token) == expected


def test_an_identifier_token_may_name_our_id() -> None:
    visit_id = uuid4()
    for token in (f"urn:ietf:rfc:3986|urn:uuid:{visit_id}", f"urn:uuid:{visit_id}"):
        assert identifier_query(token) == IdentifierQuery(visit_id=visit_id)


def test_a_fhir_status_stands_for_every_state_it_shows() -> None:
    assert states_of("in-progress", ENCOUNTER_R4) == {v.WITH_CLINICIAN, v.ADMITTED}
    assert states_of("in-progress", ENCOUNTER_R5) == {
        v.ARRIVED, v.TRIAGED, v.WITH_CLINICIAN, v.ADMITTED,
    }  # fmt: skip
    assert states_of("finished,cancelled", ENCOUNTER_R4) == {
        v.DISCHARGED, v.CLOSED, v.LEFT_WITHOUT_BEING_SEEN, v.CANCELLED, v.NO_SHOW,
    }  # fmt: skip
    assert states_of("unknown", ENCOUNTER_R5) == frozenset()
    # Every state is found by the code it is shown with, in both versions.
    for mapping in (ENCOUNTER_R4, ENCOUNTER_R5):
        for state, code in mapping.items():
            assert state in states_of(code, mapping)
