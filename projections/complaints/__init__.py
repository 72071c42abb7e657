"""The complaints read side: worklist, SLA compliance and themes, as pure folds."""
