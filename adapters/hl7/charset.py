"""Bytes to text and back by MSH-18 (HL7 table 0211), before and after parsing.

MSH-18 is read from the raw bytes with an ASCII-compatible decoding first: every charset
table 0211 names for the MSH line (other than UTF-16/32, which feeds do not use over MLLP)
keeps the ASCII bytes of the header as they are.
"""

from __future__ import annotations

import codecs

from adapters.hl7.header import salvage_header

DEFAULT_CHARSET = "utf-8"

# Table 0211 names → Python codecs. "8859/n" is handled below.
_CODECS = {
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "ISO IR100": "iso8859-1",
    "ISO IR101": "iso8859-2",
    "ISO IR126": "iso8859-7",
    "ISO IR127": "iso8859-6",
    "ISO IR138": "iso8859-8",
    "ISO IR144": "iso8859-5",
    "ISO IR148": "iso8859-9",
    "ISO IR87": "iso2022_jp",
    "ISO IR159": "iso2022_jp_2",
    "UNICODE": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "GB 18030-2000": "gb18030",
    "KS X 1001": "euc_kr",
    "BIG-5": "big5",
    "WINDOWS-1252": "cp1252",
}


def codec_for(character_set: str | None, default: str = DEFAULT_CHARSET) -> str:
    """The Python codec for an MSH-18 value; ``default`` when empty or unknown."""
    name = " ".join((character_set or "").upper().split())
    if name.startswith("8859/"):
        candidate = "iso8859-" + name[5:]
    else:
        candidate = _CODECS.get(name, "")
    try:
        return codecs.lookup(candidate).name if candidate else default
    except LookupError:
        return default


def decode_message(raw: bytes, default: str = DEFAULT_CHARSET) -> str:
    """The message's text, decoded as its MSH-18 says (else ``default``).

    Bytes that are not valid in that charset fall back to Latin-1, which cannot fail:
    a mislabelled feed still parses, and the identifiers the service keeps are ASCII.
    """
    header = salvage_header(raw[:4096].decode("latin-1"))
    try:
        return raw.decode(codec_for(header.character_set, default))
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def encode_reply(text: str, character_set: str | None, default: str = DEFAULT_CHARSET) -> bytes:
    """An ACK's text as bytes in the received message's charset (unencodable → ``?``)."""
    return text.encode(codec_for(character_set, default), errors="replace")
