"""HL7 v2 interchange: MLLP framing, tolerant ER7 parsing and ACKs (pure, no I/O)."""
