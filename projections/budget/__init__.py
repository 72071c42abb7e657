"""The budget read side: budget versus actual and forecast, as pure folds."""
