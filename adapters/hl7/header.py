"""The MSH line: encoding characters, the typed :class:`Header`, and a best-effort read of
the header of a message that could not be parsed (for its reject ACK)."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.hl7.errors import DATA_TYPE_ERROR, REQUIRED_FIELD_MISSING, UnparseableMessage
from adapters.hl7.escaping import DEFAULT_ENCODING, EncodingCharacters, unescape


@dataclass(frozen=True)
class Header:
    """What MSH says about a message: routing, type, control id and ACK wishes.

    Application/facility values are the HD's namespace id (its universal id when that is
    empty). ``routing`` keeps MSH-3..MSH-6 as received (escaped ER7, in ``encoding``) so
    an ACK can echo them exactly, swapped.
    """

    sending_application: str | None
    sending_facility: str | None
    receiving_application: str | None
    receiving_facility: str | None
    message_time: str | None
    message_code: str
    trigger: str | None
    structure: str | None
    control_id: str
    processing_id: str | None
    version: str | None
    accept_ack_type: str | None
    application_ack_type: str | None
    character_set: str | None
    encoding: EncodingCharacters
    routing: tuple[str, str, str, str]


def normalise(text: str) -> list[str]:
    """The segment lines of ``text``: any of CR, LF, CRLF ends a segment; blank lines and
    whitespace around each line go (so spaces ending a segment's last value are lost:
    real files carry stray ones far more often than meaningful ones). MLLP block
    characters left in a file are dropped too."""
    text = text.replace("\x0b", "").replace("\x1c", "")
    lines = (line.strip() for line in text.replace("\r\n", "\r").replace("\n", "\r").split("\r"))
    return [line for line in lines if line]


def read_encoding(msh: str) -> EncodingCharacters:
    """MSH-1 and MSH-2 of an MSH line; UnparseableMessage (101/102) when unusable."""
    if len(msh) < 5 or msh.find(msh[3], 4) < 0:
        raise UnparseableMessage(REQUIRED_FIELD_MISSING, "MSH-1/MSH-2 (encoding characters)")
    separator = msh[3]
    try:
        return EncodingCharacters.from_msh(separator, msh[4 : msh.find(separator, 4)])
    except ValueError:
        raise UnparseableMessage(
            DATA_TYPE_ERROR, "MSH-1/MSH-2 are not valid encoding characters"
        ) from None


def salvage_header(text: str) -> Header:
    """The header of a message ``parse`` refused, read as far as it goes; never raises.

    For the AR/CR ACK of an unparseable message: the MSH line is split on its own field
    separator; what cannot be read is left empty (encoding characters: the standard's).
    """
    lines = normalise(text)
    msh = lines[0] if lines and lines[0].startswith("MSH") and len(lines[0]) > 3 else ""
    try:
        encoding = read_encoding(msh) if msh else DEFAULT_ENCODING
    except UnparseableMessage:
        # Bad MSH-2 (e.g. a doubled escape): still split on MSH-1 when it is usable.
        usable = msh[3] not in DEFAULT_ENCODING.msh2 and not msh[3].isalnum()
        encoding = EncodingCharacters(field=msh[3]) if usable else DEFAULT_ENCODING
        msh = msh if usable else ""
    raw = msh.split(encoding.field) if msh else []

    def field(n: int, component: int = 1) -> str | None:
        # raw[0] is "MSH" and raw[1] MSH-2: MSH-n is raw[n - 1].
        if n < 3 or n > len(raw):
            return None
        parts = raw[n - 1].split(encoding.repetition)[0].split(encoding.component)
        if len(parts) < component:
            return None
        return unescape(parts[component - 1].split(encoding.subcomponent)[0], encoding) or None

    def er7(n: int) -> str:
        return raw[n - 1] if n <= len(raw) else ""

    return Header(
        sending_application=field(3) or field(3, 2),
        sending_facility=field(4) or field(4, 2),
        receiving_application=field(5) or field(5, 2),
        receiving_facility=field(6) or field(6, 2),
        message_time=field(7),
        message_code=field(9) or "",
        trigger=field(9, 2),
        structure=field(9, 3),
        control_id=field(10) or "",
        processing_id=field(11),
        version=field(12),
        accept_ack_type=field(15),
        application_ack_type=field(16),
        character_set=field(18),
        encoding=encoding,
        routing=(er7(3), er7(4), er7(5), er7(6)),
    )
