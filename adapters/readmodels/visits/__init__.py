"""The flow read model's tables and queries."""
