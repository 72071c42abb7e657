"""``POST /api/v1/audit/verify`` with a signed checkpoint: the answer for a genuine and a
forged one, bad bodies refused with a problem (and nothing recorded), auditors only, and the
route in the OpenAPI document. Both stores are covered in
tests/integration/test_audit_checkpoint.py; these run on the embedded default (SQLite, the
key generated under VAR_DIR)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from adapters.audit_checkpoints import take_checkpoint
from adapters.audit_signing import SIGNING_KEY_FILE, signing_key
from adapters.readmodels.audit.store import AuditReadModel
from adapters.readmodels.database import ReadDatabase
from adapters.settings import Settings
from tests.support.api import Headers

VERIFY = "/api/v1/audit/verify"

pytestmark = pytest.mark.read_models([AuditReadModel])


@pytest.fixture
def checkpoint(
    settings: Settings, read_database: ReadDatabase, read_schedule: Callable[..., str]
) -> dict[str, Any]:
    read_schedule()
    taken = take_checkpoint(read_database, signing_key(settings), datetime.now(timezone.utc))
    fields: dict[str, Any] = msgspec.to_builtins(taken)
    return fields


def test_a_genuine_checkpoint_is_ok_and_a_forged_one_is_not_genuine(
    read_client: TestClient[Any],
    auth: Callable[..., Headers],
    checkpoint: dict[str, Any],
    settings: Settings,
) -> None:
    auditor = auth("auditor")

    genuine = read_client.post(VERIFY, json=checkpoint, headers=auditor)
    forged = read_client.post(VERIFY, json={**checkpoint, "position": 0}, headers=auditor)

    assert genuine.status_code == 200, genuine.text
    assert genuine.json() == {
        "ok": True, "checked": checkpoint["position"],
        "checkpointPosition": checkpoint["position"], "problem": None,
        "detail": genuine.json()["detail"], "headHash": checkpoint["headHash"],
        "keyId": checkpoint["keyId"], "logPosition": checkpoint["position"],
    }  # fmt: skip
    assert (forged.status_code, forged.json()["ok"], forged.json()["problem"]) == (
        200, False, "signature",
    )  # fmt: skip
    assert (settings.var_dir / SIGNING_KEY_FILE).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"position": "3"}, "position"),
        ({"headHash": "xyz"}, "headHash"),
        ({"takenAt": "yesterday"}, "takenAt"),
        ({"signature": None}, "signature"),
        ({"note": "hello"}, None),
    ],
)
def test_a_malformed_checkpoint_is_a_400_problem_and_records_nothing(
    read_client: TestClient[Any],
    read_database: ReadDatabase,
    auth: Callable[..., Headers],
    checkpoint: dict[str, Any],
    change: dict[str, Any],
    field: str | None,
) -> None:
    before = read_database.head_position()

    reply = read_client.post(VERIFY, json={**checkpoint, **change}, headers=auth("auditor"))

    assert reply.status_code == 400, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["code"] == "VALIDATION"
    if field is not None:
        assert [e["field"] for e in reply.json()["errors"]] == [field]
    assert read_database.head_position() == before


def test_an_empty_or_non_json_body_is_refused(
    read_client: TestClient[Any], auth: Callable[..., Headers], checkpoint: dict[str, Any]
) -> None:
    auditor = auth("auditor")

    empty = read_client.post(VERIFY, content=b"", headers=auditor)
    broken = read_client.post(VERIFY, content=b"{not json", headers=auditor)
    text = read_client.post(
        VERIFY, content=msgspec.json.encode(checkpoint),
        headers={**auditor, "Content-Type": "text/plain"},
    )  # fmt: skip

    assert (empty.status_code, broken.status_code, text.status_code) == (400, 400, 415)


def test_only_auditors_may_post_a_checkpoint(
    read_client: TestClient[Any], auth: Callable[..., Headers], checkpoint: dict[str, Any]
) -> None:
    reply = read_client.post(VERIFY, json=checkpoint, headers=auth("nurse", "manager"))

    assert (reply.status_code, reply.json()["code"]) == (403, "NOT_AUTHORISED")


def test_the_document_describes_the_posted_checkpoint_and_the_answer(
    read_client: TestClient[Any],
) -> None:
    document = read_client.get("/schema/openapi.json").json()
    operation = document["paths"][VERIFY]["post"]

    body = operation["requestBody"]["content"]["application/json"]["schema"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert operation["operationId"] == "verifyAuditCheckpoint"
    assert body["$ref"].endswith("/Checkpoint") and answer["$ref"].endswith("/CheckpointResult")
    assert {"400", "403", "415", "503"} <= set(operation["responses"])
    assert "get" in document["paths"][VERIFY]  # the chain check is still there
