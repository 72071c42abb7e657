"""The Complaints resource over HTTP, on a real SQLite store with the complaints worker running:
each status code of the contract, due dates computed from the case's policy, the whole
lifecycle under both policies, and the worklist, SLA and themes read models (which never
show the complaint's narrative)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient

from adapters.readmodels.complaints.store import ComplaintsReadModel
from application.service import PatientServices
from application.shared.idempotency import KEYED, CommandIdentity
from tests.support.api import Headers, iso, now, only_attempt_since, position, visit_body

COMPLAINTS = "/api/v1/complaints"
LONDON = ZoneInfo("Europe/London")
NHS, CMS = "nhs-england-2009", "us-cms"
#: A narrative distinctive enough that finding it anywhere but the case itself is a leak.
NARRATIVE = "Narrative-7f3a9c: the porter on ward 4 shouted at my mother"
CHECKLISTS = {
    NHS: {"howConsidered": "reviewed notes", "conclusions": "partly upheld",
          "remedialAction": "training", "confirmation": True,
          "ombudsmanRights": "PHSO details enclosed", "signedBy": "Chief Executive"},
    CMS: {"contactPerson": "Patient Relations", "stepsTaken": "reviewed notes",
          "results": "partly upheld", "completionDate": "2026-11-27"},
}  # fmt: skip
#: A Friday before the May Day bank holiday (Monday 5 May 2025), 15:00 in London (BST).
FRIDAY_BEFORE_BANK_HOLIDAY = "2025-05-02T14:00:00Z"


pytestmark = pytest.mark.read_models([ComplaintsReadModel])


@pytest.fixture
def approver(auth: Callable[..., Headers]) -> Headers:
    """Another manager: the drafter of a response may not approve it."""
    return auth("manager", sub="ann")


def local_noon(days_ago: int) -> str:
    """Noon in London ``days_ago`` local days before today: always in the past, and on a
    known local day whatever the hour or summer time."""
    day = now().astimezone(LONDON).date() - timedelta(days=days_ago)
    return iso(datetime.combine(day, time(12), tzinfo=LONDON).astimezone(now().tzinfo))


def complaint(**overrides: Any) -> dict[str, Any]:
    body = {"channel": "written", "receivedAt": iso(now() - timedelta(minutes=5)),
            "complainantRef": "C-1", "categories": ["communication"], "summary": NARRATIVE,
            "policy": NHS, "serviceUnit": "OPD-1"}  # fmt: skip
    body.update(overrides)
    return body


def register(client: TestClient[Any], headers: Headers, **overrides: Any) -> str:
    reply = client.post(COMPLAINTS, json=complaint(**overrides), headers=headers)
    assert reply.status_code == 201, reply.text
    assert reply.headers["Location"] == f"{COMPLAINTS}/{reply.json()['id']}"
    assert reply.headers["ETag"] == '"1"'
    return str(reply.json()["id"])


def act(client: TestClient[Any], headers: Headers, case: str, action: str, **body: Any) -> Any:
    return client.post(f"{COMPLAINTS}/{case}/{action}", json=body, headers=headers)


def ok(client: TestClient[Any], headers: Headers, case: str, action: str, **body: Any) -> int:
    """Run an action that must succeed; its log position."""
    reply = act(client, headers, case, action, **body)
    assert reply.status_code == 200, (action, reply.text)
    assert reply.headers["ETag"] == f'"{reply.json()["version"]}"'
    return int(reply.json()["position"])


def state(client: TestClient[Any], headers: Headers, case: str) -> dict[str, Any]:
    reply = client.get(f"{COMPLAINTS}/{case}", headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.headers["ETag"] == f'"{reply.json()["version"]}"'
    return dict(reply.json())


def drafted(client: TestClient[Any], manager: Headers, case: str) -> int:
    """Take a registered case to ``response_drafted`` (drafted by ``manager``)."""
    ok(client, manager, case, "acknowledge", method="letter")
    ok(client, manager, case, "assign", investigatorRef="inv-1")
    ok(client, manager, case, "start-investigation")
    ok(client, manager, case, "findings", stepsTaken="reviewed notes",
       conclusions="staff attitude fell short", upheld="partly")  # fmt: skip
    return ok(client, manager, case, "draft-response", documentRef="DOC-1")


def refused(
    client: TestClient[Any], services: PatientServices, headers: Headers, case: str,
    action: str, code: str, **body: Any,
) -> None:  # fmt: skip
    """The action is a 409 ``code``; only the refused attempt is recorded."""
    before = position(services)
    reply = act(client, headers, case, action, **body)
    assert (reply.status_code, reply.json()["code"]) == (409, code), reply.text
    attempt = only_attempt_since(services, before)
    assert (attempt.outcome, attempt.code, attempt.target_id) == ("refused", code, case)


# ---- 201, 200 and the state ------------------------------------------------------------------
def test_a_registered_case_shows_due_dates_computed_from_its_policy(
    read_client: TestClient[Any], manager: Headers
) -> None:
    nhs = register(read_client, manager, receivedAt=FRIDAY_BEFORE_BANK_HOLIDAY, policy=NHS)
    cms = register(read_client, manager, receivedAt=FRIDAY_BEFORE_BANK_HOLIDAY, policy=CMS)

    body = state(read_client, manager, nhs)

    contract = {"id", "version", "status", "kind", "policy", "receivedAt", "riskGrade",
                "acknowledgementDueAt", "acknowledgedAt", "responseDueAt", "respondedAt",
                "investigatorRef", "upheld", "breaches"}  # fmt: skip
    assert contract <= body.keys()
    assert [body[k] for k in ("id", "version", "status", "policy")] == [nhs, 1, "received", NHS]
    assert body["receivedAt"] == FRIDAY_BEFORE_BANK_HOLIDAY
    assert body["summary"] == NARRATIVE  # the case is the one place the narrative is shown
    # 3 working days: not Sat, Sun or the bank holiday Monday → Tue, Wed, Thu; end of Thursday.
    assert body["acknowledgementDueAt"] == "2025-05-08T23:00:00Z"
    # 6 months → the end of 2 November, in GMT by then.
    assert body["responseDueAt"] == "2025-11-03T00:00:00Z"
    assert [body[k] for k in ("kind", "riskGrade", "acknowledgedAt", "respondedAt",
                              "investigatorRef", "upheld")] == [None] * 6  # fmt: skip
    assert body["breaches"] == []
    cms_body = state(read_client, manager, cms)
    assert cms_body["acknowledgementDueAt"] is None  # CMS sets no acknowledgement deadline
    assert cms_body["responseDueAt"] == "2025-05-09T23:00:00Z"  # 7 calendar days, end of day
    # Beside each exclusive due instant, the last local day allowed (Europe/London).
    assert (body["acknowledgementDueOn"], body["responseDueOn"]) == ("2025-05-08", "2025-11-02")
    assert (cms_body["acknowledgementDueOn"], cms_body["responseDueOn"]) == (None, "2025-05-09")
    assert body["runningDeadlines"] == [
        {"deadline": "acknowledgement", "dueAt": "2025-05-08T23:00:00Z", "dueOn": "2025-05-08"},
        {"deadline": "response", "dueAt": "2025-11-03T00:00:00Z", "dueOn": "2025-11-02"},
    ]


@pytest.mark.parametrize("policy", [NHS, CMS])
def test_a_case_walks_its_whole_lifecycle_to_closed(
    read_client: TestClient[Any], manager: Headers, approver: Headers, policy: str
) -> None:
    case = register(read_client, manager, policy=policy)
    drafted(read_client, manager, case)
    ok(read_client, approver, case, "approve-response")
    ok(read_client, manager, case, "send-response", channel="letter", checklist=CHECKLISTS[policy])
    ok(read_client, manager, case, "close", resolution="apology given")

    body = state(read_client, manager, case)

    assert (body["status"], body["version"], body["upheld"]) == ("closed", 9, "partly")
    assert body["investigatorRef"] == "inv-1"
    assert body["acknowledgedAt"] is not None and body["respondedAt"] is not None
    assert body["closedAt"] is not None and body["runningDeadlines"] == []


# ---- 400 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"policy": "nhs"}, "policy"),
        ({"channel": "fax"}, "channel"),
        ({"receivedAt": iso(now() + timedelta(hours=1))}, "receivedAt"),
        ({"receivedAt": "2026-03-02T09:00:00"}, "receivedAt"),  # no offset
        ({"categories": []}, "categories"),
    ],
    ids=["unknown-field", "bad-policy", "bad-channel", "future", "no-offset", "no-category"],
)
def test_an_invalid_registration_is_400_naming_the_field_and_records_nothing(
    read_client: TestClient[Any], manager: Headers, stored_services: PatientServices,
    overrides: dict[str, Any], field: str,
) -> None:  # fmt: skip
    reply = read_client.post(COMPLAINTS, json=complaint(**overrides), headers=manager)

    assert reply.status_code == 400, reply.text
    assert reply.json()["code"] == "VALIDATION"
    assert reply.json()["errors"][0]["field"] == field
    assert position(stored_services) == 0


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("send-response", {"channel": "letter", "checklist": {"howConsidered": 5}},
         "checklist.howConsidered"),
        ("send-response", {"channel": "letter", "checklist": {"mood": True}}, "checklist.mood"),
        ("acknowledge", {"method": "letter", "occurredAt": iso(now() + timedelta(hours=1))},
         "occurredAt"),
        ("grade-risk", {"consequence": 6, "likelihood": 1}, "consequence"),
        ("findings", {"stepsTaken": "x", "conclusions": "y", "upheld": "maybe"}, "upheld"),
    ],
    ids=["checklist-type", "checklist-unknown", "future", "risk-scale", "bad-upheld"],
)  # fmt: skip
def test_an_invalid_action_is_400_naming_the_field_and_records_nothing(
    read_client: TestClient[Any], manager: Headers, stored_services: PatientServices,
    action: str, body: dict[str, Any], field: str,
) -> None:  # fmt: skip
    case = register(read_client, manager)
    before = position(stored_services)

    reply = act(read_client, manager, case, action, **body)

    assert reply.status_code == 400, reply.text
    assert reply.json()["code"] == "VALIDATION"
    assert reply.json()["errors"][0]["field"] == field
    assert position(stored_services) == before


def test_a_complaint_about_a_visit_that_does_not_exist_is_400_naming_visit_id(
    read_client: TestClient[Any], manager: Headers, clerk: Headers, stored_services: PatientServices
) -> None:
    missing = "00000000-0000-4000-8000-00000000000a"
    reply = read_client.post(COMPLAINTS, json=complaint(visitId=missing), headers=manager)
    assert (reply.status_code, reply.json()["code"]) == (400, "VALIDATION"), reply.text
    assert reply.json()["errors"][0]["field"] == "visitId"
    assert missing not in reply.text  # the id is not echoed back
    assert position(stored_services) == 0

    visit = read_client.post("/api/v1/visits", json=visit_body(), headers=clerk).json()["id"]
    case = register(read_client, manager, visitId=visit)
    assert state(read_client, manager, case)["visitId"] == visit


def test_a_malformed_case_id_is_400_naming_the_id(
    read_client: TestClient[Any], manager: Headers
) -> None:
    for reply in (
        read_client.get(f"{COMPLAINTS}/not-a-uuid", headers=manager),
        act(read_client, manager, "not-a-uuid", "acknowledge", method="letter"),
    ):
        assert (reply.status_code, reply.json()["code"]) == (400, "VALIDATION")
        assert reply.json()["errors"][0]["field"] == "id"


# ---- 401, 403, 404 -----------------------------------------------------------------------------
def test_without_a_token_nothing_is_registered_or_read(
    read_client: TestClient[Any], stored_services: PatientServices
) -> None:
    assert read_client.post(COMPLAINTS, json=complaint()).status_code == 401
    assert read_client.get(f"{COMPLAINTS}/worklist").status_code == 401
    assert position(stored_services) == 0


def test_a_clerk_or_nurse_may_register_but_a_clerk_may_not_acknowledge_or_read(
    read_client: TestClient[Any], auth: Callable[..., Headers], stored_services: PatientServices
) -> None:
    clerk = auth("clerk", sub="cleo")
    register(read_client, auth("nurse", sub="nina"))
    case = register(read_client, clerk)
    before = position(stored_services)

    reply = act(read_client, clerk, case, "acknowledge", method="letter")

    assert (reply.status_code, reply.json()["code"]) == (403, "NOT_AUTHORISED")
    denial = only_attempt_since(stored_services, before)  # the audit trail shows the attempt
    assert (denial.outcome, denial.actor_id, denial.action) == (
        "denied", "cleo", "AcknowledgeComplaint"
    )  # fmt: skip
    assert read_client.get(f"{COMPLAINTS}/{case}", headers=clerk).status_code == 403


@pytest.mark.parametrize("path", ["worklist", "sla", "themes"])
@pytest.mark.parametrize("role", ["clerk", "nurse", "finance", "auditor"])
def test_the_complaint_reports_are_for_managers_and_executives_only(
    read_client: TestClient[Any], auth: Callable[..., Headers], path: str, role: str
) -> None:
    denied = read_client.get(f"{COMPLAINTS}/{path}", headers=auth(role))
    assert (denied.status_code, denied.json()["code"]) == (403, "NOT_AUTHORISED")
    for allowed in ("manager", "executive"):
        assert read_client.get(f"{COMPLAINTS}/{path}", headers=auth(allowed)).status_code == 200


def test_a_version_past_the_cases_latest_is_404_naming_the_latest(
    read_client: TestClient[Any], manager: Headers
) -> None:
    case = register(read_client, manager)
    reply = read_client.get(f"{COMPLAINTS}/{case}", params={"asOfVersion": 5}, headers=manager)
    assert (reply.status_code, reply.json()["code"]) == (404, "NOT_FOUND")
    assert reply.json()["detail"] == f"complaint case {case} has no version 5: the latest is 1"


def test_an_unknown_case_is_404_and_records_nothing(
    read_client: TestClient[Any], manager: Headers, stored_services: PatientServices
) -> None:
    missing = "00000000-0000-4000-8000-000000000001"
    assert read_client.get(f"{COMPLAINTS}/{missing}", headers=manager).status_code == 404
    reply = act(read_client, manager, missing, "acknowledge", method="letter")
    assert (reply.status_code, reply.json()["code"]) == (404, "NOT_FOUND")
    assert position(stored_services) == 0


# ---- 409 ---------------------------------------------------------------------------------------
def test_no_investigation_before_acknowledgement_and_no_close_without_findings(
    read_client: TestClient[Any], manager: Headers, stored_services: PatientServices
) -> None:
    case = register(read_client, manager)
    refused(
        read_client, stored_services, manager, case, "start-investigation", "INVALID_TRANSITION"
    )
    assert state(read_client, manager, case)["status"] == "received"
    ok(read_client, manager, case, "acknowledge", method="letter")
    refused(
        read_client,
        stored_services,
        manager,
        case,
        "close",
        "INVALID_TRANSITION",
        resolution="done",
    )


def test_the_drafter_may_not_approve_their_own_response(
    read_client: TestClient[Any], manager: Headers, stored_services: PatientServices
) -> None:
    case = register(read_client, manager)
    drafted(read_client, manager, case)
    refused(
        read_client, stored_services, manager, case, "approve-response", "SEGREGATION_OF_DUTIES"
    )


def test_another_manager_acting_on_behalf_of_the_drafter_may_not_approve(
    read_client: TestClient[Any],
    manager: Headers,
    approver: Headers,
    stored_services: PatientServices,
) -> None:
    """X-On-Behalf-Of does not get round approver ≠ drafter: ann declaring she acts for mo,
    who drafted the response, is mo approving it."""
    case = register(read_client, manager)
    drafted(read_client, manager, case)
    for_the_drafter = {**approver, "X-On-Behalf-Of": "mo"}
    refused(
        read_client,
        stored_services,
        for_the_drafter,
        case,
        "approve-response",
        "SEGREGATION_OF_DUTIES",
    )
    assert state(read_client, manager, case)["version"] == 6
    ok(read_client, approver, case, "approve-response")


def test_an_extreme_risk_response_needs_the_executive_not_a_manager(
    read_client: TestClient[Any], manager: Headers, approver: Headers,
    stored_services: PatientServices, auth: Callable[..., Headers],
) -> None:  # fmt: skip
    case = register(read_client, manager)
    ok(read_client, manager, case, "grade-risk", consequence=5, likelihood=5)
    drafted(read_client, manager, case)

    refused(read_client, stored_services, approver, case, "approve-response", "APPROVAL_REQUIRED")
    ok(read_client, auth("executive", sub="eve"), case, "approve-response")

    assert state(read_client, manager, case)["riskGrade"] == "extreme"
    ok(read_client, manager, case, "send-response", channel="letter", checklist=CHECKLISTS[NHS])


def test_a_final_response_missing_a_checklist_item_is_incomplete(
    read_client: TestClient[Any],
    manager: Headers,
    approver: Headers,
    stored_services: PatientServices,
) -> None:
    case = register(read_client, manager)
    drafted(read_client, manager, case)
    ok(read_client, approver, case, "approve-response")
    lacking = {k: v for k, v in CHECKLISTS[NHS].items() if k != "ombudsmanRights"}

    refused(read_client, stored_services, manager, case, "send-response", "RESPONSE_INCOMPLETE",
            channel="letter", checklist=lacking)  # fmt: skip

    assert state(read_client, manager, case)["status"] == "response_drafted"


def test_a_deadline_already_passed_cannot_be_extended(
    read_client: TestClient[Any], manager: Headers, stored_services: PatientServices
) -> None:
    case = register(read_client, manager, policy=CMS, receivedAt=local_noon(10))  # due 3 days ago
    refused(read_client, stored_services, manager, case, "extend-deadline", "EXTENSION_TOO_LATE",
            newDueAt=iso(now() + timedelta(days=7)),
            complainantAgreedAt=iso(now() - timedelta(hours=1)))  # fmt: skip


def test_refusals_that_depend_on_the_case_are_409_and_audited(
    read_client: TestClient[Any], manager: Headers, stored_services: PatientServices
) -> None:
    case = register(read_client, manager)
    ok(read_client, manager, case, "acknowledge", method="letter")
    ok(read_client, manager, case, "assign", investigatorRef="inv-1")
    refused(read_client, stored_services, manager, case, "assign", "INVALID_TRANSITION",
            investigatorRef="inv-1")  # fmt: skip
    refused(read_client, stored_services, manager, case, "interim-response", "INVALID_TRANSITION",
            promisedBy=iso(now() + timedelta(days=400)))  # fmt: skip
    ok(read_client, manager, case, "start-investigation")
    refused(read_client, stored_services, manager, case, "classify", "INVALID_TRANSITION",
            kind="concern_resolved_on_spot")  # fmt: skip


def test_an_approval_naming_a_replaced_draft_is_409(
    read_client: TestClient[Any],
    manager: Headers,
    approver: Headers,
    stored_services: PatientServices,
) -> None:
    case = register(read_client, manager)
    drafted(read_client, manager, case)
    ok(read_client, manager, case, "draft-response", documentRef="DOC-2")

    refused(read_client, stored_services, approver, case, "approve-response", "INVALID_TRANSITION",
            documentRef="DOC-1")  # fmt: skip
    ok(read_client, approver, case, "approve-response", documentRef="DOC-2")


def test_a_reopened_case_runs_a_new_response_deadline(
    read_client: TestClient[Any], manager: Headers, approver: Headers
) -> None:
    case = register(read_client, manager, policy=CMS, receivedAt=local_noon(3))
    drafted(read_client, manager, case)
    ok(read_client, approver, case, "approve-response")
    ok(read_client, manager, case, "send-response", channel="letter", checklist=CHECKLISTS[CMS])
    ok(read_client, manager, case, "close", resolution="apology given")
    first_due = state(read_client, manager, case)["responseDueAt"]

    ok(read_client, manager, case, "reopen", reason="new evidence")

    body = state(read_client, manager, case)
    assert body["status"] == "under_investigation"
    assert [d["deadline"] for d in body["runningDeadlines"]] == ["response"]
    assert body["responseDueAt"] == body["runningDeadlines"][0]["dueAt"] != first_due
    ok(read_client, manager, case, "interim-response", promisedBy=iso(now() + timedelta(days=20)))


# ---- 412, 422 ----------------------------------------------------------------------------------
def test_a_stale_if_match_is_412_and_records_nothing(
    read_client: TestClient[Any], manager: Headers, stored_services: PatientServices
) -> None:
    case = register(read_client, manager)
    ok(read_client, manager, case, "acknowledge", method="letter")
    before = position(stored_services)

    reply = read_client.post(f"{COMPLAINTS}/{case}/assign", json={"investigatorRef": "inv-1"},
                        headers={**manager, "If-Match": '"1"'})  # fmt: skip

    assert reply.status_code == 412
    assert reply.json()["code"] == "VERSION_CONFLICT"  # the code 412s carry here
    assert position(stored_services) == before


def test_a_repeated_registration_with_its_key_replays_and_with_another_body_is_422(
    read_client: TestClient[Any], manager: Headers, stored_services: PatientServices
) -> None:
    keyed = {**manager, "Idempotency-Key": "complaint-42"}
    body = complaint(complainantRef="C-42")  # built once: receivedAt is part of the body
    first = read_client.post(COMPLAINTS, json=body, headers=keyed)
    recorded = position(stored_services)

    again = read_client.post(COMPLAINTS, json=body, headers=keyed)
    other = read_client.post(COMPLAINTS, json={**body, "complainantRef": "C-43"}, headers=keyed)

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert (other.status_code, other.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert position(stored_services) == recorded
    # The fingerprint kept beside the command is keyed: it cannot confirm a guessed narrative.
    identity = CommandIdentity(scope="user:mo", key="complaint-42", fingerprint="")
    record = stored_services.repository.get(identity.command_id)
    assert record.fingerprint.startswith(KEYED)


# ---- the worklist ------------------------------------------------------------------------------
def worklist(client: TestClient[Any], headers: Headers, at: int, **params: Any) -> Any:
    reply = client.get(f"{COMPLAINTS}/worklist", params={"minPosition": at, **params},
                       headers=headers)  # fmt: skip
    assert reply.status_code == 200, reply.text
    assert int(reply.headers["X-Projection-Position"]) >= at
    assert NARRATIVE not in reply.text
    return reply.json()


def test_the_worklist_shows_the_last_local_day_allowed_beside_each_due_instant(
    read_client: TestClient[Any], manager: Headers, stored_services: PatientServices
) -> None:
    register(read_client, manager, receivedAt=FRIDAY_BEFORE_BANK_HOLIDAY, policy=NHS)
    [item] = worklist(read_client, manager, position(stored_services))["items"]
    assert (item["acknowledgementDueAt"], item["acknowledgementDueOn"]) == (
        "2025-05-08T23:00:00Z", "2025-05-08",
    )  # fmt: skip
    assert (item["responseDueAt"], item["responseDueOn"]) == ("2025-11-03T00:00:00Z", "2025-11-02")
    assert (item["nextDueAt"], item["nextDueOn"]) == ("2025-05-08T23:00:00Z", "2025-05-08")


def test_the_worklist_waits_for_the_write_and_shows_days_to_due_and_rag(
    read_client: TestClient[Any], manager: Headers
) -> None:
    overdue = register(read_client, manager, policy=CMS, receivedAt=local_noon(10))
    due_today = register(read_client, manager, policy=CMS, receivedAt=local_noon(7))
    fresh = register(read_client, manager, policy=NHS)
    at = ok(read_client, manager, fresh, "acknowledge", method="letter")

    body = worklist(read_client, manager, at)

    items = {item["id"]: item for item in body["items"]}
    assert [item["id"] for item in body["items"]] == [overdue, due_today, fresh]  # soonest first
    assert (items[overdue]["rag"], items[overdue]["daysToDue"]) == ("red", -3)
    assert items[overdue]["overdue"] is True
    assert (items[due_today]["rag"], items[due_today]["daysToDue"]) == ("amber", 0)
    assert (items[fresh]["rag"], items[fresh]["nextDeadline"]) == ("green", "response")
    assert items[fresh]["daysToDue"] > 150 and items[fresh]["status"] == "acknowledged"
    assert body["nextCursor"] is None


def test_the_worklist_filters_by_status_overdue_and_assignee(
    read_client: TestClient[Any], manager: Headers
) -> None:
    late = register(read_client, manager, policy=CMS, receivedAt=local_noon(10))
    assigned = register(read_client, manager)
    ok(read_client, manager, assigned, "acknowledge", method="letter")
    at = ok(read_client, manager, assigned, "assign", investigatorRef="inv-7")

    def ids(**params: Any) -> list[str]:
        return [item["id"] for item in worklist(read_client, manager, at, **params)["items"]]

    assert ids(status="received") == [late]
    assert ids(status="acknowledged") == [assigned]
    assert ids(overdue="true") == [late]
    assert ids(overdue="false") == [assigned]
    assert ids(assignee="inv-7") == [assigned]
    assert ids(assignee="inv-8") == []
    closed = read_client.get(f"{COMPLAINTS}/worklist", params={"status": "closed"}, headers=manager)
    assert (closed.status_code, closed.json()["errors"][0]["field"]) == (400, "status")


def test_a_worklist_that_does_not_catch_up_in_time_is_503_lagging(
    idle_read_client: TestClient[Any], manager: Headers
) -> None:
    reply = idle_read_client.post(COMPLAINTS, json=complaint(), headers=manager)

    lagging = idle_read_client.get(
        f"{COMPLAINTS}/worklist",
        params={"minPosition": reply.json()["position"], "waitMs": 20},
        headers=manager,
    )

    assert (lagging.status_code, lagging.json()["code"]) == (503, "PROJECTION_LAGGING")
    assert int(lagging.headers["Retry-After"]) >= 1


# ---- SLA and themes ----------------------------------------------------------------------------
MAY_2025 = {"from": "2025-05-01T00:00:00+01:00", "to": "2025-06-01T00:00:00+01:00"}


def report(client: TestClient[Any], headers: Headers, path: str, at: int) -> Any:
    reply = client.get(f"{COMPLAINTS}/{path}", params={**MAY_2025, "minPosition": at},
                       headers=headers)  # fmt: skip
    assert reply.status_code == 200, reply.text
    assert int(reply.headers["X-Projection-Position"]) >= at
    assert NARRATIVE not in reply.text
    return reply.json()


def test_sla_compliance_by_month_of_receipt(read_client: TestClient[Any], manager: Headers) -> None:
    on_time = register(read_client, manager, receivedAt=FRIDAY_BEFORE_BANK_HOLIDAY)
    ok(
        read_client,
        manager,
        on_time,
        "acknowledge",
        method="letter",
        occurredAt="2025-05-08T16:00:00Z",
    )
    late = register(read_client, manager, receivedAt=FRIDAY_BEFORE_BANK_HOLIDAY)
    at = ok(read_client, manager, late, "acknowledge", method="letter",
            occurredAt="2025-05-09T09:00:00Z")  # fmt: skip

    [may] = report(read_client, manager, "sla", at)

    assert (may["month"], may["received"]) == ("2025-05", 2)
    assert may["acknowledged"] == {"onTime": 1, "late": 1, "pending": 0, "notApplicable": 0,
                                   "percentOnTime": 50.0}  # fmt: skip
    # Both responses were due by 2 November 2025 and none was sent.
    assert (may["responded"]["late"], may["responded"]["percentOnTime"]) == (2, 0.0)


@pytest.mark.parametrize(
    "params",
    [{"from": "2025-06-01T00:00:00Z", "to": "2025-05-01T00:00:00Z"},
     {"from": "2025-05-01T00:00:00Z", "to": "2025-05-01T00:00:00Z"}],
    ids=["reversed", "empty"],
)  # fmt: skip
def test_an_sla_period_that_does_not_start_before_it_ends_is_400(
    read_client: TestClient[Any], manager: Headers, params: dict[str, str]
) -> None:
    reply = read_client.get(f"{COMPLAINTS}/sla", params=params, headers=manager)
    assert (reply.status_code, reply.json()["code"]) == (400, "VALIDATION")
    assert reply.json()["errors"][0]["field"] == "from"


def test_themes_count_cases_by_category_unit_and_month(
    read_client: TestClient[Any], manager: Headers
) -> None:
    may = FRIDAY_BEFORE_BANK_HOLIDAY
    graded = register(read_client, manager, receivedAt=may, categories=["communication", "waiting"])
    register(read_client, manager, receivedAt=may, categories=["communication"], serviceUnit="ED")
    register(read_client, manager, receivedAt="2025-06-02T10:00:00Z")  # outside the period
    at = ok(read_client, manager, graded, "grade-risk", consequence=3, likelihood=3)

    themes = report(read_client, manager, "themes", at)

    assert [(t["category"], t["unit"], t["month"], t["cases"]) for t in themes] == [
        ("communication", "ED", "2025-05", 1),
        ("communication", "OPD-1", "2025-05", 1),
        ("waiting", "OPD-1", "2025-05", 1),
    ]
    assert themes[1]["grades"]["high"] == 1 and themes[0]["grades"]["ungraded"] == 1
    assert themes[1]["upheld"]["undecided"] == 1 and themes[1]["percentUpheld"] is None
