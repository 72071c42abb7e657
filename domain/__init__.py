"""The domain model: aggregates, their events and rules. Imports only the standard
library and ``eventsourcing.domain``."""
