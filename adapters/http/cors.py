"""Cross-origin calls from front ends on other origins (``CORS_ALLOW_ORIGINS``).

Litestar's CORS layer wraps the whole app, so a preflight (``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``) is answered before routing, and so before the bearer
token is asked for: browsers never send credentials on a preflight. Credentials (cookies) are
not allowed: front ends send the token in ``Authorization``, which must be listed here.
"""

from __future__ import annotations

from litestar.config.cors import CORSConfig

from adapters.settings import Settings

#: The request headers the API reads (see the OpenAPI document's header parameters).
REQUEST_HEADERS = [
    "Authorization", "Content-Type", "Accept", "Accept-Encoding", "If-Match", "If-None-Match",
    "Idempotency-Key", "X-Correlation-Id", "X-On-Behalf-Of", "X-Purpose-Of-Use",
    "X-Source-System", "X-Source-Message-Id", "Last-Event-ID",
]  # fmt: skip
#: The response headers a page's script may read (beyond the CORS-safelisted ones).
EXPOSED_HEADERS = [
    "ETag", "Location", "Last-Modified", "X-Projection-Position", "X-Correlation-Id",
    "Idempotent-Replayed", "Retry-After", "WWW-Authenticate", "Content-Disposition",
]  # fmt: skip
#: Seconds a browser may reuse a preflight's answer.
PREFLIGHT_MAX_AGE = 600


def cors_config(settings: Settings) -> CORSConfig | None:
    if not settings.cors_allow_origins:
        return None  # same-origin only: no Access-Control-* header is ever sent
    return CORSConfig(
        allow_origins=list(settings.cors_allow_origins),
        allow_methods=["GET", "POST", "HEAD", "OPTIONS"],
        allow_headers=REQUEST_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=PREFLIGHT_MAX_AGE,
    )
