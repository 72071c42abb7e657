"""The audit trail read model's tables and queries."""
