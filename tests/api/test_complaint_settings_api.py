"""The facility's complaint settings over HTTP (issue 16): an admin chooses the default policy
and the holiday calendar as events; the service's settings stand until then; a choice applies
to the decisions after it and never moves a deadline already set. On a real SQLite store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.readmodels.complaints.store import ComplaintsReadModel
from application.service import PatientServices
from tests.api.test_complaint_api import (
    COMPLAINTS,
    FRIDAY_BEFORE_BANK_HOLIDAY,
    NHS,
    complaint,
    state,
)
from tests.support.api import Headers, iso, now, position

pytestmark = pytest.mark.read_models([ComplaintsReadModel])

SETTINGS = "/api/v1/complaint-settings"
#: FRIDAY_BEFORE_BANK_HOLIDAY + 3 working days, by calendar: England and Wales skips the
#: May Day Monday (due end of Thursday); weekends-only does not (end of Wednesday); the
#: trust's own calendar below closes Monday and Tuesday (end of Friday). BST: 23:00 UTC.
DUE_BY_CALENDAR = {
    "england-and-wales": "2025-05-08T23:00:00Z",
    "weekends-only": "2025-05-07T23:00:00Z",
    "trust-2025": "2025-05-09T23:00:00Z",
}
TRUST_HOLIDAYS = ["2025-05-05", "2025-05-06", "2025-12-25"]


def settings_now(client: TestClient[Any], headers: Headers, **params: str) -> dict[str, Any]:
    reply = client.get(SETTINGS, headers=headers, params=params)
    assert reply.status_code == 200, reply.text
    assert reply.headers["ETag"].startswith(f'"{reply.json()["version"]}-')
    return dict(reply.json())


def choose(client: TestClient[Any], admin: Headers, what: str, **body: Any) -> dict[str, Any]:
    reply = client.post(f"{SETTINGS}/{what}", json=body, headers=admin)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def acknowledgement_due(client: TestClient[Any], manager: Headers, **overrides: Any) -> str:
    body = complaint(receivedAt=FRIDAY_BEFORE_BANK_HOLIDAY, **overrides)
    reply = client.post(COMPLAINTS, json=body, headers=manager)
    assert reply.status_code == 201, reply.text
    return str(state(client, manager, reply.json()["id"])["acknowledgementDueAt"])


def test_until_an_admin_chooses_the_services_settings_stand(
    read_client: TestClient[Any], manager: Headers
) -> None:
    body = settings_now(read_client, manager)

    assert (body["policy"], body["policySource"], body["version"]) == (None, "settings", 0)
    calendar = body["holidayCalendar"]
    assert (calendar["name"], calendar["source"]) == ("england-and-wales", "settings")
    assert calendar["regularPattern"] is True
    assert "2025-05-05" in calendar["holidays"]  # the May Day bank holiday of 2025
    # With no default policy a registration must name one: 400 naming the field.
    reply = read_client.post(COMPLAINTS, json=complaint(policy=None), headers=manager)
    assert (reply.status_code, reply.json()["errors"][0]["field"]) == (400, "policy")


def test_a_chosen_default_policy_is_followed_by_registrations_that_name_none(
    read_client: TestClient[Any], admin: Headers, manager: Headers
) -> None:
    accepted = choose(read_client, admin, "policy", policy=NHS)

    assert accepted["version"] == 2  # opened, then the choice: one transaction
    body = settings_now(read_client, manager)
    assert (body["policy"], body["policySource"], body["version"]) == (NHS, "facility", 2)
    reply = read_client.post(
        COMPLAINTS, json=complaint(policy=None, receivedAt=FRIDAY_BEFORE_BANK_HOLIDAY),
        headers=manager,
    )  # fmt: skip
    assert reply.status_code == 201, reply.text
    case = state(read_client, manager, reply.json()["id"])
    assert case["policy"] == NHS
    assert case["acknowledgementDueAt"] == DUE_BY_CALENDAR["england-and-wales"]
    # A registration naming its policy still follows it.
    named = read_client.post(COMPLAINTS, json=complaint(policy="us-cms"), headers=manager)
    assert state(read_client, manager, named.json()["id"])["policy"] == "us-cms"


def test_a_chosen_calendar_sets_later_deadlines_and_leaves_earlier_ones(
    read_client: TestClient[Any], admin: Headers, manager: Headers
) -> None:
    before = read_client.post(
        COMPLAINTS, json=complaint(receivedAt=FRIDAY_BEFORE_BANK_HOLIDAY), headers=manager
    ).json()["id"]
    chosen_at = iso(now())

    choose(read_client, admin, "holiday-calendar", name="weekends-only")
    assert acknowledgement_due(read_client, manager) == DUE_BY_CALENDAR["weekends-only"]
    choose(read_client, admin, "holiday-calendar", name="trust-2025", holidays=TRUST_HOLIDAYS)
    assert acknowledgement_due(read_client, manager) == DUE_BY_CALENDAR["trust-2025"]

    # The case registered first keeps the deadline its own decision computed.
    earlier = state(read_client, manager, before)["acknowledgementDueAt"]
    assert earlier == DUE_BY_CALENDAR["england-and-wales"]
    calendar = settings_now(read_client, manager)["holidayCalendar"]
    assert calendar == {"name": "trust-2025", "holidays": TRUST_HOLIDAYS,
                        "regularPattern": False, "source": "facility"}  # fmt: skip
    # As of a time before the choices: the service's own calendar.
    then = settings_now(read_client, manager, asOf=chosen_at)
    assert (then["holidayCalendar"]["name"], then["version"]) == ("england-and-wales", 0)
    # Back to the shipped calendar, by name.
    choose(read_client, admin, "holiday-calendar", name="england-and-wales")
    assert acknowledgement_due(read_client, manager) == DUE_BY_CALENDAR["england-and-wales"]


@pytest.mark.parametrize(
    ("what", "body", "field"),
    [
        ("policy", {"policy": "nhs-scotland"}, "policy"),
        ("holiday-calendar", {"name": "england-and-wales", "holidays": ["2025-05-05"]},
         "holidays"),
        ("holiday-calendar", {"name": "trust-2025"}, "holidays"),
        ("holiday-calendar", {"name": "trust", "holidays": ["2025-13-01"]}, "holidays[0]"),
        ("holiday-calendar", {"name": "a\x00b", "holidays": []}, "name"),
        ("holiday-calendar", {"name": "England-and-Wales ", "holidays": []}, "name"),
    ],
    ids=["unknown-policy", "shipped-with-days", "own-without-days", "bad-date", "nul-name",
         "lookalike-name"],
)  # fmt: skip
def test_an_invalid_choice_is_400_naming_the_field_and_records_nothing(
    read_client: TestClient[Any], admin: Headers, stored_services: PatientServices,
    what: str, body: dict[str, Any], field: str,
) -> None:  # fmt: skip
    reply = read_client.post(f"{SETTINGS}/{what}", json=body, headers=admin)

    assert reply.status_code == 400, reply.text
    assert (reply.json()["code"], reply.json()["errors"][0]["field"]) == ("VALIDATION", field)
    assert position(stored_services) == 0


def test_the_same_choice_again_is_400_and_records_nothing(
    read_client: TestClient[Any], admin: Headers, stored_services: PatientServices
) -> None:
    choose(read_client, admin, "policy", policy=NHS)
    before = position(stored_services)

    reply = read_client.post(f"{SETTINGS}/policy", json={"policy": NHS}, headers=admin)

    assert (reply.status_code, reply.json()["errors"][0]["field"]) == (400, "policy")
    assert "already" in reply.json()["detail"]
    assert position(stored_services) == before


def test_only_an_admin_may_choose_and_staff_may_read(
    read_client: TestClient[Any], manager: Headers, auth: Callable[..., Headers]
) -> None:
    reply = read_client.post(f"{SETTINGS}/policy", json={"policy": NHS}, headers=manager)
    assert reply.status_code == 403
    assert settings_now(read_client, auth("clerk"))["version"] == 0
    assert settings_now(read_client, auth("auditor"))["version"] == 0
    assert read_client.get(SETTINGS, headers=auth("privacy_officer")).status_code == 403
    assert read_client.get(SETTINGS).status_code == 401


def test_an_etag_held_is_304_until_a_choice_changes_it(
    read_client: TestClient[Any], admin: Headers, manager: Headers
) -> None:
    held = read_client.get(SETTINGS, headers=manager).headers["ETag"]
    again = read_client.get(SETTINGS, headers={**manager, "If-None-Match": held})
    assert again.status_code == 304
    choose(read_client, admin, "policy", policy=NHS)
    reply = read_client.get(SETTINGS, headers={**manager, "If-None-Match": held})
    assert reply.status_code == 200
    assert reply.headers["ETag"].startswith('"2-')
