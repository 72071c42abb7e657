"""The frame every screen shares: head, navigation by role, and the security headers.

Pages are rendered here as small HTML shells (the title, the navigation the caller's roles
allow, a ``<main>`` the page's script fills); the data comes from the JSON API, read by the
page's ES module with the session cookie. Everything the service interpolates is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from litestar import MediaType, Response

from application.shared.permissions import (
    AUDIT_READERS,
    BUDGET_REPORT_READERS,
    COMPLAINT_REPORT_READERS,
    FLOW_BOARD_READERS,
)

ASSETS = "/ui/assets"

#: Nothing from another host, no inline script or style: the page is what we shipped.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Screen:
    title: str
    path: str
    #: The roles that may open it: those that may read what it shows.
    roles: frozenset[str]
    script: str


BOARD = Screen("Flow board", "/ui/board", FLOW_BOARD_READERS, "board.js")
COMPLAINTS = Screen("Complaints", "/ui/complaints", COMPLAINT_REPORT_READERS, "complaints.js")
BUDGET = Screen("Budget vs actual", "/ui/budget", BUDGET_REPORT_READERS, "budget.js")
AUDIT = Screen("Audit trail", "/ui/audit", AUDIT_READERS, "audit.js")
SCREENS = (BOARD, COMPLAINTS, BUDGET, AUDIT)


def screens_for(roles: Iterable[str]) -> list[Screen]:
    held = set(roles)
    return [screen for screen in SCREENS if screen.roles & held]


def html_page(
    title: str,
    body: str,
    *,
    subject: str | None = None,
    roles: Iterable[str] = (),
    script: str | None = None,
    status_code: int = 200,
    banner: str | None = None,
) -> Response[str]:
    """A whole page: ``body`` is HTML the caller built (escaped where it holds data)."""
    held = tuple(roles)
    nav = "".join(f'<li><a href="{s.path}">{escape(s.title)}</a></li>' for s in screens_for(held))
    who = ""
    if subject is not None:
        who = (
            f'<form class="who" method="post" action="/ui/sign-out">'
            f"<span>{escape(subject)} · {escape(', '.join(held))}</span>"
            f'<button type="submit">Sign out</button></form>'
        )
    script_tag = f'<script type="module" src="{ASSETS}/{script}"></script>' if script else ""
    notice = f'<p class="banner" role="note">{escape(banner)}</p>' if banner else ""
    document = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · Patient services</title>
<link rel="stylesheet" href="{ASSETS}/app.css">
<link rel="icon" href="data:,">
{script_tag}
</head>
<body>
<header class="top">
<a class="brand" href="/ui/">Patient services</a>
<nav aria-label="Screens"><ul>{nav}</ul></nav>
{who}
</header>
{notice}
<main id="main">
<h1>{escape(title)}</h1>
{body}
</main>
</body>
</html>
"""
    return Response(
        document, media_type=MediaType.HTML, status_code=status_code, headers=SECURITY_HEADERS
    )
