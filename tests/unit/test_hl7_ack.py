"""ACKs: original and enhanced mode, the ACK's MSH, MSA and ERR, and rejects of
messages that could not be parsed. Every ACK is read back with our parser."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.hl7.ack import (
    MAX_TEXT_LENGTH,
    AckError,
    accept_ack,
    ack_condition,
    application_ack,
    format_ts,
    is_enhanced,
    reject_unparseable,
    wants_accept_ack,
    wants_application_ack,
)
from adapters.hl7.batch import split_batch
from adapters.hl7.header import Header
from adapters.hl7.message import Hl7Message, parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hl7"
NOW = datetime(2026, 11, 27, 8, 15, 30, tzinfo=timezone(timedelta(hours=1)))
RULE = AckError("INVALID_STATE_TRANSITION", 207, "The visit is discharged: no transfer.")


def load(name: str) -> Hl7Message:
    return parse(split_batch((FIXTURES / name).read_text(encoding="utf-8"))[0])


def header(name: str) -> Header:
    return load(name).header


def with_ack_types(base: Header, accept: str | None, application: str | None) -> Header:
    return replace(base, accept_ack_type=accept, application_ack_type=application)


ORIGINAL = header("adt_a01_v251_good_health.hl7")


def test_modes_follow_msh15_and_msh16() -> None:
    assert not is_enhanced(ORIGINAL)
    assert is_enhanced(header("adt_a02_v24_epic.hl7"))  # AL / NE
    assert is_enhanced(header("batch_adt_a04_v25_fhs_bhs.hl7"))  # NE / NE
    assert not is_enhanced(with_ack_types(ORIGINAL, " ", ""))
    assert is_enhanced(with_ack_types(ORIGINAL, None, "AL"))


@pytest.mark.parametrize(
    ("value", "condition"),
    [("AL", "AL"), ("NE", "NE"), ("ER", "ER"), ("SU", "SU"), ("su ", "SU"), (None, "AL"),
     ("", "AL"), ("XX", "AL")],
)  # fmt: skip
def test_ack_condition_reads_empty_and_unknown_values_as_always(
    value: str | None, condition: str
) -> None:
    assert ack_condition(value) == condition


@pytest.mark.parametrize(
    ("condition", "on_success", "on_error"),
    [("AL", True, True), ("NE", False, False), ("ER", False, True), ("SU", True, False),
     (None, True, True)],
)  # fmt: skip
def test_enhanced_mode_sends_each_ack_as_its_field_asks(
    condition: str | None, on_success: bool, on_error: bool
) -> None:
    # The other field is set so the message is in enhanced mode whatever `condition` is.
    accept_side = with_ack_types(ORIGINAL, condition, "NE")
    assert wants_accept_ack(accept_side, ok=True) is on_success
    assert wants_accept_ack(accept_side, ok=False) is on_error
    application_side = with_ack_types(ORIGINAL, "NE", condition)
    assert wants_application_ack(application_side, ok=True) is on_success
    assert wants_application_ack(application_side, ok=False) is on_error


def test_original_mode_has_only_the_application_ack() -> None:
    for ok in (True, False):
        assert wants_accept_ack(ORIGINAL, ok) is False
        assert wants_application_ack(ORIGINAL, ok) is True


def test_an_aa_swaps_routing_and_echoes_control_id_version_and_processing_id() -> None:
    text = application_ack(ORIGINAL, "AA", control_id="ACK-1", now=NOW)
    assert "\n" not in text and text.count("\r") == 1  # MSH and MSA, joined by CR
    ack = parse(text)
    assert ack.value("MSH", 3) == "GHH LAB, INC."  # received MSH-5
    assert ack.value("MSH", 4) == "GOOD HEALTH HOSPITAL"  # received MSH-6
    assert ack.value("MSH", 5) == "ADT1"  # received MSH-3
    assert ack.value("MSH", 6) == "GOOD HEALTH HOSPITAL"  # received MSH-4
    assert ack.value("MSH", 7) == "20261127081530+0100"
    assert [ack.value("MSH", 9, n) for n in (1, 2, 3)] == ["ACK", "A01", "ACK"]
    assert ack.value("MSH", 10) == "ACK-1"
    assert ack.value("MSH", 11) == "P"
    assert ack.value("MSH", 12) == "2.5.1"
    assert ack.value("MSH", 15) is None and ack.value("MSH", 16) is None
    assert ack.value("MSA", 1) == "AA"
    assert ack.value("MSA", 2) == "MSG00001"
    assert not ack.has("ERR")


def test_routing_fields_are_echoed_with_every_component() -> None:
    received = header("siu_s12_v28.hl7")
    ack = parse(application_ack(received, "AA", control_id="A", now=NOW))
    msh = ack.segment("MSH")
    assert msh is not None
    assert msh.er7(5) == "SCHApp"
    assert msh.er7(6) == "GHHSFacility^2.16.840.1.122848.1.30^ISO"
    assert msh.er7(3) == "EHRApp^1.Aux^ISO"
    assert ack.value("MSH", 9, 2) == "S12"


def test_an_ae_carries_an_err_segment_v25_style() -> None:
    ack = parse(application_ack(ORIGINAL, "AE", control_id="A", error=RULE, now=NOW))
    assert ack.value("MSA", 1) == "AE"
    assert ack.value("MSA", 3) is None  # MSA-3 only before v2.5
    assert ack.value("ERR", 1) is None  # ERR-1 (ELD) only before v2.5
    assert [ack.value("ERR", 3, n) for n in (1, 2, 3)] == [
        "207",
        "Application internal error",
        "HL70357",
    ]
    assert ack.value("ERR", 4) == "E"
    assert ack.value("ERR", 7) == "INVALID_STATE_TRANSITION"
    assert ack.value("ERR", 8) == "The visit is discharged: no transfer."


def test_before_v25_err1_and_msa3_are_filled_too() -> None:
    received = header("adt_a02_v24_epic.hl7")
    error = AckError("VISIT_UNKNOWN", 204, "No such visit.", segment="PV1", field=19)
    ack = parse(application_ack(received, "AE", control_id="A", error=error, now=NOW))
    assert ack.value("MSH", 12) == "2.4"
    assert ack.value("MSA", 3) == "No such visit."
    assert [ack.value("ERR", 1, n) for n in (1, 2, 3)] == ["PV1", "1", "19"]
    assert [ack.value("ERR", 1, 4, n) for n in (1, 2, 3)] == [
        "204",
        "Unknown key identifier",
        "HL70357",
    ]
    assert [ack.value("ERR", 2, n) for n in (1, 2, 3)] == ["PV1", "1", "19"]  # ERR-2 as well
    assert ack.value("ERR", 3) == "204"


def test_an_unknown_table_0357_code_still_gets_a_label() -> None:
    ack = parse(
        application_ack(ORIGINAL, "AE", control_id="A", error=AckError("X", 999, "t"), now=NOW)
    )
    assert ack.value("ERR", 3) == "999" and ack.value("ERR", 3, 2) == "Application error"


@given(text=st.text(max_size=200))
def test_any_error_text_is_escaped_and_cannot_break_the_ack(text: str) -> None:
    error = AckError("SOME_CODE", 207, text)
    raw = application_ack(ORIGINAL, "AE", control_id="A", error=error, now=NOW)
    ack = parse(raw)
    assert [s.name for s in ack.segments()] == ["MSH", "MSA", "ERR"]
    assert ack.value("ERR", 8) == (text.strip() or None)
    assert ack.value("ERR", 7) == "SOME_CODE"
    assert len(hl7.parse(raw)) == 3  # python-hl7 reads it too


def test_a_long_text_is_cut() -> None:
    error = AckError("C", 207, "x" * (MAX_TEXT_LENGTH * 2))
    ack = parse(application_ack(ORIGINAL, "AE", control_id="A", error=error, now=NOW))
    text = ack.value("ERR", 8)
    assert text is not None and len(text) == MAX_TEXT_LENGTH and text.endswith("...")


def test_enhanced_mode_acks_say_they_want_no_ack_back() -> None:
    received = header("adt_a02_v24_epic.hl7")
    commit = parse(accept_ack(received, "CA", control_id="C1", now=NOW))
    assert commit.value("MSA", 1) == "CA" and commit.value("MSA", 2) == "32049"
    assert commit.value("MSH", 15) == "NE" and commit.value("MSH", 16) == "NE"
    application = parse(application_ack(received, "AA", control_id="C2", now=NOW))
    assert application.value("MSH", 10) == "C2"
    assert application.value("MSH", 15) == "NE"


def test_the_ack_uses_the_received_encoding_characters() -> None:
    text = (FIXTURES / "adt_a13_v24_epic.hl7").read_text(encoding="utf-8")
    custom = parse(
        text.translate(str.maketrans({"|": "#", "^": "%", "~": "$", "\\": "!", "&": "@"}))
    )
    raw = application_ack(
        custom.header, "AE", control_id="A", error=AckError("C", 207, "a|b^c"), now=NOW
    )
    assert raw.startswith("MSH#%$!@#")
    ack = parse(raw)
    assert ack.encoding == custom.encoding
    assert ack.value("MSH", 9, 2) == "A13"
    assert ack.value("ERR", 8) == "a|b^c"


def test_the_truncation_character_and_msh18_are_echoed() -> None:
    received = parse("MSH|^~\\&#|LAB|F|ME|US|20260101||ADT^A01|7|P|2.7||||||UNICODE UTF-8").header
    ack = parse(application_ack(received, "AA", control_id="A", now=NOW))
    assert ack.value("MSH", 2) == "^~\\&#"
    assert ack.value("MSH", 18) == "UNICODE UTF-8"
    assert ack.value("MSH", 12) == "2.7"


def test_a_message_without_trigger_gets_a_plain_ack_type() -> None:
    ack = parse(
        application_ack(header("zpn_v21_z_segments_only.hl7"), "AR", control_id="A", now=NOW)
    )
    assert ack.value("MSH", 9) == "ACK" and ack.value("MSH", 9, 2) is None
    assert ack.value("MSA", 2) == "443769"


@pytest.mark.parametrize("code", ["CA", "XX", ""])
def test_application_ack_refuses_other_codes(code: str) -> None:
    with pytest.raises(ValueError):
        application_ack(ORIGINAL, code, control_id="A", now=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["AA", "AE", "XX"])
def test_accept_ack_refuses_other_codes(code: str) -> None:
    with pytest.raises(ValueError):
        accept_ack(ORIGINAL, code, control_id="A", now=NOW)  # type: ignore[arg-type]


def test_the_time_must_be_aware() -> None:
    with pytest.raises(ValueError):
        application_ack(ORIGINAL, "AA", control_id="A", now=datetime(2026, 1, 1))
    assert format_ts(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "20260102030405+0000"


UNREADABLE = AckError("UNPARSEABLE", 100, "The first segment is not MSH.")


def test_garbage_gets_an_ar_with_defaults() -> None:
    ack = parse(reject_unparseable("PID|1||SMITH", UNREADABLE, control_id="R1", now=NOW))
    assert ack.value("MSA", 1) == "AR"
    assert ack.value("MSA", 2) is None
    assert ack.value("MSH", 3) is None and ack.value("MSH", 5) is None
    assert ack.value("MSH", 9) == "ACK"
    assert ack.value("MSH", 11) == "P" and ack.value("MSH", 12) == "2.5"
    assert ack.value("ERR", 3) == "100" and ack.value("ERR", 7) == "UNPARSEABLE"
    assert "SMITH" not in ack.text


def test_an_unparseable_message_keeps_what_its_msh_line_gives() -> None:
    # MSH-9 and MSH-10 missing: parse refuses (101), the ACK still routes back.
    raw = "MSH|^~\\&|EPIC|UCLH|PS|WARD|20260101||||T|2.3"
    ack = parse(reject_unparseable(raw, UNREADABLE, control_id="R2", now=NOW))
    assert (ack.value("MSH", 3), ack.value("MSH", 5), ack.value("MSH", 6)) == ("PS", "EPIC", "UCLH")
    assert ack.value("MSH", 11) == "T" and ack.value("MSH", 12) == "2.3"
    assert ack.value("MSA", 1) == "AR"
    assert [ack.value("ERR", 1, 4, n) for n in (1, 3)] == ["100", "HL70357"]  # 2.3: ERR-1 too


def test_an_unparseable_enhanced_mode_message_gets_a_commit_reject() -> None:
    raw = (FIXTURES / "adt_a01_v26_doubled_escape_msh2.hl7").read_text(encoding="utf-8")
    error = AckError("UNPARSEABLE", 102, "MSH-2 is not valid.")
    ack = parse(reject_unparseable(raw, error, control_id="R3", now=NOW))
    assert ack.value("MSA", 1) == "CR"
    assert ack.value("MSA", 2) == "102"
    assert ack.value("MSH", 2) == "^~\\&"  # the standard's, not the broken ones
    assert (ack.value("MSH", 3), ack.value("MSH", 5)) == ("PACS", "SE050")
    assert ack.value("MSH", 12) == "2.6" and ack.value("MSH", 18) == "ASCII"
    assert "DOE" not in ack.text


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.hl7")))
def test_every_sample_gets_an_ack_that_parses(name: str) -> None:
    raw = (FIXTURES / name).read_text(encoding="utf-8")
    try:
        received = load(name).header
    except ValueError:
        text = reject_unparseable(raw, UNREADABLE, control_id="Z", now=NOW)
    else:
        text = application_ack(received, "AE", control_id="Z", error=RULE, now=NOW)
        assert parse(text).value("MSA", 2) == received.control_id
    assert parse(text).value("MSH", 10) == "Z"
