"""The loss bound of access records on a crash, against a real ``patient-services serve``
killed with SIGKILL (no shutdown, no final flush), on SQLite and PostgreSQL.

The server saves its buffer in the background, in order. So what a crash may lose is a
tail: the reads answered after the last save. The test reads, waits (from outside, in the
store) until the background saves have caught up with a chosen read, reads some more and
kills the server. Then every read up to the chosen one is in the log, each once, and what
is missing is only a tail of the reads after it. No wall-clock bound is asserted: a busy
machine may delay a save by any amount, and that must not make the test lie either way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from adapters.auth_tokens import mint_token
from adapters.settings import Settings
from adapters.storage import ensure_schema, eventsourcing_env
from application.service import PatientServices
from application.shared.access import AccessRecord
from tests.support.api import recorded_since
from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
FLUSH_MS = 300
READ_SECONDS = 2.0
#: How long the background saves may take to catch up with the chosen read: a guard against
#: a hung test, not a figure under test.
CATCH_UP_SECONDS = 60.0


def _request(port: int, path: str, headers: dict[str, str], body: bytes | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, headers=headers,
        method="POST" if body is not None else "GET",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert 200 <= reply.status < 300
        return json.loads(reply.read())


def _serve(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    env.update(VAR_DIR=str(settings.var_dir), JWT_SECRET=settings.jwt_secret,
               LOG_LEVEL="WARNING", LOG_FORMAT="json", ACCESS_FLUSH_MS=str(FLUSH_MS))  # fmt: skip
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    command = [sys.executable, "-m", "adapters.cli", "serve", "--port", str(port), "--no-workers"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    pytest.fail("serve did not become ready in 60 s")


def _saved_correlations(settings: Settings) -> list[str]:
    services = PatientServices(env=eventsourcing_env(settings))
    try:
        return [
            e.correlation_id for e in recorded_since(services, 0)
            if isinstance(e, AccessRecord.Accessed)
        ]  # fmt: skip
    finally:
        services.close()


def _read_for(
    port: int, visit: str, headers: dict[str, str], seconds: float, first: int
) -> list[str]:
    answered: list[str] = []
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        correlation = f"crash-{first + len(answered)}"
        _request(port, f"/api/v1/visits/{visit}", {**headers, "X-Correlation-Id": correlation})
        answered.append(correlation)
    return answered


def test_a_killed_server_loses_at_most_the_reads_after_its_last_save(
    store_settings: Settings, tmp_path: Path
) -> None:
    ensure_schema(store_settings)
    port = free_port()
    headers = {"Authorization": f"Bearer {mint_token(store_settings, 'nina', ['clerk'])}",
               "Content-Type": "application/json"}  # fmt: skip
    server = _serve(store_settings, port, tmp_path / "server.log")
    try:
        body = {"patientRef": "P-1", "visitClass": "EMER", "serviceUnit": "ED"}
        visit = _request(port, "/api/v1/visits/walk-ins", headers, json.dumps(body).encode())["id"]
        answered = _read_for(port, visit, headers, READ_SECONDS, 0)
        chosen = answered[-1]
        deadline = time.monotonic() + CATCH_UP_SECONDS
        while chosen not in _saved_correlations(store_settings):
            assert time.monotonic() < deadline, f"the background saves never reached {chosen}"
            time.sleep(FLUSH_MS / 1000)
        # More reads, so that the kill finds some in the buffer (at 300 ms per save).
        answered += _read_for(port, visit, headers, 0.5, len(answered))
        server.send_signal(signal.SIGKILL)  # no lifespan shutdown, no final flush
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)

    saved = _saved_correlations(store_settings)
    log = (tmp_path / "server.log").read_text(errors="replace")[-4000:]
    assert len(saved) == len(set(saved)), "a read was recorded twice"
    # Saved in the order answered, nothing skipped: the log holds a prefix of the reads...
    assert saved == answered[: len(saved)], f"the saved reads are not a prefix; log:\n{log}"
    # ...that reaches at least the read the background saves were seen to reach.
    lost = f"reads saved before the kill were lost; log:\n{log}"
    assert answered.index(chosen) < len(saved), lost
