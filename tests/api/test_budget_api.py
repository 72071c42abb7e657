"""The Budget resource over HTTP, on a real SQLite store with the budget worker running: each
status code of the contract, money as ``{"amount", "currency"}``, the atomic transfer, and the
budget vs actual summary with read-your-writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import TestClient

from adapters.readmodels.budget.store import BudgetReadModel
from adapters.settings import Settings
from adapters.storage import APPLICATION_NAME
from application.service import PatientServices
from domain.budget.line import BudgetLine
from domain.shared.base import event_id_for
from tests.support.api import Headers, iso, now, only_attempt_since, position, recorded_since

LINES = "/api/v1/budget-lines"
FY = 2024  # a past year: postings may not be dated in the future


pytestmark = pytest.mark.read_models([BudgetReadModel])


@pytest.fixture
def finance(auth: Callable[..., Headers]) -> Headers:
    return auth("finance", sub="fiona")


def gbp(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "GBP"}


def create(
    client: TestClient[Any], headers: Headers, cost_centre: str = "PS-01", **extra: Any
) -> str:
    body = {"fiscalYear": FY, "costCentre": cost_centre, "category": "supplies",
            "currency": "GBP", **extra}  # fmt: skip
    reply = client.post(LINES, json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    assert reply.headers["Location"] == f"{LINES}/{reply.json()['id']}"
    return str(reply.json()["id"])


def act(client: TestClient[Any], headers: Headers, line: str, action: str, **body: Any) -> Any:
    return client.post(f"{LINES}/{line}/{action}", json=body, headers=headers)


def funded(client: TestClient[Any], headers: Headers, amount: str = "10000.00", **kw: Any) -> str:
    line = create(client, headers, **kw)
    reply = act(client, headers, line, "approve", amount=gbp(amount), approvalRef="BUD-1")
    assert reply.status_code == 200, reply.text
    return line


# ---- 201, 200 and the state ------------------------------------------------------------------
def test_a_line_is_created_approved_and_read_with_money_objects(
    read_client: TestClient[Any], finance: Headers
) -> None:
    line = funded(read_client, finance)
    reply = act(read_client, finance, line, "commitments", reference="PO-1", amount=gbp("2500.50"))
    assert reply.status_code == 200, reply.text
    assert reply.headers["ETag"] == '"3"'

    state = read_client.get(f"{LINES}/{line}", headers=finance)

    assert state.status_code == 200
    assert state.headers["ETag"] == '"3"'
    body = state.json()
    assert (body["status"], body["frozen"], body["fiscalYear"], body["costCentre"]) == (
        "active",
        False,
        FY,
        "PS-01",
    )
    assert body["currentBudget"] == gbp("10000.00")
    assert body["committed"] == gbp("2500.50")
    assert body["available"] == gbp("7499.50")
    assert len(body["phasing"]) == 12


# ---- 400 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "amount",
    [{"amount": "10.005", "currency": "GBP"}, {"amount": 10.5, "currency": "GBP"},
     {"amount": "1e3", "currency": "GBP"}, {"amount": "10", "currency": "XXX"},
     {"amount": "10", "currency": "gbp"}],
)  # fmt: skip
def test_bad_money_is_400_and_records_nothing(
    read_client: TestClient[Any], finance: Headers, stored_services: PatientServices, amount: Any
) -> None:
    line = create(read_client, finance)
    before = position(stored_services)

    reply = act(read_client, finance, line, "approve", amount=amount, approvalRef="BUD-1")

    assert reply.status_code == 400, reply.text
    assert reply.json()["code"] == "VALIDATION"
    assert reply.json()["errors"][0]["field"].startswith("amount")
    assert position(stored_services) == before


# ---- 403, 404 ----------------------------------------------------------------------------------
def test_a_clerk_may_neither_create_nor_read_budget_lines(
    read_client: TestClient[Any], auth: Callable[..., Headers], finance: Headers
) -> None:
    clerk = auth("clerk")
    body = {"fiscalYear": FY, "costCentre": "PS-01", "category": "supplies", "currency": "GBP"}
    assert read_client.post(LINES, json=body, headers=clerk).status_code == 403
    line = create(read_client, finance)
    assert read_client.get(f"{LINES}/{line}", headers=clerk).status_code == 403
    summary = read_client.get("/api/v1/budget/summary", params={"fiscalYear": FY}, headers=clerk)
    assert summary.status_code == 403


def test_a_version_past_the_lines_latest_is_404_naming_the_latest(
    read_client: TestClient[Any], finance: Headers
) -> None:
    line = funded(read_client, finance)
    reply = read_client.get(f"{LINES}/{line}", params={"asOfVersion": 3}, headers=finance)
    assert (reply.status_code, reply.json()["code"]) == (404, "NOT_FOUND")
    assert reply.json()["detail"] == f"budget line {line} has no version 3: the latest is 2"
    latest = read_client.get(f"{LINES}/{line}", params={"asOfVersion": 2}, headers=finance)
    assert latest.json()["version"] == 2


def test_an_unknown_line_is_404(read_client: TestClient[Any], finance: Headers) -> None:
    missing = "00000000-0000-4000-8000-000000000001"
    assert read_client.get(f"{LINES}/{missing}", headers=finance).status_code == 404
    reply = act(read_client, finance, missing, "freeze")
    assert (reply.status_code, reply.json()["code"]) == (404, "NOT_FOUND")


# ---- 409 ---------------------------------------------------------------------------------------
def test_a_second_line_for_the_same_year_cost_centre_and_category_is_409(
    read_client: TestClient[Any], finance: Headers
) -> None:
    create(read_client, finance)
    body = {"fiscalYear": FY, "costCentre": "PS-01", "category": "supplies", "currency": "GBP"}

    reply = read_client.post(LINES, json=body, headers=finance)

    assert (reply.status_code, reply.json()["code"]) == (409, "ALREADY_EXISTS")


@pytest.mark.parametrize("cost_centre", ["ps-01", "PS-01 ", "Ps-01  "])
def test_a_line_differing_only_in_the_cost_centres_case_or_spacing_is_409(
    read_client: TestClient[Any], finance: Headers, cost_centre: str
) -> None:
    create(read_client, finance)
    body = {"fiscalYear": FY, "costCentre": cost_centre, "category": "supplies",
            "currency": "GBP"}  # fmt: skip

    reply = read_client.post(LINES, json=body, headers=finance)

    assert (reply.status_code, reply.json()["code"]) == (409, "ALREADY_EXISTS")


def test_a_commitment_past_the_available_balance_is_409_insufficient_funds(
    read_client: TestClient[Any], finance: Headers
) -> None:
    line = funded(read_client, finance, "1000.00")
    reply = act(read_client, finance, line, "commitments", reference="PO-9", amount=gbp("1000.01"))
    assert (reply.status_code, reply.json()["code"]) == (409, "INSUFFICIENT_FUNDS")


def test_an_amendment_above_the_managers_tier_is_409_approval_required(
    read_client: TestClient[Any], finance: Headers, auth: Callable[..., Headers]
) -> None:
    line = funded(read_client, finance)
    manager = auth("manager", sub="mo")

    within = act(read_client, manager, line, "amend", amount=gbp("5000.00"), approvalRef="AM-1")
    above = act(read_client, manager, line, "amend", amount=gbp("5000.01"), approvalRef="AM-2")

    assert within.status_code == 200, within.text
    assert (above.status_code, above.json()["code"]) == (409, "APPROVAL_REQUIRED")
    # The same amount with a finance role beside the manager one acts at the finance tier.
    both = auth("manager", "finance", sub="mo")
    assert (
        act(read_client, both, line, "amend", amount=gbp("5000.01"), approvalRef="AM-3").status_code
        == 200
    )


# ---- 412, 422 ----------------------------------------------------------------------------------
def test_a_stale_if_match_is_412_and_records_nothing(
    read_client: TestClient[Any], finance: Headers, stored_services: PatientServices
) -> None:
    line = funded(read_client, finance)
    before = position(stored_services)
    reply = read_client.post(
        f"{LINES}/{line}/freeze", json={}, headers={**finance, "If-Match": '"1"'}
    )
    assert reply.status_code == 412
    assert position(stored_services) == before


def test_a_repeated_posting_with_its_key_replays_and_with_another_body_is_422(
    read_client: TestClient[Any], finance: Headers
) -> None:
    line = funded(read_client, finance)
    keyed = {**finance, "Idempotency-Key": "po-7"}
    body = {"reference": "PO-7", "amount": gbp("100.00")}
    first = read_client.post(f"{LINES}/{line}/commitments", json=body, headers=keyed)
    again = read_client.post(f"{LINES}/{line}/commitments", json=body, headers=keyed)
    other = read_client.post(
        f"{LINES}/{line}/commitments", json={**body, "amount": gbp("101.00")}, headers=keyed
    )
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert (other.status_code, other.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")


# ---- transfers ---------------------------------------------------------------------------------
def test_a_transfer_moves_budget_between_two_lines_in_one_write(
    read_client: TestClient[Any], finance: Headers
) -> None:
    source = funded(read_client, finance, cost_centre="PS-01")
    target = funded(read_client, finance, cost_centre="PS-02")
    body = {"fromLineId": source, "toLineId": target, "amount": gbp("1500.00"),
            "reason": "winter pressures"}  # fmt: skip

    reply = read_client.post("/api/v1/budget-transfers", json=body, headers=finance)

    assert reply.status_code == 200, reply.text
    assert reply.json()["id"] == source
    state = {
        line: read_client.get(f"{LINES}/{line}", headers=finance).json()
        for line in (source, target)
    }
    assert state[source]["currentBudget"] == gbp("8500.00")
    assert state[target]["currentBudget"] == gbp("11500.00")
    too_much = {**body, "amount": gbp("8500.01")}
    refused = read_client.post("/api/v1/budget-transfers", json=too_much, headers=finance)
    assert (refused.status_code, refused.json()["code"]) == (409, "INSUFFICIENT_FUNDS")


def test_tiers_are_per_currency_and_a_currency_without_its_own_is_approved_by_the_board(
    read_client: TestClient[Any], finance: Headers, auth: Callable[..., Headers]
) -> None:
    """No tiers are configured for yen by default: 5,000 JPY is not the manager's 5,000 GBP."""
    line = create(read_client, finance, currency="JPY")
    yen = {"amount": "5000", "currency": "JPY"}
    assert (
        act(read_client, finance, line, "approve", amount=yen, approvalRef="B-1").status_code == 200
    )
    manager = act(
        read_client, auth("manager", sub="mo"), line, "amend", amount=yen, approvalRef="A"
    )
    assert (manager.status_code, manager.json()["code"]) == (409, "APPROVAL_REQUIRED")
    assert "no approval tiers are configured for JPY" in manager.json()["detail"]
    board = act(read_client, auth("board", sub="bo"), line, "amend", amount=yen, approvalRef="A")
    assert board.status_code == 200, board.text


def test_a_write_the_store_refuses_is_a_500_at_once_not_a_409_after_retries(
    read_client: TestClient[Any],
    finance: Headers,
    stored_services: PatientServices,
    settings: Settings,
) -> None:
    """A trigger's RAISE(ABORT) on SQLite is an integrity error but not a lost race."""
    line = create(read_client, finance)
    before = position(stored_services)
    topic = f"{BudgetLine.BudgetApproved.__module__}:BudgetLine.BudgetApproved"
    with sqlite3.connect(settings.var_dir / f"{APPLICATION_NAME}.db") as db:
        db.execute(
            "CREATE TRIGGER refuse_approval BEFORE INSERT ON stored_events"
            f" WHEN NEW.topic = '{topic}' BEGIN SELECT RAISE(ABORT, 'injected'); END"
        )
    reply = act(read_client, finance, line, "approve", amount=gbp("100.00"), approvalRef="BUD-1")
    assert (reply.status_code, reply.json()["code"]) == (500, "INTERNAL_ERROR"), reply.text
    assert "injected" not in reply.text
    assert position(stored_services) == before


# ---- the summary -------------------------------------------------------------------------------
def test_the_summary_waits_for_the_posting_and_shows_it(
    read_client: TestClient[Any], finance: Headers
) -> None:
    line = funded(read_client, finance)
    posted = act(read_client, finance, line, "actuals", reference="INV-1", amount=gbp("1234.56"))

    reply = read_client.get(
        "/api/v1/budget/summary",
        params={"fiscalYear": FY, "costCentre": "PS-01", "minPosition": posted.json()["position"]},
        headers=finance,
    )

    assert reply.status_code == 200, reply.text
    assert int(reply.headers["X-Projection-Position"]) >= posted.json()["position"]
    body = reply.json()
    [row] = body["lines"]
    assert row["lineId"] == line
    assert row["actual"] == gbp("1234.56")
    assert row["available"] == gbp("8765.44")
    # 87.65 % under budget: not an overspend risk, but a red underspend.
    assert (row["rag"], row["underspendRag"], row["variancePct"]) == ("green", "red", "87.65")
    [centre] = body["costCentres"]
    assert centre["costCentre"] == "PS-01"
    assert centre["actual"] == gbp("1234.56")


def test_the_summary_needs_a_fiscal_year(read_client: TestClient[Any], finance: Headers) -> None:
    reply = read_client.get("/api/v1/budget/summary", headers=finance)
    assert (reply.status_code, reply.json()["code"]) == (400, "VALIDATION")


# ---- requester ≠ approver ----------------------------------------------------------------------
def asked(client: TestClient[Any], headers: Headers, reply: Any, line: str) -> str:
    """The request's id, as the line shows its open requests: the id of the event that
    asked (derived from the line's version it made)."""
    assert reply.status_code == 200, reply.text
    state = client.get(f"{LINES}/{line}", headers=headers).json()
    [request] = state["openRequests"]
    assert request["id"] == str(event_id_for(UUID(line), reply.json()["version"]))
    return str(request["id"])


def test_an_amendment_asked_for_by_a_manager_is_approved_by_another_person_only(
    read_client: TestClient[Any], finance: Headers, auth: Callable[..., Headers],
    stored_services: PatientServices,
) -> None:  # fmt: skip
    line = funded(read_client, finance)
    manager = auth("manager", sub="mo")
    reply = act(
        read_client, manager, line, "amendment-requests", amount=gbp("900.00"), reason="winter"
    )
    request = asked(read_client, finance, reply, line)
    approval = {"amount": gbp("900.00"), "approvalRef": "AM-1", "requestId": request}

    before = position(stored_services)
    own = act(read_client, manager, line, "amend", **approval)
    assert (own.status_code, own.json()["code"]) == (409, "SEGREGATION_OF_DUTIES"), own.text
    attempt = only_attempt_since(stored_services, before)  # the refusal is audited; nothing else
    assert (attempt.outcome, attempt.code) == ("refused", "SEGREGATION_OF_DUTIES")
    # Even holding a higher role, the requester is still the same person.
    both = auth("manager", "finance", sub="mo")
    assert (
        act(read_client, both, line, "amend", **approval).json()["code"] == "SEGREGATION_OF_DUTIES"
    )

    mismatch = act(read_client, finance, line, "amend", **{**approval, "amount": gbp("901.00")})
    assert (mismatch.status_code, mismatch.json()["code"]) == (400, "VALIDATION")
    assert mismatch.json()["errors"][0]["field"] == "amount"

    approved = act(read_client, finance, line, "amend", **approval)
    assert approved.status_code == 200, approved.text
    state = read_client.get(f"{LINES}/{line}", headers=finance).json()
    assert (state["version"], state["currentBudget"]) == (4, gbp("10900.00"))
    again = act(read_client, auth("finance", sub="fred"), line, "amend", **approval)
    assert (again.status_code, again.json()["code"]) == (409, "INVALID_TRANSITION")


def test_no_one_acting_on_behalf_of_the_requester_may_approve_the_request(
    read_client: TestClient[Any], finance: Headers, auth: Callable[..., Headers],
    stored_services: PatientServices,
) -> None:  # fmt: skip
    line = funded(read_client, finance)
    manager = auth("manager", sub="mo")
    reply = act(
        read_client, manager, line, "amendment-requests", amount=gbp("900.00"), reason="winter"
    )
    request = asked(read_client, finance, reply, line)
    approval = {"amount": gbp("900.00"), "approvalRef": "AM-1", "requestId": request}
    expires = iso(now() + timedelta(days=30))
    terms = {"limit": gbp("2500.00"), "expiresAt": expires}
    overspend = act(read_client, manager, line, "overspend-requests", **terms, reason="agency")
    assert overspend.status_code == 200, overspend.text
    overspend_request = str(event_id_for(UUID(line), overspend.json()["version"]))
    for_the_requester = {**auth("finance", sub="fred"), "X-On-Behalf-Of": "mo"}

    before = position(stored_services)
    amend = act(read_client, for_the_requester, line, "amend", **approval)
    assert (amend.status_code, amend.json()["code"]) == (409, "SEGREGATION_OF_DUTIES"), amend.text
    authorise = act(read_client, for_the_requester, line, "authorise-overspend", **terms,
                    requestId=overspend_request)  # fmt: skip
    assert (authorise.status_code, authorise.json()["code"]) == (409, "SEGREGATION_OF_DUTIES")
    assert (
        len(recorded_since(stored_services, before)) == 2
    )  # the two refused attempts, nothing else
    assert act(read_client, finance, line, "amend", **approval).status_code == 200


def test_an_overspend_asked_for_is_authorised_by_another_person_with_the_same_terms(
    read_client: TestClient[Any], finance: Headers, auth: Callable[..., Headers]
) -> None:
    line = funded(read_client, finance)
    manager = auth("manager", sub="mo")
    expires = iso(now() + timedelta(days=30))
    terms = {"limit": gbp("2500.00"), "expiresAt": expires}
    reply = act(read_client, manager, line, "overspend-requests", **terms, reason="agency staff")
    request = asked(read_client, finance, reply, line)

    own = act(read_client, manager, line, "authorise-overspend", **terms, requestId=request)
    later = act(read_client, finance, line, "authorise-overspend", requestId=request,
                limit=gbp("2500.00"), expiresAt=iso(now() + timedelta(days=31)))  # fmt: skip
    approved = act(read_client, finance, line, "authorise-overspend", **terms, requestId=request)

    assert (own.status_code, own.json()["code"]) == (409, "SEGREGATION_OF_DUTIES")
    assert (later.status_code, later.json()["errors"][0]["field"]) == (400, "expiresAt")
    assert approved.status_code == 200, approved.text
    past = act(read_client, finance, line, "commitments", reference="PO-1", amount=gbp("12000.00"))
    assert past.status_code == 200, past.text  # 2,000 over, within the authorised 2,500


def test_a_request_needs_a_reason_and_may_be_rejected_once(
    read_client: TestClient[Any], finance: Headers, auth: Callable[..., Headers]
) -> None:
    line = funded(read_client, finance)
    manager = auth("manager", sub="mo")
    unexplained = act(read_client, manager, line, "amendment-requests", amount=gbp("10.00"))
    assert (unexplained.status_code, unexplained.json()["code"]) == (400, "VALIDATION")
    reply = act(read_client, manager, line, "amendment-requests", amount=gbp("10.00"), reason="r")
    request = asked(read_client, finance, reply, line)

    rejected = act(read_client, finance, line, "reject-request", requestId=request, reason="no")
    again = act(read_client, finance, line, "reject-request", requestId=request, reason="no")
    approval = act(read_client, finance, line, "amend", amount=gbp("10.00"), approvalRef="AM-1",
                   requestId=request)  # fmt: skip

    assert rejected.status_code == 200, rejected.text
    assert (again.status_code, again.json()["code"]) == (409, "INVALID_TRANSITION")
    assert (approval.status_code, approval.json()["code"]) == (409, "INVALID_TRANSITION")


# ---- figures the read model can hold -----------------------------------------------------------
def test_amounts_the_view_cannot_hold_are_400_and_the_summary_keeps_up(
    read_client: TestClient[Any], auth: Callable[..., Headers]
) -> None:
    board = auth("finance", "board", sub="bo")
    kwd = {"amount": "999999999999999.999", "currency": "KWD"}
    line = create(read_client, board, currency="KWD")
    reply = act(read_client, board, line, "approve", amount=kwd, approvalRef="BUD-1")
    assert (reply.status_code, reply.json()["code"]) == (400, "VALIDATION")
    assert reply.json()["errors"][0]["field"] == "amount"
    near = {"amount": "99999999999999.999", "currency": "KWD"}  # 10^17 fils less one
    assert act(read_client, board, line, "approve", amount=near, approvalRef="BUD-1").is_success
    reply = act(read_client, board, line, "amend", amount={"amount": "0.002", "currency": "KWD"},
                approvalRef="CHG-1")  # fmt: skip
    assert (reply.status_code, reply.json()["code"]) == (400, "VALIDATION")

    body = {"fiscalYear": FY, "costCentre": "PS-02", "category": "supplies",
            "currency": "GBP"}  # fmt: skip
    later = read_client.post(LINES, json=body, headers=board).json()
    summary = read_client.get(
        "/api/v1/budget/summary",
        params={"fiscalYear": FY, "minPosition": later["position"], "waitMs": 3000},
        headers=board,
    )
    assert summary.status_code == 200, summary.text
    assert {row["lineId"] for row in summary.json()["lines"]} == {line, later["id"]}


# ---- corrections -------------------------------------------------------------------------------
def test_a_mistaken_actual_is_reversed_and_the_summary_no_longer_counts_it(
    read_client: TestClient[Any], finance: Headers, auth: Callable[..., Headers]
) -> None:
    line = funded(read_client, finance)
    posted = act(read_client, finance, line, "actuals", reference="INV-1", amount=gbp("1234.56"))
    corrects = str(event_id_for(UUID(line), posted.json()["version"]))
    manager = auth("manager", sub="mo")
    body = {"stage": "actual", "reference": "INV-1", "reason": "keyed twice",
            "correctsEventId": corrects}  # fmt: skip
    assert act(read_client, manager, line, "reverse-posting", **body).status_code == 403

    reversed_ = act(read_client, finance, line, "reverse-posting", **body)

    assert reversed_.status_code == 200, reversed_.text
    again = act(read_client, finance, line, "reverse-posting", **body)
    assert (again.status_code, again.json()["code"]) == (409, "ALREADY_CANCELLED")
    summary = read_client.get(
        "/api/v1/budget/summary",
        params={"fiscalYear": FY, "costCentre": "ps-01 ",
                "minPosition": reversed_.json()["position"]},
        headers=finance,
    )  # fmt: skip
    [row] = summary.json()["lines"]
    assert (row["actual"], row["available"]) == (gbp("0.00"), gbp("10000.00"))
