"""A stand-in for a hospital's identity provider (Keycloak-shaped): an HTTP server on the
loopback interface publishing an OpenID Connect discovery document and a JWKS of keys the
tests generate, rotate and sign tokens with; it counts what it is asked for, and can be made
to stop answering."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

REALM_PATH = "/realms/hospital"
JWKS_PATH = f"{REALM_PATH}/protocol/openid-connect/certs"
AUDIENCE = "patient-services"


class SigningKey:
    """A key pair the provider signs with: ``kid``, its algorithm, and the private half."""

    def __init__(self, kid: str, algorithm: str) -> None:
        self.kid, self.algorithm = kid, algorithm
        if algorithm.startswith("ES"):
            self.private: Any = ec.generate_private_key(ec.SECP256R1())
            public = json.loads(ECAlgorithm.to_jwk(self.private.public_key()))
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        self.jwk = public | {"kid": kid, "alg": algorithm, "use": "sig"}


class FakeProvider:
    def __init__(self) -> None:
        self.keys: list[SigningKey] = []
        self.asked: Counter[str] = Counter()
        self.answering = True
        #: Answer the key set with a 200 HTML page (a proxy's error page), not JSON.
        self.keys_as_html = False
        self.issuer_in_document: str | None = None  # None: the real issuer
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}{REALM_PATH}"
        self.jwks_url = self.issuer.removesuffix(REALM_PATH) + JWKS_PATH

    def add_key(self, kid: str, algorithm: str = "RS256") -> SigningKey:
        key = SigningKey(kid, algorithm)
        self.keys.append(key)
        return key

    def token(
        self,
        key: SigningKey,
        *,
        sub: str = "f3b1c2d4-keycloak-user",
        roles: list[str] | None = None,
        roles_at_top: bool = False,
        lifetime: timedelta = timedelta(minutes=5),
        issued_ago: timedelta = timedelta(0),
        algorithm: str | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A Keycloak-shaped access token: roles in ``realm_access.roles`` (or, as Entra ID
        sends app roles, in a top-level ``roles`` claim)."""
        now = datetime.now(timezone.utc) - issued_ago
        payload: dict[str, Any] = {
            "iss": self.issuer, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + lifetime,
            "azp": "ward-app", "typ": "Bearer",
        }  # fmt: skip
        if roles is not None:
            payload |= {"roles": roles} if roles_at_top else {"realm_access": {"roles": roles}}
        payload |= claims
        header = {"kid": key.kid} | (headers or {})
        return jwt.encode(
            payload, key.private, algorithm=algorithm or key.algorithm,
            headers={name: value for name, value in header.items() if value is not None},
        )  # fmt: skip

    def start(self) -> FakeProvider:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                provider.asked[self.path] += 1
                if not provider.answering:
                    self.send_error(503)
                    return
                if self.path == f"{REALM_PATH}/.well-known/openid-configuration":
                    body: dict[str, Any] = {
                        "issuer": provider.issuer_in_document or provider.issuer,
                        "jwks_uri": provider.jwks_url,
                    }
                elif self.path == JWKS_PATH and provider.keys_as_html:
                    page = b"<html><body>502 Bad Gateway</body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                elif self.path == JWKS_PATH:
                    body = {"keys": [key.jwk for key in provider.keys]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the counts say what was asked

        return Handler


@contextmanager
def running_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider().start()
    try:
        yield provider
    finally:
        provider.stop()
