"""The data keys: one live key per data subject, wrapped by the KEK, destroyed by an erasure.

Tables (``privacy_`` prefix), written once for both databases:

* ``data_keys``: ``key_id``, ``subject_ref``, the KEK's id and the wrapped key; an erasure sets
  both to NULL and notes when and by which erasure. At most one live key per subject (a
  partial unique index); a subject written about again after an erasure gets a new key, so
  what was erased stays erased.
* ``sealed_records``: which subject each record's text belongs to, so a later event of the
  record is sealed under the same subject's key without reading the record's first event.
* ``erasures``: each erasure as the keys were destroyed (who, why, when, which keys), until
  its certificate is in the event log (``certified``), so an erasure interrupted between the
  two is completed by the next request for the same subject.
* ``retention``: how far the retention job has got.

On SQLite the tables have their own file, ``<VAR_DIR>/data_keys.db``, with ``secure_delete``
on and a rollback journal (not WAL), so a destroyed key's bytes are overwritten in the file
rather than left in free pages or a write-ahead log. On PostgreSQL they sit in the events'
schema; after an erasure the table is vacuumed, but copies may survive in WAL, backups and free
space until overwritten, which is why the keys are wrapped: rotating the KEK makes those
copies useless (see the README).

No key is cached between calls: a read that starts after an erasure's response finds the key
gone, in every process.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
import structlog
from psycopg_pool import ConnectionPool

from adapters.privacy.sealing import KeyRing, new_data_key
from adapters.readmodels.connection import Dialect, Transaction
from adapters.readmodels.postgres_backend import pg_conninfo
from adapters.readmodels.sqlite_backend import sqlite_transaction
from adapters.settings import PostgresConnection
from application.privacy.erasures import ErasureRecord

log = structlog.get_logger("privacy")

KEYS_FILE = "data_keys.db"
_DDL = (
    "CREATE TABLE IF NOT EXISTS privacy_data_keys (key_id TEXT PRIMARY KEY, "
    "subject_ref TEXT NOT NULL, kek_id TEXT, wrapped_key TEXT, created_at BIGINT NOT NULL, "
    "destroyed_at BIGINT, erasure_id TEXT)",
    "CREATE UNIQUE INDEX IF NOT EXISTS privacy_data_keys_live ON privacy_data_keys "
    "(subject_ref) WHERE destroyed_at IS NULL",
    "CREATE INDEX IF NOT EXISTS privacy_data_keys_subject ON privacy_data_keys (subject_ref)",
    "CREATE TABLE IF NOT EXISTS privacy_sealed_records (aggregate_id TEXT PRIMARY KEY, "
    "subject_ref TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS privacy_sealed_records_subject ON privacy_sealed_records "
    "(subject_ref)",
    "CREATE TABLE IF NOT EXISTS privacy_erasures (erasure_id TEXT PRIMARY KEY, "
    "subject_ref TEXT NOT NULL, basis TEXT NOT NULL, actor_id TEXT NOT NULL, "
    "actor_role TEXT NOT NULL, correlation_id TEXT NOT NULL, reason TEXT NOT NULL, "
    "erased_at BIGINT NOT NULL, key_ids TEXT NOT NULL, certified INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS privacy_erasures_subject ON privacy_erasures (subject_ref)",
    "CREATE TABLE IF NOT EXISTS privacy_retention (name TEXT PRIMARY KEY, "
    "watermark BIGINT NOT NULL)",
)


#: Ids per ``IN`` list: far below either store's bound on parameters in one statement.
_CHUNK = 500


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _micros(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def _at(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc)


class UnknownKeyError(LookupError):
    """A sealed value names a key the vault never held (a lost or foreign key store)."""


class DataKeyVault:
    """The data keys over one SQL connection source (see :func:`open_vault`)."""

    def __init__(self, ring: KeyRing, dialect: Dialect) -> None:
        self.ring = ring
        self.dialect = dialect

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Transaction]:
        """``write=False`` for a transaction that only reads (no write lock on SQLite)."""
        raise NotImplementedError
        yield

    def create_tables(self) -> None:
        with self.transaction() as tx:
            for statement in _DDL:
                tx.execute(statement)

    def close(self) -> None:
        pass

    # ---- sealing -----------------------------------------------------------------------
    def subject_of(self, aggregate_id: uuid.UUID) -> str | None:
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT subject_ref FROM privacy_sealed_records WHERE aggregate_id = ?",
                (str(aggregate_id),),
            )
        return rows[0][0] if rows else None

    def sealing_key(self, subject_ref: str, aggregate_id: uuid.UUID) -> tuple[str, bytes]:
        """The subject's live key (created when it has none), noting that the record's text
        is the subject's."""
        # Most events are of a record already noted, under a live key: read only then.
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT k.key_id, k.kek_id, k.wrapped_key FROM privacy_data_keys k "
                "JOIN privacy_sealed_records r ON r.subject_ref = k.subject_ref "
                "WHERE k.subject_ref = ? AND k.destroyed_at IS NULL AND r.aggregate_id = ?",
                (subject_ref, str(aggregate_id)),
            )
        if rows:
            return rows[0][0], self._unwrap(*rows[0])
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO privacy_sealed_records (aggregate_id, subject_ref) VALUES (?, ?) "
                "ON CONFLICT (aggregate_id) DO NOTHING",
                (str(aggregate_id), subject_ref),
            )
            for _ in range(2):
                rows = tx.execute(
                    "SELECT key_id, kek_id, wrapped_key FROM privacy_data_keys "
                    "WHERE subject_ref = ? AND destroyed_at IS NULL",
                    (subject_ref,),
                )
                if rows:
                    return rows[0][0], self._unwrap(*rows[0])
                key_id = uuid.uuid4().hex
                kek_id, wrapped = self.ring.wrap(key_id, new_data_key())
                tx.execute(
                    "INSERT INTO privacy_data_keys (key_id, subject_ref, kek_id, wrapped_key, "
                    "created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (subject_ref) "
                    "WHERE destroyed_at IS NULL DO NOTHING",
                    (key_id, subject_ref, kek_id, wrapped, _micros(datetime.now(timezone.utc))),
                )
        raise RuntimeError("a data key was neither found nor created")  # pragma: no cover

    def _unwrap(self, key_id: str, kek_id: str, wrapped: str) -> bytes:
        key = self.ring.unwrap(kek_id, key_id, wrapped)
        if key is None:
            raise UnknownKeyError(f"no KEK of the ring unwraps data key {key_id}")
        return key

    def data_keys(self, key_ids: Sequence[str]) -> dict[str, bytes | None]:
        """Each key by id; None for a destroyed key. Raises :class:`UnknownKeyError` for an
        id the vault never held."""
        wanted = sorted(set(key_ids))
        rows: list[tuple[Any, ...]] = []
        with self.transaction(write=False) as tx:
            for chunk in _chunks(wanted):
                marks = ", ".join("?" for _ in chunk)
                rows += tx.execute(
                    f"SELECT key_id, kek_id, wrapped_key FROM privacy_data_keys "
                    f"WHERE key_id IN ({marks})",
                    chunk,
                )
        found: dict[str, bytes | None] = {
            key_id: None if wrapped is None else self._unwrap(key_id, kek_id, wrapped)
            for key_id, kek_id, wrapped in rows
        }
        missing = [k for k in wanted if k not in found]
        if missing:
            raise UnknownKeyError(f"data key {missing[0]} is not in the vault")
        return found

    def all_live(self, key_ids: Sequence[str]) -> bool:
        """Whether every one of these keys is held and not destroyed: a count, without
        unwrapping any (the check a response makes before it goes out)."""
        wanted = sorted(set(key_ids))
        with self.transaction(write=False) as tx:
            for chunk in _chunks(wanted):
                marks = ", ".join("?" for _ in chunk)
                rows = tx.execute(
                    f"SELECT COUNT(*) FROM privacy_data_keys "
                    f"WHERE destroyed_at IS NULL AND key_id IN ({marks})",
                    chunk,
                )
                if rows[0][0] != len(chunk):
                    return False
        return True

    # ---- erasure -----------------------------------------------------------------------
    def destroy(self, erasure: ErasureRecord) -> ErasureRecord | None:
        """Destroy every live key of the erasure's subject and note the erasure, in one
        transaction; the erasure with the destroyed keys' ids (none for a subject whose text
        was never sealed). None when the subject has no live key left and was erased before
        (a repeat, or the loser of two erasures at once): nothing is noted then."""
        with self.transaction() as tx:
            self._lock_subject(tx, erasure.subject_ref)
            rows = tx.execute(
                "UPDATE privacy_data_keys SET wrapped_key = NULL, kek_id = NULL, "
                "destroyed_at = ?, erasure_id = ? WHERE subject_ref = ? AND destroyed_at IS NULL "
                "RETURNING key_id",
                (_micros(erasure.erased_at), str(erasure.erasure_id), erasure.subject_ref),
            )
            if not rows and tx.execute(
                "SELECT 1 FROM privacy_erasures WHERE subject_ref = ?", (erasure.subject_ref,)
            ):
                return None
            key_ids = tuple(sorted(row[0] for row in rows))
            tx.execute(
                "INSERT INTO privacy_erasures (erasure_id, subject_ref, basis, actor_id, "
                "actor_role, correlation_id, reason, erased_at, key_ids, certified) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (str(erasure.erasure_id), erasure.subject_ref, erasure.basis, erasure.actor_id,
                 erasure.actor_role, erasure.correlation_id, erasure.reason,
                 _micros(erasure.erased_at), ",".join(key_ids)),
            )  # fmt: skip
        if rows:
            self._after_destroy()
        return replace(erasure, key_ids=key_ids, certified=False)

    def _lock_subject(self, tx: Transaction, subject_ref: str) -> None:
        """Serialise erasures of one subject (SQLite's write transactions already are)."""

    def _after_destroy(self) -> None:
        """Where the database keeps dead rows (PostgreSQL), clear them out now."""

    def erasures_of(self, subject_ref: str) -> list[ErasureRecord]:
        """The subject's erasures, oldest first."""
        return self._erasures("subject_ref = ?", (subject_ref,))

    def uncertified(self) -> list[ErasureRecord]:
        """Every erasure whose certificate is not in the event log yet, oldest first."""
        return self._erasures("certified = 0", ())

    def erasure(self, erasure_id: uuid.UUID) -> ErasureRecord | None:
        found = self._erasures("erasure_id = ?", (str(erasure_id),))
        return found[0] if found else None

    def _erasures(self, where: str, params: tuple[object, ...]) -> list[ErasureRecord]:
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT erasure_id, subject_ref, basis, actor_id, actor_role, correlation_id, "
                f"reason, erased_at, key_ids, certified FROM privacy_erasures WHERE {where} "
                "ORDER BY erased_at, erasure_id",
                params,
            )
        return [
            ErasureRecord(
                erasure_id=uuid.UUID(r[0]),
                subject_ref=r[1],
                basis=r[2],
                actor_id=r[3],
                actor_role=r[4],
                correlation_id=r[5],
                reason=r[6],
                erased_at=_at(r[7]),
                key_ids=tuple(k for k in r[8].split(",") if k),
                certified=bool(r[9]),
            )  # fmt: skip
            for r in rows
        ]

    def mark_certified(self, erasure_id: uuid.UUID) -> None:
        with self.transaction() as tx:
            tx.execute(
                "UPDATE privacy_erasures SET certified = 1 WHERE erasure_id = ?",
                (str(erasure_id),),
            )

    def records_of(self, subject_ref: str) -> list[str]:
        """The ids of the records whose text was sealed for the subject."""
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT aggregate_id FROM privacy_sealed_records WHERE subject_ref = ? "
                "ORDER BY aggregate_id",
                (subject_ref,),
            )
        return [row[0] for row in rows]

    # ---- retention and rotation --------------------------------------------------------
    def watermark(self, name: str) -> int | None:
        with self.transaction(write=False) as tx:
            rows = tx.execute("SELECT watermark FROM privacy_retention WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else None

    def set_watermark(self, name: str, micros: int) -> None:
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO privacy_retention (name, watermark) VALUES (?, ?) ON CONFLICT "
                "(name) DO UPDATE SET watermark = excluded.watermark "
                "WHERE excluded.watermark > privacy_retention.watermark",
                (name, micros),
            )

    def rewrap(self) -> int:
        """Wrap every live key the current KEK does not wrap yet under it (a KEK rotation);
        returns how many were rewrapped."""
        current = self.ring.current_id
        done = 0
        with self.transaction() as tx:
            rows = tx.execute(
                "SELECT key_id, kek_id, wrapped_key FROM privacy_data_keys "
                "WHERE destroyed_at IS NULL AND kek_id <> ?",
                (current,),
            )
            for key_id, kek_id, wrapped in rows:
                new_kek, rewrapped = self.ring.wrap(key_id, self._unwrap(key_id, kek_id, wrapped))
                tx.execute(
                    "UPDATE privacy_data_keys SET kek_id = ?, wrapped_key = ? WHERE key_id = ?",
                    (new_kek, rewrapped, key_id),
                )
                done += 1
        if done:
            self._after_destroy()
        return done


class SqliteVault(DataKeyVault):
    def __init__(self, ring: KeyRing, var_dir: Path) -> None:
        super().__init__(ring, "sqlite")
        var_dir.mkdir(parents=True, exist_ok=True)
        self.path = var_dir / KEYS_FILE
        self._conn = sqlite3.connect(
            self.path, timeout=10, isolation_level=None, check_same_thread=False
        )
        # Overwrite what is deleted or updated, and keep no write-ahead log of it.
        self._conn.execute("PRAGMA secure_delete=ON")
        self._conn.execute("PRAGMA journal_mode=DELETE")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._lock = threading.Lock()
        self.path.chmod(0o600)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Transaction]:
        with (
            self._lock,
            sqlite_transaction(self._conn, "BEGIN IMMEDIATE" if write else "BEGIN") as tx,
        ):
            yield tx

    def close(self) -> None:
        self._conn.close()


class PostgresVault(DataKeyVault):
    def __init__(self, ring: KeyRing, connection: PostgresConnection) -> None:
        super().__init__(ring, "postgres")
        self._conninfo = pg_conninfo(connection)
        self._pool = ConnectionPool(
            kwargs={**self._conninfo, "autocommit": True}, min_size=1, max_size=4, timeout=5,
            open=True, name="data-keys",
        )  # fmt: skip

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Transaction]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            yield Transaction(cursor, "postgres")

    def _lock_subject(self, tx: Transaction, subject_ref: str) -> None:
        # Two erasures of a subject that has no key would otherwise both be noted.
        tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (subject_ref,))

    def _after_destroy(self) -> None:
        # Dead row versions still hold the wrapped key until vacuumed. Best effort: an
        # erasure stands whether or not this runs (autovacuum would get there too).
        try:
            with self._pool.connection() as conn:
                conn.execute("VACUUM privacy_data_keys")
        except psycopg.Error as e:
            log.warning("privacy.vacuum_failed", error=type(e).__name__)

    def close(self) -> None:
        self._pool.close()


def open_vault(ring: KeyRing, postgres: PostgresConnection | None, var_dir: Path) -> DataKeyVault:
    """The vault of the configured store, its tables created where missing."""
    vault: DataKeyVault = (
        SqliteVault(ring, var_dir) if postgres is None else PostgresVault(ring, postgres)
    )
    try:
        vault.create_tables()
    except BaseException:
        vault.close()
        raise
    return vault
