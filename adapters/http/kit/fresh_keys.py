"""No personal text goes out after an erasure of its subject has answered.

A request notes the data keys it opens text with (:mod:`adapters.privacy.key_use`). When any
part of its response is about to go out :data:`~adapters.privacy.key_use.GRACE_SECONDS` or
longer after those keys were last known to be live (a slow read, a long export), they are
looked up again first. All still live: it goes out. One destroyed meanwhile: the response is
replaced by a 503 problem (repeat the request: the text now reads as erased) or, when part of
it is out already (a stream), the connection is cut. An erasure answers only that long after
its keys were destroyed (the privacy route waits), so whatever this lets through went out
before the erasure's answer. A look-up that fails is a 503 as well: unchecked text stays in.

A response that read sealed text says ``Cache-Control: no-store``: an erasure changes what
the text reads as, not the record's version, so no cache may keep a copy from before.
"""

from __future__ import annotations

import json
import time
from typing import Any

import anyio.to_thread
import structlog
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

from adapters.http.kit.problems import PROBLEM_TYPE_BASE
from adapters.http.kit.services import SERVICES_STATE_KEY
from adapters.privacy.key_use import tracked

log = structlog.get_logger("privacy")


def _problem(detail: str) -> bytes:
    return json.dumps({
        "type": PROBLEM_TYPE_BASE + "service-unavailable",
        "title": "Service unavailable",
        "status": 503,
        "code": "SERVICE_UNAVAILABLE",
        "detail": detail,
    }).encode()  # fmt: skip


_ERASED = _problem("Personal text this request read was erased while it ran: repeat the request.")
_UNCHECKED = _problem(
    "Whether personal text this request read is still live could not be checked: repeat the "
    "request."
)
#: A response carrying personal text is kept by no cache: an erasure changes the text, not
#: the record's version, so a kept copy would outlive it.
_NO_STORE = (b"cache-control", b"no-store")


class ErasedWhileSendingError(RuntimeError):
    """Raised to cut a response whose start is out: the rest would carry erased text."""


class FreshKeysMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("method") not in ("GET", "HEAD"):
            # A command's reply carries no personal text, and replacing it would tell the
            # client to repeat a change already committed.
            await next_app(scope, receive, send)
            return
        with tracked() as uses:
            state: dict[str, bool] = {"started": False, "replaced": False}

            async def guarded(message: Message) -> None:
                if state["replaced"]:
                    return  # the app's own answer, replaced by the 503
                if message["type"] in ("http.response.start", "http.response.body"):
                    checked_at = time.monotonic()  # before the look-up, as the mapper's is
                    stale = uses.stale(checked_at)
                    if stale:
                        refusal = await _check(scope, stale)
                        if refusal is not None:
                            await _refuse(scope, send, state, refusal)
                            return
                        uses.confirmed(stale, checked_at)
                    if message["type"] == "http.response.start":
                        state["started"] = True
                        if uses.any:
                            message = _without_caching(message)
                await send(message)

            await next_app(scope, receive, guarded)


async def _check(scope: Scope, key_ids: list[str]) -> bytes | None:
    """None when every key is still live; else the problem to answer with."""
    try:
        live = await anyio.to_thread.run_sync(_all_live, scope, key_ids)
    except Exception as e:  # noqa: BLE001 - the text must not go out unchecked, nor as a 500
        log.error("privacy.key_check_failed", error=type(e).__name__)
        return _UNCHECKED
    if live:
        return None
    log.warning("privacy.erased_while_reading", path=scope.get("path_template") or "-")
    return _ERASED


def _without_caching(message: HTTPResponseStartEvent) -> HTTPResponseStartEvent:
    headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"cache-control"]
    return {**message, "headers": [*headers, _NO_STORE]}


async def _refuse(scope: Scope, send: Send, state: dict[str, bool], problem: bytes) -> None:
    if state["started"]:
        raise ErasedWhileSendingError("the text being sent was erased: connection cut")
    state["replaced"] = True
    await send({
        "type": "http.response.start", "status": 503,
        "headers": [(b"content-type", b"application/problem+json"), (b"retry-after", b"0"),
                    _NO_STORE, (b"content-length", str(len(problem)).encode())],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": problem, "more_body": False})


def _all_live(scope: Scope, key_ids: list[str]) -> bool:
    services: Any = scope["app"].state.get(SERVICES_STATE_KEY)
    vault = getattr(getattr(services, "mapper", None), "vault", None)
    if vault is None:
        return True  # nothing is sealed in this store
    return bool(vault.all_live(key_ids))
