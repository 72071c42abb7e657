"""Tolerant ER7 parsing: real public sample messages (tests/fixtures/hl7/), separators,
encoding characters, escapes, timestamps, batches, charsets and the refusals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.hl7.batch import split_batch
from adapters.hl7.charset import codec_for, decode_message, encode_reply
from adapters.hl7.escaping import EncodingCharacters, escape, unescape
from adapters.hl7.header import salvage_header
from adapters.hl7.message import Hl7Message, InvalidValue, UnparseableMessage, parse, parse_ts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hl7"
BAD_MSH2 = "adt_a01_v26_doubled_escape_msh2.hl7"
LONDON = ZoneInfo("Europe/London")


def read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def load(name: str) -> Hl7Message:
    return parse(read(name))


def readable_fixtures() -> list[str]:
    return sorted(p.name for p in FIXTURES.glob("*.hl7") if p.name != BAD_MSH2)


# file → (MSH-9.1, MSH-9.2, MSH-12, MSH-10, MSH-15, MSH-16)
EXPECTED_HEADERS = {
    "adt_a01_v251_good_health.hl7": ("ADT", "A01", "2.5.1", "MSG00001", None, None),
    "adt_a01_v25_wikipedia.hl7": ("ADT", "A01", "2.5", "01052901", None, None),
    "adt_a02_v24_epic.hl7": ("ADT", "A02", "2.4", "32049", "AL", "NE"),
    "adt_a02_v28.hl7": ("ADT", "A02", "2.8", "MSG00001", None, None),
    "adt_a03_v24_epic_zlw.hl7": ("ADT", "A03", "2.4", "eh", "AL", "NE"),
    "adt_a04_v23.hl7": ("ADT", "A04", "2.3", "Q123456789T123456789X123456", None, None),
    "adt_a04_v251_no_routing.hl7": ("ADT", "A04", "2.5.1", "401", None, None),
    "adt_a11_v24_epic.hl7": ("ADT", "A11", "2.4", "100000", "AL", "NE"),
    "adt_a13_v24_epic.hl7": ("ADT", "A13", "2.4", "100000", "AL", "NE"),
    "batch_adt_a04_v25_fhs_bhs.hl7": ("ADT", "A04", "2.5", "12334456778890", "NE", "NE"),
    "oru_r01_v24_ghh_lab.hl7": ("ORU", "R01", "2.4", "CNTRL-3456", None, None),
    "siu_s12_v28.hl7": ("SIU", "S12", "2.8", "MSG00012", None, None),
    "siu_s14_v24_utf8.hl7": ("SIU", "S14", "2.4", "22699", None, None),
    "zpn_v21_z_segments_only.hl7": ("ZPN", None, "2.1", "443769", None, None),
}


def test_every_fixture_is_listed_and_documented() -> None:
    names = {p.name for p in FIXTURES.glob("*.hl7")}
    assert len(names) >= 12
    assert names == set(EXPECTED_HEADERS) | {BAD_MSH2}
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    assert all(name in readme for name in names)


@pytest.mark.parametrize("name", readable_fixtures())
def test_each_real_sample_parses_with_the_expected_header(name: str) -> None:
    (messages,) = [split_batch(read(name))]
    assert len(messages) == 1
    header = parse(messages[0]).header
    got = (
        header.message_code,
        header.trigger,
        header.version,
        header.control_id,
        header.accept_ack_type,
        header.application_ack_type,
    )
    assert got == EXPECTED_HEADERS[name]


def test_msh_fields_use_hl7_numbering_as_python_hl7_does() -> None:
    text = read("adt_a01_v251_good_health.hl7")
    message = parse(text)
    assert message.value("MSH", 1) == "|"
    assert message.value("MSH", 2) == "^~\\&"
    assert message.value("MSH", 3) == "ADT1"  # sending application
    assert message.value("MSH", 9, 3) == "ADT_A01"
    # python-hl7's own rule: segment[n] is MSH-n too (MSH-1 is kept as its own field).
    raw = hl7.parse(text.replace("\n", "\r"))
    assert str(raw.segment("MSH")[3]) == "ADT1"
    assert str(raw.segment("MSH")[10]) == "MSG00001"


def test_the_header_reads_routing_time_type_and_ids() -> None:
    header = load("siu_s12_v28.hl7").header
    assert header.sending_application == "SCHApp"
    assert header.sending_facility == "GHHSFacility"  # the HD's namespace id
    assert header.receiving_application == "EHRApp"
    assert header.receiving_facility == "GHHRFacility"
    assert header.message_time == "202109141120+0215"
    assert header.structure == "SIU_S12"
    assert header.processing_id == "P"
    # The raw fields, for the ACK to echo: every component kept.
    assert header.routing[1] == "GHHSFacility^2.16.840.1.122848.1.30^ISO"


def test_empty_routing_fields_are_none_and_fractional_time_is_kept_raw() -> None:
    header = load("adt_a04_v251_no_routing.hl7").header
    assert header.sending_application is None and header.receiving_facility is None
    assert header.routing == ("", "", "", "")
    assert header.message_time == "20190502121659.069-0700"
    assert header.processing_id == "T"


def test_character_set_and_an_hd_with_only_a_universal_id() -> None:
    batch = parse(split_batch(read("batch_adt_a04_v25_fhs_bhs.hl7"))[0])
    assert batch.header.character_set == "ASCII"
    assert batch.header.sending_application is None
    assert batch.header.sending_facility == "ABCHS"
    hd = parse("MSH|^~\\&|^1.2.3^ISO|F|||20260101||ADT^A01|9|P|2.5")
    assert hd.header.sending_application == "1.2.3"


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n"])
def test_any_segment_separator_gives_the_same_message(separator: str) -> None:
    lines = read("adt_a13_v24_epic.hl7").splitlines()
    message = parse(separator.join(lines))
    assert [s.name for s in message.segments()] == [
        "MSH", "EVN", "PID", "PD1", "NK1", "PV1", "PV2", "OBX", "OBX", "OBX", "OBX",
    ]  # fmt: skip
    assert message.value("PV1", 19) == "123412341234"
    assert "\n" not in message.text and message.text.count("\r") == len(lines) - 1


def test_surrounding_whitespace_and_blank_lines_are_ignored() -> None:
    text = read("adt_a01_v251_good_health.hl7")
    padded = "\n\n   " + text.replace("\n", "\r\n\r\n") + "  \r\n\n"
    assert parse(padded).text == parse(text).text
    # The Z-segment sample ends with an empty segment ("\r\r").
    assert load("zpn_v21_z_segments_only.hl7").segments()[-1].name == "ZZZ"


def test_values_components_subcomponents_and_repetitions() -> None:
    message = load("adt_a01_v251_good_health.hl7")
    assert message.repetitions("PID", 3) == [
        ["PATID1234", "5", "M11", "ADT1", "MR", "GOOD HEALTH HOSPITAL"],
        ["123456789", None, None, "USSSA", "SS"],
    ]
    assert message.value("PID", 3, 1, repetition=2) == "123456789"
    assert message.value("PV1", 3, 2) == "2012"
    assert message.value("PV1", 2) == "I"
    siu = load("siu_s12_v28.hl7")
    # PID-3.4 is an HD: its subcomponents (namespace & universal id & type).
    assert siu.value("PID", 3, 4, 1) == "test1"
    assert siu.value("PID", 3, 4, 2) == "2.16.1"
    assert siu.value("OBX", 2, 2, 2) is None  # past the tree: None, not an error
    wiki = load("adt_a01_v25_wikipedia.hl7")
    assert wiki.value("OBX", 2, 2, 2) == "M"  # OBX|1|N^K&M
    assert [s.value(5) for s in wiki.segments("OBX")] == ["1.80", "79"]


def test_empty_repetitions_keep_their_place() -> None:
    message = load("adt_a13_v24_epic.hl7")  # PV1-4 is "~I"
    assert message.repetitions("PV1", 4) == [[None], ["I"]]
    assert message.value("PV1", 4, repetition=2) == "I"
    assert message.repetitions("PV1", 5) == []


def test_trailing_empty_fields_and_bare_segments_read_as_none() -> None:
    message = load("adt_a02_v24_epic.hl7")
    assert message.has("PD1") and message.value("PD1", 1) is None  # "PD1" alone
    assert message.value("PV1", 400) is None
    assert message.value("ZZZ", 1) is None and message.repetitions("ZZZ", 1) == []
    assert message.segment("ZZZ") is None
    assert message.value("PV1", 0) is None


def test_unknown_segments_and_z_segments_are_kept() -> None:
    message = load("adt_a03_v24_epic_zlw.hl7")
    assert message.has("ZLW")
    assert message.value("ZLW", 22) == "T13275"
    assert message.value("ZLW", 23) == "DISCH"
    only_z = load("zpn_v21_z_segments_only.hl7")
    assert [s.name for s in only_z.segments()] == ["MSH", "ZCA", "ZCB", "ZCC", "ZZZ"]
    assert only_z.value("ZCB", 1) == "BC00000I10"


def test_escape_sequences_in_real_samples_are_unescaped() -> None:
    message = load("adt_a02_v28.hl7")
    assert message.value("PV1", 14) == "NHS Provider-General (inc.A&E-this Hosp)"


def test_unicode_values_come_through() -> None:
    message = load("siu_s14_v24_utf8.hl7")
    assert message.value("PID", 5, 1, repetition=2) == "العيدان"
    assert load("adt_a01_v25_wikipedia.hl7").value("PID", 11, 1, repetition=2) == (
        "NICKELL’S PICKLES"
    )


CUSTOM = {"|": "#", "^": "%", "~": "$", "\\": "!", "&": "@"}


@pytest.mark.parametrize(
    "name", ["adt_a02_v28.hl7", "siu_s12_v28.hl7", "adt_a13_v24_epic.hl7", "adt_a04_v23.hl7"]
)
def test_custom_encoding_characters_read_the_same_values(name: str) -> None:
    text = read(name)
    assert not set(CUSTOM.values()) & set(text)  # the translation below is then exact
    custom = parse(text.translate(str.maketrans(CUSTOM)))
    standard = parse(text)
    assert custom.encoding == EncodingCharacters("#", "%", "$", "!", "@")
    assert custom.value("MSH", 2) == "%$!@"
    # An escape names the message's own delimiter (T is "the subcomponent separator",
    # "@" here), so translate values back before comparing.
    back = str.maketrans({v: k for k, v in CUSTOM.items()})

    def restored(value: str | None) -> str | None:
        return None if value is None else value.translate(back)

    for ours, theirs in zip(custom.segments(), standard.segments(), strict=True):
        assert ours.name == theirs.name
        for number in range(3, theirs.field_count + 1):
            assert [[restored(c) for c in rep] for rep in ours.repetitions(number)] == (
                theirs.repetitions(number)
            )
            assert restored(ours.value(number, 1, 2)) == theirs.value(number, 1, 2)
    if name == "adt_a02_v28.hl7":  # "A\T\E" became "A!T!E": the custom subcomponent mark
        assert custom.value("PV1", 14) == "NHS Provider-General (inc.A@E-this Hosp)"


def test_the_truncation_character_of_v27_is_read() -> None:
    message = parse("MSH|^~\\&#|LAB|F|||20260101||ADT^A01|1|P|2.7\rPID|1||A\\P\\B")
    assert message.encoding.truncation == "#"
    assert message.value("MSH", 2) == "^~\\&#"
    assert message.value("PID", 3) == "A#B"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", 100),
        ("   \r\n ", 100),
        ("hello world", 100),
        ("PID|1||123\rMSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5", 100),
        ("MSH", 101),
        ("MSH|^~\\&", 101),
        ("MSH|^~\\&|A|B|C|D|20260101||", 101),  # no MSH-9
        ("MSH|^~\\&|A|B|C|D|20260101||ADT^A01||P|2.5", 101),  # no MSH-10
        ("MSHA^~\\&A", 102),  # alphanumeric field separator
        ("MSH|^^\\&|A|B|C|D|1||ADT^A01|1|P|2.5", 102),  # duplicate encoding characters
        ("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rSMITH, JOHN 19700101", 100),
        ("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rpid|1", 100),
        ("MSH|^~\\&|A|1||ADT^A01|1|P|2.5\rMSH|^~\\&|A|1||ADT^A01|2|P|2.5", 100),
    ],
)
def test_garbage_is_refused_with_a_table_0357_code_and_no_values(text: str, code: int) -> None:
    with pytest.raises(UnparseableMessage) as raised:
        parse(text)
    assert raised.value.code == code
    assert "SMITH" not in str(raised.value) and "19700101" not in str(raised.value)


def test_a_real_sample_with_a_doubled_escape_in_msh2_is_refused_but_salvaged() -> None:
    text = read(BAD_MSH2)
    with pytest.raises(UnparseableMessage) as raised:
        parse(text)
    assert raised.value.code == 102
    header = salvage_header(text)
    assert (header.sending_application, header.control_id, header.version) == (
        "SE050",
        "102",
        "2.6",
    )
    assert header.accept_ack_type == "AL" and header.character_set == "ASCII"
    assert header.routing == ("SE050", "050", "PACS", "050")


@pytest.mark.parametrize("text", ["", "garbage", "MSH", "MSHA^~\\&A", "\x00\x01"])
def test_salvage_never_raises_and_falls_back_to_defaults(text: str) -> None:
    header = salvage_header(text)
    assert header.control_id == "" and header.message_code == ""
    assert header.encoding == EncodingCharacters()
    assert header.routing == ("", "", "", "")


def test_reprs_carry_no_message_values() -> None:
    message = load("adt_a01_v251_good_health.hl7")
    assert "EVERYMAN" not in repr(message.segment("PID"))
    assert "EVERYMAN" not in repr(message)


# --- escaping ---------------------------------------------------------------------------

E = EncodingCharacters()


@pytest.mark.parametrize(
    ("escaped", "text"),
    [
        ("a\\F\\b", "a|b"),
        ("a\\S\\b", "a^b"),
        ("a\\T\\b", "a&b"),
        ("a\\R\\b", "a~b"),
        ("a\\E\\b", "a\\b"),
        ("\\X41\\\\X42\\", "AB"),
        ("line\\X0D0A\\next", "line\r\nnext"),
        ("caf\\XC3A9\\", "café"),  # UTF-8 bytes
        ("caf\\XE9\\", "café"),  # not UTF-8: Latin-1
        ("one\\.br\\two", "one\ntwo"),
        ("\\H\\bold\\N\\", "bold"),
        ("unterminated \\F", "unterminated \\F"),
        ("unknown \\Q\\", "unknown \\Q\\"),
        ("empty \\\\", "empty \\\\"),
    ],
)
def test_unescape_handles_the_standard_sequences(escaped: str, text: str) -> None:
    assert unescape(escaped, E) == text


def test_escape_covers_delimiters_and_control_characters() -> None:
    assert escape("a|b^c&d~e\\f", E) == "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f"
    assert escape("x\ry\n\x07", E) == "x\\X0D\\y\\X0A\\\\X07\\"
    assert escape("café", E) == "café"  # printable non-ASCII stays (charset on the wire)


encodings = st.sampled_from(
    [
        EncodingCharacters(),
        EncodingCharacters("#", "%", "$", "!", "@"),
        EncodingCharacters(truncation="#"),
    ]
)


@given(text=st.text(max_size=80), encoding=encodings)
def test_escape_then_unescape_is_the_identity(text: str, encoding: EncodingCharacters) -> None:
    escaped = escape(text, encoding)
    assert unescape(escaped, encoding) == text
    delimiters = {encoding.field, encoding.component, encoding.repetition, encoding.subcomponent}
    assert not delimiters & set(escaped)
    assert "\r" not in escaped and "\n" not in escaped


@given(text=st.text(max_size=40))
def test_an_escaped_value_survives_a_parse(text: str) -> None:
    # A closing field: spaces that end a segment line are trimmed with the line.
    message = parse(f"MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rZXX|{escape(text, E)}|END")
    assert message.value("ZXX", 1) == (text or None)
    assert message.value("ZXX", 2) == "END"


# --- timestamps -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026", datetime(2026, 1, 1, tzinfo=LONDON)),
        ("202607", datetime(2026, 7, 1, tzinfo=LONDON)),
        ("20260715", datetime(2026, 7, 15, tzinfo=LONDON)),
        ("2026071514", datetime(2026, 7, 15, 14, tzinfo=LONDON)),
        ("202607151430", datetime(2026, 7, 15, 14, 30, tzinfo=LONDON)),
        ("20260715143005", datetime(2026, 7, 15, 14, 30, 5, tzinfo=LONDON)),
        ("20260715143005.1", datetime(2026, 7, 15, 14, 30, 5, 100000, tzinfo=LONDON)),
        ("20260715143005.1234", datetime(2026, 7, 15, 14, 30, 5, 123400, tzinfo=LONDON)),
        (
            "20190502121659.069-0700",
            datetime(2019, 5, 2, 12, 16, 59, 69000, tzinfo=timezone(timedelta(hours=-7))),
        ),
        (
            "202109141120+0215",
            datetime(2021, 9, 14, 11, 20, tzinfo=timezone(timedelta(hours=2, minutes=15))),
        ),
        ("20260101120000+0000", datetime(2026, 1, 1, 12, tzinfo=timezone.utc)),
        ("  20260101 ", datetime(2026, 1, 1, tzinfo=LONDON)),
    ],
)
def test_parse_ts_reads_every_precision(value: str, expected: datetime) -> None:
    parsed = parse_ts(value, LONDON)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


def test_a_value_without_offset_is_wall_clock_time_in_the_zone() -> None:
    summer = parse_ts("20260715120000", LONDON)
    winter = parse_ts("20260115120000", LONDON)
    assert summer.astimezone(timezone.utc).hour == 11  # BST
    assert winter.astimezone(timezone.utc).hour == 12  # GMT
    assert parse_ts("20260715120000", ZoneInfo("UTC")).astimezone(timezone.utc).hour == 12


@pytest.mark.parametrize(
    "value",
    ["", "19700101X", "197001011", "20261301", "20260230", "20260101250000",
     "20260101120000+2500", "20260101120000+01", "2026-01-01", "20260101120000.1234567"],
)  # fmt: skip
def test_unreadable_timestamps_raise_code_102_without_the_value(value: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        parse_ts(value, LONDON)
    assert raised.value.code == 102
    if value.strip():
        assert value not in str(raised.value)


# --- batches and charsets ---------------------------------------------------------------


def test_split_batch_drops_the_envelope_and_splits_on_msh() -> None:
    (only,) = split_batch(read("batch_adt_a04_v25_fhs_bhs.hl7"))
    assert only.startswith("MSH|") and "BTS" not in only and "FHS" not in only
    two = read("adt_a01_v251_good_health.hl7") + "\n" + read("adt_a13_v24_epic.hl7")
    first, second = split_batch(two)
    assert parse(first).header.trigger == "A01" and parse(second).header.trigger == "A13"
    assert split_batch("") == []


def test_split_batch_keeps_an_orphan_segment_for_parse_to_refuse() -> None:
    orphan, message = split_batch("PID|1||X\r" + read("adt_a04_v23.hl7"))
    assert parse(message).header.trigger == "A04"
    with pytest.raises(UnparseableMessage) as raised:
        parse(orphan)
    assert raised.value.code == 100


def test_decode_message_follows_msh18() -> None:
    raw_utf8 = (FIXTURES / "siu_s14_v24_utf8.hl7").read_bytes()
    assert "العيدان" in decode_message(raw_utf8)
    latin1 = "MSH|^~\\&|A|B|C|D|1||ADT^A08|1|P|2.5||||||8859/1\rPID|||1||Krüger".encode("latin-1")
    assert decode_message(latin1).endswith("Krüger")
    assert decode_message(
        "MSH|^~\\&|A|B|C|D|1||ADT^A08|1|P|2.5\rPID|||1||Krüger".encode()
    ).endswith("Krüger")


def test_undecodable_bytes_fall_back_to_latin1() -> None:
    raw = b"MSH|^~\\&|A|B|C|D|1||ADT^A08|1|P|2.5\rPID|||1||Kr\xfcger"  # not UTF-8
    assert decode_message(raw).endswith("Krüger")


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        (None, "utf-8"),
        ("", "utf-8"),
        ("ASCII", "ascii"),
        ("8859/1", "iso8859-1"),
        ("8859/15", "iso8859-15"),
        ("UNICODE UTF-8", "utf-8"),
        ("unicode  utf-8", "utf-8"),
        ("8859/99", "utf-8"),
        ("KLINGON", "utf-8"),
    ],
)
def test_codec_for_maps_table_0211(name: str | None, codec: str) -> None:
    assert codec_for(name) == codec


def test_encode_reply_uses_the_charset_and_never_fails() -> None:
    assert encode_reply("Krüger", "8859/1") == "Krüger".encode("latin-1")
    assert encode_reply("Krüger", "ASCII") == b"Kr?ger"
    assert encode_reply("Krüger", None) == "Krüger".encode()
