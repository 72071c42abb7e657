"""``patient-services hl7 import FILE…`` on SQLite and PostgreSQL: FHS/BHS batches and plain
runs of messages, idempotent on a second run, and a summary (with a non-zero exit) naming
the messages not accepted by control id and code, never by their contents."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapters.cli import main
from adapters.cli.help import EXIT_NOT_ACCEPTED, EXIT_OK, EXIT_USAGE
from adapters.settings import Settings
from application.service import PatientServices
from tests.support.hl7 import adt, last_position, sample, settings_env, visit_of

REF_SECRET = "import-test-ref-secret-" + "x" * 40


@pytest.fixture(autouse=True)
def environ(store_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("adapters.logging.configure_logging", lambda settings: None)
    for name in ("DATABASE_URL", "JWT_SECRET", "MLLP_PORT", "HL7_ALLOWED_SENDERS"):
        monkeypatch.delenv(name, raising=False)
    env = {**settings_env(store_settings), "PATIENT_REF_SECRET": REF_SECRET}
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _batch(tmp_path: Path) -> Path:
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    messages = [
        adt("A01", "B-1", visit="B-1", at=start, unit="W1", patient_class="I"),
        adt("A02", "B-2", visit="B-1", at=start + timedelta(minutes=5), unit="W2"),
        adt("A04", "B-3", visit="B-2", at=start),
    ]
    lines = [
        "FHS|^~\\&|EPIC|UCLH|||20261201000000||||batch-1",
        "BHS|^~\\&|EPIC|UCLH|||20261201000000",
        *(m.decode().replace("\r", "\n") for m in messages),  # LF-separated, as files often are
        "BTS|3",
        "FTS|1",
    ]
    path = tmp_path / "batch.hl7"
    path.write_text("\n".join(lines) + "\n")
    return path


def _plain_run(tmp_path: Path) -> Path:
    # No batch envelope; the second asks for no ACKs at all (the import reads it anyway).
    path = tmp_path / "run.hl7"
    path.write_bytes(
        adt("A04", "R-1", visit="R-1")
        + b"\r"
        + adt("A04", "R-2", visit="R-2", ack_modes=("NE", "NE"))
    )
    return path


def test_batches_are_imported_and_a_second_run_records_nothing(
    tmp_path: Path, services: PatientServices, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(_batch(tmp_path)), str(_plain_run(tmp_path))]

    assert main(["hl7", "import", *files]) == EXIT_OK
    first = capsys.readouterr()
    recorded = last_position(services)
    assert main(["hl7", "import", *files]) == EXIT_OK
    second = capsys.readouterr()

    summary = "hl7 import: 5 message(s) in 2 file(s): 5 AA, 0 AE, 0 AR"
    assert summary in first.out and summary in second.out
    assert "hl7 import: 5/5 messages" in first.err  # the progress, as plain lines off a tty
    assert services.get_visit(visit_of("B-1")).status == "admitted"
    assert services.get_visit(visit_of("B-1")).current_location["unit"] == "W2"
    assert {services.get_visit(visit_of(v)).status for v in ("B-2", "R-1", "R-2")} == {"arrived"}
    assert recorded > 0 and last_position(services) == recorded


def test_a_file_with_bad_messages_exits_non_zero_with_a_summary_of_codes_only(
    tmp_path: Path, services: PatientServices, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mixed.hl7"
    path.write_bytes(
        b"PID|||LOOSE-LINE^^^X^MR||STRAYNAME^JO\r"  # belongs to no message
        + sample("oru_r01_v24_ghh_lab.hl7")  # a lab result: not a message we take
        + b"\r"
        + adt("A04", "GOOD-1", visit="G-1")
    )
    real_batch = Path(__file__).parent.parent / "fixtures" / "hl7" / "batch_adt_a04_v25_fhs_bhs.hl7"

    code = main(["hl7", "import", str(path), str(real_batch)])
    out = capsys.readouterr()

    assert code == EXIT_NOT_ACCEPTED
    assert "4 message(s) in 2 file(s): 1 AA, 1 AE, 2 AR" in out.out
    assert f"{path} message 1 (MSH-10 (none)): AR UNPARSEABLE_MESSAGE (HL7 100)" in out.out
    assert f"{path} message 2 (MSH-10 CNTRL-3456): AR UNSUPPORTED_MESSAGE_TYPE (HL7 200)" in out.out
    assert (
        f"{real_batch} message 1 (MSH-10 12334456778890): AE REQUIRED_FIELD_MISSING (HL7 101)"
        in out.out
    )
    assert services.get_visit(visit_of("G-1")).status == "arrived"
    for value in ("STRAYNAME", "LOOSE-LINE", "EVERYWOMAN", "FERNWOOD", "XXXXXXXXXX", "GLUCOSE"):
        assert value not in out.out + out.err


def test_a_file_that_cannot_be_read_stops_before_anything_is_imported(
    tmp_path: Path, services: PatientServices, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _plain_run(tmp_path)

    assert main(["hl7", "import", str(good), str(tmp_path / "missing.hl7")]) == EXIT_USAGE
    assert "cannot read" in capsys.readouterr().err
    assert last_position(services) == 0
