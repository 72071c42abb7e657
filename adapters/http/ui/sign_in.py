"""Signing in to the screens: ``/ui/sign-in`` and ``/ui/sign-out``.

On the embedded default (the JWT secret generated under ``VAR_DIR``) the form signs anyone
in as the subject and roles they type: a development sign-in, marked as such, to look at the
screens with ``make run``. With ``JWT_SECRET`` set or an identity provider configured it is
refused, and the form takes a bearer token the hospital's identity provider issued instead
(verified exactly as the API verifies it). Either way the token goes into the session
cookie (:mod:`adapters.http.kit.session_cookie`), never into a URL.

Both forms are refused when the browser says they come from another origin (``Origin``),
so another site cannot sign a user in as someone else.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter
from litestar.response import Redirect

from adapters.auth_tokens import mint_token
from adapters.http.kit.auth import BearerAuthMiddleware
from adapters.http.kit.errors import AuthenticationError
from adapters.http.kit.session_cookie import (
    SESSION_COOKIE,
    cleared_cookies,
    session_cookies,
)
from adapters.http.ui.layout import html_page
from adapters.settings import Settings
from application.shared.permissions import ROLES

#: The roles offered as checkboxes (the integration engines' roles have no screens).
OFFERED_ROLES = sorted(ROLES - {"integration", "integration_reader"})
MAX_SUBJECT = 100
NextPage = Annotated[str | None, QueryParameter(name="next", required=False, max_length=2000)]


def sign_in_handlers(
    settings: Settings, authentication: BearerAuthMiddleware
) -> list[HTTPRouteHandler]:
    development = settings.development_sign_in

    @get("/sign-in", name="ui:sign-in", include_in_schema=False)
    async def sign_in_form(next_page: NextPage = None) -> Response[str]:
        return _form(development, _local(next_page))

    @post("/sign-in", name="ui:sign-in-post", include_in_schema=False, status_code=303)
    async def sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
        if not _same_origin(request):
            return _form(development, "/ui/", "This form must be sent from this site.", 403)
        form = await request.form()
        target = _local(form.get("next"))
        if development:
            sub = str(form.get("sub") or "").strip()
            roles = _roles_of(form.getall("roles") if "roles" in form else [])
            problem = _check(sub, roles)
            if problem:
                return _form(development, target, problem, 400)
            token = mint_token(settings, sub, roles)
        else:
            token = str(form.get("token") or "").strip()
            if token.lower().startswith("bearer "):
                token = token[7:].strip()
            if not token:
                return _form(development, target, "Paste the bearer token.", 400)
        try:
            claims = await authentication.claims_for(token, request.scope)
        except AuthenticationError as e:
            return _form(development, target, f"Not signed in: {e.reason}.", 401)
        response: Response[Any] = Redirect(target, status_code=303)
        response.cookies.extend(session_cookies(token, claims.expires_at, secure=_https(request)))
        return response

    @post("/sign-out", name="ui:sign-out", include_in_schema=False, status_code=303)
    async def sign_out(request: Request[Any, Any, Any]) -> Response[Any]:
        if not _same_origin(request):
            return html_page("Not signed out", "<p>This form must be sent from this site.</p>",
                             status_code=403)  # fmt: skip
        response: Response[Any] = Redirect("/ui/sign-in", status_code=303)
        response.cookies.extend(cleared_cookies(secure=_https(request)))
        return response

    return [sign_in_form, sign_in, sign_out]


def _form(
    development: bool, target: str, problem: str | None = None, status: int = 200
) -> Response[str]:
    error = f'<p class="error" role="alert">{escape(problem)}</p>' if problem else ""
    hidden = f'<input type="hidden" name="next" value="{escape(target)}">'
    if development:
        boxes = "".join(
            f'<li><label><input type="checkbox" name="roles" value="{role}"> {role}</label></li>'
            for role in OFFERED_ROLES
        )
        body = f"""
<p class="development" role="note"><strong>Development sign-in.</strong> Anyone may sign in
here as anyone, with any roles: this service runs on its generated secret (no JWT_SECRET, no
identity provider). Set either, and this form takes only the identity provider's tokens.</p>
{error}
<form method="post" action="/ui/sign-in" class="sign-in">
{hidden}
<label for="sub">User id (<code>sub</code>)</label>
<input id="sub" name="sub" required maxlength="{MAX_SUBJECT}" autocomplete="username">
<fieldset><legend>Roles</legend><ul class="roles">{boxes}</ul></fieldset>
<button type="submit">Sign in</button>
</form>"""
    else:
        body = f"""
<p>Sign in with a bearer token from the hospital's identity provider (an access token whose
audience is this service). It is kept in a cookie this page's scripts cannot read.</p>
{error}
<form method="post" action="/ui/sign-in" class="sign-in">
{hidden}
<label for="token">Bearer token</label>
<textarea id="token" name="token" required rows="6" autocomplete="off"></textarea>
<button type="submit">Sign in</button>
</form>"""
    return html_page("Sign in", body, status_code=status)


def _roles_of(values: list[Any]) -> list[str]:
    """Checkboxes (one value each) or one comma-separated text input."""
    roles: list[str] = []
    for value in values:
        roles.extend(part.strip() for part in str(value).split(",") if part.strip())
    return list(dict.fromkeys(roles))


def _check(sub: str, roles: list[str]) -> str | None:
    if not sub or len(sub) > MAX_SUBJECT or not sub.isprintable():
        return f"Give a user id of 1 to {MAX_SUBJECT} printable characters."
    if not roles:
        return "Choose at least one role."
    unknown = sorted(set(roles) - ROLES)
    if unknown:
        return f"Not roles of this service: {', '.join(unknown)}."
    return None


def _local(target: object) -> str:
    """Where to go after signing in: a screen of this service only (no open redirect)."""
    text = str(target or "")
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or not text.startswith("/ui/") or "\\" in text:
        return "/ui/"
    return text


def _same_origin(request: Request[Any, Any, Any]) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # not a browser, or one that does not say: SameSite still holds
        return True
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", "") and bool(parts.scheme)


def _https(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


__all__ = ["SESSION_COOKIE", "sign_in_handlers"]
