"""Building blocks shared by every aggregate's commands.

Commands are msgspec Structs: the HTTP layer decodes request bodies straight into
them (camelCase on the wire, unknown fields refused), so the shape of a command is
written once. Each command names the roles that may issue it (domain-spec §5) and
knows how to apply itself to its aggregate.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, ClassVar

import msgspec

#: RFC 3339 with an offset; a time without one is refused when decoding.
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
#: Times a hospital record can hold. Outside them, date arithmetic (a time zone shift, a
#: grace period) would overflow: such input is refused, not turned into a 500.
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


def check_times(struct: msgspec.Struct) -> None:
    """Refuse any time (also in nested Structs) outside [EARLIEST, LATEST). Raised from
    ``__post_init__``, a ValueError becomes msgspec's ValidationError naming the field."""
    for name in struct.__struct_fields__:
        value = getattr(struct, name)
        if (
            isinstance(value, datetime)
            and value.tzinfo is not None
            and not EARLIEST <= value < LATEST
        ):
            raise ValueError(f"{_camel(name)} must be between 1900 and 2200")
        if isinstance(value, msgspec.Struct):
            check_times(value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


#: Opaque references and codes: never names or free text, so never PHI.
Ref = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/ -]*$")
]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class Command(
    msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, rename="camel"
):
    """Every command may say when it happened (default: now) and why."""

    roles: ClassVar[frozenset[str]] = frozenset()
    #: A command that creates its aggregate rather than changing one.
    creates: ClassVar[bool] = False

    occurred_at: AwareDatetime | None = None
    reason: Reason | None = None

    def __post_init__(self) -> None:
        check_times(self)

    def business_time(self) -> tuple[str, datetime | None]:
        """When the fact happened in the hospital, and the field that said so: it becomes
        the envelope's ``occurred_at``, checked against the 5-minute rule. A command with a
        time of its own overrides this."""
        return "occurredAt", self.occurred_at

    def fields(self) -> dict[str, Any]:
        """The command's own fields (without occurredAt/reason), for handlers."""
        return {
            name: getattr(self, name)
            for name in self.__struct_fields__
            if name not in ("occurred_at", "reason")
        }
