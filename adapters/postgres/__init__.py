"""PostgreSQL adapters: the application recorder and (later) read-model views."""
