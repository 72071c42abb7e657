"""position_of on every recorder: the global position of one stored event, or None."""

from __future__ import annotations

from uuid import uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text

    @event("Edited")
    def edit(self, text: str) -> None:
        self.text = text


class Notebook(Application):
    # Its own name, so on PostgreSQL its table never collides with the real application's.
    name = "recorder_probe"


@pytest.fixture(
    params=["memory_env", "sqlite_env", pytest.param("postgres_env", marks=pytest.mark.postgres)]
)
def notebook(request: pytest.FixtureRequest):
    app = Notebook(env=request.getfixturevalue(request.param))
    yield app
    app.close()


def test_position_of_is_the_notification_id_of_each_saved_event(notebook: Notebook) -> None:
    first = Note("a")
    first.edit("b")
    second = Note("c")
    recordings = list(notebook.save(first))
    recordings += notebook.save(second)
    second.edit("d")
    recordings += notebook.save(second)

    assert len(recordings) == 4
    for r in recordings:
        position = notebook.recorder.position_of(
            r.domain_event.originator_id, r.domain_event.originator_version
        )
        assert position == r.notification.id
    # And they agree with the notification log a projection would read.
    log = notebook.recorder.select_notifications(start=None, limit=10)
    assert [(n.originator_id, n.originator_version, n.id) for n in log] == [
        (r.domain_event.originator_id, r.domain_event.originator_version, r.notification.id)
        for r in recordings
    ]


def test_position_of_an_event_that_was_never_stored_is_none(notebook: Notebook) -> None:
    note = Note("a")
    notebook.save(note)

    assert notebook.recorder.position_of(uuid4(), 1) is None
    assert notebook.recorder.position_of(note.id, note.version + 1) is None


def test_a_conflicting_batch_raises_integrity_error_and_stores_none_of_its_events(
    notebook: Notebook,
) -> None:
    # On PostgreSQL the whole insert (lock, insert, commit) is one round trip: a conflict
    # must still surface as IntegrityError and roll back everything saved with it.
    original = Note("a")
    notebook.save(original)
    mine, theirs = notebook.repository.get(original.id), notebook.repository.get(original.id)
    theirs.edit("theirs")
    notebook.save(theirs)
    mine.edit("mine")
    bystander = Note("saved with the loser")
    with pytest.raises(IntegrityError):
        notebook.save(mine, bystander)
    assert notebook.repository.get(original.id).text == "theirs"
    assert notebook.recorder.position_of(bystander.id, 1) is None
    # The recorder is still usable, and positions keep increasing.
    after = notebook.save(Note("next"))[0].notification.id
    assert after > notebook.recorder.position_of(theirs.id, 2)


def test_a_large_batch_keeps_its_order_and_every_byte(notebook: Notebook) -> None:
    # PostgreSQL sends a batch as arrays of ids, versions, topics and states: the positions
    # returned follow the events' order, and states holding what a text encoding must escape
    # (quotes, backslashes, braces, commas, NUL, control characters) come back unchanged.
    hostile = ['"', "\\", "{}", "(,)", "\x00", "\x01\x1f\x7f", "é\u2028", "x" * 10_000, ""]
    notes = [Note(f"{i}:{hostile[i % len(hostile)]}") for i in range(300)]
    for note in notes[::3]:
        note.edit(note.text + hostile[0])
    recordings = notebook.save(*notes)

    positions = [r.notification.id for r in recordings]
    assert positions == sorted(positions) and len(set(positions)) == len(recordings)
    log = notebook.recorder.select_notifications(start=positions[0], limit=len(recordings))
    assert [(n.originator_id, n.originator_version) for n in log] == [
        (r.domain_event.originator_id, r.domain_event.originator_version) for r in recordings
    ]
    for note in notes:
        assert notebook.repository.get(note.id).text == note.text
