"""The budget commands through ``PatientServices.execute`` on the in-memory store: money on
the wire, who may issue what (domain-spec §5), duplicates, repeats and transfers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
import pytest

from application.budget import commands as bc
from application.service import PatientServices
from application.shared.attempts import CommandAttempt
from application.shared.context import RequestContext
from application.shared.errors import AlreadyExistsError, NotAuthorisedError, NotFoundError
from application.shared.permissions import acting_role
from domain.budget.line import BudgetLine
from domain.shared.errors import (
    AlreadyCancelledError,
    ApprovalRequiredError,
    DomainValidationError,
    InsufficientFundsError,
    SegregationOfDutiesError,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def as_role(role: str) -> RequestContext:
    return RequestContext(actor_id=f"{role}-1", actor_role=role, correlation_id="req-1")


FINANCE, MANAGER = as_role("finance"), as_role("manager")


def money(amount: str, currency: str = "GBP") -> bc.MoneyAmount:
    return bc.MoneyAmount(amount=amount, currency=currency)


@pytest.fixture
def budget_app(memory_env: dict[str, str]) -> PatientServices:
    return PatientServices(env=memory_env, clock=lambda: NOW)


def new_line(app: PatientServices, cost_centre: str = "CC-1", budget: str = "10000") -> UUID:
    create = bc.CreateBudgetLine(
        fiscal_year=2026, cost_centre=cost_centre, category="supplies", currency="GBP"
    )
    line_id = app.execute(create, FINANCE).id
    approve = bc.ApproveBudget(amount=money(budget), approval_ref="FIN-1")
    app.execute(approve, FINANCE, target=line_id)
    return line_id


def log_size(app: PatientServices) -> int:
    return app.recorder.max_notification_id() or 0


def decode(command: type[Any], body: bytes) -> Any:
    return msgspec.json.Decoder(command).decode(body)


# ---- the contract ----------------------------------------------------------------------------
def test_the_actions_are_the_contracts_url_segments_the_two_step_approvals_and_reversal() -> None:
    assert set(bc.BUDGET_ACTIONS) == {
        "approve", "amend", "pre-encumbrances", "commitments", "actuals",
        "release-commitment", "authorise-overspend", "forecast", "freeze", "unfreeze", "close",
        "amendment-requests", "overspend-requests", "reject-request", "reverse-posting",
    }  # fmt: skip
    # The HTTP layer maps each to f"/{{id}}/{segment}": a plain segment, no path parameter.
    assert all(segment.isascii() and "/" not in segment for segment in bc.BUDGET_ACTIONS)
    assert all(c.aggregate_type is BudgetLine for c in bc.BUDGET_ACTIONS.values())
    assert bc.CreateBudgetLine.natural_key and bc.CreateBudgetLine.creates


def test_bodies_decode_from_the_contracts_camel_case_json() -> None:
    approve = decode(
        bc.ApproveBudget,
        b'{"amount": {"amount": "1200.00", "currency": "GBP"}, "approvalRef": "FIN-1",'
        b' "phasing": [' + b",".join([b'{"amount": "100", "currency": "GBP"}'] * 12) + b"]}",
    )
    assert approve.amount.money().minor == 120_000 and len(approve.phasing) == 12
    transfer = decode(
        bc.TransferBudget,
        b'{"fromLineId": "00000000-0000-0000-0000-000000000001", "toLineId":'
        b' "00000000-0000-0000-0000-000000000002", "amount": {"amount": "5", "currency": "GBP"},'
        b' "reason": "re-plan"}',
    )
    assert transfer.to_line_id == UUID(int=2)
    posting = decode(
        bc.RecordActual,
        b'{"reference": "INV-1", "amount": {"amount": "-0.50", "currency": "EUR"},'
        b' "relievesReference": "PO-1"}',
    )
    assert posting.arguments()["amount"].amount == Decimal("-0.50")  # refused by the domain
    release = decode(bc.ReleaseCommitment, b'{"reference": "PO-1", "releaseReference": "REL-1"}')
    assert (release.release_reference, release.amount) == ("REL-1", None)
    reversal = decode(
        bc.ReversePosting,
        b'{"stage": "pre_encumbrance", "reference": "REQ-1", "reason": "not wanted",'
        b' "correctsEventId": "00000000-0000-0000-0000-000000000003"}',
    )
    assert (reversal.stage, reversal.corrects_event_id) == ("pre_encumbrance", UUID(int=3))


@pytest.mark.parametrize(
    "body",
    [
        b'{"stage": "invoice", "reference": "INV-1", "reason": "r"}',
        b'{"stage": "actual", "reference": "INV-1"}',
    ],
)
def test_a_reversal_of_no_stage_of_spend_or_without_a_reason_is_a_400(body: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        decode(bc.ReversePosting, body)


def test_an_approval_may_name_its_request_and_a_request_must_give_a_reason() -> None:
    amend = decode(
        bc.AmendBudget,
        b'{"amount": {"amount": "9", "currency": "GBP"}, "approvalRef": "A",'
        b' "requestId": "00000000-0000-0000-0000-000000000003"}',
    )
    assert amend.request_id == UUID(int=3)
    assert decode(bc.AuthoriseOverspend, b'{"limit": {"amount": "9", "currency": "GBP"},'
                  b' "expiresAt": "2026-07-01T00:00:00Z"}').request_id is None  # fmt: skip
    with pytest.raises(msgspec.ValidationError, match="reason"):
        decode(bc.RequestAmendment, b'{"amount": {"amount": "9", "currency": "GBP"}}')


def test_the_requester_may_not_approve_but_a_colleague_may(budget_app: PatientServices) -> None:
    line_id = new_line(budget_app)
    ask = bc.RequestAmendment(amount=money("-400"), reason="ward closed")
    version = budget_app.execute(ask, MANAGER, target=line_id).version
    [request_id] = budget_app.get_aggregate(line_id, BudgetLine).open_requests
    approve = bc.AmendBudget(
        amount=money("-400"), approval_ref="CHG-1", request_id=UUID(request_id)
    )
    with pytest.raises(SegregationOfDutiesError):
        budget_app.execute(approve, MANAGER, target=line_id)
    colleague = RequestContext(actor_id="manager-2", actor_role="manager", correlation_id="r2")
    assert budget_app.execute(approve, colleague, target=line_id).version == version + 1
    (*_, asked, amended) = list(budget_app.events.get(line_id))
    assert (asked.actor_id, amended.actor_id) == ("manager-1", "manager-2")
    assert amended.request_id == asked.event_id == UUID(request_id)


@pytest.mark.parametrize(
    ("amount", "path"),
    [
        (b"12.5", "$.amount.amount"),  # a JSON number: never a float on the way in
        (b'"1.5e3"', "$.amount"),  # an exponent
        (b'"12.505"', "$.amount"),  # three decimals in GBP
        (b'" 12"', "$.amount"),
        (b'"12."', "$.amount"),
    ],
)
def test_an_amount_that_is_not_a_plain_decimal_string_in_its_currency_is_a_400(
    amount: bytes, path: str
) -> None:
    body = b'{"amount": {"amount": ' + amount + b', "currency": "GBP"}, "approvalRef": "A"}'
    with pytest.raises(msgspec.ValidationError) as refused:
        decode(bc.ApproveBudget, body)
    assert str(refused.value).endswith(f"at `{path}`")


def test_a_whole_yen_amount_decodes() -> None:
    body = b'{"amount": {"amount": "5", "currency": "JPY"}, "approvalRef": "A"}'
    assert decode(bc.ApproveBudget, body).amount.money().minor == 5


@pytest.mark.parametrize(
    "body",
    [
        b'{"amount": {"amount": "5.5", "currency": "JPY"}, "approvalRef": "A"}',
        b'{"amount": {"amount": "5.5", "currency": "XXX"}, "approvalRef": "A"}',
        b'{"amount": {"amount": "5", "currency": "GBP", "rate": 1}, "approvalRef": "A"}',
        b'{"amount": {"amount": "5", "currency": "GBP"}, "approvalRef": "A", "phasing": []}',
    ],
)
def test_decimals_beyond_the_currency_unknown_currencies_and_fields_are_refused(
    body: bytes,
) -> None:
    with pytest.raises(msgspec.ValidationError):
        decode(bc.ApproveBudget, body)


# ---- who may do what -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        (bc.CreateBudgetLine, {"finance", "finance_director", "board"}),
        (bc.ApproveBudget, {"finance", "finance_director", "board"}),
        (bc.TransferBudget, {"finance", "finance_director", "board"}),
        (bc.RecordCommitment, {"finance", "finance_director", "board"}),
        (bc.RecordActual, {"finance", "finance_director", "board"}),
        (bc.CloseLine, {"finance", "finance_director", "board"}),
        (bc.ReversePosting, {"finance", "finance_director", "board"}),
        (bc.AmendBudget, {"manager", "finance", "finance_director", "board"}),
        (bc.AuthoriseOverspend, {"manager", "finance", "finance_director", "board"}),
        (bc.UpdateForecast, {"manager", "finance", "finance_director", "board"}),
        (bc.RecordPreEncumbrance, {"manager", "finance", "finance_director", "board"}),
        (bc.RequestAmendment, {"manager", "finance", "finance_director", "board"}),
        (bc.RequestOverspendAuthorisation, {"manager", "finance", "finance_director", "board"}),
        (bc.RejectRequest, {"manager", "finance", "finance_director", "board"}),
    ],
)
def test_roles_follow_the_spec(command: Any, allowed: set[str]) -> None:
    assert command.roles == allowed
    for role in ("clerk", "nurse", "clinician", "auditor", "admin", "integration"):
        with pytest.raises(NotAuthorisedError):
            acting_role([role], command)


def test_a_caller_with_several_roles_approves_with_the_highest_tier() -> None:
    assert acting_role(["manager", "finance"], bc.AmendBudget) == "finance"
    assert acting_role(["finance", "board", "manager"], bc.AuthoriseOverspend) == "board"
    assert acting_role(["manager", "finance_director"], bc.TransferBudget) == "finance_director"


def test_a_manager_may_not_commit_funds(budget_app: PatientServices) -> None:
    line_id = new_line(budget_app)
    with pytest.raises(NotAuthorisedError):
        budget_app.execute(bc.RecordCommitment(reference="PO-1", amount=money("1")), MANAGER,
                    target=line_id)  # fmt: skip


def test_a_manager_amends_within_the_tier_and_above_it_approval_is_required(
    budget_app: PatientServices,
) -> None:
    line_id = new_line(budget_app)
    budget_app.execute(bc.AmendBudget(amount=money("5000"), approval_ref="CHG-1"), MANAGER,
                target=line_id)  # fmt: skip
    with pytest.raises(ApprovalRequiredError):
        budget_app.execute(bc.AmendBudget(amount=money("5000.01"), approval_ref="CHG-2"), MANAGER,
                    target=line_id)  # fmt: skip
    line = budget_app.get_aggregate(line_id, BudgetLine)
    assert (line.current_budget, line.version) == (Decimal("15000.00"), 3)
    (*_, amended) = list(budget_app.events.get(line_id))
    assert (amended.actor_role, amended.approval_tier) == ("manager", "manager")


# ---- creation and repeats --------------------------------------------------------------------
def test_a_second_line_for_the_same_year_cost_centre_and_category_is_refused(
    budget_app: PatientServices,
) -> None:
    line_id = new_line(budget_app)
    create = bc.CreateBudgetLine(
        fiscal_year=2026, cost_centre="CC-1", category="supplies", currency="EUR"
    )
    with pytest.raises(AlreadyExistsError) as refused:
        budget_app.execute(create, FINANCE)
    assert refused.value.aggregate_id == line_id
    assert budget_app.get_aggregate(line_id, BudgetLine).currency == "GBP"


@pytest.mark.parametrize("cost_centre", ["cc-1", " CC-1 ", "Cc-1"])
def test_a_cost_centre_differing_only_in_case_or_spacing_is_the_same_line(
    budget_app: PatientServices, cost_centre: str
) -> None:
    line_id = new_line(budget_app)
    create = bc.CreateBudgetLine(
        fiscal_year=2026, cost_centre=cost_centre, category="supplies", currency="GBP"
    )
    with pytest.raises(AlreadyExistsError) as refused:
        budget_app.execute(create, FINANCE)
    assert refused.value.aggregate_id == line_id


def test_a_reversal_through_the_application_frees_the_funds_and_is_not_repeated(
    budget_app: PatientServices,
) -> None:
    line_id = new_line(budget_app)
    budget_app.execute(
        bc.RecordActual(reference="INV-1", amount=money("600")), FINANCE, target=line_id
    )
    reversal = bc.ReversePosting(stage="actual", reference="INV-1", reason="keyed twice")
    budget_app.execute(reversal, FINANCE, target=line_id)
    line = budget_app.get_aggregate(line_id, BudgetLine)
    assert (line.actual, line.available) == (0, Decimal("10000.00"))
    with pytest.raises(AlreadyCancelledError):
        budget_app.execute(reversal, FINANCE, target=line_id)


def test_a_repeated_posting_answers_with_the_lines_version_and_records_nothing(
    budget_app: PatientServices,
) -> None:
    line_id = new_line(budget_app)
    posting = bc.RecordCommitment(reference="PO-1", amount=money("250"))
    first = budget_app.execute(posting, FINANCE, target=line_id)
    size = log_size(budget_app)
    again = budget_app.execute(posting, FINANCE, target=line_id)
    assert (again.id, again.version, again.position) == (first.id, first.version, first.position)
    assert log_size(budget_app) == size
    assert budget_app.get_aggregate(line_id, BudgetLine).committed == Decimal("250.00")


# ---- transfers -------------------------------------------------------------------------------
def test_a_transfer_saves_both_lines_and_the_reply_names_the_source(
    budget_app: PatientServices,
) -> None:
    source, target = new_line(budget_app, "CC-1"), new_line(budget_app, "CC-2", budget="100")
    transfer = bc.TransferBudget(
        from_line_id=source, to_line_id=target, amount=money("2500"), reason="winter pressures"
    )
    result = budget_app.execute(transfer, FINANCE)
    assert (result.id, result.version, result.created) == (source, 3, False)
    out_line, in_line = (budget_app.get_aggregate(i, BudgetLine) for i in (source, target))
    assert (out_line.current_budget, in_line.current_budget) == (7500, 2600)
    (*_, out), (*_, into) = budget_app.events.get(source), budget_app.events.get(target)
    assert out.command_id == into.command_id and out.reason == "winter pressures"


@pytest.mark.parametrize(
    ("amount", "error"),
    [("10000.01", InsufficientFundsError), ("0", DomainValidationError)],
)
def test_a_refused_transfer_changes_neither_line(
    budget_app: PatientServices, amount: str, error: type[Exception]
) -> None:
    source, target = new_line(budget_app, "CC-1"), new_line(budget_app, "CC-2")
    transfer = bc.TransferBudget(
        from_line_id=source, to_line_id=target, amount=money(amount), reason="re-plan"
    )
    with pytest.raises(error):
        budget_app.execute(transfer, FINANCE)
    assert [budget_app.get_aggregate(i, BudgetLine).version for i in (source, target)] == [2, 2]


def test_a_refused_transfer_is_audited_against_its_source_line(budget_app: PatientServices) -> None:
    source, target = new_line(budget_app, "CC-1"), new_line(budget_app, "CC-2")
    size = log_size(budget_app)
    transfer = bc.TransferBudget(
        from_line_id=source, to_line_id=target, amount=money("10000.01"), reason="re-plan"
    )
    with pytest.raises(InsufficientFundsError):
        budget_app.execute(transfer, FINANCE)
    [attempt] = [budget_app.mapper.to_domain_event(n)
                 for n in budget_app.recorder.select_notifications(size + 1, 10)]  # fmt: skip
    assert isinstance(attempt, CommandAttempt.Refused)
    assert (attempt.action, attempt.code, attempt.target_type, attempt.target_id) == (
        "TransferBudget", "INSUFFICIENT_FUNDS", "BudgetLine", str(source),
    )  # fmt: skip


def test_a_transfer_to_itself_or_to_a_line_that_does_not_exist_is_refused(
    budget_app: PatientServices,
) -> None:
    source = new_line(budget_app)
    for target, error in ((source, DomainValidationError), (UUID(int=7), NotFoundError)):
        transfer = bc.TransferBudget(
            from_line_id=source, to_line_id=target, amount=money("1"), reason="re-plan"
        )
        with pytest.raises(error):
            budget_app.execute(transfer, FINANCE)
    assert budget_app.get_aggregate(source, BudgetLine).version == 2


def test_a_transfer_is_timed_by_occurred_at_and_phased_from_that_period(
    budget_app: PatientServices,
) -> None:
    source, target = new_line(budget_app, "CC-1"), new_line(budget_app, "CC-2")
    when = NOW - timedelta(days=61)  # 1 April 2026: period 1
    transfer = bc.TransferBudget(
        from_line_id=source, to_line_id=target, amount=money("1200"), reason="re-plan",
        occurred_at=when,
    )  # fmt: skip
    budget_app.execute(transfer, FINANCE)
    assert budget_app.get_aggregate(target, BudgetLine).phasing_minor == [93_334] * 4 + [93_333] * 8
