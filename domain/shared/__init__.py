"""The domain's shared kernel: the audited aggregate base, the event envelope, money, working days
and the rules every context uses.
"""
