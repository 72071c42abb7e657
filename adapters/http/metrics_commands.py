"""The ``commands_total`` family's labels: which command a route takes and, from its response,
the outcome (accepted, replayed, refused, conflict, denied, unauthenticated, not_found,
invalid, error). :class:`~adapters.http.metrics.HttpMetrics` counts them."""

from __future__ import annotations

import msgspec
from litestar.handlers.base import BaseRouteHandler

from application.shared.commands import Command


class _Problem(msgspec.Struct):
    code: str = ""


_PROBLEM = msgspec.json.Decoder(_Problem)


def command_of(handler: BaseRouteHandler) -> str | None:
    """The command a route handler takes: ``opt={"command": name}`` when declared, otherwise
    the class of its body when that is a :class:`~application.shared.commands.Command` (every
    command handler is typed with its command, so new resources need nothing more)."""
    declared = handler.opt.get("command")
    if declared:
        return str(declared)
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return None
    for field in (data, *data.inner_types):
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, Command):
            return kind.__name__
    return None


#: Status → outcome of a command, where the status alone decides.
_OUTCOMES = {401: "unauthenticated", 403: "denied", 404: "not_found", 412: "conflict"}


def command_outcome(status: int, replayed: bool, problem_code: str) -> str:
    """A command's outcome from its response: status, ``Idempotent-Replayed`` and, for a 409,
    the problem's ``code``."""
    if status < 300:
        return "replayed" if replayed else "accepted"
    if status == 409:
        # VERSION_CONFLICT: lost a race (worth a retry); any other code: a business rule said no.
        return "conflict" if problem_code == "VERSION_CONFLICT" else "refused"
    if status >= 500:
        return "error"
    # 400, 413, 415, 422 (and any other client error): the request itself was refused.
    return _OUTCOMES.get(status, "invalid")


def problem_code(body: bytes) -> str:
    """The ``code`` of a problem body (``""`` when it is not one)."""
    try:
        return _PROBLEM.decode(body).code
    except msgspec.DecodeError:
        return ""
