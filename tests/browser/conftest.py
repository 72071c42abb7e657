"""The screens in a real browser: Debian's ``chromium`` driven by Playwright, against a real
``patient-services serve`` on a fresh SQLite store (the embedded default, so the development
sign-in is offered).

Without Chromium the tests are skipped locally and fail under ``CI`` (``.ci/run`` installs
it). Every page a test opens is watched: a console error or an uncaught exception fails the
test, unless the test names it as expected.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.live_server import Server, live_server

REPO = Path(__file__).resolve().parents[2]
#: Where `make screenshots` keeps the pictures the README shows.
SCREENSHOTS = REPO / "docs" / "screenshots"
#: A stream is closed after this long in the test server (default 300 s), so every test
#: also sees the browser reconnect and resume.
STREAM_MAX_SECONDS = 4


def chromium_path() -> str | None:
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        message = "Chromium not found (apt-get install -y chromium, or set CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: the browser tests must run in CI")
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with live_server(
        tmp_path_factory.mktemp("screens"), BOARD_STREAM_MAX_SECONDS=str(STREAM_MAX_SECONDS)
    ) as running:
        yield running


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Watched:
    """A page, and what went wrong in it: console errors and uncaught exceptions."""

    page: Any
    errors: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def expect_error(self, fragment: str) -> None:
        """A console error containing ``fragment`` is part of what the test does."""
        self.expected.append(fragment)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(f in e for f in self.expected)]


@pytest.fixture
def watched(browser: Any, server: Server) -> Iterator[Watched]:
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watched = Watched(page)
    page.on("console", lambda m: m.type == "error" and watched.errors.append(m.text))
    page.on("pageerror", lambda e: watched.errors.append(f"uncaught: {e}"))
    try:
        yield watched
    finally:
        context.close()
    assert watched.unexpected() == [], watched.unexpected()


def sign_in(page: Any, sub: str, *roles: str, then: str = "/ui/") -> None:
    """Through the development sign-in form, as a person would."""
    page.goto(f"/ui/sign-in?next={then}")
    page.fill("#sub", sub)
    for role in roles:
        page.check(f"input[name=roles][value={role}]")
    page.click("form.sign-in button[type=submit]")
    page.wait_for_url(f"**{then}")
