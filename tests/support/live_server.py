"""A real ``patient-services serve`` on a fresh SQLite store, for tests that need the
service as a browser or a streaming client meets it (a subprocess, its own port).

No ``JWT_SECRET``: the server generates one under ``VAR_DIR``, as ``make run`` does (so the
screens offer the development sign-in), and :class:`Server` reads the same one to mint the
tests' own tokens for the API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.auth_tokens import mint_token
from adapters.settings import Settings
from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
#: Settings of the outer environment that would change what the server is.
_LEFT_OUT = (
    "DATABASE_URL",
    "PROMETHEUS_MULTIPROC_DIR",
    "JWT_SECRET",
    "OIDC_ISSUER",
    "JWT_JWKS_URL",
)


@dataclass
class Server:
    url: str
    var_dir: Path
    settings: Settings
    api: httpx.Client = field(repr=False)

    def headers(self, sub: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.settings, sub, list(roles))}"}

    def post(self, path: str, body: dict[str, Any], sub: str, *roles: str) -> dict[str, Any]:
        reply = self.api.post(f"/api/v1{path}", json=body, headers=self.headers(sub, *roles))
        assert reply.status_code in (200, 201), reply.text
        answer: dict[str, Any] = reply.json()
        return answer


@contextmanager
def live_server(tmp: Path, **env_extra: str) -> Iterator[Server]:
    var_dir = tmp / "var"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in _LEFT_OUT}
    env.update(VAR_DIR=str(var_dir), LOG_LEVEL="WARNING", **env_extra)
    command = [sys.executable, "-m", "adapters.cli", "serve", "--port", str(port)]
    log = tmp / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(process, url, log)
        settings = Settings.from_env({"VAR_DIR": str(var_dir), **env_extra})
        with httpx.Client(base_url=url, timeout=10) as api:
            yield Server(url, var_dir, settings, api)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the server did not become ready: {log.read_text()[-2000:]}")
