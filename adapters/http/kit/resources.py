"""What every resource module's routes share: the :class:`Resource` a route serves, its
``{id}`` path parameter (:data:`AggregateId`, parsed by :func:`parse_id`) and the ``ETag`` it
answers with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar.datastructures import ResponseHeader
from litestar.openapi.spec import OpenAPIType
from litestar.params import PathParameter

from adapters.http.kit.errors import InvalidRequestError


@dataclass(frozen=True)
class Resource:
    """A collection of aggregates in the API: ``/api/v1/<segment>/{id}``."""

    #: The absolute path of the collection, for ``Location`` (``/api/v1/visits``).
    path: str
    #: What one of them is called in summaries and descriptions (``visit``).
    noun: str
    #: Route-name prefix (``visits``): route names are ``<name>:<Command>``.
    name: str
    #: What names a new record in its URL, from the command that created it (a unit's code);
    #: None: its id.
    key_of: Callable[[Any], str] | None = None

    def location(self, command: Any, record_id: UUID) -> str:
        key = self.key_of(command) if self.key_of is not None else str(record_id)
        return f"{self.path}/{key}"


#: A header is text or absent, never JSON null (Litestar documents ``str | None`` as
#: oneOf [string, null], and a client sending "null" would be refused).
TEXT_HEADER: dict[str, Any] = {"type": OpenAPIType.STRING, "one_of": None}
#: Declared as a string and parsed by the handler, so a malformed id is a 400 naming the
#: field (a ``{id:uuid}`` route would answer 404: Litestar treats it as no route).
AggregateId = Annotated[
    str, PathParameter(description="The resource's id (a UUID)", schema_extra={"format": "uuid"})
]


def documented_header(name: str, description: str, *, integer: bool = False) -> ResponseHeader:
    """A response header the OpenAPI document describes (the handler sets it). Litestar
    derives a header's ``schema`` only from its ``value``'s type, and OpenAPI requires one:
    the value stands for the type, and is never sent (``documentation_only``)."""
    sample: Any = 0 if integer else ""
    return ResponseHeader(name=name, documentation_only=True, description=description, value=sample)


ETAG_HEADER = documented_header("ETag", 'The record\'s version, e.g. "3"')


def parse_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidRequestError.of("id", "must be a UUID") from None
