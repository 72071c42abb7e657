"""Identifier headers: ``X-Source-System``, ``X-Source-Message-Id`` and ``X-On-Behalf-Of``.

They are stored on every event a request records, so only short identifiers are taken (an
HL7 MSH-10 control id fits), never free text. A command refuses a malformed one with a 400
(:func:`identifier`); recording a denial, which must not fail on the very header that a 400
would otherwise have named, leaves it out instead (:func:`optional_identifier`).
"""

from __future__ import annotations

import re

from adapters.http.kit.errors import InvalidRequestError

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}")


def identifier(value: str | None, header: str) -> str | None:
    """The header's value, None if absent; a 400 naming ``header`` if malformed."""
    if value is None:
        return None
    if not _IDENTIFIER.fullmatch(value):
        raise InvalidRequestError.of(
            header, "expected an identifier of up to 100 letters, digits and . _ : / @ -"
        )
    return value


def optional_identifier(value: str | None) -> str | None:
    """The header's value if well formed, else None."""
    return value if value is not None and _IDENTIFIER.fullmatch(value) else None
