"""GET /metrics: request and command counters, route templates as labels, the read-model
gauges, and the sum over several worker processes (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.auth_tokens import mint_token
from adapters.http.app import create_app
from adapters.http.kit.read_side import READ_DATABASE_STATE_KEY
from adapters.http.metrics import HttpMetrics
from adapters.http.metrics_commands import command_outcome
from adapters.readmodels.registry import read_model_factories
from adapters.readmodels.status import wait_for_position
from adapters.settings import Settings
from application.service import PatientServices
from tests.support.api import API, Headers, visit_body
from tests.support.ports import free_port

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
REPO = Path(__file__).resolve().parents[2]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    return samples.get((metric, frozenset(labels.items())), 0.0)


def scrape(client: TestClient[Any]) -> Samples:
    reply = client.get("/metrics")
    assert reply.status_code == 200, reply.text
    return parse(reply.text)


def requests_total(samples: Samples, method: str, route: str, status: int) -> float:
    return value(samples, "http_requests_total", method=method, route=route, status=str(status))


def commands_total(samples: Samples, command: str, outcome: str) -> float:
    return value(samples, "commands_total", command=command, outcome=outcome)


# ---- the endpoint ----------------------------------------------------------------------------
def test_metrics_answer_in_prometheus_text_format_without_a_token(
    client: TestClient[Any],
) -> None:
    reply = client.get("/metrics")

    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == TEXT_FORMAT
    families = {family.name for family in text_string_to_metric_families(reply.text)}
    assert {"http_requests", "http_request_duration_seconds", "commands"} <= families
    # Single process: the process's own collectors come along.
    assert "process_cpu_seconds" in families
    assert "_created" not in reply.text


def test_the_openapi_document_describes_metrics_as_text(client: TestClient[Any]) -> None:
    operation = client.get("/schema/openapi.json").json()["paths"]["/metrics"]["get"]

    assert operation["tags"] == ["Operations"]
    assert "security" not in operation
    assert list(operation["responses"]["200"]["content"]) == ["text/plain; version=0.0.4"]


# ---- requests and commands -------------------------------------------------------------------
def test_counters_move_for_an_accepted_a_denied_a_refused_and_an_unknown_command(
    client: TestClient[Any], clerk: Headers, schedule: Callable[..., str]
) -> None:
    visit_id = schedule()  # 201
    assert client.post(f"{API}/{visit_id}/triage", json={}, headers=clerk).status_code == 403
    cancel = {"reason": "patient asked"}
    assert client.post(f"{API}/{visit_id}/cancel", json=cancel, headers=clerk).status_code == 200
    assert client.post(f"{API}/{visit_id}/arrive", json={}, headers=clerk).status_code == 409
    assert client.post(f"{API}/{uuid4()}/arrive", json={}, headers=clerk).status_code == 404
    assert client.get("/no/such/route").status_code == 404

    samples = scrape(client)

    assert requests_total(samples, "POST", API, 201) == 1
    assert requests_total(samples, "POST", f"{API}/{{id}}/triage", 403) == 1
    assert requests_total(samples, "POST", f"{API}/{{id}}/cancel", 200) == 1
    assert requests_total(samples, "POST", f"{API}/{{id}}/arrive", 409) == 1
    assert requests_total(samples, "POST", f"{API}/{{id}}/arrive", 404) == 1
    assert requests_total(samples, "GET", "unmatched", 404) == 1
    assert commands_total(samples, "ScheduleVisit", "accepted") == 1
    assert commands_total(samples, "RecordTriage", "denied") == 1
    assert commands_total(samples, "CancelVisit", "accepted") == 1
    assert commands_total(samples, "RegisterArrival", "refused") == 1
    assert commands_total(samples, "RegisterArrival", "not_found") == 1
    # Routed requests are timed; unroutable ones are only counted.
    arrive = {"method": "POST", "route": f"{API}/{{id}}/arrive"}
    assert value(samples, "http_request_duration_seconds_count", **arrive) == 2
    assert value(samples, "http_request_duration_seconds_sum", **arrive) > 0
    assert (
        value(samples, "http_request_duration_seconds_count", method="GET", route="unmatched") == 0
    )


def test_replays_conflicts_invalid_and_unauthenticated_commands_have_their_outcomes(
    client: TestClient[Any], clerk: Headers, schedule: Callable[..., str]
) -> None:
    keyed, body = {**clerk, "Idempotency-Key": "metrics-1"}, visit_body()
    assert client.post(API, json=body, headers=keyed).status_code == 201
    replay = client.post(API, json=body, headers=keyed)
    assert replay.headers["Idempotent-Replayed"] == "true"
    visit_id = schedule()
    arrive = f"{API}/{visit_id}/arrive"
    assert client.post(arrive, json={}, headers=clerk).status_code == 200
    assert client.post(arrive, json={}, headers={**clerk, "If-Match": '"1"'}).status_code == 412
    assert client.post(arrive, json={"bogus": 1}, headers=clerk).status_code == 400
    plain = {**clerk, "Content-Type": "text/plain"}
    assert client.post(arrive, content=b"hello", headers=plain).status_code == 415
    assert client.post(arrive, json={}).status_code == 401

    samples = scrape(client)

    assert commands_total(samples, "ScheduleVisit", "accepted") == 2
    assert commands_total(samples, "ScheduleVisit", "replayed") == 1
    assert commands_total(samples, "RegisterArrival", "accepted") == 1
    assert commands_total(samples, "RegisterArrival", "conflict") == 1
    assert commands_total(samples, "RegisterArrival", "invalid") == 2
    assert commands_total(samples, "RegisterArrival", "unauthenticated") == 1
    assert requests_total(samples, "POST", f"{API}/{{id}}/arrive", 401) == 1


def test_a_409_is_a_conflict_only_for_version_conflict() -> None:
    def outcome(status: int, code: str = "", replayed: bool = False) -> str:
        return command_outcome(status, replayed, code)

    assert outcome(409, "VERSION_CONFLICT") == "conflict"
    assert outcome(409, "INVALID_TRANSITION") == "refused"
    assert outcome(409) == "refused"
    assert outcome(412) == "conflict"
    assert outcome(200, replayed=True) == "replayed"
    assert outcome(201) == "accepted"
    assert [outcome(s) for s in (400, 413, 415, 422)] == ["invalid"] * 4
    assert outcome(403) == "denied"
    assert outcome(500) == "error"
    assert outcome(503) == "error"


def test_a_version_conflict_is_told_from_a_refusal_by_the_problem_code() -> None:
    """Drives the hook as Litestar does: a 409 body in two parts, then the same for a refusal.
    (A VERSION_CONFLICT 409 takes two writers racing; the API tests of that live elsewhere.)"""
    metrics = HttpMetrics()
    handler = SimpleNamespace(opt={"command": "RegisterArrival"})  # declared, not inferred

    def respond(*parts: bytes) -> None:
        scope: Any = {
            "type": "http", "method": "POST", "path_template": f"{API}/{{id:str}}/arrive",
            "route_handler": handler, "state": {},
        }  # fmt: skip
        messages: list[Any] = [{"type": "http.response.start", "status": 409, "headers": []}]
        messages += [
            {"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1}
            for i, part in enumerate(parts)
        ]
        for message in messages:
            asyncio.run(metrics.record_response(message, scope))

    respond(b'{"status":409,"code":"VERSION', b'_CONFLICT"}')
    respond(b'{"status":409,"code":"INVALID_TRANSITION"}')

    samples = parse(metrics.exposition(None).decode())
    assert commands_total(samples, "RegisterArrival", "conflict") == 1
    assert commands_total(samples, "RegisterArrival", "refused") == 1
    assert requests_total(samples, "POST", f"{API}/{{id}}/arrive", 409) == 2


def test_labels_are_route_templates_never_ids_or_patient_data(
    client: TestClient[Any], clerk: Headers, staff: Headers, schedule: Callable[..., str]
) -> None:
    visit_id = schedule(patientRef="P-SECRET-42")
    assert client.post(f"{API}/{visit_id}/arrive", json={}, headers=staff).status_code == 200
    assert client.get(f"{API}/{visit_id}", headers=staff).status_code == 200
    assert client.get(f"{API}/{uuid4()}", headers=staff).status_code == 404
    assert client.get(f"/api/v1/nothing/{uuid4()}", headers=staff).status_code == 404
    assert client.request("BREW", "/health").status_code == 405

    text = client.get("/metrics").text

    assert UUID_PATTERN.search(text) is None
    assert "P-SECRET-42" not in text
    samples = parse(text)
    assert requests_total(samples, "GET", f"{API}/{{id}}", 200) == 1
    assert requests_total(samples, "GET", f"{API}/{{id}}", 404) == 1
    assert requests_total(samples, "GET", "unmatched", 404) == 1
    assert requests_total(samples, "other", "unmatched", 405) == 1
    assert "BREW" not in text


def test_each_app_counts_its_own_requests(
    settings: Settings, memory_services: PatientServices, client: TestClient[Any]
) -> None:
    client.get("/health")
    with TestClient(create_app(settings, memory_services)) as other:
        assert requests_total(scrape(other), "GET", "/health", 200) == 0
    assert requests_total(scrape(client), "GET", "/health", 200) == 1


# ---- read models -----------------------------------------------------------------------------
def test_no_read_model_gauges_without_a_read_database(client: TestClient[Any]) -> None:
    text = client.get("/metrics").text

    assert "read_model_position" not in text
    assert "event_log_head_position" not in text


class DownDatabase:
    dialect = "sqlite"

    def head_position(self) -> int:
        raise ConnectionError("connection refused")

    def read(self) -> Any:
        raise ConnectionError("connection refused")


def test_an_unreachable_read_database_leaves_the_other_metrics_scrapable(
    settings: Settings, memory_services: PatientServices
) -> None:
    app = create_app(settings, memory_services, read_database=DownDatabase())  # type: ignore[arg-type]
    with TestClient(app) as client:
        client.get("/health")
        reply = client.get("/metrics")

    assert reply.status_code == 200
    assert "read_model_position" not in reply.text
    assert requests_total(parse(reply.text), "GET", "/health", 200) == 1


@pytest.fixture
def owning_client(settings: Settings) -> Iterator[TestClient[Any]]:
    """The app as served: it builds its own store, read-model database and workers."""
    with TestClient(create_app(settings)) as client:
        yield client


def test_read_model_gauges_report_position_lag_and_generation(
    owning_client: TestClient[Any], settings: Settings
) -> None:
    clerk = {"Authorization": f"Bearer {mint_token(settings, 'alice', ['clerk'])}"}
    for _ in range(3):
        reply = owning_client.post(API, json=visit_body(), headers=clerk)
        assert reply.status_code == 201, reply.text
    position = reply.json()["position"]
    database = owning_client.app.state[READ_DATABASE_STATE_KEY]
    names = list(read_model_factories())
    for name in names:
        assert wait_for_position(database, name, position, timeout=30) == position

    samples = scrape(owning_client)

    assert value(samples, "event_log_head_position") == position
    for name in names:
        assert value(samples, "read_model_position", name=name) == position
        assert value(samples, "read_model_lag_events", name=name) == 0
        assert value(samples, "read_model_lag_seconds", name=name) == 0
        assert value(samples, "read_model_generation", name=name) == 1


# ---- several worker processes ----------------------------------------------------------------
#: A worker process of its own: builds the app (with PROMETHEUS_MULTIPROC_DIR set before
#: prometheus_client is imported, as `serve` does), answers N /health requests, and prints
#: what /metrics says.
_WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from litestar.testing import TestClient
    from adapters.http.app import create_app
    from adapters.memory import MEMORY_ENV
    from adapters.settings import Settings
    from application.service import PatientServices

    settings = Settings(jwt_secret="s" * 40, var_dir=Path(sys.argv[2]))
    services = PatientServices(env=dict(MEMORY_ENV))
    with TestClient(create_app(settings, services)) as client:
        for _ in range(int(sys.argv[1])):
            assert client.get("/health").status_code == 200
        print(client.get("/metrics").text)
    """
)


def run_worker(requests: int, metrics_dir: Path, var_dir: Path) -> Samples:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    result = subprocess.run(
        [sys.executable, "-c", _WORKER, str(requests), str(var_dir)],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return parse(result.stdout)


def test_several_processes_sum_their_counters_in_multiprocess_mode(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()

    first = run_worker(3, metrics_dir, tmp_path / "a")
    second = run_worker(2, metrics_dir, tmp_path / "b")

    assert requests_total(first, "GET", "/health", 200) == 3
    # The second process sees the first's requests (and its /metrics) as well as its own.
    assert requests_total(second, "GET", "/health", 200) == 5
    assert requests_total(second, "GET", "/metrics", 200) == 1
    assert value(second, "http_request_duration_seconds_count", method="GET", route="/health") == 5
    assert "process_cpu_seconds_total" not in {name for name, _ in second}
    assert len(list(metrics_dir.glob("counter_*.db"))) == 2


def test_serve_sums_its_workers_in_a_fresh_metrics_directory(tmp_path: Path) -> None:
    port = free_port()
    var_dir = tmp_path / "var"
    stale = var_dir / f"metrics-{port}" / "counter_1.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by an earlier run")
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    env.update(VAR_DIR=str(var_dir), JWT_SECRET="s" * 40, LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "adapters.cli", "serve", "--port", str(port), "--workers", "2"]
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_ready(server, base, log)
        for _ in range(20):  # a new connection each: either worker may answer
            assert _get(f"{base}/health")[0] == 200
        scrapes = [_get(f"{base}/metrics") for _ in range(4)]
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert not stale.exists()
    assert any(stale.parent.glob("counter_*.db"))
    for status, content_type, text in scrapes:
        assert (status, content_type) == (200, TEXT_FORMAT)
        assert requests_total(parse(text), "GET", "/health", 200) == 20
        assert "read_model_position" in text


def _get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.status, reply.headers["Content-Type"], reply.read().decode()


def _wait_until_ready(server: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"serve exited:\n{log.read_text()}")
        try:
            if _get(f"{base}/ready")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"serve was not ready in 60 s:\n{log.read_text()}")
