"""What every context's commands share: the command base, request context, permissions, idempotency
and attempts.
"""
