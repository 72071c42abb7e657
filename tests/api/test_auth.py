"""Authentication (401 with WWW-Authenticate) and role checks (403), denied before anything is
read; what is recorded is the denial alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import TestClient

import adapters.http.kit.auth as http_auth
from adapters.auth_tokens import mint_token
from adapters.settings import Settings
from application.service import PatientServices
from tests.support.api import API, Headers, LogRecorder, only_attempt_since, position, visit_body


def expired_token(settings: Settings) -> str:
    issued = datetime.now(timezone.utc) - timedelta(hours=2)
    return mint_token(settings, "alice", ["clerk"], timedelta(minutes=30), now=issued)


def forged_token(settings: Settings) -> str:
    other = Settings(jwt_secret="another-secret-" + "y" * 40, var_dir=settings.var_dir)
    return mint_token(other, "alice", ["clerk"])


@pytest.mark.parametrize(
    ("make_token", "reason", "code", "actor"),
    [
        # An expired token's signature is good: who it was is known, and recorded.
        (expired_token, "the token has expired", "TOKEN_EXPIRED", "alice"),
        (forged_token, "the token signature is invalid", "TOKEN_SIGNATURE", "unverified"),
        (lambda _: "not.a.jwt", "the token is malformed", "TOKEN_MALFORMED", "unverified"),
    ],
    ids=["expired", "forged", "malformed"],
)
def test_an_unusable_token_is_401_with_an_invalid_token_challenge(
    client: TestClient[Any],
    settings: Settings,
    memory_services: PatientServices,
    make_token: Callable[[Settings], str],
    reason: str,
    code: str,
    actor: str,
) -> None:
    token = make_token(settings)
    headers = {"Authorization": f"Bearer {token}"}
    before = position(memory_services)

    reply = client.post(API, json=visit_body(), headers=headers)

    assert reply.status_code == 401
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.headers["WWW-Authenticate"].startswith("Bearer ")
    assert 'error="invalid_token"' in reply.headers["WWW-Authenticate"]
    problem = reply.json()
    assert (problem["code"], problem["detail"]) == ("UNAUTHENTICATED", reason)
    # The denial alone is recorded: who (if known), the reason's code; never the token.
    denial = only_attempt_since(memory_services, before)
    assert (denial.outcome, denial.code, denial.action) == ("denied", code, "authenticate")
    assert denial.actor_id == actor
    assert token not in repr(vars(denial))


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic YWxpY2U6cHc=", "Bearer", "Bearer   "],
    ids=["none", "basic", "empty", "blank"],
)
def test_a_request_without_a_bearer_token_is_401_with_a_bearer_challenge(
    client: TestClient[Any], memory_services: PatientServices, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    reply = client.post(API, json=visit_body(), headers=headers)

    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="patient-services"'
    assert reply.json()["code"] == "UNAUTHENTICATED"
    assert position(memory_services) == 0


def test_reads_need_a_token_too(client: TestClient[Any], schedule: Callable[..., str]) -> None:
    visit_id = schedule()

    reply = client.get(f"{API}/{visit_id}")

    assert reply.status_code == 401
    assert "patientRef" not in reply.text


def test_authentication_comes_before_the_body_is_looked_at(client: TestClient[Any]) -> None:
    reply = client.post(API, content=b"{not json", headers={"Content-Type": "application/json"})

    assert reply.status_code == 401


def test_a_role_that_may_not_issue_the_command_is_403_and_logged_without_the_body(
    client: TestClient[Any],
    auth: Callable[..., Headers],
    memory_services: PatientServices,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = LogRecorder()
    monkeypatch.setattr(http_auth, "log", log)

    reply = client.post(
        API, json=visit_body(patientRef="P-SECRET"), headers=auth("nurse", "finance", sub="bob")
    )

    assert reply.status_code == 403
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.json()["code"] == "NOT_AUTHORISED"
    denial = only_attempt_since(memory_services, 0)
    assert (denial.outcome, denial.actor_id) == ("denied", "bob")
    assert denial.actor_role == "nurse,finance"  # the roles tried
    assert b"P-SECRET" not in memory_services.recorder.select_notifications(1, 1)[0].state
    assert log.lines == [
        (
            "warning",
            "access.denied",
            {"actor_id": "bob", "roles": ["nurse", "finance"], "action": "ScheduleVisit"},
        )
    ]


def test_the_role_is_checked_before_the_body_is_decoded(
    client: TestClient[Any], auth: Callable[..., Headers]
) -> None:
    reply = client.post(API, content=b"{not json", headers=auth("nurse"))

    assert reply.status_code == 403


def test_a_denied_read_is_logged(
    client: TestClient[Any],
    auth: Callable[..., Headers],
    schedule: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    visit_id = schedule()
    log = LogRecorder()
    monkeypatch.setattr(http_auth, "log", log)

    reply = client.get(f"{API}/{visit_id}", headers=auth("finance", sub="carol"))

    assert reply.status_code == 403
    assert [(event, values["actor_id"], values["action"]) for _, event, values in log.lines] == [
        ("access.denied", "carol", "read visits")
    ]


def test_a_verified_token_is_refused_once_it_expires(
    client: TestClient[Any], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Verified tokens are remembered; expiry must still be checked on every use.
    token = mint_token(settings, "alice", ["clerk"], timedelta(minutes=5))
    headers = {"Authorization": f"Bearer {token}"}
    path = f"{API}/{uuid4()}"
    assert client.get(path, headers=headers).status_code == 404

    later = datetime.now(timezone.utc) + timedelta(minutes=10)
    monkeypatch.setattr(http_auth, "utc_now", lambda: later)
    reply = client.get(path, headers=headers)

    assert reply.status_code == 401
    assert reply.json()["detail"] == "the token has expired"


def test_a_clerk_sending_feed_headers_is_denied_and_logged(
    client: TestClient[Any], clerk: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = LogRecorder()
    monkeypatch.setattr(http_auth, "log", log)
    headers = {**clerk, "X-Source-System": "PAS", "X-Source-Message-Id": "MSG1"}

    reply = client.post(API, json=visit_body(), headers=headers)

    assert reply.status_code == 403
    assert [event for _, event, _ in log.lines] == ["access.denied"]
