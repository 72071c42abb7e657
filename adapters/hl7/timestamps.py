"""HL7 v2 TS/DTM values: ``YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo

from adapters.hl7.errors import InvalidValue

_TS = re.compile(
    r"(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?)?)?)?"
    r"(?:([+-])(\d{2})(\d{2}))?"
)


def parse_ts(value: str, zone: tzinfo) -> datetime:
    """The instant an HL7 timestamp names, as an aware datetime.

    Missing parts take their lowest value (``2026`` is 1 January 2026, 00:00). A value
    without an offset is wall-clock time in ``zone`` (the facility's), an ambiguous time
    in a DST fold taken as the first occurrence. Raises InvalidValue (102) otherwise; the
    error text never repeats the value, which may be a birth date.
    """
    match = _TS.fullmatch(value.strip())
    if match is None:
        raise InvalidValue("unreadable HL7 timestamp (expected YYYY[MM[DD[HH[MM[SS]]]]][+ZZZZ])")
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    micro = int((fraction or "0").ljust(6, "0"))
    try:
        if sign is None:
            tz: tzinfo = zone
        else:
            if int(off_h) > 23 or int(off_m) > 59:
                raise ValueError("offset out of range")
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            tz = timezone(offset if sign == "+" else -offset)
        return datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=tz,
        )
    except ValueError:
        raise InvalidValue("HL7 timestamp out of range") from None
