"""The loss bound of access records on a crash, against a real ``patient-services serve``
killed with SIGKILL (no shutdown, no final flush), on SQLite and PostgreSQL: every read
answered more than one flush interval (plus a save in flight) before the kill is in the
log, each once; only a bounded tail of the last reads may be missing."""

from __future__ import annotations

import json
import os
import signal
import socket
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

REPO = Path(__file__).resolve().parents[2]
FLUSH_MS = 300
#: What a save in flight (and a busy CI machine) may add to the interval before a read is
#: saved; reads older than interval + this at the kill must all be in the log.
SAVE_SLACK_SECONDS = 1.5
READ_SECONDS = 4.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def test_a_killed_server_loses_at_most_the_reads_of_its_last_flush_interval(
    store_settings: Settings, tmp_path: Path
) -> None:
    ensure_schema(store_settings)
    port = _free_port()
    headers = {"Authorization": f"Bearer {mint_token(store_settings, 'nina', ['clerk'])}",
               "Content-Type": "application/json"}  # fmt: skip
    server = _serve(store_settings, port, tmp_path / "server.log")
    answered: list[tuple[str, float]] = []
    try:
        body = {"patientRef": "P-1", "visitClass": "EMER", "serviceUnit": "ED"}
        visit = _request(port, "/api/v1/visits/walk-ins", headers, json.dumps(body).encode())["id"]
        stop_at = time.monotonic() + READ_SECONDS
        n = 0
        while time.monotonic() < stop_at:
            correlation = f"crash-{n}"
            _request(port, f"/api/v1/visits/{visit}", {**headers, "X-Correlation-Id": correlation})
            answered.append((correlation, time.monotonic()))
            n += 1
        server.send_signal(signal.SIGKILL)  # no lifespan shutdown, no final flush
        killed_at = time.monotonic()
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)

    services = PatientServices(env=eventsourcing_env(store_settings))
    try:
        saved = [
            e.correlation_id for e in recorded_since(services, 0)
            if isinstance(e, AccessRecord.Accessed)
        ]  # fmt: skip
    finally:
        services.close()
    assert len(saved) == len(set(saved))  # none twice
    assert set(saved) <= {correlation for correlation, _ in answered}
    bound = FLUSH_MS / 1000 + SAVE_SLACK_SECONDS
    old_enough = [c for c, at in answered if at < killed_at - bound]
    assert len(old_enough) > len(answered) // 3, "too few reads to judge"
    missing = [c for c in old_enough if c not in set(saved)]
    log = (tmp_path / "server.log").read_text(errors="replace")[-4000:]
    assert missing == [], f"{len(missing)} reads older than {bound} s were lost; server log:\n{log}"
    lost_tail = [c for c, _ in answered if c not in set(saved)]
    tail = [c for c, at in answered if at >= killed_at - bound]
    assert set(lost_tail) <= set(tail)
