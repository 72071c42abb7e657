"""The commands of the budget context and how each runs against a BudgetLine."""
