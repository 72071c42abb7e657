"""Errors the application raises on top of the domain's. Each has a stable ``code``."""

from __future__ import annotations

from uuid import UUID

from domain.shared.errors import DomainError


class ApplicationError(DomainError):
    code = "APPLICATION_ERROR"


class NotFoundError(ApplicationError):
    code = "NOT_FOUND"

    def __init__(self, kind: str, aggregate_id: UUID) -> None:
        super().__init__(f"{kind} {aggregate_id} does not exist")


class VersionNotFoundError(NotFoundError):
    """The record exists, but not at the version asked for (``asOfVersion`` past its latest):
    a 404 like any record that is not there, saying which version is the latest."""

    def __init__(self, kind: str, aggregate_id: UUID, version: int, latest: int) -> None:
        DomainError.__init__(
            self, f"{kind} {aggregate_id} has no version {version}: the latest is {latest}",
            field="asOfVersion",
        )  # fmt: skip
        self.version = version
        self.latest = latest


class AlreadyExistsError(ApplicationError):
    """A creation whose id is derived from a natural key that is already taken."""

    code = "ALREADY_EXISTS"

    def __init__(self, kind: str, aggregate_id: UUID) -> None:
        super().__init__(f"{kind} {aggregate_id} already exists")
        self.aggregate_id = aggregate_id


class NotAuthorisedError(ApplicationError):
    code = "NOT_AUTHORISED"


class CommandValidationError(ApplicationError):
    """Input that decodes but breaks a rule of §0 (an occurredAt too far ahead)."""

    code = "VALIDATION"


class PreconditionFailedError(ApplicationError):
    """The caller's ``If-Match`` version is not the aggregate's current version."""

    code = "VERSION_CONFLICT"

    def __init__(self, expected: int, actual: int | None) -> None:
        detail = "it was changed concurrently" if actual is None else f"it is at version {actual}"
        super().__init__(f"expected version {expected}, but {detail}")
        self.expected = expected
        self.actual = actual


class VersionConflictError(ApplicationError):
    """A command kept losing races to concurrent writers and gave up."""

    code = "VERSION_CONFLICT"


class IdempotencyKeyReusedError(ApplicationError):
    code = "IDEMPOTENCY_KEY_REUSED"


class StoreRefusedWriteError(Exception):
    """The event store refused a command's events for another reason than a lost race: a
    trigger or a constraint other than the (originator_id, originator_version) key. Not a
    client's error and not retried (it would fail again): an internal error (500), with
    nothing recorded. Not a DomainError: its text is for the log, never the client."""
