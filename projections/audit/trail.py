"""The audit trail: one entry per stored event, and a hash chain over the stored log.

Backend-neutral: these modules derive entries and hashes from stored records and check a
chain; :mod:`adapters.readmodels.audit.store` keeps them in tables. This module is the
trail's one entry point; each part lives in its own module:

* :mod:`projections.audit.entries`: the :class:`AuditEntry` of each record (domain-spec §4:
  who, what, when, which record, why), from its envelope
  (:mod:`projections.audit.envelope`), with the patient ref its aggregate's creation stated;
* :mod:`projections.audit.chain`: the hash chain (tamper evidence), each entry's hash over
  the previous one and the record's stored bytes;
* :mod:`projections.audit.verify`: the log and the chain merged in position order, and the
  first problem named (``altered``, ``removed``, ``inserted``, or ``parked``).
"""

from __future__ import annotations

from projections.audit.chain import (
    GENESIS_HASH,
    ChainLink,
    LogRow,
    canonical_bytes,
    chain_hash,
    chain_hashes,
    chained_rows,
    iter_chain_hashes,
    log_rows_of,
    state_bytes,
)
from projections.audit.entries import (
    ACCESS,
    ACCESS_TYPE,
    ATTEMPT_OUTCOMES,
    ATTEMPT_TYPE,
    BOOKKEEPING_TYPES,
    CHANGE,
    ENTRY_FIELDS,
    EXPORT_TYPE,
    JSON_FIELDS,
    KINDS,
    RECORDED,
    SUCCESS,
    TIME_FIELDS,
    AuditEntry,
    EntryRow,
    PatientLink,
    PatientRefLookup,
    derive_entries,
    derive_rows,
    entry_from_row,
    names_of,
    patients_of,
)
from projections.audit.verify import (
    LinkRow,
    Problem,
    VerifyResult,
    verify_chain,
    verify_rows,
)

__all__ = [
    "ACCESS", "ACCESS_TYPE", "ATTEMPT_OUTCOMES", "ATTEMPT_TYPE", "BOOKKEEPING_TYPES", "CHANGE",
    "ENTRY_FIELDS", "EXPORT_TYPE", "GENESIS_HASH", "JSON_FIELDS", "KINDS", "RECORDED",
    "SUCCESS", "TIME_FIELDS", "AuditEntry", "ChainLink", "EntryRow", "PatientLink",
    "PatientRefLookup", "Problem", "VerifyResult", "canonical_bytes", "chain_hash",
    "chain_hashes", "chained_rows", "derive_entries", "derive_rows", "entry_from_row",
    "iter_chain_hashes", "names_of", "patients_of", "verify_chain", "LinkRow", "LogRow",
    "log_rows_of", "state_bytes", "verify_rows",
]  # fmt: skip
