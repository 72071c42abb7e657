"""The application layer: command handling (load → decide → save), the request context
that stamps events, idempotency and authorisation. Never imports adapters."""
