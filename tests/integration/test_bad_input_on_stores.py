"""Control characters in query filters on both stores: a NUL reached PostgreSQL's text
parameters and was a 500 (``PostgreSQL text fields cannot contain NUL``); now it is a 400
naming the filter, and nothing is recorded or wedged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.auth_tokens import mint_token
from adapters.settings import Settings

FILTERS = [
    ("/api/v1/flow/board", "unit", {}),
    ("/api/v1/flow/census", "unit", {}),
    ("/api/v1/flow/metrics", "unit", {}),
    ("/api/v1/audit/events", "actor", {}),
    ("/api/v1/audit/events", "patientRef", {}),
    ("/api/v1/audit/events", "action", {}),
    ("/api/v1/audit/events", "aggregateId", {}),
    ("/api/v1/audit/export", "actor", {"format": "csv"}),
    ("/api/v1/audit/export", "patientRef", {"format": "fhir-ndjson"}),
    ("/api/v1/complaints/worklist", "assignee", {}),
    ("/api/v1/complaints/worklist", "cursor", {}),
    ("/api/v1/budget/summary", "costCentre", {"fiscalYear": "2026"}),
]


@pytest.fixture
def store_readers(store_settings: Settings) -> dict[str, str]:
    roles = ["clerk", "nurse", "clinician", "manager", "auditor", "finance"]
    return {"Authorization": f"Bearer {mint_token(store_settings, 'eve', roles)}"}


@pytest.mark.parametrize(("path", "name", "others"), FILTERS, ids=lambda v: str(v))
def test_a_nul_in_a_query_filter_is_a_400_naming_it(
    served_client: TestClient[Any],
    store_readers: dict[str, str],
    path: str,
    name: str,
    others: dict[str, str],
) -> None:
    reply = served_client.get(path, params={**others, name: "a\x00b"}, headers=store_readers)

    assert reply.status_code == 400, reply.text
    problem = reply.json()
    assert problem["code"] == "VALIDATION"
    assert problem["errors"][0]["field"] == name
    assert served_client.get("/ready").status_code == 200


def test_the_token_command_refuses_a_subject_the_service_would_refuse(tmp_path: Path) -> None:
    env = {**os.environ, "JWT_SECRET": "s" * 40, "VAR_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "adapters.cli", "token", "--sub", "a\x01b", "--role", "clerk"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "control characters" in done.stderr and "Traceback" not in done.stderr
