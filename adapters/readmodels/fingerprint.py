"""Which shape of a read model's tables a generation holds, so that new code never reads or
writes tables an older release built (the self-healing of ``adapters.readmodels.healing``).

A read model's fingerprint is a hash of its table definitions (the DDL its
``create_tables`` runs, for a placeholder prefix) and of its ``fold_version``, an integer a
model raises when it folds the same events into different rows without changing its
tables. A generation records the fingerprint it was built with when it starts; a generation
whose fingerprint differs from the code's (or that predates fingerprints) is *outdated*.
"""

from __future__ import annotations

import hashlib
from typing import Any

from adapters.readmodels.base import ReadModel

#: Stands in for a generation's table prefix, so the fingerprint is the same for all.
_PLACEHOLDER_PREFIX = "readmodel_gN_"


class _DdlRecorder:
    """A Transaction look-alike that keeps the statements ``create_tables`` runs."""

    dialect = "postgres"

    def __init__(self) -> None:
        self.statements: list[str] = []

    def execute(self, statement: str, params: Any = ()) -> list[tuple[Any, ...]]:
        self.statements.append(" ".join(statement.split()))
        return []


def fingerprint(model: ReadModel) -> str:
    recorder = _DdlRecorder()
    model.create_tables(recorder, _PLACEHOLDER_PREFIX)  # type: ignore[arg-type]
    fold_version = getattr(model, "fold_version", 1)
    text = "\n".join([*recorder.statements, f"fold_version={fold_version}"])
    return hashlib.sha256(text.encode()).hexdigest()[:16]
