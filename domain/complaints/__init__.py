"""The complaints context: a complaint case from receipt to closure, within its statutory
deadlines."""
