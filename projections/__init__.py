"""Read models: each a Projection plus a backend-neutral view interface and its row Structs.

Imports domain and eventsourcing.projection/persistence only (checked by import-linter)."""
