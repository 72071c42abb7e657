"""MLLP framing: ``0x0B`` + message + ``0x1C 0x0D``, bytes in and bytes out.

The decoder knows nothing about charsets or HL7 syntax: it cuts a TCP byte stream into the
messages it carries, whatever the chunking. Decoding the text (MSH-18) is the parser's job.
"""

from __future__ import annotations

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024


class FrameTooLarge(Exception):
    """A frame grew past the limit: the listener should close the connection."""

    def __init__(self, limit: int, complete: list[bytes]) -> None:
        super().__init__(f"MLLP frame larger than {limit} bytes")
        self.limit = limit
        #: Messages completed in the same ``feed`` call before the oversized frame.
        self.complete = complete


def frame(message: bytes) -> bytes:
    """Wrap ``message`` in an MLLP block.

    Raises ValueError if it holds a start or end block byte: the receiver would cut it there.
    """
    if START_BLOCK in message or b"\x1c" in message:
        raise ValueError("an MLLP message may not contain 0x0B or 0x1C")
    return START_BLOCK + message + END_BLOCK


class FrameDecoder:
    """Cuts a byte stream into MLLP messages; feed it chunks as they arrive.

    Outside a frame, bytes up to the next start block are discarded (and counted). Inside
    one, a new start block abandons the unfinished frame (its bytes are counted as
    discarded): the sender gave up on it. FS (0x1C) ends a message; the CR that should
    follow is consumed when it comes, and a missing one is tolerated.
    """

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        if max_message_bytes < 1:
            raise ValueError("max_message_bytes must be positive")
        self._limit = max_message_bytes
        self._buffer = bytearray()
        self._in_frame = False
        self._after_end = False  # an FS just ended a frame: a CR may follow
        self._discarded = 0

    @property
    def discarded_bytes(self) -> int:
        """Bytes seen outside any frame (or in a frame abandoned by a new start block)."""
        return self._discarded

    @property
    def pending_bytes(self) -> int:
        """Bytes of an incomplete frame held back, waiting for its end block."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """The messages completed by ``data`` (without their block bytes), in order.

        Raises FrameTooLarge once a frame passes the limit (carrying the messages this
        chunk completed before it); the decoder drops that frame's bytes.
        """
        messages: list[bytes] = []
        view = memoryview(data)
        position = 0
        while position < len(view):
            if self._after_end:
                self._after_end = False
                if view[position] == 0x0D:
                    position += 1
                    continue
            if not self._in_frame:
                start = data.find(START_BLOCK, position)
                if start < 0:
                    self._discarded += len(data) - position
                    break
                self._discarded += start - position
                self._in_frame = True
                position = start + 1
                continue
            end = data.find(b"\x1c", position)
            restart = data.find(START_BLOCK, position, len(data) if end < 0 else end)
            if restart >= 0:
                self._discarded += len(self._buffer) + restart - position + 1
                self._buffer.clear()
                position = restart + 1
                continue
            stop = len(data) if end < 0 else end
            self._buffer += view[position:stop]
            if len(self._buffer) > self._limit:
                self._buffer.clear()
                self._in_frame = False
                raise FrameTooLarge(self._limit, messages)
            if end < 0:
                break
            messages.append(bytes(self._buffer))
            self._buffer.clear()
            self._in_frame = False
            self._after_end = True
            position = end + 1
        return messages
