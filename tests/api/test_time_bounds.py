"""Times outside what a hospital record can hold are refused as input (400), never a 500
from date arithmetic overflowing later (found in review)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from application.service import PatientServices
from tests.support.api import API, Headers, position, visit_body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("scheduledStart", "9999-12-31T23:59:59-23:59"),
        ("scheduledStart", "0001-01-01T00:00:00+01:00"),
    ],
    ids=["far-future", "year-one"],
)
def test_a_visit_scheduled_outside_1900_to_2200_is_400(
    client: TestClient[Any],
    clerk: Headers,
    memory_services: PatientServices,
    field: str,
    value: str,
) -> None:
    reply = client.post(API, json=visit_body(**{field: value}), headers=clerk)
    assert reply.status_code == 400
    problem = reply.json()
    assert problem["code"] == "VALIDATION"
    assert field in problem["detail"]
    assert position(memory_services) == 0


def test_an_occurred_at_in_year_one_is_400_not_500(
    client: TestClient[Any],
    clerk: Headers,
    schedule: Callable[..., str],
    memory_services: PatientServices,
) -> None:
    visit = schedule()
    before = position(memory_services)
    reply = client.post(
        f"{API}/{visit}/cancel",
        json={"reason": "asked", "occurredAt": "0001-01-01T00:00:00+01:00"},
        headers=clerk,
    )
    assert reply.status_code == 400
    assert reply.json()["code"] == "VALIDATION"
    assert position(memory_services) == before


def test_a_time_given_with_an_offset_is_stored_and_shown_in_utc(
    client: TestClient[Any], clerk: Headers
) -> None:
    body = visit_body(scheduledStart="2199-12-31T23:00:00+14:00")
    created = client.post(API, json=body, headers=clerk)
    assert created.status_code == 201, created.text

    shown = client.get(f"{API}/{created.json()['id']}", headers=clerk).json()

    assert shown["scheduledStart"] == "2199-12-31T09:00:00Z"
