"""The snapshot store's rules that need no database: what ties a snapshot to its code, and
that no failure of the store ever reaches a command (the stores themselves:
tests/integration/test_snapshots.py)."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Repository
from structlog.testing import capture_logs

from adapters.memory import MEMORY_ENV
from adapters.snapshots import StoredSnapshots, fingerprint_of
from application.service import PatientServices
from application.snapshots import SnapshottingRepository, may_snapshot
from domain.budget.line import BudgetLine
from domain.complaints.case import ComplaintCase
from domain.shared.envelope import Envelope, recording
from domain.visits.visit import PatientVisit

KEY = b"k" * 32


class Rows:
    """A snapshot table in a dict; ``broken`` makes every call fail as a lost database would."""

    def __init__(self) -> None:
        self.kept: dict[UUID, tuple[int, str, bytes]] = {}
        self.broken = False

    def select_snapshot(self, aggregate_id: UUID) -> tuple[int, str, bytes] | None:
        if self.broken:
            raise ConnectionError("server closed the connection")
        return self.kept.get(aggregate_id)

    def upsert_snapshot(self, aggregate_id: UUID, version: int, code: str, state: bytes) -> None:
        if self.broken:
            raise ConnectionError("server closed the connection")
        self.kept[aggregate_id] = (version, code, state)


def a_line() -> BudgetLine:
    at = datetime(2026, 4, 1, 12, tzinfo=timezone.utc)
    envelope = Envelope(actor_id="fin-1", actor_role="finance", command_id=uuid4(),
                        correlation_id="t", occurred_at=at)  # fmt: skip
    with recording(envelope):
        line = BudgetLine.create(fiscal_year=2026, cost_centre="CC-1", category="supplies",
                                 currency="GBP", at=at)  # fmt: skip
    line.collect_events()
    return line


def test_the_code_fingerprint_changes_with_any_file_of_the_domain(tmp_path: Path) -> None:
    tree = tmp_path / "domain"
    shutil.copytree(Path(__file__).parents[2] / "domain", tree,
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    before = fingerprint_of(tree)
    assert fingerprint_of(tree) == before
    (tree / "__pycache__").mkdir(exist_ok=True)
    (tree / "__pycache__" / "x.pyc").write_bytes(b"compiled")
    assert fingerprint_of(tree) == before  # compiled files are not the code
    budget = tree / "budget" / "line.py"
    budget.write_text(budget.read_text() + "\n# a change\n")
    changed = fingerprint_of(tree)
    assert changed != before
    budget.rename(tree / "budget" / "line2.py")
    assert fingerprint_of(tree) not in {before, changed}


def test_a_snapshot_comes_back_as_it_was_taken() -> None:
    rows = Rows()
    store = StoredSnapshots(rows, KEY, code="c1")
    line = a_line()
    store.put(line)
    loaded = store.latest(line.id, lte=None)
    assert loaded is not None and loaded is not line
    assert vars(loaded) == vars(line)
    assert store.latest(line.id, lte=line.version - 1) is None  # too new for that version
    assert StoredSnapshots(rows, KEY, code="c2").latest(line.id, lte=None) is None
    assert StoredSnapshots(rows, b"other" * 8, code="c1").latest(line.id, lte=None) is None


def test_a_snapshot_filed_under_another_aggregate_is_not_loaded() -> None:
    rows = Rows()
    store = StoredSnapshots(rows, KEY, code="c1")
    line = a_line()
    store.put(line)
    other = uuid4()
    rows.kept[other] = rows.kept[line.id]  # copied row: its MAC names the first line
    assert store.latest(other, lte=None) is None


def test_no_failure_of_the_store_reaches_the_caller() -> None:
    rows = Rows()
    store = StoredSnapshots(rows, KEY, code="c1")
    rows.broken = True
    line = a_line()
    with capture_logs() as logs:
        store.put(line)
        assert store.latest(line.id, lte=None) is None
    assert [e["event"] for e in logs] == ["snapshot.not_kept", "snapshot.unreadable"]
    assert all(e["aggregate_id"] == str(line.id) for e in logs)
    rows.broken = False
    rows.kept[line.id] = (1, "c1", b"\x00" * 40)  # a row cut short: not a snapshot
    with capture_logs() as logs:
        assert store.latest(line.id, lte=None) is None
    assert logs[0]["event"] == "snapshot.forged"


def test_records_with_personal_text_are_never_snapshotted() -> None:
    assert not may_snapshot(ComplaintCase)
    assert may_snapshot(BudgetLine) and may_snapshot(PatientVisit)


@pytest.mark.parametrize("every", [0, 5])
def test_snapshots_are_off_at_zero(every: int) -> None:
    services = PatientServices(
        env=dict(MEMORY_ENV), snapshots=lambda _: StoredSnapshots(Rows(), KEY), snapshot_every=every
    )
    try:
        repository = services.repository
        assert isinstance(repository, SnapshottingRepository) == (every > 0)
        assert isinstance(repository, Repository)
    finally:
        services.close()
