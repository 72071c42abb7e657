"""The budget context: a budget line, its commitments, spend, transfers and approvals (encumbrance
accounting).
"""
