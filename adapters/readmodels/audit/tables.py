"""The audit read model's tables: their name, columns and DDL.

``<prefix>entries`` holds one row per stored event, keyed by its log position, with every
field of :class:`~projections.audit.entries.AuditEntry` (instants as integer microseconds,
UTC) and the chain hash (``hash``, and ``prev_hash`` for whoever reads a row alone).
``<prefix>patients`` maps an aggregate id to the patient ref its creation event stated.
``<prefix>entry_patients`` has one row per patient an entry is about (``patient_ref``,
``position``): an access that returned several patients is found under each of them, and the
``patientRef`` filter reads it for every kind of entry. Lists and objects (an access's
``patient_refs``, ``record_ids``, ``query``) are JSON text. The DDL is part of the read
model's fingerprint (``adapters.readmodels.fingerprint``): a change to it rebuilds the trail.
"""

from __future__ import annotations

from projections.audit.entries import ATTEMPT_OUTCOMES, ENTRY_FIELDS, TIME_FIELDS

#: The read model's name (its tables are ``audit_g<generation>_...``).
NAME = "audit"

ENTRY_COLUMNS = (*ENTRY_FIELDS, "hash", "prev_hash")
_INTEGER_COLUMNS = frozenset({"position", "version", "result_count", *TIME_FIELDS})
_REQUIRED = frozenset({"aggregate_type", "aggregate_id", "version", "action", "outcome", "kind"})
#: The attempts' outcomes as SQL (the partial index's predicate, repeated by the queries).
ATTEMPT_PREDICATE = "outcome IN (" + ", ".join(f"'{o}'" for o in ATTEMPT_OUTCOMES) + ")"
PATIENT_LINK_COLUMNS = ("patient_ref", "position")


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
    # range read in order (either way) however large the trail is.
    "CREATE TABLE IF NOT EXISTS {p}entry_patients ("
    " patient_ref TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {p}entries_patient ON {p}entry_patients (patient_ref, position)",
    "CREATE INDEX IF NOT EXISTS {p}entries_actor ON {p}entries (actor_id, position)",
    "CREATE INDEX IF NOT EXISTS {p}entries_aggregate ON {p}entries (aggregate_id, position)",
    "CREATE INDEX IF NOT EXISTS {p}entries_target ON {p}entries (target_id, position)"
    " WHERE target_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS {p}entries_action ON {p}entries (action, position)",
    "CREATE INDEX IF NOT EXISTS {p}entries_recorded ON {p}entries (recorded_at, position)",
    "CREATE INDEX IF NOT EXISTS {p}entries_kind ON {p}entries (kind, position)",
    # Attempts are few among recorded facts, and purposes and source systems are absent from
    # most entries: partial indexes find them without costing every insert (queries repeat
    # their predicates, see AuditFilters.where).
    "CREATE INDEX IF NOT EXISTS {p}entries_attempts ON {p}entries (outcome, position)"
    f" WHERE {ATTEMPT_PREDICATE}",
    "CREATE INDEX IF NOT EXISTS {p}entries_purpose ON {p}entries (purpose_of_use, position)"
    " WHERE purpose_of_use IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS {p}entries_source ON {p}entries (source_system, position)"
    " WHERE source_system IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS {p}patients ("
    " aggregate_id TEXT PRIMARY KEY, patient_ref TEXT NOT NULL)",
)
