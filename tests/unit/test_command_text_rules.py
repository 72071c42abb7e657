"""Every string a command accepts refuses control characters (issue: one NUL in a reason
once wedged two read models on PostgreSQL, which cannot store U+0000 in a text column).

The rules are found by walking the command Structs' types with ``msgspec.inspect``, so a
field added later without a pattern fails here rather than in production."""

from __future__ import annotations

import re
from collections.abc import Iterator

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import given
from hypothesis import strategies as st

import application.budget.commands
import application.complaints.commands
import application.visits.commands
from application.shared.commands import FREE_TEXT_PATTERN, Command, Reason, free_text

MODULES = (
    application.visits.commands,
    application.complaints.commands,
    application.budget.commands,
)
#: Characters that must never reach the log through a command.
CONTROLS = [
    chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0))
]


def command_types() -> list[type[Command]]:
    found: dict[str, type[Command]] = {}
    for module in MODULES:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Command)
                and value.__module__ == module.__name__
            ):
                found[value.__qualname__] = value
    return sorted(found.values(), key=lambda t: t.__qualname__)


def string_types(info: mi.Type, path: str) -> Iterator[tuple[str, mi.StrType]]:
    """Every string type reachable from ``info``, with the field path that holds it."""
    if isinstance(info, mi.Metadata):
        yield from string_types(info.type, path)
    elif isinstance(info, mi.StrType):
        yield path, info
    elif isinstance(info, mi.UnionType):
        for member in info.types:
            yield from string_types(member, path)
    elif isinstance(info, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        yield from string_types(info.item_type, f"{path}[]")
    elif isinstance(info, mi.StructType):
        for field in info.fields:
            yield from string_types(
                field.type, f"{path}.{field.encode_name}" if path else field.encode_name
            )


def test_an_amount_with_a_control_character_is_refused() -> None:
    from application.budget.commands import MoneyAmount

    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"amount": "12\\u0000", "currency": "GBP"}', type=MoneyAmount)


def test_commands_are_found() -> None:
    names = {t.__name__ for t in command_types()}
    assert {"ScheduleVisit", "RegisterComplaint", "CreateBudgetLine"} <= names


@pytest.mark.parametrize("command_type", command_types(), ids=lambda t: t.__name__)
def test_every_string_field_of_every_command_refuses_control_characters(
    command_type: type[Command],
) -> None:
    info = mi.type_info(command_type)
    fields = list(string_types(info, ""))
    for path, string in fields:
        pattern = string.pattern
        # Free text, or an identifier/code whose pattern is narrower still. Amounts have no
        # pattern: the domain parses them as decimals (refusing anything else, see below).
        if pattern is None:
            assert path.endswith("amount"), f"{command_type.__name__}.{path} has no pattern"
            assert string.max_length is not None, f"{command_type.__name__}.{path} is unbounded"
            continue
        compiled = re.compile(pattern)
        for char in CONTROLS:
            assert not compiled.search(f"a{char}b"), (command_type.__name__, path, hex(ord(char)))


@given(st.text(alphabet=st.sampled_from(CONTROLS), min_size=1, max_size=3), st.text(max_size=20))
def test_a_reason_with_a_control_character_is_refused(controls: str, text: str) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(msgspec.json.encode(text + controls + text), type=Reason)


@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=""),
        min_size=1,
        max_size=200,
    )
)
def test_free_text_accepts_any_printable_unicode(text: str) -> None:
    assert msgspec.json.decode(msgspec.json.encode(text), type=Reason) == text


def test_tab_line_feed_and_carriage_return_are_allowed_in_free_text() -> None:
    text = "line one\r\nline two\tindented"
    assert msgspec.json.decode(msgspec.json.encode(text), type=free_text(100)) == text


def test_the_free_text_pattern_is_anchored() -> None:
    assert FREE_TEXT_PATTERN.startswith("^") and FREE_TEXT_PATTERN.endswith("$")
