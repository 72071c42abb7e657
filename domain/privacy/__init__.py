"""Privacy: erasure certificates (what was erased of a data subject, when, by whom, why)."""
