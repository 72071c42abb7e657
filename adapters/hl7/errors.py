"""Errors of the HL7 layer, each carrying its HL7 table 0357 code.

Their texts name what is wrong and where (segment, field), never a value: a value may be
a patient's name or birth date, and these texts end up in ACKs and logs.
"""

from __future__ import annotations

# HL7 table 0357 (message error condition codes) used by this package and its callers.
SEGMENT_SEQUENCE_ERROR = 100
REQUIRED_FIELD_MISSING = 101
DATA_TYPE_ERROR = 102
TABLE_VALUE_NOT_FOUND = 103
UNSUPPORTED_MESSAGE_TYPE = 200
UNSUPPORTED_EVENT_CODE = 201
UNSUPPORTED_PROCESSING_ID = 202
UNSUPPORTED_VERSION_ID = 203
UNKNOWN_KEY_IDENTIFIER = 204
DUPLICATE_KEY_IDENTIFIER = 205
APPLICATION_RECORD_LOCKED = 206
APPLICATION_INTERNAL_ERROR = 207

#: The standard's display texts, for ERR-3's CWE (code^text^HL70357).
TABLE_0357: dict[int, str] = {
    0: "Message accepted",
    SEGMENT_SEQUENCE_ERROR: "Segment sequence error",
    REQUIRED_FIELD_MISSING: "Required field missing",
    DATA_TYPE_ERROR: "Data type error",
    TABLE_VALUE_NOT_FOUND: "Table value not found",
    UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    UNSUPPORTED_EVENT_CODE: "Unsupported event code",
    UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    UNSUPPORTED_VERSION_ID: "Unsupported version id",
    UNKNOWN_KEY_IDENTIFIER: "Unknown key identifier",
    DUPLICATE_KEY_IDENTIFIER: "Duplicate key identifier",
    APPLICATION_RECORD_LOCKED: "Application record locked",
    APPLICATION_INTERNAL_ERROR: "Application internal error",
}


class Hl7Error(ValueError):
    """Base: ``code`` from table 0357, ``text`` readable and free of message values."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"HL7 error {code}: {text}")
        self.code = code
        self.text = text


class UnparseableMessage(Hl7Error):
    """The text is not an HL7 v2 message we can read: answer AR (or CR), record nothing."""


class InvalidValue(Hl7Error):
    """One value has the wrong shape (e.g. an unreadable timestamp); code 102 by default."""

    def __init__(self, text: str, code: int = DATA_TYPE_ERROR) -> None:
        super().__init__(code, text)
