"""Signing in to the screens and the session cookie: the development sign-in only on the
embedded default, the cookie's flags, CSRF on cookie-signed changes, no open redirect, and
the pages' role gates and security headers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.auth_tokens import mint_token
from adapters.http.app import create_app
from adapters.settings import Settings
from application.service import PatientServices

WALK_IN = {"patientRef": "P-1", "visitClass": "EMER", "serviceUnit": "ED"}


@pytest.fixture
def embedded(settings: Settings) -> Settings:
    """As ``make run`` has it: the secret generated under VAR_DIR."""
    return replace(settings, jwt_secret_generated=True)


@pytest.fixture
def screens(embedded: Settings, memory_services: PatientServices) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(embedded, memory_services), base_url="http://127.0.0.1") as c:
        yield c


def sign_in(client: TestClient[Any], sub: str = "nurse.jo", *roles: str, **extra: str) -> Any:
    form: dict[str, Any] = {"sub": sub, "roles": list(roles or ("nurse",)), **extra}
    return client.post("/ui/sign-in", data=form, follow_redirects=False)


def test_the_development_sign_in_sets_an_httponly_strict_cookie_for_the_token(
    screens: TestClient[Any],
) -> None:
    form = screens.get("/ui/sign-in")
    assert "Development sign-in" in form.text and 'name="sub"' in form.text
    assert 'name="roles" value="clerk"' in form.text

    reply = sign_in(screens, "nurse.jo", "nurse", "clerk", next="/ui/board?unit=ED")

    assert reply.status_code == 303 and reply.headers["location"] == "/ui/board?unit=ED"
    cookies = reply.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("ps_session="))
    csrf = next(c for c in cookies if c.startswith("ps_csrf="))
    assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
    assert "HttpOnly" not in csrf and "SameSite=strict" in csrf
    assert "Secure" not in session  # plain http on the loopback; https sets it


def test_one_comma_separated_roles_input_works_too(screens: TestClient[Any]) -> None:
    reply = screens.post("/ui/sign-in", data={"sub": "m.kim", "roles": "manager, nurse"},
                         follow_redirects=False)  # fmt: skip
    assert reply.status_code == 303
    page = screens.get("/ui/budget")
    assert page.status_code == 200 and "m.kim · manager, nurse" in page.text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"sub": "x"}, "Choose at least one role"),
        ({"sub": "x", "roles": ["nurse", "superuser"]}, "Not roles of this service: superuser"),
        ({"sub": "", "roles": ["nurse"]}, "Give a user id"),
        ({"sub": "a\x00b", "roles": ["nurse"]}, "Give a user id"),
    ],
)
def test_a_bad_sign_in_is_refused_with_the_form_again(
    screens: TestClient[Any], form: dict[str, Any], message: str
) -> None:
    reply = screens.post("/ui/sign-in", data=form, follow_redirects=False)
    assert reply.status_code == 400 and message in reply.text
    assert "set-cookie" not in reply.headers


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/ui/", "/api/v1/visits", "/ui/\\evil"]
)
def test_after_signing_in_only_a_screen_of_this_service_is_a_destination(
    screens: TestClient[Any], target: str
) -> None:
    reply = sign_in(screens, next=target)
    assert reply.status_code == 303 and reply.headers["location"] == "/ui/"


def test_a_sign_in_posted_from_another_origin_is_refused(screens: TestClient[Any]) -> None:
    form = {"sub": "x", "roles": "nurse"}
    elsewhere = {"Origin": "https://evil.example"}
    reply = screens.post("/ui/sign-in", data=form, headers=elsewhere, follow_redirects=False)
    assert reply.status_code == 403 and "set-cookie" not in reply.headers


def test_with_an_explicit_secret_only_a_real_token_signs_in(
    settings: Settings, memory_services: PatientServices
) -> None:
    assert settings.development_sign_in is False  # JWT_SECRET was set
    with TestClient(create_app(settings, memory_services)) as client:
        form = client.get("/ui/sign-in")
        refused = sign_in(client, "anyone", "admin")
        token = mint_token(settings, "nurse.jo", ["nurse"])
        signed = client.post("/ui/sign-in", data={"token": f"Bearer {token}"},
                             follow_redirects=False)  # fmt: skip
        forged = client.post("/ui/sign-in", data={"token": token[:-4] + "AAAA"},
                             follow_redirects=False)  # fmt: skip

    assert "Development sign-in" not in form.text and 'name="token"' in form.text
    assert refused.status_code == 400 and "set-cookie" not in refused.headers
    assert signed.status_code == 303 and "ps_session=" in signed.headers["set-cookie"]
    assert forged.status_code == 401 and "set-cookie" not in forged.headers


def test_a_provider_configured_service_offers_no_development_sign_in(embedded: Settings) -> None:
    provider = replace(embedded, oidc_issuer="https://sso.example/realms/h", jwt_secret=None,
                       jwt_audience="patient-services")  # fmt: skip
    assert provider.development_sign_in is False


def test_a_cookie_signed_change_needs_the_csrf_header(screens: TestClient[Any]) -> None:
    sign_in(screens, "clerk.ann", "clerk")
    csrf = screens.cookies["ps_csrf"]

    without = screens.post("/api/v1/visits/walk-ins", json=WALK_IN)
    wrong = screens.post("/api/v1/visits/walk-ins", json=WALK_IN, headers={"X-CSRF-Token": "x"})
    right = screens.post("/api/v1/visits/walk-ins", json=WALK_IN, headers={"X-CSRF-Token": csrf})

    assert without.status_code == 403 and "X-CSRF-Token" in without.json()["detail"]
    assert wrong.status_code == 403
    assert right.status_code == 201, right.text


def test_a_cookie_signed_read_needs_no_csrf_header(screens: TestClient[Any]) -> None:
    sign_in(screens, "clerk.ann", "clerk")
    created = screens.post("/api/v1/visits/walk-ins", json=WALK_IN,
                           headers={"X-CSRF-Token": screens.cookies["ps_csrf"]})  # fmt: skip
    reply = screens.get(f"/api/v1/visits/{created.json()['id']}")
    assert reply.status_code == 200 and reply.json()["patientRef"] == "P-1"


def test_signing_out_clears_both_cookies(screens: TestClient[Any]) -> None:
    sign_in(screens)
    reply = screens.post("/ui/sign-out", follow_redirects=False)
    assert reply.status_code == 303
    cleared = reply.headers.get_list("set-cookie")
    assert all("Max-Age=0" in c for c in cleared) and len(cleared) == 2
    assert screens.get("/ui/board", follow_redirects=False).status_code == 302


@pytest.mark.parametrize(
    ("roles", "opens", "refused"),
    [
        (("clerk",), ["/ui/board"], ["/ui/budget", "/ui/complaints", "/ui/audit"]),
        (("auditor",), ["/ui/audit"], ["/ui/board", "/ui/budget"]),
        (("finance",), ["/ui/budget"], ["/ui/board", "/ui/audit", "/ui/complaints"]),
        (("executive",), ["/ui/complaints"], ["/ui/board", "/ui/audit"]),
    ],
)
def test_each_page_opens_only_for_the_roles_that_read_what_it_shows(
    screens: TestClient[Any], roles: tuple[str, ...], opens: list[str], refused: list[str]
) -> None:
    sign_in(screens, "someone", *roles)
    for path in opens:
        assert screens.get(path).status_code == 200, path
    for path in refused:
        reply = screens.get(path)
        assert reply.status_code == 403 and "Not for your roles" in reply.text, path


def test_a_page_without_a_session_sends_to_sign_in_and_back(screens: TestClient[Any]) -> None:
    reply = screens.get("/ui/board?unit=ED", follow_redirects=False)
    assert reply.status_code == 302
    assert reply.headers["location"] == "/ui/sign-in?next=%2Fui%2Fboard%3Funit%3DED"


def test_pages_forbid_other_hosts_and_inline_script(screens: TestClient[Any]) -> None:
    sign_in(screens)
    page = screens.get("/ui/board")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text and "http" not in page.text.split("</header>")[1]


def test_an_interpolated_subject_is_escaped(screens: TestClient[Any]) -> None:
    sign_in(screens, "<img src=x onerror=alert(1)>", "nurse")
    page = screens.get("/ui/board")
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text


def test_the_assets_are_served_from_the_package(screens: TestClient[Any]) -> None:
    for name in ("app.css", "common.js", "board.js", "complaints.js", "budget.js", "audit.js"):
        reply = screens.get(f"/ui/assets/{name}")
        assert reply.status_code == 200, name
        code = reply.text.replace("http://www.w3.org/2000/svg", "")  # a name, not a host
        assert "http://" not in code and "https://" not in code, name
