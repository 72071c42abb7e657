"""The audit read model's tables: their name, columns and DDL.

``<prefix>entries`` holds one row per stored event, keyed by its log position, with every
field of :class:`~projections.audit.entries.AuditEntry` (instants as integer microseconds,
UTC) and the chain hash (``hash``, and ``prev_hash`` for whoever reads a row alone).
``<prefix>patients`` maps an aggregate id to the patient ref its creation event stated.
The DDL is part of the read model's fingerprint (``adapters.readmodels.fingerprint``): a
change to it rebuilds the trail.
"""

from __future__ import annotations

from projections.audit.entries import ENTRY_FIELDS, RECORDED, TIME_FIELDS

#: The read model's name (its tables are ``audit_g<generation>_...``).
NAME = "audit"

ENTRY_COLUMNS = (*ENTRY_FIELDS, "hash", "prev_hash")
_INTEGER_COLUMNS = frozenset({"position", "version", *TIME_FIELDS})
_REQUIRED = frozenset({"aggregate_type", "aggregate_id", "version", "action", "outcome"})


def _column(name: str) -> str:
    if name == "position":
        return "position BIGINT PRIMARY KEY"
    kind = "BIGINT" if name in _INTEGER_COLUMNS else "TEXT"
    return f"{name} {kind}{' NOT NULL' if name in _REQUIRED else ''}"


#: The statements that create the tables (``{p}`` is the generation's prefix).
DDL = (
    "CREATE TABLE IF NOT EXISTS {p}entries ("
    + ", ".join(_column(name) for name in ENTRY_FIELDS)
    + ", hash TEXT NOT NULL, prev_hash TEXT NOT NULL)",
    # One index per filter of audit_events, position second, so a filtered page is an index
    # range read in order however large the trail is.
    "CREATE INDEX IF NOT EXISTS {p}entries_patient ON {p}entries (patient_ref, position)",
    "CREATE INDEX IF NOT EXISTS {p}entries_actor ON {p}entries (actor_id, position)",
    "CREATE INDEX IF NOT EXISTS {p}entries_aggregate ON {p}entries (aggregate_id, position)",
    "CREATE INDEX IF NOT EXISTS {p}entries_target ON {p}entries (target_id, position)"
    " WHERE target_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS {p}entries_action ON {p}entries (action, position)",
    "CREATE INDEX IF NOT EXISTS {p}entries_recorded ON {p}entries (recorded_at, position)",
    # Attempts are few among recorded facts: a partial index finds them without costing
    # every insert (queries for them repeat its predicate, see AuditFilters.where).
    "CREATE INDEX IF NOT EXISTS {p}entries_attempts ON {p}entries (outcome, position)"
    f" WHERE outcome <> '{RECORDED}'",
    "CREATE TABLE IF NOT EXISTS {p}patients ("
    " aggregate_id TEXT PRIMARY KEY, patient_ref TEXT NOT NULL)",
)
