"""The audit trail: one entry per stored record, hash-chained so tampering shows."""
