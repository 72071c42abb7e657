"""The flow read model's tables (``<prefix>`` = ``flow_g<generation>_``), and the SQL that
addresses their rows by lists of ids (the one place where the dialects differ).

* ``visits``: one row per visit, its flow facts now (the board, the metrics and the visit
  search read it);
* ``locations``: each visit's location periods ``[start_at, end_at)`` (the census);
* ``timeline``: one row per event, with ``corrected_by`` once a compensation names it;
* ``history``: what the record said when, per visit and unit
  (:mod:`projections.visits.flow_knowledge`): the few visits an as-of board, a census or
  metrics "as known at" a past time must fold, found through its two indexes.

The columns are the fields of the row types in :mod:`projections.visits.flow_rows`; a
column's SQL type follows from its name. The statements are part of the read model's
fingerprint (:mod:`adapters.readmodels.fingerprint`): changing them makes every store rebuild
the read model.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from adapters.readmodels.database import Transaction
from projections.visits import flow
from projections.visits import flow_views as views

#: The board's visits. Literal, not parameters, so that planners match the partial index.
ON_THE_BOARD = "status IN ({})".format(
    ", ".join(f"'{state}'" for state in (*views.BOARD_STATES, views.ON_LEAVE))
)
_INTEGER = {"version", "position", "walk_in", "acuity_level", "late_cancellation", "seq"}
_NOT_NULL = {
    "patient_ref": "TEXT NOT NULL", "status": "TEXT NOT NULL",
    "visit_class": "TEXT NOT NULL", "service_unit": "TEXT NOT NULL",
    "unit": "TEXT NOT NULL", "start_at": "BIGINT NOT NULL", "event_id": "TEXT NOT NULL",
    "event_type": "TEXT NOT NULL", "occurred_at": "BIGINT NOT NULL",
    "recorded_at": "BIGINT NOT NULL", "actor_id": "TEXT NOT NULL",
    "actor_role": "TEXT NOT NULL", "details": "TEXT NOT NULL",
}  # fmt: skip


def ddl(prefix: str) -> list[str]:
    v, loc, tl = f"{prefix}visits", f"{prefix}locations", f"{prefix}timeline"
    return [
        f"CREATE TABLE IF NOT EXISTS {v} ({_columns(flow.VISIT_COLUMNS, 'id')})",
        # Partial: only the visits on the board are in it (a small index, kept up only
        # for them), in board order.
        f"CREATE INDEX IF NOT EXISTS {v}_board ON {v} (current_unit, arrival_at)"
        f" WHERE {ON_THE_BOARD}",
        f"CREATE INDEX IF NOT EXISTS {v}_span ON {v} (span_end)",
        # The visit search: by visit number or by patient, a page in id order (the id
        # after the key, so a page is read in order from the index, never sorted).
        f"CREATE INDEX IF NOT EXISTS {v}_number ON {v} (visit_number, id)",
        f"CREATE INDEX IF NOT EXISTS {v}_patient ON {v} (patient_ref, id)",
        f"CREATE TABLE IF NOT EXISTS {loc} ({_columns(flow.LOCATION_COLUMNS, 'visit_id, seq')})",
        f"CREATE INDEX IF NOT EXISTS {loc}_census ON {loc} (unit, end_at)",
        f"CREATE INDEX IF NOT EXISTS {loc}_at ON {loc} (end_at)",
        f"CREATE TABLE IF NOT EXISTS {tl} ({_columns(flow.TIMELINE_COLUMNS, 'visit_id, version')})",
        *_history_ddl(prefix),
    ]


def _history_ddl(prefix: str) -> list[str]:
    table = f"{prefix}history"
    types = {"visit_id": "TEXT NOT NULL", "unit": "TEXT NOT NULL"}
    columns = ", ".join(
        f"{name} {types.get(name, 'INTEGER' if name.endswith('_class') else 'BIGINT')}"
        for name in flow.HISTORY_COLUMNS
    )
    return [
        f"CREATE TABLE IF NOT EXISTS {table} ({columns}, PRIMARY KEY (visit_id, unit))",
        # The hulls that meet an instant or a period are read per unit and length class,
        # over the starts in a window the class bounds (as_of.meeting): a range of these.
        f"CREATE INDEX IF NOT EXISTS {table}_known ON {table} (unit, known_class, known_from)",
        f"CREATE INDEX IF NOT EXISTS {table}_occurred ON {table} (unit, length_class, start_at)",
    ]


def _columns(names: Sequence[str], primary: str) -> str:
    cols = [f"{name} {_NOT_NULL.get(name, _type_of(name))}" for name in names]
    return ", ".join([*cols, f"PRIMARY KEY ({primary})"])


def _type_of(column: str) -> str:
    if column in _INTEGER:
        return "BIGINT" if column == "position" else "INTEGER"
    if column.endswith(("_at", "_since", "_start", "_end")):
        return "BIGINT"
    return "TEXT"


# ---- rows by lists of ids -------------------------------------------------------------------
_encode_json = msgspec.json.encode


def stored_versions(tx: Transaction, prefix: str, ids: list[str]) -> dict[str, int]:
    """The stored version of each of these visits that has a row."""
    if not ids:
        return {}
    statement = f"SELECT id, version FROM {prefix}visits WHERE {_id_in(tx, 'id')}"
    return dict(tx.execute(statement, (_id_list(tx, ids),)))


def delete_ids(tx: Transaction, table: str, column: str, ids: list[str]) -> None:
    if ids:
        tx.execute(f"DELETE FROM {table} WHERE {_id_in(tx, column)}", (_id_list(tx, ids),))


def _id_in(tx: Transaction, column: str) -> str:
    """``column`` is one of a list of ids given as ONE parameter: a short statement, prepared
    once, whatever the batch (psycopg re-parses every statement with over 50 parameters).
    The one place where the dialects differ: on PostgreSQL the ids joined by commas (one
    string: psycopg's array dumper costs several microseconds per element), JSON on SQLite."""
    if tx.dialect == "postgres":
        return f"{column} = ANY(string_to_array(?, ','))"
    return f"{column} IN (SELECT value FROM json_each(?))"


def _id_list(tx: Transaction, ids: list[str]) -> str:
    """Canonical UUIDs never hold a comma."""
    return ",".join(ids) if tx.dialect == "postgres" else _encode_json(ids).decode()
