"""The HTTP layer's own errors: input it refuses before the application sees it, a missing
token, a dependency that does not answer, a read model that cannot answer yet. Each becomes a
problem response in :mod:`adapters.http.kit.problems`, which maps every exception to one.
"""

from __future__ import annotations

import msgspec


class FieldError(msgspec.Struct, frozen=True):
    #: camelCase path of the offending input (``changes.scheduledEnd``, ``If-Match``), or
    #: null when the error concerns the body as a whole (not JSON, not an object).
    field: str | None
    #: What is wrong with the input, in words.
    message: str


class InvalidRequestError(Exception):
    """Input the HTTP layer refuses before the application sees it (a body that does not
    decode, a malformed header or query parameter)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    @classmethod
    def of(cls, field: str | None, message: str) -> InvalidRequestError:
        return cls([FieldError(field, message)])


class AuthenticationError(Exception):
    """No usable bearer token. ``reason`` is safe to show (never quotes the token)."""

    def __init__(self, reason: str, *, token_given: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.token_given = token_given


class UnsupportedMediaTypeError(Exception):
    """A request body sent with a Content-Type that is not JSON (see command_body.py)."""


class ServiceUnavailableError(Exception):
    """A dependency (the event store) does not answer."""


class ProjectionLaggingError(Exception):
    """A read model did not reach the position a query asked for (``minPosition``) in time."""

    def __init__(self, name: str, min_position: int) -> None:
        super().__init__(f"The {name} read model has not yet processed position {min_position}.")


class ProjectionRebuildingError(Exception):
    """The serving generation of a read model was built by another release and cannot answer
    this query; the new generation is being built (see adapters.readmodels.healing)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"The {name} read model is being rebuilt for this release; try again shortly."
        )
