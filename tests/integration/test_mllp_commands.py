"""The listener as the commands run it, in real processes: ``patient-services mllp`` alone
(until SIGTERM, then a clean exit), and ``serve`` with MLLP_PORT set, where exactly one
listener runs although WORKERS=2 forks two HTTP workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from adapters.cli.help import EXIT_SERVER_NOT_STARTED, EXIT_USAGE
from adapters.settings import Settings
from adapters.storage import eventsourcing_env
from application.service import PatientServices
from tests.support.hl7 import MllpClient, adt, msa, settings_env, visit_of
from tests.support.ports import free_port

SCRIPT = str(Path(sys.executable).parent / "patient-services")
REF_SECRET = "commands-test-ref-secret-" + "x" * 40


def _environ(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLLP_", "HL7_"))}
    env.pop("DATABASE_URL", None)
    return {
        **env, **settings_env(settings), "PATIENT_REF_SECRET": REF_SECRET,
        "LOG_FORMAT": "json", **extra,
    }  # fmt: skip


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([SCRIPT, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while text not in log.read_text():
        if process.poll() is not None:
            pytest.fail(f"the command exited:\n{log.read_text()}")
        assert time.monotonic() < deadline, f"no {text!r} in 60 s:\n{log.read_text()}"
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes], log: Path) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"no exit within 60 s of SIGTERM:\n{log.read_text()}")


def test_mllp_runs_the_listener_until_sigterm_and_then_exits_cleanly(
    store_settings: Settings, services: PatientServices, tmp_path: Path
) -> None:
    port, log = free_port(), tmp_path / "mllp.log"
    process = _start(["mllp", "--port", str(port)], _environ(store_settings), log)
    try:
        _wait_for(log, "MLLP listener on 127.0.0.1", process)
        with MllpClient(port) as client:
            ack = client.exchange(adt("A04", "CMD-1"))[0]
    finally:
        code = _stop(process, log)

    assert msa(ack)[1:3] == ["AA", "CMD-1"]
    assert code == 0, log.read_text()
    assert services.get_visit(visit_of("V-1")).status == "arrived"
    text = log.read_text()
    assert '"mllp.stopped"' in text and '"mllp.connection_closed"' in text


def test_mllp_without_a_port_or_on_a_port_in_use_does_not_start(
    settings: Settings, tmp_path: Path
) -> None:
    env = _environ(settings)
    missing = subprocess.run([SCRIPT, "mllp"], env=env, capture_output=True, timeout=60)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        in_use = subprocess.run(
            [SCRIPT, "mllp", "--port", port], env=env, capture_output=True, timeout=60
        )

    assert missing.returncode == EXIT_USAGE and b"MLLP_PORT" in missing.stderr
    assert in_use.returncode == EXIT_SERVER_NOT_STARTED, in_use.stderr
    assert b"cannot listen for MLLP" in in_use.stderr


def test_serve_with_mllp_port_runs_one_listener_whatever_the_workers(
    settings: Settings, tmp_path: Path
) -> None:
    http_port, mllp_port, log = free_port(), free_port(), tmp_path / "serve.log"
    env = _environ(settings, PORT=str(http_port), MLLP_PORT=str(mllp_port), WORKERS="2")
    process = _start(["serve"], env, log)
    try:
        _wait_for(log, "MLLP listener on 127.0.0.1", process)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/ready", timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        with MllpClient(mllp_port) as client:
            ack = client.exchange(adt("A04", "SERVE-1"))[0]
    finally:
        code = _stop(process, log)

    assert msa(ack)[1:3] == ["AA", "SERVE-1"]
    assert code == 0, log.read_text()
    text = log.read_text()
    assert text.count('"mllp.listening"') == 1 and text.count('"mllp.stopped"') == 1, text
    services = PatientServices(env=eventsourcing_env(settings))
    try:
        assert services.get_visit(visit_of("V-1")).status == "arrived"
    finally:
        services.close()
