"""Tolerant HL7 v2 (ER7) parsing over python-hl7, behind a small typed accessor API.

Mapping code reads values through :class:`Hl7Message` and :class:`Segment` (HL7's own
numbering: MSH-1 is the field separator, so ``value("MSH", 3)`` is the sending application)
and never indexes python-hl7's structures, whose shape varies with the separators a value
happens to contain. Values come back unescaped, an empty one as ``None``.
"""

from __future__ import annotations

import re
from typing import Any, cast

import hl7  # type: ignore[import-untyped]  # python-hl7 ships no type information

from adapters.hl7.errors import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    SEGMENT_SEQUENCE_ERROR,
    InvalidValue,
    UnparseableMessage,
)
from adapters.hl7.escaping import EncodingCharacters, unescape
from adapters.hl7.header import Header, normalise, read_encoding, salvage_header
from adapters.hl7.timestamps import parse_ts

__all__ = [
    "EncodingCharacters",
    "Header",
    "Hl7Message",
    "InvalidValue",
    "Segment",
    "UnparseableMessage",
    "normalise",
    "parse",
    "parse_ts",
    "salvage_header",
]

# A field as python-hl7 holds it, made regular: repetitions → components → subcomponents,
# each leaf still escaped ER7.
Tree = list[list[list[str]]]
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")


class Segment:
    """One segment; ``value`` and ``repetitions`` use HL7's 1-based numbering."""

    __slots__ = ("_encoding", "_fields", "name")

    def __init__(self, name: str, fields: list[Tree], encoding: EncodingCharacters) -> None:
        self.name = name
        self._fields = fields  # index = HL7 field number; index 0 is the segment id
        self._encoding = encoding

    def __repr__(self) -> str:
        # Never the values: they may be personal data.
        return f"<Segment {self.name} with {len(self._fields) - 1} fields>"

    @property
    def field_count(self) -> int:
        return len(self._fields) - 1

    def value(
        self, field: int, component: int = 1, subcomponent: int = 1, *, repetition: int = 1
    ) -> str | None:
        """One leaf, unescaped; None when absent or empty."""
        leaf = _leaf(self._fields, field, repetition, component, subcomponent)
        if not leaf:
            return None
        if self.name == "MSH" and field in (1, 2):
            return leaf  # the encoding characters themselves, never escaped
        return unescape(leaf, self._encoding) or None

    def repetitions(self, field: int) -> list[list[str | None]]:
        """Each repetition of a field as its components (each its first subcomponent).

        An empty field has no repetitions. Otherwise every repetition is kept, an empty
        one as ``[None]``, so list index i is ``value(..., repetition=i + 1)``. Read
        deeper subcomponents with ``value``.
        """
        if field < 1 or field >= len(self._fields):
            return []
        reps = [
            [unescape(c[0], self._encoding) or None for c in rep] for rep in self._fields[field]
        ]
        return reps if any(any(rep) for rep in reps) else []

    def er7(self, field: int) -> str:
        """A field's raw ER7 text (still escaped), e.g. to echo it in an ACK."""
        if field < 1 or field >= len(self._fields):
            return ""
        return _render(self._fields[field], self._encoding)


class Hl7Message:
    """A parsed message: its header and segments, in order."""

    __slots__ = ("encoding", "header", "segment_list", "text")

    def __init__(self, text: str, segments: list[Segment], encoding: EncodingCharacters) -> None:
        self.text = text  # normalised: segments joined by "\r"
        self.segment_list = segments
        self.encoding = encoding
        self.header = _header(segments[0], encoding)

    def __repr__(self) -> str:
        header = self.header
        return f"<Hl7Message {header.message_code}^{header.trigger} {header.control_id!r}>"

    def segments(self, name: str | None = None) -> list[Segment]:
        """Every segment called ``name`` (all of them when None), in message order."""
        return [s for s in self.segment_list if name is None or s.name == name]

    def segment(self, name: str) -> Segment | None:
        """The first segment called ``name``, if any."""
        return next((s for s in self.segment_list if s.name == name), None)

    def has(self, name: str) -> bool:
        return self.segment(name) is not None

    def value(
        self,
        segment: str,
        field: int,
        component: int = 1,
        subcomponent: int = 1,
        *,
        repetition: int = 1,
    ) -> str | None:
        """A leaf of the first ``segment``; None when the segment or value is absent."""
        found = self.segment(segment)
        if found is None:
            return None
        return found.value(field, component, subcomponent, repetition=repetition)

    def repetitions(self, segment: str, field: int) -> list[list[str | None]]:
        """``Segment.repetitions`` of the first ``segment``; [] when it is absent."""
        found = self.segment(segment)
        return [] if found is None else found.repetitions(field)


def parse(text: str) -> Hl7Message:
    """Parse one ER7 message; raises UnparseableMessage with a table 0357 code."""
    lines = normalise(text)
    if not lines or not lines[0].startswith("MSH"):
        raise UnparseableMessage(SEGMENT_SEQUENCE_ERROR, "the first segment is not MSH")
    encoding = read_encoding(lines[0])
    for number, line in enumerate(lines[1:], start=2):
        if not _SEGMENT_ID.fullmatch(line[:3]) or (len(line) > 3 and line[3] != encoding.field):
            raise UnparseableMessage(
                SEGMENT_SEQUENCE_ERROR, f"segment {number} does not start with a segment id"
            )
        if line[:3] == "MSH":
            raise UnparseableMessage(
                SEGMENT_SEQUENCE_ERROR, "more than one MSH segment (a batch holds several)"
            )
    normalised = "\r".join(lines)
    try:
        parsed = hl7.parse(normalised)
    except Exception:  # python-hl7 raises assorted errors on malformed input
        raise UnparseableMessage(DATA_TYPE_ERROR, "the message could not be parsed") from None
    segments = [_segment(raw, encoding) for raw in parsed]
    return Hl7Message(normalised, segments, encoding)


def _segment(raw: Any, encoding: EncodingCharacters) -> Segment:
    fields = [cast(Tree, _tree(node, 3)) for node in raw]
    name = fields[0][0][0][0]
    if name == "MSH":
        # python-hl7 keeps MSH-1 and MSH-2 whole: index n is MSH-n, as for every segment.
        fields[1] = [[[encoding.field]]]
        fields[2] = [[[encoding.msh2]]]
    return Segment(name, fields, encoding)


def _tree(node: Any, depth: int) -> Any:
    """python-hl7 stops splitting where a value holds no further separator (a bare str);
    wrap those so every field has the same depth."""
    if depth == 0:
        return str(node)
    if isinstance(node, str):
        return [_tree(node, depth - 1)]
    return [_tree(child, depth - 1) for child in node]


def _leaf(fields: list[Tree], field: int, repetition: int, component: int, sub: int) -> str:
    try:
        if min(field, repetition, component, sub) < 1:
            return ""
        return fields[field][repetition - 1][component - 1][sub - 1]
    except IndexError:
        return ""


def _render(tree: Tree, enc: EncodingCharacters) -> str:
    return enc.repetition.join(
        enc.component.join(enc.subcomponent.join(subs) for subs in rep) for rep in tree
    )


def _header(msh: Segment, encoding: EncodingCharacters) -> Header:
    code, control_id = msh.value(9), msh.value(10)
    if code is None:
        raise UnparseableMessage(REQUIRED_FIELD_MISSING, "MSH-9 (message type)")
    if control_id is None:
        raise UnparseableMessage(REQUIRED_FIELD_MISSING, "MSH-10 (message control id)")
    return Header(
        sending_application=_hd(msh, 3),
        sending_facility=_hd(msh, 4),
        receiving_application=_hd(msh, 5),
        receiving_facility=_hd(msh, 6),
        message_time=msh.value(7),
        message_code=code,
        trigger=msh.value(9, 2),
        structure=msh.value(9, 3),
        control_id=control_id,
        processing_id=msh.value(11),
        version=msh.value(12),
        accept_ack_type=msh.value(15),
        application_ack_type=msh.value(16),
        character_set=msh.value(18),
        encoding=encoding,
        routing=(msh.er7(3), msh.er7(4), msh.er7(5), msh.er7(6)),
    )


def _hd(msh: Segment, field: int) -> str | None:
    return msh.value(field) or msh.value(field, 2)
