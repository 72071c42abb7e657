"""The screens as their users see them, in Chromium: sign in, the live board, the worklist,
the budget chart, the audit browser, who sees what, and an accessibility check of each page.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.browser.conftest import Server, Watched, sign_in
from tests.support.raw_log import raw_events, sql

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

CLERK = ("clerk.ann", "clerk")


def now() -> datetime:
    return datetime.now(timezone.utc)


def walk_in(
    server: Server, unit: str = "ED", minutes_ago: int = 20, *, in_trail: bool = False
) -> tuple[str, str]:
    """A walk-in recorded over the API, as a front desk system would: (visit id, patientRef).
    ``in_trail``: once the audit trail's read model holds it."""
    ref = f"P-{uuid.uuid4().hex[:10]}"
    body = {"patientRef": ref, "visitClass": "EMER", "serviceUnit": unit,
            "arrivalAt": (now() - timedelta(minutes=minutes_ago)).isoformat()}  # fmt: skip
    created = server.post("/visits/walk-ins", body, *CLERK)
    if in_trail:
        trail = server.api.get(
            "/api/v1/audit/events",
            params={"minPosition": created["position"], "waitMs": 5000, "limit": 1},
            headers=server.headers("auditor.max", "auditor"),
        )
        assert trail.status_code == 200, trail.text
    return str(created["id"]), ref


def card(scope: Any, ref: str) -> Any:
    """The card of ``ref`` on a page or within a part of it."""
    return scope.locator(f'.card:has(> .patient-ref:text-is("{ref}"))')


# ---- the live board -------------------------------------------------------------------------
def test_a_walk_in_made_over_the_api_appears_within_2_s_without_a_reload(
    server: Server, watched: Watched
) -> None:
    page = watched.page
    sign_in(page, "nurse.jo", "nurse", then="/ui/board?unit=ED")
    expect(page.locator("#live-status")).to_contain_text("Live", timeout=5000)
    page.evaluate("window.__notReloaded = true")

    _, ref = walk_in(server)

    expect(card(page, ref)).to_be_visible(timeout=2000)
    assert page.evaluate("window.__notReloaded") is True  # the same page, updated in place
    expect(page.locator(".unit h2")).to_have_text(["ED"])


def test_a_transfer_moves_the_patient_to_the_other_unit(server: Server, watched: Watched) -> None:
    page = watched.page
    visit, ref = walk_in(server)
    sign_in(page, "nurse.jo", "nurse", then="/ui/board")
    ed = page.locator("section.unit[aria-label='Unit ED']")
    expect(card(ed, ref)).to_be_visible(timeout=5000)

    server.post(f"/visits/{visit}/transfer", {"toUnit": "W2", "toBed": "7"}, "nurse.jo", "nurse")

    w2 = page.locator("section.unit[aria-label='Unit W2']")
    expect(card(w2, ref)).to_be_visible(timeout=2000)
    expect(card(ed, ref)).to_have_count(0)
    expect(card(w2, ref).locator(".location")).to_have_text("W2 · 7")


def test_a_dropped_connection_resumes_and_misses_nothing(server: Server, watched: Watched) -> None:
    page = watched.page
    sign_in(page, "nurse.jo", "nurse", then="/ui/board?unit=ED")
    expect(page.locator("#live-status")).to_contain_text("Live", timeout=5000)
    page.evaluate("window.__notReloaded = true")
    # The network goes down: the stream ends (every few seconds in this server) and the
    # browser's reconnections fail until it is back.
    watched.expect_error("ERR_INTERNET_DISCONNECTED")
    page.context.set_offline(True)
    expect(page.locator("#live-status")).to_contain_text("Reconnecting", timeout=10_000)
    expect(page.locator("body")).to_have_class(re.compile("board-stale"))

    _, missed = walk_in(server)  # made while the screen is cut off
    page.context.set_offline(False)

    expect(card(page, missed)).to_be_visible(timeout=10_000)
    expect(page.locator("#live-status")).to_contain_text("Live")
    assert page.evaluate("window.__notReloaded") is True


def test_minutes_waited_are_coloured_against_the_marks(server: Server, watched: Watched) -> None:
    page = watched.page
    _, fresh = walk_in(server, unit="AE2", minutes_ago=10)
    _, hour = walk_in(server, unit="AE2", minutes_ago=75)
    _, four = walk_in(server, unit="AE2", minutes_ago=5 * 60)
    _, twelve = walk_in(server, unit="AE2", minutes_ago=13 * 60)
    sign_in(page, "nurse.jo", "nurse", then="/ui/board?unit=AE2")

    for ref, mark in ((fresh, "wait-ok"), (hour, "wait-provider"), (four, "wait-4h"),
                      (twelve, "wait-12h")):  # fmt: skip
        expect(card(page, ref)).to_have_class(re.compile(rf"\b{mark}\b"), timeout=5000)
    expect(card(page, twelve).locator(".minutes")).to_contain_text("min since arrival")


# ---- complaints, budget, audit --------------------------------------------------------------
def test_the_worklist_shows_an_overdue_complaint_in_red(server: Server, watched: Watched) -> None:
    received = (now() - timedelta(days=40)).isoformat()
    body = {"channel": "email", "receivedAt": received, "complainantRef": "C-77",
            "categories": ["communication"], "summary": "Not told about the delay",
            "policy": "us-cms"}  # fmt: skip
    case = server.post("/complaints", body, "pals.lee", "manager")["id"]
    page = watched.page
    sign_in(page, "manager.kim", "manager", then="/ui/complaints")

    row = page.locator(f"tr[data-complaint-id='{case}']")
    expect(row).to_be_visible(timeout=5000)
    rag = row.locator("td.rag")
    expect(rag).to_contain_text("overdue")
    colour = rag.evaluate("cell => getComputedStyle(cell).color")
    assert colour == "rgb(143, 29, 29)", colour  # the stylesheet's red
    expect(page.locator("#sla table")).to_be_visible()


def test_the_budget_chart_draws_the_hand_computed_example(server: Server, watched: Watched) -> None:
    # 12 000 budgeted, 3 000 committed, 1 500 spent: the bars stand 8 : 2 : 1.
    body = {"fiscalYear": 2026, "costCentre": "CC-CHART", "category": "supplies",
            "currency": "GBP"}  # fmt: skip
    line = server.post("/budget-lines", body, "fin.a", "finance")["id"]

    def money(amount: str) -> dict[str, str]:
        return {"amount": amount, "currency": "GBP"}

    approval = {"amount": money("12000.00"), "approvalRef": "BRD-9"}
    server.post(f"/budget-lines/{line}/approve", approval, "fd.b", "finance_director")
    commitment = {"reference": "PO-9", "amount": money("3000.00")}
    server.post(f"/budget-lines/{line}/commitments", commitment, "fin.a", "finance")
    actual = {"reference": "INV-9", "amount": money("1500.00")}
    server.post(f"/budget-lines/{line}/actuals", actual, "fin.a", "finance")
    page = watched.page
    sign_in(page, "manager.kim", "manager", then="/ui/budget")
    page.fill("#fiscal-year", "2026")
    page.click("#filters button[type=submit]")

    group = page.locator("g.cost-centre[data-cost-centre='CC-CHART']")
    expect(group).to_be_visible(timeout=5000)
    widths = {
        series: float(group.locator(f"rect[data-series={series}]").get_attribute("width"))
        for series in ("budget", "committed", "actual")
    }
    values = {
        series: group.locator(f"rect[data-series={series}]").get_attribute("data-value")
        for series in widths
    }
    assert values == {"budget": "12000.00", "committed": "3000.00", "actual": "1500.00"}
    assert widths["budget"] == pytest.approx(8 * widths["actual"], rel=1e-6)
    assert widths["committed"] == pytest.approx(2 * widths["actual"], rel=1e-6)
    row = page.locator("#summary tr[data-cost-centre='CC-CHART']")
    expect(row).to_contain_text("7,500.00")  # available: 12 000 - 3 000 - 1 500


def test_verify_shows_an_intact_chain_then_names_the_tampered_position(
    server: Server, watched: Watched
) -> None:
    walk_in(server)
    page = watched.page
    sign_in(page, "auditor.max", "auditor", then="/ui/audit")
    expect(page.locator("#entries table tbody tr").first).to_be_visible(timeout=5000)
    page.click("#verify")
    expect(page.locator("#verify-result")).to_contain_text("Intact", timeout=10_000)

    # In the trail before it is tampered with: verify checks the entries the trail holds.
    visit, _ = walk_in(server, in_trail=True)
    with raw_events(server.settings) as (conn, events, key):
        [(position, state)] = sql(
            conn, f"SELECT {key}, state FROM {events} WHERE originator_id = ?",
            (uuid.UUID(visit).hex,),
        )  # fmt: skip
        sql(conn, f"UPDATE {events} SET state = ? WHERE {key} = ?",
            (bytes(state).replace(b"EMER", b"IMP\x00"), position))  # fmt: skip
    page.click("#verify")

    expect(page.locator("#verify-result")).to_contain_text(
        f"first bad entry at position {position}", timeout=10_000
    )
    expect(page.locator("#verify-result")).to_have_class("verify-bad")


def test_an_audit_entry_opens_with_its_chain_hashes(server: Server, watched: Watched) -> None:
    walk_in(server)
    page = watched.page
    sign_in(page, "auditor.max", "auditor", then="/ui/audit")
    first = page.locator("#entries tbody tr button.link").first
    expect(first).to_be_visible(timeout=5000)
    first.click()
    expect(page.locator("#entry")).to_contain_text("hash", timeout=5000)


# ---- who sees what --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("roles", "shown", "refused"),
    [
        (("clerk",), ["Flow board"], ["/ui/budget", "/ui/complaints", "/ui/audit"]),
        (("auditor",), ["Audit trail"], ["/ui/board"]),
        (("finance",), ["Budget vs actual"], ["/ui/board", "/ui/audit"]),
        (("manager",), ["Flow board", "Complaints", "Budget vs actual"], ["/ui/audit"]),
    ],
)
def test_each_role_sees_only_its_screens(
    server: Server, watched: Watched, roles: tuple[str, ...], shown: list[str], refused: list[str]
) -> None:
    page = watched.page
    watched.expect_error("403")  # the browser logs the refused pages' status
    sign_in(page, "someone", *roles)
    expect(page.locator("header nav a")).to_have_text(shown)
    for path in refused:
        answer = page.goto(path)
        assert answer is not None and answer.status == 403, path
        expect(page.locator("h1")).to_have_text("Not for your roles")


def test_without_a_session_a_screen_sends_to_sign_in_and_back(
    server: Server, watched: Watched
) -> None:
    page = watched.page
    page.goto("/ui/board?unit=ED")
    expect(page).to_have_url(re.compile(r"/ui/sign-in\?next="))
    expect(page.locator(".development")).to_contain_text("Development sign-in")
    page.fill("#sub", "nurse.jo")
    page.check("input[name=roles][value=nurse]")
    page.click("form.sign-in button[type=submit]")
    expect(page).to_have_url(re.compile(r"/ui/board\?unit=ED$"))
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["ps_session"]["httpOnly"] is True
    assert cookies["ps_session"]["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").count("ps_session") == 0  # not readable by script


# ---- accessibility --------------------------------------------------------------------------
PAGES = [
    ("/ui/sign-in", None),
    ("/ui/", ("manager",)),
    ("/ui/board?unit=ED", ("nurse",)),
    ("/ui/complaints", ("manager",)),
    ("/ui/budget", ("manager",)),
    ("/ui/audit", ("auditor",)),
]


@pytest.mark.parametrize(("path", "roles"), PAGES, ids=[p for p, _ in PAGES])
def test_no_serious_or_critical_accessibility_violation(
    server: Server, watched: Watched, path: str, roles: tuple[str, ...] | None
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = watched.page
    walk_in(server)
    if roles:
        sign_in(page, "a11y.check", *roles, then=path)
    else:
        page.goto(path)
    # What the page's script draws is checked too (the board's stream never goes idle).
    ready = {"/ui/board?unit=ED": ".unit", "/ui/complaints": "#worklist table, #worklist p",
             "/ui/budget": "#summary table, #chart p", "/ui/audit": "#entries table"}  # fmt: skip
    if path in ready:
        page.wait_for_selector(ready[path], timeout=5000)
    results = Axe().run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], bad
