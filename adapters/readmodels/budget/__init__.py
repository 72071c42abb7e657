"""The budget read model's tables and queries."""
