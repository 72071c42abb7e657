"""Building blocks shared by every aggregate's commands.

Commands are msgspec Structs: the HTTP layer decodes request bodies straight into
them (camelCase on the wire, unknown fields refused), so the shape of a command is
written once. Each command names the roles that may issue it (domain-spec §5) and
knows how to apply itself to its aggregate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeAlias, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from application.shared.errors import NotFoundError

if TYPE_CHECKING:
    from application.shared.policies import Policies

A = TypeVar("A", bound=Aggregate)

#: Loads an aggregate of the given type by id for a command (``NOT_FOUND`` if there is none
#: of that type; ``VERSION_CONFLICT`` if it is the command's target and If-Match is stale).
Loader = Callable[[UUID, type[A]], A]


def optional(load: Loader[Any], aggregate_id: UUID, kind: type[A]) -> A | None:
    """The aggregate, or None when there is none (yet)."""
    try:
        found: A = load(aggregate_id, kind)
    except NotFoundError:
        return None
    return found


#: RFC 3339 with an offset; a time without one is refused when decoding.
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
#: Times a hospital record can hold. Outside them, date arithmetic (a time zone shift, a
#: grace period) would overflow: such input is refused, not turned into a 500.
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


def check_times(struct: msgspec.Struct) -> None:
    """Refuse any time (also in nested Structs) outside [EARLIEST, LATEST), and turn every
    time into UTC (domain-spec §0: time is stored in UTC; the offset a client wrote is not a
    fact). Raised from ``__post_init__``, a ValueError becomes msgspec's ValidationError."""
    for name in struct.__struct_fields__:
        value = getattr(struct, name)
        if isinstance(value, datetime) and value.tzinfo is not None:
            if not EARLIEST <= value < LATEST:
                raise ValueError(f"{_camel(name)} must be between 1900 and 2200")
            if value.utcoffset():
                msgspec.structs.force_setattr(struct, name, value.astimezone(timezone.utc))
        if isinstance(value, msgspec.Struct):
            check_times(value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


#: Opaque references and codes: never names or free text, so never PHI.
Ref = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/ -]*$")
]
#: Free text may hold any character but the C0 and C1 control characters (tab, line feed and
#: carriage return excepted): a NUL cannot be stored in a PostgreSQL text column, and the
#: others only ever arrive by mistake or by attack (terminal escapes in a log viewer).
FREE_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


def free_text(max_length: int, *, min_length: int = 1) -> Any:
    """A free-text field of at most ``max_length`` characters and no control characters."""
    return Annotated[
        str, msgspec.Meta(min_length=min_length, max_length=max_length, pattern=FREE_TEXT_PATTERN)
    ]


#: free_text(500) spelled out: a type alias, so a type checker can read it as a type.
Reason: TypeAlias = Annotated[
    str, msgspec.Meta(min_length=1, max_length=500, pattern=FREE_TEXT_PATTERN)
]


class Command(
    msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, rename="camel"
):
    """Every command may say when it happened (default: now) and why."""

    roles: ClassVar[frozenset[str]] = frozenset()
    #: Where the role changes what the command may do (an approval tier, the executive
    #: sign-off), the roles from the most to the least able: a caller holding several
    #: acts with the first of these it holds (see ``permissions.acting_role``).
    preferred_roles: ClassVar[tuple[str, ...]] = ()
    #: A command that creates its aggregate rather than changing one.
    creates: ClassVar[bool] = False
    #: How often the command is decided again, on fresh state, after losing a race to a
    #: concurrent writer (without If-Match) before it answers VERSION_CONFLICT.
    max_attempts: ClassVar[int] = 5

    occurred_at: AwareDatetime | None = None
    reason: Reason | None = None

    def __post_init__(self) -> None:
        check_times(self)

    def business_time(self) -> tuple[str, datetime | None]:
        """When the fact happened in the hospital, and the field that said so: it becomes
        the envelope's ``occurred_at``, checked against the 5-minute rule. A command with a
        time of its own overrides this."""
        return "occurredAt", self.occurred_at

    def decide(
        self, load: Loader[Any], target: UUID | None, at: datetime, policies: Policies
    ) -> list[Aggregate]:
        """Check the rules and trigger the events; return the aggregates to save together
        (in one transaction), the one the reply names first. ``at`` is ``occurred_at``."""
        raise NotImplementedError

    def audit_target(self) -> UUID | None:
        """The record a refused or denied attempt names when the request's path names none
        (a transfer names its lines in the body)."""
        return None

    def fields(self) -> dict[str, Any]:
        """The command's own fields (without occurredAt/reason), for handlers."""
        return {
            name: getattr(self, name)
            for name in self.__struct_fields__
            if name not in ("occurred_at", "reason")
        }


class Creation(Command, kw_only=True, frozen=True):
    """A command that creates its aggregate."""

    creates: ClassVar[bool] = True
    #: The aggregate type created (the audit trail names it for refused attempts).
    aggregate_type: ClassVar[type[Aggregate]]

    @property
    def natural_key(self) -> bool:
        """Whether this creation's id is derived from its natural key (a budget line's fiscal
        year, cost centre and category; a visit's number, when it has one), so that a second
        creation must be refused as a duplicate. Per instance: a command class may override
        it with a class attribute (``natural_key = True``) or a property of its fields."""
        return False

    def create(self, at: datetime, policies: Policies) -> Aggregate:
        raise NotImplementedError

    def decide(
        self, load: Loader[Any], target: UUID | None, at: datetime, policies: Policies
    ) -> list[Aggregate]:
        return [self.create(at, policies)]


class AggregateCommand(Command, kw_only=True, frozen=True):
    """A command on one existing aggregate: the request's target."""

    aggregate_type: ClassVar[type[Aggregate]]

    def apply(self, aggregate: Any, at: datetime, policies: Policies) -> None:
        raise NotImplementedError

    def decide(
        self, load: Loader[Any], target: UUID | None, at: datetime, policies: Policies
    ) -> list[Aggregate]:
        assert target is not None, "a command on an aggregate needs its target"
        aggregate = load(target, self.aggregate_type)
        self.apply(aggregate, at, policies)
        return [aggregate]
