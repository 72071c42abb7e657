"""The capacity context: the facility's units and beds, clinic schedules and their slots, and
each patient's bookings, configured and claimed as events (FHIR Location, Schedule, Slot)."""
