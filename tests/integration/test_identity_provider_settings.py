"""The identity provider's settings: what they read, and what they refuse at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.settings import Settings, SettingsError

ISSUER = "https://sso.hospital.example/realms/hospital"
PG_URL = "postgresql://app@db.example:5432/patients"


def keycloak_env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {
        "VAR_DIR": str(tmp_path / "var"), "OIDC_ISSUER": ISSUER, "JWT_AUDIENCE": "patient-services",
        "JWT_ROLES_CLAIM": "realm_access.roles",
        "JWT_ROLE_MAP": "front-desk=clerk, ward-nurse=nurse,ward-nurse=clinician",
        "JWT_SCOPE_ROLES": "system/Encounter.rs=integration_reader",
        "JWKS_REFRESH_SECONDS": "60", "JWT_LEEWAY_SECONDS": "10",
    } | more  # fmt: skip


def test_a_keycloak_configuration_is_read_and_needs_no_jwt_secret_even_on_postgresql(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env(keycloak_env(tmp_path, DATABASE_URL=PG_URL))

    assert settings.uses_identity_provider and settings.jwt_secret is None
    assert settings.expected_issuer == ISSUER
    assert settings.jwt_algorithms == ("RS256", "ES256")
    assert settings.jwt_role_map == (
        ("front-desk", "clerk"), ("ward-nurse", "nurse"), ("ward-nurse", "clinician"),
    )  # fmt: skip
    assert settings.jwt_scope_roles == (("system/Encounter.rs", "integration_reader"),)
    assert (settings.jwks_refresh_seconds, settings.jwt_leeway_seconds) == (60, 10)
    assert not (tmp_path / "var" / "jwt_secret").exists()  # no secret generated either


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"JWT_AUDIENCE": ""}, "^JWT_AUDIENCE: must be set with an identity provider"),
        ({"OIDC_ISSUER": "http://sso.hospital.example/realms/h"}, "^OIDC_ISSUER: must be https://"),
        (
            {"OIDC_ISSUER": "", "JWT_JWKS_URL": "file:///etc/passwd"},
            "^JWT_JWKS_URL: expected an https",
        ),
        ({"JWT_ALGORITHMS": "RS256,HS256"}, "^JWT_ALGORITHMS: .*HS256 cannot be used"),
        ({"JWT_ALGORITHMS": "none"}, "^JWT_ALGORITHMS: .*none cannot be used"),
        ({"JWT_ROLE_MAP": "front-desk=wizard"}, "^JWT_ROLE_MAP: wizard is not a role"),
        ({"JWT_SCOPE_ROLES": "system/*.rs=system"}, "^JWT_SCOPE_ROLES: system is not a role"),
        ({"JWT_ROLE_MAP": "front-desk"}, "^JWT_ROLE_MAP: expected comma-separated name=role"),
        ({"JWT_ROLES_CLAIM": "realm access"}, "^JWT_ROLES_CLAIM: expected a claim name"),
        ({"JWKS_REFRESH_SECONDS": "0"}, "^JWKS_REFRESH_SECONDS: expected an integer from 1"),
        ({"JWT_ISSUER": "https://other.example"}, "^JWT_ISSUER: differs from OIDC_ISSUER"),
        (
            {"OIDC_ISSUER": "", "JWT_JWKS_URL": f"{ISSUER}/protocol/openid-connect/certs"},
            "^JWT_ISSUER: must be set with JWT_JWKS_URL",
        ),
    ],
)
def test_an_unsafe_or_mistyped_provider_setting_is_refused_at_start(
    tmp_path: Path, changes: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(keycloak_env(tmp_path, **changes))


def test_plain_http_is_accepted_for_a_provider_on_this_host(tmp_path: Path) -> None:
    local = "http://localhost:8080/realms/dev"
    assert Settings.from_env(keycloak_env(tmp_path, OIDC_ISSUER=local)).oidc_issuer == local


def test_without_a_provider_a_secret_is_still_required_when_built_directly(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="^JWT_SECRET: must be set unless OIDC_ISSUER"):
        Settings(var_dir=tmp_path)
