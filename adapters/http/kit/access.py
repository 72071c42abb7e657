"""Recording successful reads of patient-linked data (HIPAA 164.312(b), IHE BALP Read/Query).

A route opts in with one option: ``read_route(..., access=READ_CENSUS)``, or, for a route
built with ``litestar.get`` itself, by wrapping its function in :func:`recorded`. Then:

* ``X-Purpose-Of-Use`` (an HL7 v3 PurposeOfUse code) and ``X-On-Behalf-Of`` are declared on
  the route (documented in OpenAPI) and checked before the read runs: a malformed one is a
  400 and records nothing;
* when the handler returns a 2xx answer, what it returns is walked (the Struct or dict
  before it is encoded, so nothing is serialised twice; a body the route encoded itself is
  decoded once per distinct body) for the ``patientRef``s and record ids, and a
  :class:`~application.access_log.PendingAccess` is noted in the request's state;
* :func:`commit_access`, a ``before_send`` hook, hands it to the app's
  :class:`~adapters.access_recording.AccessRecorder` once the status line going out is 2xx
  (a 304, or an error raised while encoding, records nothing). The request never waits for
  a database write.

An app without a recorder (a test's app given its own services and none) records nothing;
the headers are checked all the same.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import wraps
from typing import Annotated, Any, TypeVar

from litestar import Request, Response
from litestar.enums import ParamType
from litestar.handlers import HTTPRouteHandler
from litestar.params import HeaderParameter, ParameterKwarg
from litestar.types import Message, Scope

from adapters.access_recording import AccessRecorder
from adapters.http.kit.auth import claims_of
from adapters.http.kit.correlation import correlation_id_of
from adapters.http.kit.errors import InvalidRequestError
from adapters.http.kit.identifiers import identifier
from adapters.http.kit.resources import TEXT_HEADER
from adapters.http.kit.returned import (
    RETURNED_RECORDS,
    Extractor,
    Found,
    fhir_records,
    fields_named,
)
from application.access_log import PendingAccess
from application.shared.access import DEFAULT_PURPOSE_OF_USE, PURPOSE_OF_USE_PATTERN, Access

#: Where the app keeps its :class:`AccessRecorder` (``app.state``; None: nothing recorded).
ACCESS_RECORDER_STATE_KEY = "access_recorder"
PURPOSE_HEADER = "X-Purpose-Of-Use"
ON_BEHALF_HEADER = "X-On-Behalf-Of"
#: Where a read's access waits for the status line (the ASGI scope's state).
_PENDING_KEY = "patient_services.access.pending"
_PURPOSE = re.compile(PURPOSE_OF_USE_PATTERN)

F = TypeVar("F", bound=Callable[..., Any])
__all__ = [
    "ACCESS_RECORDER_STATE_KEY", "RETURNED_RECORDS", "AccessSpec", "Extractor", "Found",
    "OnBehalfOfHeader", "PurposeOfUseHeader", "checked_access_headers", "commit_access",
    "fhir_records", "fields_named", "note", "pending_access", "purpose_or_default", "recorded",
]  # fmt: skip

PurposeOfUseHeader = Annotated[
    str | None,
    HeaderParameter(
        name=PURPOSE_HEADER,
        required=False,
        description="Why the data is read: an HL7 v3 PurposeOfUse code (TREAT, ETREAT, "
        "HPAYMT, HOPERAT, PATRQT, ...), recorded with the access; the service's "
        "ACCESS_DEFAULT_PURPOSE (default TREAT) when absent. Upper-case letters only.",
        schema_extra={**TEXT_HEADER, "pattern": PURPOSE_OF_USE_PATTERN, "max_length": 20},
    ),
]
OnBehalfOfHeader = Annotated[
    str | None,
    HeaderParameter(
        name=ON_BEHALF_HEADER,
        required=False,
        description="The user the caller reads for; recorded with the access.",
        schema_extra={
            **TEXT_HEADER, "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}$", "max_length": 100,
        },
    ),
]  # fmt: skip
#: The names the two headers take in a wrapped handler's signature (unlike any of ours).
_PURPOSE_PARAMETER = "access_purpose_of_use"
_ON_BEHALF_PARAMETER = "access_on_behalf_of"


def checked_access_headers(
    purpose: str | None, on_behalf_of: str | None
) -> tuple[str | None, str | None]:
    """The two headers' values, checked (a malformed one is a 400): for :func:`recorded`,
    and for a route that records its access itself (the trail's export)."""
    if purpose is not None and not _PURPOSE.fullmatch(purpose):
        raise InvalidRequestError.of(
            PURPOSE_HEADER, "expected an HL7 v3 PurposeOfUse code such as TREAT "
            "(upper-case letters, at most 20)",
        )  # fmt: skip
    return purpose, identifier(on_behalf_of, ON_BEHALF_HEADER)


def purpose_or_default(request: Request[Any, Any, Any], purpose: str | None) -> str:
    """``purpose``, or the purpose the service records when a request sends none."""
    if purpose is not None:
        return purpose
    recorder: AccessRecorder | None = request.app.state.get(ACCESS_RECORDER_STATE_KEY)
    return recorder.default_purpose if recorder is not None else DEFAULT_PURPOSE_OF_USE


# ---- the option -------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccessSpec:
    """How a route's reads are recorded: the ``action`` (the vocabulary is in
    :mod:`application.shared.access`) and where the refs and ids are in its answer."""

    action: str
    found: Extractor = field(default=RETURNED_RECORDS, compare=False)


def recorded(spec: AccessSpec | str) -> Callable[[F], F]:
    """Wrap a read handler (which takes ``request``) so its successful reads are recorded;
    ``spec`` may be just the action. The wrapper declares the two headers above."""
    access_spec = spec if isinstance(spec, AccessSpec) else AccessSpec(spec)

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        if "request" not in signature.parameters:
            raise TypeError(f"{fn.__name__}: a recorded read handler takes `request`")

        def before(kwargs: dict[str, Any]) -> tuple[str | None, str | None]:
            return checked_access_headers(
                kwargs.pop(_PURPOSE_PARAMETER, None), kwargs.pop(_ON_BEHALF_PARAMETER, None)
            )

        handler: Callable[..., Any]
        if inspect.iscoroutinefunction(fn):
            coroutine: Callable[..., Awaitable[Any]] = fn

            @wraps(fn)
            async def handler(*args: Any, **kwargs: Any) -> Any:
                purpose, on_behalf_of = before(kwargs)
                answer = await coroutine(*args, **kwargs)
                note(kwargs["request"], answer, access_spec, purpose, on_behalf_of)
                return answer
        else:

            @wraps(fn)
            def handler(*args: Any, **kwargs: Any) -> Any:
                purpose, on_behalf_of = before(kwargs)
                answer = fn(*args, **kwargs)
                note(kwargs["request"], answer, access_spec, purpose, on_behalf_of)
                return answer

        extra = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
            for name, kind in ((_PURPOSE_PARAMETER, PurposeOfUseHeader),
                               (_ON_BEHALF_PARAMETER, OnBehalfOfHeader))
        ]  # fmt: skip
        parameters = list(signature.parameters.values())
        variadic = [p for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD]
        fixed = [p for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD]
        handler.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*fixed, *extra, *variadic]
        )
        handler.__annotations__ = {
            **fn.__annotations__, _PURPOSE_PARAMETER: PurposeOfUseHeader,
            _ON_BEHALF_PARAMETER: OnBehalfOfHeader,
        }  # fmt: skip
        return handler  # type: ignore[return-value]

    return decorate


def note(
    request: Request[Any, Any, Any],
    answer: Any,
    spec: AccessSpec,
    purpose: str | None,
    on_behalf_of: str | None,
) -> None:
    """Note the access a 2xx answer makes, for :func:`commit_access` to hand over."""
    content = answer
    if isinstance(answer, Response):
        if not 200 <= (answer.status_code or 200) < 300:
            return
        content = answer.content
    noted = pending_access(request, content, spec, purpose, on_behalf_of)
    if noted is not None:
        request.scope.setdefault("state", {})[_PENDING_KEY] = noted


def pending_access(
    request: Request[Any, Any, Any],
    content: Any,
    spec: AccessSpec,
    purpose: str | None,
    on_behalf_of: str | None,
) -> tuple[AccessRecorder, PendingAccess] | None:
    """The access showing ``content`` to the request's caller makes, and the recorder to
    hand it to (None when the app records nothing). A stream that shows the caller new
    content (the live board) hands each one over itself."""
    recorder: AccessRecorder | None = request.app.state.get(ACCESS_RECORDER_STATE_KEY)
    if recorder is None:
        return None
    found = spec.found(content)
    count = len(found.record_ids) or len(found.patient_refs)
    truncated = max(len(found.record_ids), len(found.patient_refs)) > recorder.list_threshold
    claims = claims_of(request)
    access = Access(
        action=spec.action,
        route=request.scope.get("path_template") or request.scope["path"],
        query=query_of(request),
        purpose_of_use=purpose_or_default(request, purpose),
        patient_refs=() if truncated else found.patient_refs,
        record_ids=() if truncated else found.record_ids,
        result_count=count,
        truncated=truncated,
    )
    pending = PendingAccess(
        access=access, actor_id=claims.subject, actor_roles=tuple(claims.roles),
        correlation_id=correlation_id_of(request.scope), occurred_at=datetime.now(timezone.utc),
        on_behalf_of=on_behalf_of,
    )  # fmt: skip
    return recorder, pending


def query_of(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The query as sent (a repeated parameter's values comma-joined), of the parameters
    the route declares only: an undeclared one is ignored by the route, and may hold any
    text (``?name=…``), which must not reach the log."""
    declared = _query_names(request.route_handler)
    query: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in declared:
            query[name] = f"{query[name]},{value}" if name in query else value
    return query


#: Declared query names by route function. Keyed by the function (a module's, so few and
#: lasting), not by the handler: each app copies its handlers, and a cache holding them would
#: keep every app ever built alive, with its stores (a test process grew to gigabytes).
_DECLARED: dict[Callable[..., Any], frozenset[str]] = {}


def _query_names(handler: HTTPRouteHandler) -> frozenset[str]:
    """The query parameters a handler declares, by their names on the wire (every route
    of this service declares its parameters with ``QueryParameter``)."""
    names = _DECLARED.get(handler.fn)
    if names is None:
        names = _DECLARED[handler.fn] = frozenset(
            field.kwarg_definition.name or name
            for name, field in handler.parsed_fn_signature.parameters.items()
            if isinstance(field.kwarg_definition, ParameterKwarg)
            and field.kwarg_definition.param_type is ParamType.QUERY
        )
    return names


async def commit_access(message: Message, scope: Scope) -> None:
    """``before_send`` hook: hand a noted access to the recorder once the status going out
    is 2xx (after the handler, an answer may still fail to encode: then nothing)."""
    if message["type"] != "http.response.start":
        return
    noted = scope.get("state", {}).pop(_PENDING_KEY, None)
    if noted is not None and 200 <= (message.get("status") or 0) < 300:
        recorder, pending = noted
        recorder.add(pending)
