"""HL7 v2 encoding characters and escape sequences (chapter 2, "Use of escape sequences").

Ours rather than python-hl7's ``escape``/``unescape``: those log the field's value when a
sequence is malformed (personal data in the log), and its hex escape pads with spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
# Formatting commands (FT data) that mean a line break; the others are layout only.
_LINE_BREAKS = (".br", ".sp", ".ce")


@dataclass(frozen=True)
class EncodingCharacters:
    """MSH-1 and MSH-2 of a message; the defaults are the standard's ``|^~\\&``."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    #: MSH-2's fifth character (v2.7+), escaped as ``\\P\\``; None when absent.
    truncation: str | None = None

    @property
    def msh2(self) -> str:
        """MSH-2 as it is written: component, repetition, escape, subcomponent (, truncation)."""
        chars = self.component + self.repetition + self.escape + self.subcomponent
        return chars + (self.truncation or "")

    @classmethod
    def from_msh(cls, field_separator: str, msh2: str) -> EncodingCharacters:
        """Read MSH-1 and MSH-2; characters MSH-2 leaves out take the standard's defaults.

        Raises ValueError when the characters are not distinct single non-alphanumerics.
        """
        default = cls()
        chars = list(msh2) + [""] * (4 - len(msh2))
        encoding = cls(
            field=field_separator,
            component=chars[0] or default.component,
            repetition=chars[1] or default.repetition,
            escape=chars[2] or default.escape,
            subcomponent=chars[3] or default.subcomponent,
            truncation=chars[4] if len(chars) > 4 else None,
        )
        used = [
            encoding.field,
            encoding.component,
            encoding.repetition,
            encoding.escape,
            encoding.subcomponent,
        ]
        if encoding.truncation is not None:
            used.append(encoding.truncation)
        if len(msh2) > 5 or len(set(used)) != len(used):
            raise ValueError("encoding characters must be distinct")
        if any(len(c) != 1 or c.isalnum() or c.isspace() for c in used):
            raise ValueError("encoding characters must be single punctuation characters")
        return encoding


DEFAULT_ENCODING = EncodingCharacters()


def escape(value: str, encoding: EncodingCharacters = DEFAULT_ENCODING) -> str:
    """``value`` made safe for one ER7 leaf: delimiters and control characters escaped."""
    esc = encoding.escape
    names = {
        encoding.field: "F",
        encoding.component: "S",
        encoding.subcomponent: "T",
        encoding.repetition: "R",
        esc: "E",
    }
    if encoding.truncation is not None:
        names[encoding.truncation] = "P"
    out: list[str] = []
    for char in value:
        if char in names:
            out.append(f"{esc}{names[char]}{esc}")
        elif ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0:
            # A raw CR would end the segment; other control characters break receivers.
            out.append(f"{esc}X{ord(char):02X}{esc}")
        else:
            out.append(char)
    return "".join(out)


def unescape(value: str, encoding: EncodingCharacters = DEFAULT_ENCODING) -> str:
    """The text an ER7 leaf stands for. Unknown or unterminated sequences are kept verbatim."""
    esc = encoding.escape
    if esc not in value:
        return value
    names = {
        "F": encoding.field,
        "S": encoding.component,
        "T": encoding.subcomponent,
        "R": encoding.repetition,
        "E": esc,
    }
    if encoding.truncation is not None:
        names["P"] = encoding.truncation
    out: list[str] = []
    position = 0
    while position < len(value):
        start = value.find(esc, position)
        if start < 0:
            out.append(value[position:])
            break
        out.append(value[position:start])
        end = value.find(esc, start + 1)
        if end < 0:
            out.append(value[start:])
            break
        out.append(_expand(value[start + 1 : end], names, value[start : end + 1]))
        position = end + 1
    return "".join(out)


def _expand(sequence: str, names: dict[str, str], verbatim: str) -> str:
    if sequence in names:
        return names[sequence]
    head = sequence[:1]
    if head == "X" and _HEX.fullmatch(sequence[1:]):
        raw = bytes.fromhex(sequence[1:])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    if head == ".":
        return "\n" if sequence[:3] in _LINE_BREAKS else ""
    if (
        sequence in ("H", "N")
        or head == "Z"
        or (head in ("C", "M") and _HEX.fullmatch(sequence[1:]))
    ):
        # Highlighting on/off, character-set switches and site-defined sequences: no text
        # of their own that we could render, so they vanish.
        return ""
    return verbatim
