"""CORS_ALLOW_ORIGINS: a front end on another origin can call the API; preflights are answered
without a token; other origins get nothing that lets a browser read the answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.http.app import create_app
from adapters.settings import Settings, SettingsError
from application.service import PatientServices
from tests.support.api import Headers

FRONT_END = "https://board.example.org"


@pytest.fixture
def cors_client(settings: Settings, memory_services: PatientServices) -> Iterator[TestClient[Any]]:
    allowed = replace(settings, cors_allow_origins=(FRONT_END, "http://localhost:5173"))
    with TestClient(create_app(allowed, memory_services)) as test_client:
        yield test_client


def _preflight(client: TestClient[Any], origin: str, method: str = "POST") -> Any:
    return client.options(
        "/api/v1/visits",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type,if-match,idempotency-key",
        },
    )


def test_a_preflight_from_an_allowed_origin_is_answered_without_a_token(
    cors_client: TestClient[Any],
) -> None:
    reply = _preflight(cors_client, FRONT_END)
    assert reply.status_code in (200, 204), reply.text
    assert reply.headers["access-control-allow-origin"] == FRONT_END
    allowed_headers = reply.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "if-match", "idempotency-key"):
        assert header in allowed_headers
    assert "POST" in reply.headers["access-control-allow-methods"]
    assert reply.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in reply.headers


def test_a_preflight_from_another_origin_is_not_allowed(cors_client: TestClient[Any]) -> None:
    reply = _preflight(cors_client, "https://evil.example.com")
    assert reply.headers.get("access-control-allow-origin") not in (
        "https://evil.example.com",
        "*",
    )
    assert reply.status_code >= 400


def test_an_answer_to_an_allowed_origin_exposes_the_headers_a_front_end_reads(
    cors_client: TestClient[Any], clerk: Headers
) -> None:
    reply = cors_client.post(
        "/api/v1/visits",
        json={"patientRef": "P-1", "visitClass": "EMER", "serviceUnit": "ED",
              "scheduledStart": "2026-11-27T08:15:00Z"},
        headers={**clerk, "Origin": FRONT_END},
    )  # fmt: skip
    assert reply.status_code == 201
    assert reply.headers["access-control-allow-origin"] == FRONT_END
    exposed = {h.strip().lower() for h in reply.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "location", "x-projection-position", "x-correlation-id"} <= exposed


def test_without_the_setting_no_origin_is_allowed(client: TestClient[Any], clerk: Headers) -> None:
    assert "access-control-allow-origin" not in _preflight(client, FRONT_END).headers
    reply = client.get("/api/v1/visits", headers={**clerk, "Origin": FRONT_END})
    assert "access-control-allow-origin" not in reply.headers


def test_the_setting_is_read_from_the_environment_and_checked(settings: Settings) -> None:
    env = {"JWT_SECRET": settings.jwt_secret or "", "VAR_DIR": str(settings.var_dir)}
    read = Settings.from_env({**env, "CORS_ALLOW_ORIGINS": f"{FRONT_END}, http://[::1]:8080"})
    assert read.cors_allow_origins == (FRONT_END, "http://[::1]:8080")
    for bad in ("*", "https://board.example.org/ui", "board.example.org", "ftp://x.org"):
        with pytest.raises(SettingsError, match="CORS_ALLOW_ORIGINS"):
            Settings.from_env({**env, "CORS_ALLOW_ORIGINS": bad})
