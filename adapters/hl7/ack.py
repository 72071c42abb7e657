"""HL7 v2 acknowledgments (chapter 2): original and enhanced mode, with ERR segments.

Original mode (MSH-15 and MSH-16 both empty): one application ACK, AA/AE/AR.
Enhanced mode (either present): an accept ACK (CA/CE/CR), sent only once the message is
committed to safe storage, then an application ACK, each as MSH-15 / MSH-16 ask (table
0155: AL always, NE never, ER on error only, SU on success only).

The standard does not say what an *empty* MSH-15 or MSH-16 means once the other one has
put the message in enhanced mode; we read it (and any value outside table 0155) as AL, as
HAPI's sender does when it waits for an accept ACK: an ACK too many is ignored by an
engine, one too few makes it time out and resend.

Every ACK is returned as ER7 text, segments joined by ``\\r``, in the received message's
encoding characters; encode it in the message's charset (``charset.encode_reply``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from adapters.hl7.errors import TABLE_0357
from adapters.hl7.escaping import EncodingCharacters, escape
from adapters.hl7.header import Header, salvage_header

ApplicationAckCode = Literal["AA", "AE", "AR"]
AcceptAckCode = Literal["CA", "CE", "CR"]
Condition = Literal["AL", "NE", "ER", "SU"]

#: Used in the ACK when the received message did not say (e.g. it could not be read).
DEFAULT_VERSION = "2.5"
DEFAULT_PROCESSING_ID = "P"
#: ERR-8 / MSA-3 text is cut here: a readable reason, not a document.
MAX_TEXT_LENGTH = 512
_CONDITIONS: tuple[Condition, ...] = ("AL", "NE", "ER", "SU")


@dataclass(frozen=True)
class AckError:
    """Why a message was refused, for the ACK's ERR segment.

    ``code`` is our stable error code (ERR-7, e.g. ``INVALID_STATE_TRANSITION``),
    ``hl7_code`` the table 0357 code (ERR-3), ``text`` a readable reason (ERR-8) that must
    not quote the message's values. ``segment``/``field`` locate the error (ERR-2) when
    known; ``severity`` is table 0516 (E error, W warning, I information, F fatal).
    """

    code: str
    hl7_code: int
    text: str
    segment: str | None = None
    field: int | None = None
    severity: Literal["E", "W", "I", "F"] = "E"


def is_enhanced(header: Header) -> bool:
    """True when MSH-15 or MSH-16 is valued: enhanced acknowledgment mode."""
    return bool(
        (header.accept_ack_type or "").strip() or (header.application_ack_type or "").strip()
    )


def ack_condition(value: str | None) -> Condition:
    """An MSH-15/MSH-16 value as a table 0155 condition; empty or unknown reads as AL."""
    normalised = (value or "").strip().upper()
    for condition in _CONDITIONS:
        if normalised == condition:
            return condition
    return "AL"


def wants_accept_ack(header: Header, ok: bool) -> bool:
    """Whether to send an accept ACK (CA when ``ok``, else CE/CR). Never in original mode."""
    if not is_enhanced(header):
        return False
    return _wanted(ack_condition(header.accept_ack_type), ok)


def wants_application_ack(header: Header, ok: bool) -> bool:
    """Whether to send an application ACK (AA when ``ok``, else AE/AR).

    Always in original mode, where it is the only ACK; as MSH-16 asks in enhanced mode.
    """
    if not is_enhanced(header):
        return True
    return _wanted(ack_condition(header.application_ack_type), ok)


def application_ack(
    header: Header,
    code: ApplicationAckCode,
    *,
    control_id: str,
    error: AckError | None = None,
    now: datetime,
) -> str:
    """The application ACK (AA/AE/AR) for the message ``header`` came from."""
    if code not in ("AA", "AE", "AR"):
        raise ValueError(f"not an application acknowledgment code: {code!r}")
    return _ack(header, code, control_id=control_id, error=error, now=now)


def accept_ack(
    header: Header,
    code: AcceptAckCode,
    *,
    control_id: str,
    error: AckError | None = None,
    now: datetime,
) -> str:
    """The enhanced-mode accept ACK (CA/CE/CR): send CA only after the commit."""
    if code not in ("CA", "CE", "CR"):
        raise ValueError(f"not an accept acknowledgment code: {code!r}")
    return _ack(header, code, control_id=control_id, error=error, now=now)


def reject_unparseable(raw: str, error: AckError, *, control_id: str, now: datetime) -> str:
    """The reject for a message ``parse`` refused: CR if its MSH line asks for enhanced
    mode, else AR. Routing, control id and version come from what the MSH line still
    gives (``salvage_header``), else defaults. Sent whatever MSH-15 says: a sender that
    asked for no ACK is not waiting for one, and an unread message deserves the notice.
    """
    header = salvage_header(raw)
    if is_enhanced(header):
        return accept_ack(header, "CR", control_id=control_id, error=error, now=now)
    return application_ack(header, "AR", control_id=control_id, error=error, now=now)


def format_ts(moment: datetime) -> str:
    """An aware datetime as an HL7 DTM with its offset: ``YYYYMMDDHHMMSS+ZZZZ``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an ACK's time must be timezone-aware")
    return moment.strftime("%Y%m%d%H%M%S%z")


def _ack(
    header: Header, code: str, *, control_id: str, error: AckError | None, now: datetime
) -> str:
    enc = header.encoding
    old = _before_2_5(header.version)
    msa = ["MSA", code, escape(header.control_id, enc)]
    if old and error is not None:
        msa.append(escape(_cut(error.text), enc))  # MSA-3: where pre-2.5 engines look
    segments = [_msh(header, control_id=control_id, now=now), _join(msa, enc)]
    if error is not None:
        segments.append(_err(error, enc, old=old))
    return "\r".join(segments)


def _msh(header: Header, *, control_id: str, now: datetime) -> str:
    enc = header.encoding
    sending_app, sending_facility, receiving_app, receiving_facility = header.routing
    trigger = escape(header.trigger or "", enc)
    message_type = f"ACK{enc.component}{trigger}{enc.component}ACK" if trigger else "ACK"
    # An ACK is never acknowledged; in enhanced mode say so explicitly.
    ack_types = ["NE", "NE"] if is_enhanced(header) else ["", ""]
    fields = [
        "MSH",
        enc.msh2,
        receiving_app,  # MSH-3..6: the received sender and receiver, swapped
        receiving_facility,
        sending_app,
        sending_facility,
        format_ts(now),
        "",
        message_type,
        escape(control_id, enc),
        escape(header.processing_id or DEFAULT_PROCESSING_ID, enc),
        escape(header.version or DEFAULT_VERSION, enc),
        "",
        "",
        *ack_types,
        "",
        escape(header.character_set or "", enc),
    ]
    return _join(fields, enc)


def _err(error: AckError, enc: EncodingCharacters, *, old: bool) -> str:
    c, s = enc.component, enc.subcomponent
    label = TABLE_0357.get(error.hl7_code, "Application error")
    code = [str(error.hl7_code), escape(label, enc), "HL70357"]
    location: list[str] = []
    if error.segment is not None:
        field = "" if error.field is None else str(error.field)
        location = [escape(error.segment, enc), "1", field]
    # ERR-1 (ELD, before v2.5): segment^sequence^field^code&text&HL70357.
    eld = c.join([*(location or ["", "", ""]), s.join(code)]) if old else ""
    fields = [
        "ERR",
        eld,
        c.join(location),  # ERR-2 error location
        c.join(code),  # ERR-3 HL7 error code
        error.severity,  # ERR-4
        "",
        "",
        escape(_cut(error.code), enc),  # ERR-7 diagnostic information: our stable code
        escape(_cut(error.text), enc),  # ERR-8 user message
    ]
    return _join(fields, enc)


def _join(fields: list[str], enc: EncodingCharacters) -> str:
    while fields and not fields[-1]:
        fields.pop()
    return enc.field.join(fields)


def _cut(text: str) -> str:
    # Stripped: a receiver drops trailing blanks of a segment's last field anyway, so an
    # error text of spaces would reach one engine and not another.
    text = text.strip()
    return text if len(text) <= MAX_TEXT_LENGTH else text[: MAX_TEXT_LENGTH - 3] + "..."


def _wanted(condition: Condition, ok: bool) -> bool:
    return condition == "AL" or (condition == "SU" and ok) or (condition == "ER" and not ok)


def _before_2_5(version: str | None) -> bool:
    """v2.1-2.4 know only ERR-1; an unknown or unreadable version counts as modern."""
    parts = (version or "").strip().split(".")
    try:
        numbers = tuple(int(p) for p in parts[:2])
    except ValueError:
        return False
    return len(numbers) == 2 and numbers < (2, 5)
