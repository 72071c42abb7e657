"""The screens' session: the bearer token kept in a same-origin cookie, with CSRF protection.

Browsers cannot put an ``Authorization`` header on ``EventSource`` (the live board), and a
token kept where the page's script can read it is one cross-site script away from being
stolen. So ``/ui/sign-in`` puts the token in a cookie the script cannot read
(:data:`SESSION_COOKIE`: ``HttpOnly``, ``SameSite=Strict``, ``Path=/``, ``Secure`` over
HTTPS, expiring with the token), and :class:`~adapters.http.kit.auth.BearerAuthMiddleware`
takes it when a request carries no ``Authorization`` header. The token itself never
appears in a URL, so it never lands in an access log.

``SameSite=Strict`` already keeps other sites' pages from sending the cookie. A request
that changes something (any method but GET, HEAD, OPTIONS) and is signed in by the cookie
must also carry :data:`CSRF_HEADER` equal to the :data:`CSRF_COOKIE` set beside it (the
double-submit pattern): another origin can neither read that cookie nor send a custom
header without a CORS preflight, which this service does not grant with credentials.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime, timezone

from litestar.datastructures import Cookie

#: The bearer token (HttpOnly: the page's script never sees it).
SESSION_COOKIE = "ps_session"
#: A random value the page's script reads and echoes in :data:`CSRF_HEADER`.
CSRF_COOKIE = "ps_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRefusedError(Exception):
    """A cookie-signed request that changes something came without the matching header."""


def session_cookies(token: str, expires_at: datetime, *, secure: bool) -> list[Cookie]:
    """The two cookies a sign-in sets, living as long as the token does."""
    max_age = max(0, int((expires_at - datetime.now(timezone.utc)).total_seconds()))
    csrf = secrets.token_urlsafe(24)
    return [
        Cookie(key=name, value=value, path="/", max_age=max_age, samesite="strict",
               secure=secure, httponly=name == SESSION_COOKIE)
        for name, value in ((SESSION_COOKIE, token), (CSRF_COOKIE, csrf))
    ]  # fmt: skip


def cleared_cookies(*, secure: bool) -> list[Cookie]:
    """What signing out sets: both cookies, expired."""
    return [
        Cookie(key=name, value="", path="/", max_age=0, samesite="strict", secure=secure,
               httponly=name == SESSION_COOKIE)
        for name in (SESSION_COOKIE, CSRF_COOKIE)
    ]  # fmt: skip


def check_csrf(method: str, cookies: Mapping[str, str], headers: Mapping[str, str]) -> None:
    """Refuse a cookie-signed request that changes something without the CSRF header."""
    if method.upper() in SAFE_METHODS:
        return
    expected = cookies.get(CSRF_COOKIE, "")
    given = headers.get(CSRF_HEADER.lower(), "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfRefusedError(
            f"a request signed in by the session cookie that changes something must send "
            f"{CSRF_HEADER} with the value of the {CSRF_COOKIE} cookie"
        )
