"""The visits read side: flow board, census, bed board and flow metrics, as pure folds."""
