"""The README's pictures: each screen on a store filled by ``patient-services seed``, as its
user sees it. Each test checks that the seeded day is on the screen before it takes the
picture. ``make screenshots`` keeps them under ``docs/screenshots/``; otherwise they go to
a temporary directory and only the checks count.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOTS, Server, Watched, sign_in
from tests.support.live_server import REPO

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402


@pytest.fixture(scope="module")
def seeded(server: Server) -> Server:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JWT_SECRET")}
    env.update(VAR_DIR=str(server.var_dir), LOG_LEVEL="WARNING")
    done = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "seed"], env=env, cwd=REPO,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return server


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if os.environ.get("UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        yield SCREENSHOTS
    else:
        yield tmp_path_factory.mktemp("screenshots")


def shoot(page: Any, pictures: Path, name: str) -> None:
    page.screenshot(path=str(pictures / f"{name}.png"), full_page=False)


def test_board(seeded: Server, watched: Watched, pictures: Path) -> None:
    page = watched.page
    sign_in(page, "nurse.jo", "nurse", "manager", then="/ui/board?unit=ED")
    expect(page.locator(".unit h2")).to_have_text(["ED"], timeout=5000)
    for mark in ("wait-ok", "wait-provider", "wait-4h", "wait-12h"):
        expect(page.locator(f".card.{mark}").first).to_be_visible()
    expect(page.locator(".column-boarders .card").first).to_be_visible()
    shoot(page, pictures, "board")


def test_all_units(seeded: Server, watched: Watched, pictures: Path) -> None:
    page = watched.page
    sign_in(page, "nurse.jo", "nurse", then="/ui/board")
    expect(page.locator(".unit h2")).to_have_count(4, timeout=5000)
    expect(page.locator(".column-onLeave .card").first).to_be_visible()
    shoot(page, pictures, "board-all-units")


def test_complaints(seeded: Server, watched: Watched, pictures: Path) -> None:
    page = watched.page
    sign_in(page, "manager.kim", "manager", then="/ui/complaints")
    expect(page.locator("#worklist tr.overdue").first).to_be_visible(timeout=5000)
    expect(page.locator("#worklist td.rag-amber").first).to_be_visible()
    expect(page.locator("#sla tbody tr").first).to_be_visible()
    shoot(page, pictures, "complaints")


def test_budget(seeded: Server, watched: Watched, pictures: Path) -> None:
    page = watched.page
    sign_in(page, "manager.kim", "manager", then="/ui/budget")
    expect(page.locator("g.cost-centre")).to_have_count(3, timeout=5000)
    shoot(page, pictures, "budget")


def test_audit(seeded: Server, watched: Watched, pictures: Path) -> None:
    page = watched.page
    sign_in(page, "auditor.max", "auditor", then="/ui/audit")
    expect(page.locator("#entries tbody tr").first).to_be_visible(timeout=5000)
    page.click("#verify")
    expect(page.locator("#verify-result")).to_contain_text("Intact", timeout=10_000)
    shoot(page, pictures, "audit")


def test_sign_in(seeded: Server, watched: Watched, pictures: Path) -> None:
    page = watched.page
    page.goto("/ui/sign-in")
    expect(page.locator(".development")).to_be_visible()
    shoot(page, pictures, "sign-in")
