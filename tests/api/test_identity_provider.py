"""Tokens from the hospital's identity provider: RS256/ES256 verified with the keys it
publishes (found by OIDC discovery or named), rotated without a restart, fetched at most
once per interval for unknown keys; every refusal a 401 problem whose denial is in the trail;
an outage a 503, never a 401."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import jwt
import pytest
from litestar.testing import TestClient

import adapters.identity_provider as identity_provider
from adapters.http.app import create_app
from adapters.http.kit import auth
from adapters.settings import Settings
from application.service import PatientServices
from tests.support.api import API, only_attempt_since, position, visit_body
from tests.support.identity_provider import (
    AUDIENCE,
    JWKS_PATH,
    FakeProvider,
    SigningKey,
    running_provider,
)

#: The sub of the provider's tokens (a Keycloak user id).
USER = "f3b1c2d4-keycloak-user"
DISCOVERY = "/realms/hospital/.well-known/openid-configuration"
#: As a hospital's Keycloak realm would name its groups; the rest of its roles mean nothing.
ROLE_MAP = (("front-desk", "clerk"), ("ward-nurse", "nurse"), ("ward-nurse", "clinician"))
SCOPE_ROLES = (
    ("system/Encounter.rs", "integration_reader"),
    ("system/Encounter.write", "integration"),
)


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with running_provider() as provider:
        provider.add_key("2026-11")
        yield provider


def provider_settings(tmp_path: Path, provider: FakeProvider, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "var_dir": tmp_path / "var", "oidc_issuer": provider.issuer, "jwt_audience": AUDIENCE,
        "jwt_roles_claim": "realm_access.roles", "jwt_role_map": ROLE_MAP,
        "jwt_scope_roles": SCOPE_ROLES,
    }  # fmt: skip
    return Settings(**(values | changes))


@pytest.fixture
def idp_client(
    tmp_path: Path, provider: FakeProvider, memory_services: PatientServices
) -> Iterator[TestClient[Any]]:
    settings = provider_settings(tmp_path, provider)
    with TestClient(create_app(settings, memory_services)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_keycloak_token_acts_as_its_subject_with_its_mapped_roles(
    idp_client: TestClient[Any], provider: FakeProvider, memory_services: PatientServices
) -> None:
    [key] = provider.keys
    token = provider.token(key, roles=["front-desk", "offline_access", "default-roles-x"])

    reply = idp_client.post(API, json=visit_body(), headers=bearer(token))

    assert reply.status_code == 201, reply.text
    [event] = memory_services.visit_events(reply.json()["id"])
    assert (event.actor_id, event.actor_role) == (USER, "clerk")
    # Discovery once, the key set once; the next request is answered from memory.
    assert idp_client.get(reply.headers["Location"], headers=bearer(token)).status_code == 200
    assert (provider.asked[DISCOVERY], provider.asked[JWKS_PATH]) == (1, 1)


def test_an_es256_key_and_a_named_jwks_url_work_too(
    tmp_path: Path, provider: FakeProvider, memory_services: PatientServices
) -> None:
    key = provider.add_key("ec-1", "ES256")
    settings = provider_settings(tmp_path, provider, oidc_issuer=None, jwt_issuer=provider.issuer,
                                 jwt_jwks_url=provider.jwks_url)  # fmt: skip
    with TestClient(create_app(settings, memory_services)) as client:
        reply = client.post(
            API, json=visit_body(), headers=bearer(provider.token(key, roles=["front-desk"]))
        )

    assert reply.status_code == 201, reply.text
    assert provider.asked[DISCOVERY] == 0


def test_a_newly_rotated_key_is_taken_without_a_restart(
    tmp_path: Path, provider: FakeProvider, memory_services: PatientServices
) -> None:
    settings = provider_settings(tmp_path, provider, jwks_refresh_seconds=1)
    with TestClient(create_app(settings, memory_services)) as client:
        old = provider.token(provider.keys[0], roles=["front-desk"])
        assert client.post(API, json=visit_body(), headers=bearer(old)).status_code == 201
        new_key = provider.add_key("2026-12")  # the provider rotates
        time.sleep(1.1)  # past the refresh interval since the first fetch

        new = provider.token(new_key, roles=["front-desk"])
        reply = client.post(API, json=visit_body(), headers=bearer(new))

    assert reply.status_code == 201, reply.text
    assert provider.asked[JWKS_PATH] == 2


def test_a_key_the_provider_withdraws_stops_verifying_tokens_already_seen(
    tmp_path: Path, provider: FakeProvider, memory_services: PatientServices,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # Shortened for the test: the key set's refresh (300 s) and a kept token's (60 s).
    monkeypatch.setattr(identity_provider, "KEYS_LIFESPAN_SECONDS", 1)
    monkeypatch.setattr(auth, "VERIFIED_FOR_SECONDS", 0.5)
    settings = provider_settings(tmp_path, provider, jwks_refresh_seconds=1)
    with TestClient(create_app(settings, memory_services)) as client:
        [withdrawn] = provider.keys
        token = provider.token(withdrawn, roles=["front-desk"])
        assert client.post(API, json=visit_body(), headers=bearer(token)).status_code == 201
        provider.add_key("2026-12")
        provider.keys.remove(withdrawn)  # compromised: the provider withdraws it
        time.sleep(1.1)  # past both bounds

        reply = client.post(API, json=visit_body(), headers=bearer(token))

    assert reply.status_code == 401, reply.text
    assert provider.asked[JWKS_PATH] == 2


def test_a_flood_of_unknown_keys_costs_the_provider_one_fetch_per_interval(
    idp_client: TestClient[Any], provider: FakeProvider
) -> None:
    [key] = provider.keys
    good = provider.token(key, roles=["front-desk"])
    assert idp_client.post(API, json=visit_body(), headers=bearer(good)).status_code == 201
    # The same issuer and audience claimed, signed with keys nobody published.
    forged = [SigningKey(f"forged-{n}", "ES256") for n in range(30)]

    replies = [
        idp_client.post(API, json=visit_body(), headers=bearer(
            provider.token(key, roles=["front-desk"])
        ))
        for key in forged
    ]  # fmt: skip

    assert {r.status_code for r in replies} == {401}
    assert {r.json()["detail"] for r in replies} == {
        "the token is signed with a key the identity provider does not publish"
    }
    # The first fetch started the 30 s interval: none of the forgeries caused another.
    assert provider.asked[JWKS_PATH] == 1


def hs256_with_a_secret(provider: FakeProvider) -> str:
    return jwt.encode(
        {"iss": provider.issuer, "aud": AUDIENCE, "sub": "mallory", "exp": time.time() + 60,
         "realm_access": {"roles": ["front-desk"]}},
        "x" * 48, algorithm="HS256", headers={"kid": provider.keys[0].kid},
    )  # fmt: skip


def unsigned(provider: FakeProvider) -> str:
    return jwt.encode(
        {"iss": provider.issuer, "aud": AUDIENCE, "sub": "mallory", "exp": time.time() + 60,
         "realm_access": {"roles": ["front-desk"]}},
        None, algorithm="none", headers={"kid": provider.keys[0].kid},
    )  # fmt: skip


def tampered(provider: FakeProvider) -> str:
    # A nurse's token with its claims swapped for a clerk's: the signature no longer fits.
    header, _, signature = provider.token(provider.keys[0], roles=["ward-nurse"]).split(".")
    claims = provider.token(provider.keys[0], roles=["front-desk"]).split(".")[1]
    return ".".join([header, claims, signature])


REFUSALS = {
    "expired": (lambda p: p.token(p.keys[0], roles=["front-desk"], issued_ago=timedelta(hours=1)),
                "the token has expired", "TOKEN_EXPIRED", USER),
    "not-yet-valid": (lambda p: p.token(p.keys[0], roles=["front-desk"], nbf=time.time() + 600),
                      "the token is not valid yet", "TOKEN_NOT_YET_VALID", USER),
    "other-issuer": (lambda p: p.token(p.keys[0], roles=["front-desk"], iss="https://evil.example"),
                     "the token is from another issuer", "TOKEN_ISSUER", USER),
    "other-audience": (lambda p: p.token(p.keys[0], roles=["front-desk"], aud="billing"),
                       "the token is for another audience", "TOKEN_AUDIENCE", USER),
    "unknown-key": (lambda p: p.token(p.keys[0], roles=["front-desk"], headers={"kid": "gone"}),
                    "the token is signed with a key the identity provider does not publish",
                    "TOKEN_KEY", "unverified"),
    "no-kid": (lambda p: p.token(p.keys[0], roles=["front-desk"], headers={"kid": None}),
               "the token names no signing key ('kid')", "TOKEN_KEY", "unverified"),
    "wrong-algorithm": (lambda p: p.token(p.keys[0], roles=["front-desk"], algorithm="RS384"),
                        "the token's signature algorithm is not accepted here", "TOKEN_ALGORITHM",
                        "unverified"),
    "hs256-when-an-issuer-is-set": (hs256_with_a_secret,
                                    "the token's signature algorithm is not accepted here",
                                    "TOKEN_ALGORITHM", "unverified"),
    "alg-none": (unsigned, "the token's signature algorithm is not accepted here",
                 "TOKEN_ALGORITHM", "unverified"),
    "bad-signature": (tampered, "the token signature is invalid", "TOKEN_SIGNATURE", "unverified"),
    "no-roles-claim": (lambda p: p.token(p.keys[0]),
                       "the token grants none of this service's roles (claim 'realm_access.roles', "
                       "mapped by JWT_ROLE_MAP, or scopes in JWT_SCOPE_ROLES)",
                       "TOKEN_ROLES", USER),
    "only-unmapped-roles": (lambda p: p.token(p.keys[0], roles=["offline_access"]),
                            "the token grants none of this service's roles (claim "
                            "'realm_access.roles', mapped by JWT_ROLE_MAP, or scopes in "
                            "JWT_SCOPE_ROLES)", "TOKEN_ROLES", USER),
    "malformed": (lambda p: "eyJhbGciOiJSUzI1NiJ9.e30", "the token is malformed",
                  "TOKEN_MALFORMED", "unverified"),
}  # fmt: skip


@pytest.mark.parametrize(("make", "detail", "code", "actor"), REFUSALS.values(), ids=REFUSALS)
def test_every_refusal_is_a_401_problem_and_a_denial_in_the_trail(
    tmp_path: Path,
    provider: FakeProvider,
    memory_services: PatientServices,
    make: Any,
    detail: str,
    code: str,
    actor: str,
) -> None:
    # JWT_SECRET is set too: with an issuer configured, HS256 is refused all the same.
    settings = provider_settings(tmp_path, provider, jwt_secret="x" * 48)
    token = make(provider)
    before = position(memory_services)
    with TestClient(create_app(settings, memory_services)) as client:
        reply = client.post(API, json=visit_body(), headers=bearer(token))

    assert reply.status_code == 401, reply.text
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert 'error="invalid_token"' in reply.headers["WWW-Authenticate"]
    assert (reply.json()["code"], reply.json()["detail"]) == ("UNAUTHENTICATED", detail)
    denial = only_attempt_since(memory_services, before)
    assert (denial.outcome, denial.code, denial.action) == ("denied", code, "authenticate")
    assert denial.actor_id == actor
    assert token not in repr(vars(denial))


def test_a_service_accounts_scopes_grant_the_roles_configured_for_them(
    idp_client: TestClient[Any], provider: FakeProvider
) -> None:
    [key] = provider.keys
    clerk = provider.token(key, roles=["front-desk"])
    visit = idp_client.post(API, json=visit_body(), headers=bearer(clerk)).json()["id"]
    # A SMART Backend Services client-credentials token: scopes, no roles.
    reader = provider.token(key, sub="service-account-tie", scope="system/Encounter.rs openid")
    writer = provider.token(key, sub="service-account-tie", scope="system/Encounter.write")

    encounter = idp_client.get(f"/fhir/r4/Encounter/{visit}", headers=bearer(reader))
    may_not_write = idp_client.post(API, json=visit_body(), headers=bearer(reader))
    may_not_read = idp_client.get(f"/fhir/r4/Encounter/{visit}", headers=bearer(writer))

    assert encounter.status_code == 200, encounter.text
    assert encounter.json()["resourceType"] == "Encounter"
    assert may_not_write.status_code == 403
    assert may_not_read.status_code == 403


def test_entra_style_scp_and_roles_claims_are_read_too(
    tmp_path: Path, provider: FakeProvider, memory_services: PatientServices
) -> None:
    [key] = provider.keys
    settings = provider_settings(tmp_path, provider, jwt_roles_claim="roles", jwt_role_map=())
    # Entra ID's app roles: a top-level list; our names used as they are.
    token = provider.token(key, roles=["clerk", "Nobody"], roles_at_top=True)
    with TestClient(create_app(settings, memory_services)) as client:
        reply = client.post(API, json=visit_body(), headers=bearer(token))

    assert reply.status_code == 201, reply.text


def test_an_unreachable_provider_is_a_503_not_a_401_and_is_asked_again_after_the_interval(
    tmp_path: Path, provider: FakeProvider, memory_services: PatientServices
) -> None:
    # Long enough for the six requests below to fit in it on a loaded machine (at 1 s
    # they did not once, while a package install ran beside the tests).
    settings = provider_settings(tmp_path, provider, jwks_refresh_seconds=3)
    token = provider.token(provider.keys[0], roles=["front-desk"])
    provider.answering = False
    with TestClient(create_app(settings, memory_services)) as client:
        down = [client.post(API, json=visit_body(), headers=bearer(token)) for _ in range(5)]
        provider.answering = True
        still_waiting = client.post(API, json=visit_body(), headers=bearer(token))
        time.sleep(3.1)
        back = client.post(API, json=visit_body(), headers=bearer(token))

    assert {r.status_code for r in down} == {503}
    assert down[0].headers["Retry-After"]
    assert down[0].json()["code"] != "UNAUTHENTICATED"
    assert still_waiting.status_code == 503  # within the interval: the provider is spared
    assert provider.asked[DISCOVERY] == 2  # once down, once back: not once per request
    assert back.status_code == 201, back.text


def test_a_key_set_that_is_not_json_is_a_503_and_is_not_fetched_per_request(
    tmp_path: Path, provider: FakeProvider, memory_services: PatientServices
) -> None:
    settings = provider_settings(tmp_path, provider, jwks_refresh_seconds=30)
    token = provider.token(provider.keys[0], roles=["front-desk"])
    provider.keys_as_html = True
    with TestClient(create_app(settings, memory_services)) as client:
        replies = [client.post(API, json=visit_body(), headers=bearer(token)) for _ in range(5)]

    assert {r.status_code for r in replies} == {503}
    assert provider.asked[JWKS_PATH] == 1  # not once per request


def test_keys_fetched_before_an_outage_keep_verifying_tokens(
    tmp_path: Path, provider: FakeProvider, memory_services: PatientServices,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(identity_provider, "KEYS_LIFESPAN_SECONDS", 0.2)
    settings = provider_settings(tmp_path, provider)
    with TestClient(create_app(settings, memory_services)) as client:
        first = provider.token(provider.keys[0], roles=["front-desk"])
        assert client.post(API, json=visit_body(), headers=bearer(first)).status_code == 201
        provider.answering = False
        time.sleep(0.3)  # the key set's lifespan is over: it is fetched again, and fails

        second = provider.token(provider.keys[0], roles=["front-desk"], sub=str(uuid4()))
        reply = client.post(API, json=visit_body(), headers=bearer(second))

    assert reply.status_code == 201, reply.text
    assert provider.asked[JWKS_PATH] == 2


def test_a_discovery_document_for_another_issuer_is_not_trusted(
    tmp_path: Path, provider: FakeProvider, memory_services: PatientServices
) -> None:
    provider.issuer_in_document = "https://evil.example/realms/hospital"
    settings = provider_settings(tmp_path, provider)
    token = provider.token(provider.keys[0], roles=["front-desk"])
    with TestClient(create_app(settings, memory_services)) as client:
        reply = client.post(API, json=visit_body(), headers=bearer(token))

    assert reply.status_code == 503
    assert provider.asked[JWKS_PATH] == 0
