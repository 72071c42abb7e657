"""Everything that touches the outside world: HTTP, databases, CLI, settings, logging.

Only entry points and tests import this package (checked by import-linter)."""
