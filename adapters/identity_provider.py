"""Tokens from the hospital's identity provider (Keycloak, Entra ID, Okta, an OIDC provider):
verified with the keys it publishes as a JWKS, found by OpenID Connect discovery from
``OIDC_ISSUER`` (``/.well-known/openid-configuration``'s ``jwks_uri``) or named by
``JWT_JWKS_URL``.

The keys are fetched and matched by PyJWT's :class:`~jwt.PyJWKClient` (no crypto here):

- **Rotation.** A token signed by a key not seen before makes the client fetch the set again,
  so a provider's new key is taken without a restart. Such a fetch happens at most once per
  ``JWKS_REFRESH_SECONDS`` (the client's cooldown): a flood of tokens naming made-up ``kid``s
  costs the provider one request per interval, and each token a dictionary lookup.
- **Outages.** The set is fetched again every :data:`KEYS_LIFESPAN_SECONDS`. When the
  provider does not answer, the keys fetched last are kept (tokens it signed before stay
  good) and it is asked again after ``JWKS_REFRESH_SECONDS``; until a first fetch succeeds,
  requests are answered 503 (:class:`~adapters.auth_tokens.KeysUnavailableError`), never
  401: the token may be good.

Fetches block, so :meth:`ProviderTokens.verify` runs in a worker thread, never in the event
loop (see :class:`~adapters.http.kit.auth.BearerAuthMiddleware`).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

import jwt
import structlog
from jwt import PyJWKClient, PyJWKClientConnectionError, PyJWKClientError, PyJWKSetError

from adapters.auth_tokens import (
    InvalidTokenError,
    KeysUnavailableError,
    TokenClaims,
    verified_claims,
)
from adapters.settings import Settings, SettingsError
from adapters.settings_values import check_provider_url

log = structlog.get_logger("auth")

#: The key set is fetched again this often even when every token's key is known.
KEYS_LIFESPAN_SECONDS = 300
#: A provider slower than this is treated as not answering.
FETCH_TIMEOUT_SECONDS = 5.0
DISCOVERY_PATH = "/.well-known/openid-configuration"
#: Discovery documents and key sets are small; a larger answer is not read.
MAX_DOCUMENT_BYTES = 1024 * 1024


class ProviderTokens:
    """Verifies the provider's tokens: one per process, shared by every authenticated router."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._keys: _ProviderKeys | None = None
        self._discovery_failed_at: float | None = None

    def verify(self, token: str) -> TokenClaims:
        """The token's claims, or :class:`InvalidTokenError` (a 401) or
        :class:`KeysUnavailableError` (a 503). Blocking: call it from a worker thread."""
        settings = self._settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidTokenError("the token is malformed", "TOKEN_MALFORMED") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        # Checked before any key is looked up: an HS256 token (or `none`) never gets as far
        # as a key, and PyJWT checks again that the key's own algorithm is this one.
        if algorithm not in settings.jwt_algorithms:
            raise InvalidTokenError(
                "the token's signature algorithm is not accepted here", "TOKEN_ALGORITHM"
            )
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("the token names no signing key ('kid')", "TOKEN_KEY")
        try:
            key = self._provider_keys().get_signing_key(kid)
        except (PyJWKClientConnectionError, PyJWKSetError):
            raise KeysUnavailableError("the identity provider's keys cannot be fetched") from None
        except PyJWKClientError:
            raise InvalidTokenError(
                "the token is signed with a key the identity provider does not publish",
                "TOKEN_KEY",
            ) from None
        return verified_claims(settings, token, key, settings.jwt_algorithms)

    def _provider_keys(self) -> _ProviderKeys:
        with self._lock:
            if self._keys is None:
                self._keys = _ProviderKeys(self._jwks_url(), self._settings.jwks_refresh_seconds)
            return self._keys

    def _jwks_url(self) -> str:
        settings = self._settings
        if settings.jwt_jwks_url is not None:
            return settings.jwt_jwks_url
        issuer = settings.oidc_issuer
        assert issuer is not None  # one of the two is set (Settings checks it)
        failed = self._discovery_failed_at
        if failed is not None and time.monotonic() - failed < settings.jwks_refresh_seconds:
            raise PyJWKClientConnectionError("discovery failed a moment ago")
        try:
            return _discovered_jwks_url(issuer)
        except (OSError, ValueError, SettingsError) as e:
            self._discovery_failed_at = time.monotonic()
            log.error("identity_provider.discovery_failed", issuer=issuer, error=str(e))
            raise PyJWKClientConnectionError("discovery failed") from None


def _discovered_jwks_url(issuer: str) -> str:
    """The ``jwks_uri`` of the issuer's discovery document, which must name the same issuer
    (OpenID Connect Discovery §4.3: a document for another issuer is not this one's)."""
    url = issuer.rstrip("/") + DISCOVERY_PATH
    document = _fetch_json(url)
    if document.get("issuer") != issuer:
        raise ValueError(f"the discovery document at {url} is for another issuer")
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise ValueError(f"the discovery document at {url} names no jwks_uri")
    check_provider_url("jwks_uri", jwks_uri)
    return jwks_uri


def _fetch_json(url: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 (https or loopback http: Settings checks)
        body = response.read(MAX_DOCUMENT_BYTES + 1)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"the document at {url} is larger than {MAX_DOCUMENT_BYTES} bytes")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError(f"the document at {url} is not a JSON object")
    return document


class _ProviderKeys(PyJWKClient):
    """PyJWT's client, keeping the last good key set while the provider does not answer."""

    def __init__(self, uri: str, refresh_seconds: int) -> None:
        super().__init__(
            uri,
            cache_jwk_set=True,
            lifespan=KEYS_LIFESPAN_SECONDS,
            timeout=FETCH_TIMEOUT_SECONDS,
            cooldown_duration=refresh_seconds,
        )
        self._retry_seconds = refresh_seconds
        self._last_good: Any = None
        self._failed_at: float | None = None

    def fetch_data(self) -> Any:
        failed = self._failed_at
        if failed is None or time.monotonic() - failed >= self._retry_seconds:
            try:
                data = super().fetch_data()
                _check_key_set(data)
            except (PyJWKClientError, PyJWKSetError, ValueError, OSError) as e:
                # ValueError: a 200 whose body is not JSON (a proxy's error page), which
                # pyjwt does not wrap; it must not become a 500 and a fetch per request.
                self._failed_at = time.monotonic()
                log.error(
                    "identity_provider.keys_unavailable", url=self.uri,
                    error=type(e).__name__ if isinstance(e, ValueError) else str(e),
                )  # fmt: skip
            else:
                self._failed_at, self._last_good = None, data
                return data
        if self._last_good is None:
            raise PyJWKClientConnectionError("the identity provider's keys cannot be fetched")
        return self._last_good  # served again until the provider answers


def _check_key_set(data: Any) -> None:
    """Refuse a set without one usable key before it replaces the last good one."""
    jwt.PyJWKSet.from_dict(data)
