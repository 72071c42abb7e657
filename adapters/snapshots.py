"""The aggregates' snapshots as stored: one row per aggregate, tied to the code that took it.

A snapshot is the aggregate's attributes pickled (the only encoding that gives back every
attribute exactly as it was, tuples, sets, Decimals and the domain's own objects alike), with
an HMAC over the aggregate's id, its version, the code fingerprint and the pickle, so the
store never unpickles bytes it did not write itself (pickle runs code: a row written by
anyone who can write to the database but lacks the key is refused, never loaded).

The **code fingerprint** is a hash of every file of the ``domain`` package (and of the
Python and eventsourcing versions): an aggregate's state is what its domain code made of its
events, so a snapshot is used only by the very code that took it. After a deployment that
changes the domain, every snapshot is ignored, each aggregate's next load replays its events
once and leaves a snapshot of the new code in place of the old. Nothing to bump by hand and
nothing to forget; the cost is one full replay per aggregate per changed deployment.

Any failure (a row that does not verify or unpickle, a database error) is logged with the
aggregate's id and ignored: the events alone still give the answer.
"""

from __future__ import annotations

import copyreg
import hashlib
import hmac
import io
import pickle
import sys
from collections.abc import Callable
from functools import cache
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Protocol, cast
from uuid import UUID, SafeUUID

import structlog
from eventsourcing.domain import Aggregate

import domain

log = structlog.get_logger("snapshots")

#: What the snapshots' HMAC key is derived from the KEK for (changing it drops every snapshot).
SNAPSHOT_KEY_LABEL = b"patient-services/aggregate-snapshot/v1"
_MAC_BYTES = 32


class SnapshotRows(Protocol):
    """The event store recorders' snapshot table (:mod:`adapters.sqlite.recorder`,
    :mod:`adapters.postgres.recorder`)."""

    def select_snapshot(self, aggregate_id: UUID) -> tuple[int, str, bytes] | None: ...

    def upsert_snapshot(
        self, aggregate_id: UUID, version: int, code: str, state: bytes
    ) -> None: ...


@cache
def code_fingerprint() -> str:
    """A hash of the code that decides an aggregate's state (see the module), and of this
    module, which encodes it."""
    return fingerprint_of(Path(domain.__file__).parent, Path(__file__).read_bytes())


def fingerprint_of(root: Path, codec: bytes = b"") -> str:
    """A hash of every file under ``root`` (names and contents), of ``codec`` and of the
    Python and eventsourcing versions."""
    digest = hashlib.sha256()
    library = installed_version("eventsourcing")
    digest.update(f"python {sys.version_info[:2]} eventsourcing {library}".encode())
    digest.update(hashlib.sha256(codec).digest())
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


def snapshot_key_of(kek: bytes) -> bytes:
    return hmac.new(kek, SNAPSHOT_KEY_LABEL, hashlib.sha256).digest()


class StoredSnapshots:
    """The application's :class:`~application.shared.ports.SnapshotStore` on a recorder."""

    def __init__(self, rows: SnapshotRows, key: bytes, code: str | None = None) -> None:
        self.rows = rows
        self.key = key
        self.code = code or code_fingerprint()

    def latest(self, aggregate_id: UUID, *, lte: int | None) -> Aggregate | None:
        try:
            row = self.rows.select_snapshot(aggregate_id)
        except Exception as e:  # noqa: BLE001 - a snapshot is never the only way to the answer
            log.warning(
                "snapshot.unreadable", aggregate_id=str(aggregate_id), error=type(e).__name__
            )
            return None
        if row is None:
            return None
        version, code, stored = row
        if code != self.code or (lte is not None and version > lte):
            return None  # another code's (replaced on the next long load), or too new
        mac, state = stored[:_MAC_BYTES], stored[_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(aggregate_id, version, state)):
            log.error("snapshot.forged", aggregate_id=str(aggregate_id), version=version)
            return None
        try:
            aggregate_type, attributes = pickle.loads(state)  # noqa: S301 - verified above
        except Exception as e:  # noqa: BLE001
            log.error(
                "snapshot.undecodable", aggregate_id=str(aggregate_id), error=type(e).__name__
            )
            return None
        aggregate: Aggregate = object.__new__(aggregate_type)
        attributes["_pending_events"] = []
        object.__setattr__(aggregate, "__dict__", attributes)
        if aggregate.id != aggregate_id or aggregate.version != version:
            log.error("snapshot.misplaced", aggregate_id=str(aggregate_id), version=version)
            return None
        return aggregate

    def put(self, aggregate: Aggregate) -> None:
        attributes = {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}
        state = _pickled((type(aggregate), attributes))
        version = aggregate.version
        mac = self._mac(aggregate.id, version, state)
        try:
            self.rows.upsert_snapshot(aggregate.id, version, self.code, mac + state)
        except Exception as e:  # noqa: BLE001 - the command goes on without it
            log.warning("snapshot.not_kept", aggregate_id=str(aggregate.id), error=type(e).__name__)

    def _mac(self, aggregate_id: UUID, version: int, state: bytes) -> bytes:
        signed = b"%s\0%d\0%s\0" % (aggregate_id.bytes, version, self.code.encode())
        return hmac.new(self.key, signed + state, hashlib.sha256).digest()


def _pickled(value: object) -> bytes:
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(value)
    return out.getvalue()


def _uuid(number: int) -> UUID:
    """A UUID from its integer, as UUID's own unpickling makes it but without its per-object
    reduce: a line's book holds an event id per posting, and pickling them the library's way
    took two thirds of a snapshot's time (measured: 10,000 postings in 11 ms instead of 32)."""
    made = object.__new__(UUID)
    object.__setattr__(made, "int", number)
    object.__setattr__(made, "is_safe", SafeUUID.unknown)
    return made


_DISPATCH = {**copyreg.dispatch_table, UUID: lambda u: (_uuid, (u.int,))}


def stored_snapshots(key: bytes) -> Callable[[object], StoredSnapshots | None]:
    """The factory :class:`~application.service.PatientServices` builds its store with: on
    the SQLite and PostgreSQL recorders (the in-memory one of the tests keeps none)."""

    def build(recorder: object) -> StoredSnapshots | None:
        if not hasattr(recorder, "select_snapshot"):
            return None
        return StoredSnapshots(cast(SnapshotRows, recorder), key)

    return build
