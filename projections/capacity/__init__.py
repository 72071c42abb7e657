"""Read models of the capacity context."""
