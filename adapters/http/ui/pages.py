"""The screens: ``/ui/`` (what the caller may open), ``/ui/board``, ``/ui/complaints``,
``/ui/budget`` and ``/ui/audit``.

A page opens only for a signed-in caller whose roles may read what it shows (the same role
sets the API's guards use), so a clerk gets no budget page and an auditor no board; without
a session the browser is sent to sign in, and comes back. The page itself holds no data:
its ES module reads the API with the session cookie, and the API checks the roles again.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter
from litestar.response import Redirect

from adapters.auth_tokens import TokenClaims
from adapters.http.kit.auth import BearerAuthMiddleware
from adapters.http.kit.errors import AuthenticationError
from adapters.http.kit.session_cookie import SESSION_COOKIE
from adapters.http.ui.layout import AUDIT, BOARD, BUDGET, COMPLAINTS, Screen, html_page, screens_for
from adapters.policies import budget_rules_of
from adapters.settings import Settings
from domain.complaints.vocabulary import OPEN_STATES, STATES

UnitCode = Annotated[str | None, QueryParameter(name="unit", required=False, max_length=40)]

_BODIES = {
    BOARD: """<p class="status" id="live-status" role="status" aria-live="polite">Connecting…</p>
<form class="filters" id="unit-form"><label for="unit">Unit</label>
<select id="unit" name="unit"><option value="">All units</option></select></form>
<p class="legend">Minutes since arrival: <span class="wait-ok">under 1 h</span>
<span class="wait-provider">1 h without a clinician</span> <span class="wait-4h">4 h</span>
<span class="wait-12h">12 h</span></p>
<div id="board" class="board"></div>""",
    COMPLAINTS: """<form class="filters" id="filters">
<label for="status">Status</label><select id="status" name="status">
<option value="">Any open</option>{statuses}</select>
<label><input type="checkbox" id="overdue" name="overdue" value="true"> Overdue only</label>
<button type="submit">Show</button></form>
<div id="worklist"></div>
<h2>Responses on time, by month</h2>
<div id="sla"></div>""".replace(
        "{statuses}",
        "".join(f"<option>{state}</option>" for state in STATES if state in OPEN_STATES),
    ),
    BUDGET: """<form class="filters" id="filters"><label for="fiscal-year">Fiscal year</label>
<input id="fiscal-year" name="fiscalYear" type="number" min="2000" max="2199" required
 value="{fiscal_year}">
<button type="submit">Show</button></form>
<figure><div id="chart" class="chart"></div>
<figcaption>Budget, committed and actual spend per cost centre</figcaption></figure>
<div id="summary"></div>""",
    AUDIT: """<form class="filters" id="filters">
<label for="patient-ref">Patient ref</label><input id="patient-ref" name="patientRef">
<label for="actor">Actor</label><input id="actor" name="actor">
<label for="from">From</label><input id="from" name="from" type="datetime-local">
<label for="to">To</label><input id="to" name="to" type="datetime-local">
<button type="submit">Show</button></form>
<p><button type="button" id="verify">Verify the chain</button>
<span id="verify-result" role="status" aria-live="polite"></span></p>
<div id="entries"></div>
<section id="entry" aria-label="Entry" hidden></section>""",
}


def page_handlers(
    settings: Settings, authentication: BearerAuthMiddleware
) -> list[HTTPRouteHandler]:
    rules = budget_rules_of(settings)

    async def signed_in(request: Request[Any, Any, Any]) -> TokenClaims | None:
        token = request.cookies.get(SESSION_COOKIE, "").strip()
        if not token:
            return None
        try:
            return await authentication.claims_for(token, request.scope)
        except AuthenticationError:
            return None

    async def open_screen(request: Request[Any, Any, Any], screen: Screen) -> Response[Any]:
        claims = await signed_in(request)
        if claims is None:
            return Redirect(f"/ui/sign-in?next={quote(_path_of(request), safe='')}")
        if not screen.roles & set(claims.roles):
            return html_page(
                "Not for your roles",
                f"<p>The {escape(screen.title.lower())} page is for "
                f"{escape(', '.join(sorted(screen.roles)))}.</p>",
                subject=claims.subject, roles=claims.roles, status_code=403,
            )  # fmt: skip
        # The budget opens on the fiscal year today is in.
        year = rules.fiscal_year_of(datetime.now(settings.facility_zone).date())
        body = _BODIES[screen].replace("{fiscal_year}", str(year))
        return html_page(screen.title, body, subject=claims.subject,
                         roles=claims.roles, script=screen.script)  # fmt: skip

    @get(["/", "/index.html"], name="ui:home", include_in_schema=False)
    async def home(request: Request[Any, Any, Any]) -> Response[Any]:
        claims = await signed_in(request)
        if claims is None:
            return Redirect("/ui/sign-in")
        links = "".join(
            f'<li><a href="{s.path}">{escape(s.title)}</a></li>' for s in screens_for(claims.roles)
        )
        body = (
            f"<ul class='screens'>{links}</ul>"
            if links
            else ("<p>None of your roles has a screen here; the API serves them.</p>")
        )
        return html_page("Screens", body, subject=claims.subject, roles=claims.roles)

    @get("/board", name="ui:board", include_in_schema=False)
    async def board(request: Request[Any, Any, Any], unit: UnitCode = None) -> Response[Any]:
        return await open_screen(request, BOARD)

    @get("/complaints", name="ui:complaints", include_in_schema=False)
    async def complaints(request: Request[Any, Any, Any]) -> Response[Any]:
        return await open_screen(request, COMPLAINTS)

    @get("/budget", name="ui:budget", include_in_schema=False)
    async def budget(request: Request[Any, Any, Any]) -> Response[Any]:
        return await open_screen(request, BUDGET)

    @get("/audit", name="ui:audit", include_in_schema=False)
    async def audit(request: Request[Any, Any, Any]) -> Response[Any]:
        return await open_screen(request, AUDIT)

    return [home, board, complaints, budget, audit]


def _path_of(request: Request[Any, Any, Any]) -> str:
    query = request.scope.get("query_string", b"").decode("latin-1")
    return request.scope["path"] + (f"?{query}" if query else "")
