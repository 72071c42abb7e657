"""The trail's entries as FHIR AuditEvents, R4 and R5, shaped after IHE BALP: one entry of
each kind, built directly, each written in both versions and validated with ``fhir.resources``
(the R4B models for R4, whose AuditEvent is R4's, and the R5 models)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

import pytest
from fhir.resources.auditevent import AuditEvent as AuditEventR5
from fhir.resources.R4B.auditevent import AuditEvent as AuditEventR4
from pydantic import ValidationError

from adapters.fhir.audit_event_r4 import audit_event_r4
from adapters.fhir.audit_event_r5 import audit_event_r5
from projections.audit.trail import AuditEntry

AT = datetime(2026, 11, 27, 8, 15, tzinfo=timezone.utc)
VISIT = "6f1c8a52-3a55-4a8e-9a59-0d0f1f0b5a11"
OTHER_VISIT = "7a2d9b63-4b66-4b9f-8b6a-1e1f2f1c6b22"
REASON = "Mrs Example asked to be seen by Dr Who"

DCM = "http://dicom.nema.org/resources/ontology/DCM"
REST = "http://terminology.hl7.org/CodeSystem/audit-event-type"
INTERACTION = "http://hl7.org/fhir/restful-interaction"
PURPOSE = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"


def entry(**fields: Any) -> AuditEntry:
    base: dict[str, Any] = {
        "position": 41, "event_id": None, "aggregate_type": "PatientVisit",
        "aggregate_id": VISIT, "version": 2, "action": "PatientArrived", "outcome": "recorded",
        "patient_ref": "P-1", "actor_id": "alice", "actor_role": "clerk", "on_behalf_of": None,
        "occurred_at": AT, "recorded_at": AT, "reason": REASON, "source_system": None,
        "source_message_id": None, "command_id": None, "correlation_id": "req-1",
        "corrects_event_id": None,
    }  # fmt: skip
    return AuditEntry(**{**base, **fields})


CREATED = entry(action="VisitScheduled", version=1)
ARRIVED = entry(on_behalf_of="dr-b")
FED = entry(action="PatientAdmitted", actor_id="hl7:EPIC", actor_role="integration",
            source_system="EPIC/UCLH", source_message_id="MSG-7")  # fmt: skip
COMPLAINT = entry(aggregate_type="ComplaintCase", action="ComplaintReceived", version=1)
BUDGET = entry(aggregate_type="BudgetLine", action="BudgetApproved", patient_ref=None)
REFUSED_DISCHARGE = entry(
    aggregate_type="CommandAttempt", aggregate_id=OTHER_VISIT, version=1,
    action="DischargePatient", outcome="refused", code="INVALID_TRANSITION",
    target_type="PatientVisit", target_id=VISIT,
)  # fmt: skip
REFUSED_BOOKING = entry(
    aggregate_type="CommandAttempt", aggregate_id=OTHER_VISIT, version=1,
    action="ScheduleVisit", outcome="refused", code="ALREADY_EXISTS", patient_ref=None,
)  # fmt: skip
DENIED_CLOSE = entry(
    aggregate_type="CommandAttempt", aggregate_id=OTHER_VISIT, version=1, action="CloseVisit",
    outcome="denied", code="NOT_AUTHORISED", target_type="PatientVisit", target_id=VISIT,
)  # fmt: skip
DENIED_READ = entry(
    aggregate_type="CommandAttempt", aggregate_id=OTHER_VISIT, version=1, action="read visits",
    outcome="denied", code="NOT_AUTHORISED", target_type="PatientVisit", target_id=VISIT,
    kind="access",
)  # fmt: skip
DENIED_BOARD = entry(
    aggregate_type="CommandAttempt", aggregate_id=OTHER_VISIT, version=1, patient_ref=None,
    action="read flow board", outcome="denied", code="NOT_AUTHORISED", kind="access",
)  # fmt: skip
READ_VISIT = entry(
    aggregate_type="AccessRecord", aggregate_id=OTHER_VISIT, version=1, action="read visit",
    outcome="success", kind="access", purpose_of_use="TREAT", patient_refs=["P-1"],
    record_ids=[VISIT], result_count=1, route="/api/v1/visits/{id}", query={}, reason=None,
)  # fmt: skip
SEARCH = entry(
    aggregate_type="AccessRecord", aggregate_id=OTHER_VISIT, version=1, action="search visits",
    outcome="success", kind="access", purpose_of_use="HOPERAT", patient_ref=None,
    patient_refs=["P-1", "P-2"], record_ids=[VISIT, OTHER_VISIT], result_count=2,
    route="/api/v1/visits", query={"visitNumber": "V-1"}, reason=None,
)  # fmt: skip
TRUNCATED_BOARD = entry(
    aggregate_type="AccessRecord", aggregate_id=OTHER_VISIT, version=1, action="read board",
    outcome="success", kind="access", purpose_of_use="TREAT", patient_ref=None,
    patient_refs=[], record_ids=[], result_count=740, route="/api/v1/flow/board",
    query={"unit": "ED"}, reason=None,
)  # fmt: skip
EXPORT = entry(
    aggregate_type="TrailExport", aggregate_id=OTHER_VISIT, version=1, action="Exported",
    actor_id="audrey", actor_role="auditor", kind="access", patient_refs=["P-1"],
    format="fhir-r4-ndjson", query={"actor": "alice", "from": "2026-11-01T00:00:00Z"},
    reason=None,
)  # fmt: skip
BOOKKEEPING = entry(aggregate_type="CommandRecord", action="Accepted", version=1, patient_ref=None)
EVERY_KIND = [
    CREATED, ARRIVED, FED, COMPLAINT, BUDGET, REFUSED_DISCHARGE, REFUSED_BOOKING, DENIED_CLOSE,
    DENIED_READ, DENIED_BOARD, READ_VISIT, SEARCH, TRUNCATED_BOARD, EXPORT, BOOKKEEPING,
]  # fmt: skip
WRITERS = [("r4", audit_event_r4, AuditEventR4), ("r5", audit_event_r5, AuditEventR5)]


def r4(e: AuditEntry) -> dict[str, Any]:
    return audit_event_r4(e)


def r5(e: AuditEntry) -> dict[str, Any]:
    return audit_event_r5(e)


def codes_of(concepts: list[dict[str, Any]] | dict[str, Any]) -> list[tuple[str, str]]:
    items = concepts if isinstance(concepts, list) else [concepts]
    found = []
    for item in items:
        for coding in item.get("coding", [item]):
            found.append((coding["system"], coding["code"]))
    return found


def agent_types(event: dict[str, Any]) -> list[tuple[str, str]]:
    return [codes_of(agent["type"])[0] for agent in event["agent"]]


def entities_with_role(event: dict[str, Any], version: str, code: str) -> list[dict[str, Any]]:
    def role(entity: dict[str, Any]) -> str | None:
        shown = entity.get("role")
        if shown is None:
            return None
        return str(shown["code"] if version == "r4" else shown["coding"][0]["code"])

    return [entity for entity in event["entity"] if role(entity) == code]


# ---- every kind, both versions ------------------------------------------------------------
@pytest.mark.parametrize(("version", "write", "model"), WRITERS)
@pytest.mark.parametrize("shown", EVERY_KIND, ids=lambda e: f"{e.aggregate_type}-{e.action}")
def test_every_kind_of_entry_validates_with_typed_agents(
    version: str, write: Any, model: Any, shown: AuditEntry
) -> None:
    event = write(shown)

    model.model_validate(event)
    assert all(agent.get("type") for agent in event["agent"])
    assert event["agent"][0]["requestor"] is True
    assert event["agent"][-1]["who"]["display"] == "patient-services"
    text = json.dumps(event)
    assert "urn:patient-services:None" not in text
    assert "onBehalfOf" not in text
    assert REASON not in text  # free text never leaves the trail in an AuditEvent
    assert event["id"] == str(shown.position) == write(shown)["id"]


def test_the_validators_would_catch_what_was_wrong_before() -> None:
    broken = r5(ARRIVED)
    broken["agent"][0]["onBehalfOf"] = {"identifier": {"value": "dr-b"}}
    with pytest.raises(ValidationError):
        AuditEventR5.model_validate(broken)
    with pytest.raises(ValidationError):  # an R5 resource is not an R4 one
        AuditEventR4.model_validate(r5(ARRIVED))


# ---- type, subtype and action -------------------------------------------------------------
@pytest.mark.parametrize(
    ("shown", "action", "kind", "interaction"),
    [
        (CREATED, "C", (REST, "rest"), "create"),
        (ARRIVED, "U", (REST, "rest"), "update"),
        (REFUSED_DISCHARGE, "U", (REST, "rest"), "update"),
        (REFUSED_BOOKING, "C", (REST, "rest"), "create"),
        (DENIED_CLOSE, "U", (DCM, "110113"), "update"),
        (DENIED_READ, "R", (DCM, "110113"), "read"),
        (DENIED_BOARD, "E", (DCM, "110113"), "search-type"),
        (READ_VISIT, "R", (REST, "rest"), "read"),
        (SEARCH, "E", (REST, "rest"), "search-type"),
        (EXPORT, "R", (DCM, "110106"), None),
        (FED, "U", (DCM, "110110"), None),
    ],
    ids=lambda value: value.action if isinstance(value, AuditEntry) else None,
)
def test_the_action_is_what_was_attempted_and_the_type_says_what_kind_of_event(
    shown: AuditEntry, action: str, kind: tuple[str, str], interaction: str | None
) -> None:
    four, five = r4(shown), r5(shown)

    assert four["action"] == five["action"] == action
    assert codes_of(four["type"]) == codes_of(five["category"]) == [kind]
    ours = ("urn:patient-services:action", shown.action)
    expected = [*([(INTERACTION, interaction)] if interaction else []), ours]
    assert codes_of(four["subtype"]) == codes_of(five["code"]) == expected


def test_a_failure_is_in_the_outcome_with_its_code() -> None:
    assert (r4(REFUSED_DISCHARGE)["outcome"], r4(REFUSED_DISCHARGE)["outcomeDesc"]) == (
        "4", "INVALID_TRANSITION")  # fmt: skip
    assert (r4(DENIED_CLOSE)["outcome"], r4(DENIED_CLOSE)["outcomeDesc"]) == ("8", "NOT_AUTHORISED")
    outcome = r5(DENIED_CLOSE)["outcome"]
    assert outcome["code"]["code"] == "8"
    assert outcome["detail"][0]["coding"][0]["code"] == "NOT_AUTHORISED"
    assert r4(ARRIVED)["outcome"] == r5(ARRIVED)["outcome"]["code"]["code"] == "0"
    assert "outcomeDesc" not in r4(ARRIVED) and "detail" not in r5(ARRIVED)["outcome"]


# ---- agents -------------------------------------------------------------------------------
def test_the_user_acting_for_someone_and_the_server_are_agents_with_their_types() -> None:
    for event in (r4(ARRIVED), r5(ARRIVED)):
        assert agent_types(event) == [
            ("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "AUT"),
            ("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "DELEGATOR"),
            (DCM, "110152"),
        ]
        user, delegator, _ = event["agent"]
        assert user["who"]["identifier"]["value"] == "alice"
        assert [role["coding"][0]["code"] for role in user["role"]] == ["clerk"]
        assert (delegator["who"]["identifier"]["value"], delegator["requestor"]) == ("dr-b", False)


def test_a_feed_message_has_its_source_system_as_the_client_agent() -> None:
    for event in (r4(FED), r5(FED)):
        assert (DCM, "110153") in agent_types(event)
        [client] = [a for a in event["agent"] if codes_of(a["type"]) == [(DCM, "110153")]]
        assert client["who"]["identifier"]["value"] == "EPIC/UCLH"
        details = json.dumps(event["entity"])
        assert "MSG-7" in details


def test_a_reader_is_the_information_recipient() -> None:
    for shown in (READ_VISIT, SEARCH, EXPORT, DENIED_READ):
        assert agent_types(r4(shown))[0][1] == agent_types(r5(shown))[0][1] == "IRCP"


# ---- entities -----------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["r4", "r5"])
def test_the_patient_and_the_record_are_entities_with_their_roles(version: str) -> None:
    event = (r4 if version == "r4" else r5)(ARRIVED)

    [patient] = entities_with_role(event, version, "1")
    assert patient["what"]["identifier"] == {
        "system": "urn:patient-services:patient-ref", "value": "P-1"}  # fmt: skip
    [record] = entities_with_role(event, version, "4")
    assert record["what"] == {"reference": f"Encounter/{VISIT}"}
    if version == "r4":
        assert patient["type"]["code"] == "1" and record["type"]["code"] == "2"
        assert patient["role"]["system"] == OBJECT_ROLE
    else:
        assert event["patient"]["identifier"]["value"] == "P-1"
        assert event["encounter"] == {"reference": f"Encounter/{VISIT}"}


def test_a_complaint_or_budget_line_is_named_by_its_id_and_type() -> None:
    event = r5(COMPLAINT)
    [record] = entities_with_role(event, "r5", "4")
    assert record["what"] == {"identifier": {"system": "urn:ietf:rfc:3986",
                                             "value": f"urn:uuid:{VISIT}"}}  # fmt: skip
    assert {"valueString": "ComplaintCase"}.items() <= record["detail"][0].items()
    assert "encounter" not in event
    assert not entities_with_role(r4(BUDGET), "r4", "1")  # no patient on a budget line


@pytest.mark.parametrize("version", ["r4", "r5"])
def test_a_read_of_several_patients_names_each(version: str) -> None:
    event = (r4 if version == "r4" else r5)(SEARCH)

    patients = entities_with_role(event, version, "1")
    assert [p["what"]["identifier"]["value"] for p in patients] == ["P-1", "P-2"]
    records = entities_with_role(event, version, "4")
    assert [r["what"]["reference"] for r in records] == [f"Encounter/{VISIT}",
                                                         f"Encounter/{OTHER_VISIT}"]  # fmt: skip
    assert "patient" not in event  # R5's single patient: there are two
    [query] = entities_with_role(event, version, "24")
    assert parse_qs(base64.b64decode(query["query"]).decode()) == {"visitNumber": ["V-1"]}


@pytest.mark.parametrize("version", ["r4", "r5"])
def test_a_truncated_read_has_its_query_and_the_count(version: str) -> None:
    event = (r4 if version == "r4" else r5)(TRUNCATED_BOARD)

    assert not entities_with_role(event, version, "1")
    [query] = entities_with_role(event, version, "24")
    assert base64.b64decode(query["query"]).decode() == "unit=ED"
    [count] = [d for d in query["detail"] if "resultCount" in json.dumps(d["type"])]
    assert count.get("valueInteger", count.get("valueString")) in (740, "740")


def test_an_export_names_its_format_filters_and_patient() -> None:
    event = r4(EXPORT)
    [query] = entities_with_role(event, "r4", "24")
    assert parse_qs(base64.b64decode(query["query"]).decode()) == {
        "patientRef": ["P-1"], "actor": ["alice"], "from": ["2026-11-01T00:00:00Z"]}  # fmt: skip
    assert {"type": "format", "valueString": "fhir-r4-ndjson"} in query["detail"]
    [patient] = entities_with_role(event, "r4", "1")
    assert patient["what"]["identifier"]["value"] == "P-1"


# ---- purpose of use -----------------------------------------------------------------------
def test_the_purpose_of_use_is_where_each_version_puts_it_and_never_free_text() -> None:
    assert codes_of(r4(SEARCH)["purposeOfEvent"]) == [(PURPOSE, "HOPERAT")]
    assert codes_of(r5(SEARCH)["authorization"]) == [(PURPOSE, "HOPERAT")]
    # A command's reason is free text: it is not a purpose of use.
    assert "purposeOfEvent" not in r4(ARRIVED) and "authorization" not in r5(ARRIVED)


# ---- odd values ---------------------------------------------------------------------------
ODD = [" lead", "two  spaces", "tab\there", "\ufffd", " ", "", "x" * 300, "new\nline"]


@pytest.mark.parametrize(("version", "write", "model"), WRITERS)
@pytest.mark.parametrize("value", ODD)
def test_odd_values_still_give_valid_resources(
    version: str, write: Any, model: Any, value: str
) -> None:
    # A token's roles and the identifier headers allow spaces; a record written by hand may
    # hold anything. Codes are tidied (whitespace), identifiers kept as they are.
    fields = ("actor_role", "actor_id", "on_behalf_of", "source_system", "correlation_id",
              "patient_ref", "purpose_of_use", "source_message_id", "action", "code")  # fmt: skip
    for field in fields:
        for shown in (ARRIVED, REFUSED_DISCHARGE, SEARCH):
            model.model_validate(write(entry(**{**_fields(shown), field: value})))
    model.model_validate(write(entry(**{**_fields(SEARCH), "patient_refs": [value, "P-1"],
                                        "record_ids": [value]})))  # fmt: skip


def _fields(shown: AuditEntry) -> dict[str, Any]:
    return {name: getattr(shown, name) for name in shown.__struct_fields__}
