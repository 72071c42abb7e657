"""MLLP framing: frame() and the FrameDecoder, whatever the chunking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.hl7.framing import (
    DEFAULT_MAX_MESSAGE_BYTES,
    END_BLOCK,
    START_BLOCK,
    FrameDecoder,
    FrameTooLarge,
    frame,
)

MSG_A = b"MSH|^~\\&|A|B|C|D|20260101120000||ADT^A01|1|P|2.5\rPID|1"
MSG_B = b"MSH|^~\\&|A|B|C|D|20260101120001||ADT^A03|2|P|2.5\rPV1|1|I"

# Message bodies never hold the block bytes (frame() refuses them).
bodies = st.binary(max_size=300).map(lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b""))


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


def test_frame_wraps_the_message_in_the_block_bytes() -> None:
    assert frame(b"MSH|x") == b"\x0bMSH|x\x1c\x0d"
    assert START_BLOCK == b"\x0b" and END_BLOCK == b"\x1c\x0d"


@pytest.mark.parametrize("body", [b"a\x0bb", b"a\x1cb", b"\x1c\x0d"])
def test_frame_refuses_a_message_holding_a_block_byte(body: bytes) -> None:
    with pytest.raises(ValueError):
        frame(body)


def test_several_messages_in_one_chunk_come_out_in_order() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(frame(MSG_A) + frame(MSG_B)) == [MSG_A, MSG_B]
    assert decoder.pending_bytes == 0
    assert decoder.discarded_bytes == 0


def test_a_message_fed_one_byte_at_a_time_comes_out_once_complete() -> None:
    decoder = FrameDecoder()
    data = frame(MSG_A)
    out: list[bytes] = []
    for index in range(len(data)):
        got = decoder.feed(data[index : index + 1])
        # Nothing is delivered before the FS byte has arrived.
        if index < len(data) - 2:
            assert got == []
            assert decoder.pending_bytes == max(0, index)
        out += got
    assert out == [MSG_A]
    assert decoder.pending_bytes == 0


def test_the_end_block_split_between_chunks_is_consumed_whole() -> None:
    decoder = FrameDecoder()
    data = frame(MSG_A)
    assert decoder.feed(data[:-1]) == [MSG_A]  # FS ends the message
    assert decoder.feed(data[-1:] + frame(MSG_B)) == [MSG_B]  # its CR is not junk
    assert decoder.discarded_bytes == 0


def test_bytes_outside_a_frame_are_discarded_and_counted() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"noise" + frame(MSG_A) + b"\r\n" + frame(MSG_B) + b"tail") == [
        MSG_A,
        MSG_B,
    ]
    assert decoder.discarded_bytes == len(b"noise") + len(b"\r\n") + len(b"tail")


def test_a_new_start_block_abandons_the_unfinished_frame() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(START_BLOCK + b"half a mess") == []
    assert decoder.feed(b"age" + frame(MSG_A)) == [MSG_A]
    assert decoder.discarded_bytes == len(START_BLOCK + b"half a message")


def test_a_missing_cr_after_fs_is_tolerated() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(START_BLOCK + MSG_A + b"\x1c" + frame(MSG_B)) == [MSG_A, MSG_B]
    assert decoder.discarded_bytes == 0


def test_an_empty_frame_is_delivered_as_an_empty_message() -> None:
    assert FrameDecoder().feed(frame(b"")) == [b""]


def test_a_frame_at_the_limit_passes_and_one_byte_more_raises() -> None:
    assert FrameDecoder(max_message_bytes=10).feed(frame(b"x" * 10)) == [b"x" * 10]
    decoder = FrameDecoder(max_message_bytes=10)
    with pytest.raises(FrameTooLarge) as raised:
        decoder.feed(frame(b"ok") + START_BLOCK + b"y" * 11)
    assert raised.value.limit == 10
    assert raised.value.complete == [b"ok"]  # what the chunk completed first is not lost
    assert decoder.pending_bytes == 0  # the oversized frame's bytes were dropped


def test_the_limit_applies_across_chunks() -> None:
    decoder = FrameDecoder(max_message_bytes=8)
    assert decoder.feed(START_BLOCK + b"12345") == []
    with pytest.raises(FrameTooLarge):
        decoder.feed(b"6789")


def test_the_default_limit_is_one_mebibyte() -> None:
    assert DEFAULT_MAX_MESSAGE_BYTES == 1024 * 1024
    big = b"x" * DEFAULT_MAX_MESSAGE_BYTES
    assert FrameDecoder().feed(frame(big)) == [big]
    with pytest.raises(FrameTooLarge):
        FrameDecoder().feed(frame(big + b"x"))


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FrameDecoder(max_message_bytes=0)


@given(messages=st.lists(bodies, max_size=8), cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_any_chunking_of_framed_messages_yields_exactly_those_messages(
    messages: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(frame(m) for m in messages)
    decoder = FrameDecoder()
    out: list[bytes] = []
    for chunk in chunked(stream, cuts):
        out += decoder.feed(chunk)
    assert out == messages
    assert decoder.discarded_bytes == 0
    assert decoder.pending_bytes == 0


@given(
    pairs=st.lists(
        st.tuples(st.binary(max_size=20).map(lambda b: b.replace(b"\x0b", b"")), bodies),
        max_size=6,
    ),
    cuts=st.lists(st.integers(min_value=0), max_size=30),
)
def test_junk_between_frames_is_counted_and_never_delivered(
    pairs: list[tuple[bytes, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(junk + frame(body) for junk, body in pairs)
    decoder = FrameDecoder()
    out: list[bytes] = []
    for chunk in chunked(stream, cuts):
        out += decoder.feed(chunk)
    assert out == [body for _, body in pairs]
    assert decoder.discarded_bytes == sum(len(junk) for junk, _ in pairs)
