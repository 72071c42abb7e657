"""SQLite adapters (the embedded default store): the application recorder and views."""
