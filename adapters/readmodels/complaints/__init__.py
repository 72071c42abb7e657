"""The complaints read model's tables and queries."""
