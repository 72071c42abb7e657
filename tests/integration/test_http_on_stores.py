"""The HTTP API over the real stores, with the app building its own services from Settings,
exactly as ``patient-services serve`` does (lifespan, tables created on start)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.auth_tokens import mint_token
from adapters.http.app import create_app
from adapters.settings import Settings

API = "/api/v1/visits"


def serve(settings: Settings) -> TestClient[Any]:
    return TestClient(create_app(settings))


@pytest.fixture
def store_staff(store_settings: Settings) -> dict[str, str]:
    token = mint_token(store_settings, "alice", ["clerk", "nurse", "clinician", "manager"])
    return {"Authorization": f"Bearer {token}"}


def _iso(t: datetime) -> str:
    return t.isoformat()


def test_a_visit_walks_from_booking_to_close_and_reads_back_as_of_each_version(
    served_client: TestClient[Any], store_staff: dict[str, str]
) -> None:
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    created = served_client.post(
        API,
        json={
            "patientRef": "P-77",
            "visitClass": "EMER",
            "serviceUnit": "ED",
            "scheduledStart": _iso(start),
        },
        headers=store_staff,
    )
    assert created.status_code == 201, created.text
    visit = created.json()["id"]
    assert created.headers["location"] == f"{API}/{visit}"
    positions = [created.json()["position"]]
    for action, body in [
        ("arrive", {"arrivalMode": "walk"}),
        ("triage", {"acuityScale": "ESI", "acuityLevel": 2}),
        ("clinician-contact", {"clinicianRef": "dr-9"}),
        ("discharge", {"disposition": "home"}),
        ("close", {}),
    ]:
        reply = served_client.post(f"{API}/{visit}/{action}", json=body, headers=store_staff)
        assert reply.status_code == 200, (action, reply.text)
        positions.append(reply.json()["position"])
    assert positions == sorted(positions) and len(set(positions)) == len(positions)

    now = served_client.get(f"{API}/{visit}", headers=store_staff)
    assert now.status_code == 200
    assert (now.json()["status"], now.json()["version"], now.headers["etag"]) == (
        "closed",
        6,
        '"6"',
    )
    triaged = served_client.get(
        f"{API}/{visit}", params={"asOfVersion": 3}, headers=store_staff
    ).json()
    assert (triaged["status"], triaged["acuityLevel"]) == ("triaged", 2)


def test_a_stale_if_match_is_412_and_records_nothing(
    served_client: TestClient[Any], store_staff: dict[str, str]
) -> None:
    start = datetime.now(timezone.utc) + timedelta(days=1)
    visit = served_client.post(
        API,
        json={
            "patientRef": "P-78",
            "visitClass": "AMB",
            "serviceUnit": "OPD",
            "scheduledStart": _iso(start),
        },
        headers=store_staff,
    ).json()["id"]
    assert (
        served_client.post(
            f"{API}/{visit}/arrive", json={}, headers={**store_staff, "If-Match": '"1"'}
        ).status_code
        == 200
    )
    stale = served_client.post(
        f"{API}/{visit}/cancel",
        json={"reason": "asked"},
        headers={**store_staff, "If-Match": '"1"'},
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert served_client.get(f"{API}/{visit}", headers=store_staff).json()["version"] == 2


def test_an_idempotency_key_survives_a_restart_of_the_service(
    store_settings: Settings, store_staff: dict[str, str]
) -> None:
    body = {
        "patientRef": "P-79", "visitClass": "AMB", "serviceUnit": "OPD",
        "scheduledStart": _iso(datetime.now(timezone.utc) + timedelta(days=3)),
    }  # fmt: skip
    headers = {**store_staff, "Idempotency-Key": "booking-79"}
    with serve(store_settings) as first_process:
        first = first_process.post(API, json=body, headers=headers)
    assert first.status_code == 201
    with serve(store_settings) as second_process:
        again = second_process.post(API, json=body, headers=headers)
        other = second_process.post(API, json={**body, "serviceUnit": "OPD-2"}, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert other.status_code == 422
