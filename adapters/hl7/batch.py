"""Batch files (FHS/BHS … BTS/FTS, or plain runs of messages) split into messages."""

from __future__ import annotations

from adapters.hl7.header import normalise

#: File and batch envelope segments: they carry no message, so they are dropped.
_ENVELOPE = ("FHS", "BHS", "BTS", "FTS")


def split_batch(text: str) -> list[str]:
    """The messages of a file, each ER7 text with segments joined by ``\\r``.

    A message starts at each MSH segment. Lines before the first MSH (other than the
    envelope) have no message to belong to; they are returned as a message of their own
    so that the importer's parse refuses them (code 100) rather than losing them quietly.
    """
    messages: list[list[str]] = []
    for line in normalise(text):
        head = line[:3]
        if head in _ENVELOPE:
            continue
        if head == "MSH" or not messages:
            messages.append([line])
        else:
            messages[-1].append(line)
    return ["\r".join(lines) for lines in messages]
