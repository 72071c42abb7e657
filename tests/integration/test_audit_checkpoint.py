"""Signed audit checkpoints on real SQLite and PostgreSQL: the gap they close (someone who
rewrites the log, the audit chain and tracking together passes the plain verify, and not a
checkpoint), an untouched log and records appended after it pass, forged checkpoints and a
truncated log are reported; the CLI's exit codes and the HTTP route."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar.testing import TestClient

from adapters.audit_checkpoints import check_checkpoint, take_checkpoint
from adapters.audit_signing import sign, signing_key
from adapters.auth_tokens import mint_token
from adapters.cli import main
from adapters.http.app import create_app
from adapters.readmodels.audit.store import AuditReadModel, verify
from adapters.readmodels.database import ReadDatabase, open_read_database
from adapters.settings import Settings
from adapters.storage import eventsourcing_env
from application.service import PatientServices
from application.shared.context import RequestContext
from application.visits.commands import RecordTriage, RegisterWalkIn
from projections.audit.chain import GENESIS_HASH, chain_hashes
from projections.audit.checkpoint import Checkpoint, signed_bytes
from projections.shared.records import StoredRecord
from tests.support.audit import PREFIX, catch_up
from tests.support.raw_log import raw_events, sql

CLERK = RequestContext(actor_id="clerk-1", actor_role="clerk", correlation_id="c-1")
NURSE = RequestContext(actor_id="nurse-1", actor_role="nurse", correlation_id="c-2")
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)

pytestmark = pytest.mark.read_models([AuditReadModel])


def walk_ins(services: PatientServices, count: int) -> list[int]:
    positions = []
    for n in range(count):
        walk_in = RegisterWalkIn(patient_ref=f"P-{n}", visit_class="EMER", service_unit="ED")
        first = services.execute(walk_in, CLERK)
        triage = RecordTriage(acuity_scale="ESI", acuity_level=3)
        positions += [first.position, services.execute(triage, NURSE, target=first.id).position]
    return positions


def write_key(path: Path) -> Path:
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture
def signed(store_settings: Settings, tmp_path: Path) -> Settings:
    """The store's settings with a signing key file (required on PostgreSQL)."""
    return replace(store_settings, audit_signing_key_file=write_key(tmp_path / "signing.pem"))


# ---- what someone with write access to the database can do, in plain SQL --------------------
def log_records(store_settings: Settings) -> list[StoredRecord]:
    with raw_events(store_settings) as (conn, events, key):
        rows = sql(
            conn,
            f"SELECT {key}, originator_id, originator_version, topic, state FROM {events}"
            f" ORDER BY {key}",
        )
    return [
        StoredRecord(position, oid if isinstance(oid, UUID) else UUID(oid), version, topic, state)
        for position, oid, version, topic, state in rows
    ]


def rechain(store_settings: Settings, database: ReadDatabase) -> None:
    """Rewrite every chain row to match the log as it now is (as an insider would)."""
    log = log_records(store_settings)
    hashes = chain_hashes(GENESIS_HASH, log)
    with database.worker_connection() as conn, conn.transaction() as tx:
        for record, entry_hash, previous in zip(log, hashes, [GENESIS_HASH, *hashes], strict=False):
            tx.execute(
                f"UPDATE {PREFIX}entries SET hash = ?, prev_hash = ? WHERE position = ?",
                (entry_hash, previous, record.position),
            )


def alter_triage(store_settings: Settings, position: int) -> None:
    with raw_events(store_settings) as (conn, events, key):
        [(state,)] = sql(conn, f"SELECT state FROM {events} WHERE {key} = ?", (position,))
        forged = bytes(state).replace(b'"acuity_level":3', b'"acuity_level":1')
        assert forged != bytes(state)
        sql(conn, f"UPDATE {events} SET state = ? WHERE {key} = ?", (forged, position))


def cut_newest(store_settings: Settings, database: ReadDatabase, after: int) -> None:
    """Delete the log's records after ``after``, their chain rows, and move tracking back."""
    with raw_events(store_settings) as (conn, events, key):
        sql(conn, f"DELETE FROM {events} WHERE {key} > ?", (after,))
    with database.worker_connection() as conn, conn.transaction() as tx:
        tx.execute(f"DELETE FROM {PREFIX}entries WHERE position > ?", (after,))
        tx.execute("UPDATE read_model_tracking SET position = ? WHERE name = 'audit'", (after,))


def checkpoint(settings: Settings, database: ReadDatabase) -> Checkpoint:
    return take_checkpoint(database, signing_key(settings), NOW)


def check(settings: Settings, database: ReadDatabase, taken: Checkpoint) -> Any:
    return check_checkpoint(database, taken, signing_key(settings).public_key())


# ---- the log against a checkpoint ------------------------------------------------------------
def test_an_untouched_log_passes_and_the_checkpoint_holds_the_trails_own_head(
    signed: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    positions = walk_ins(services, 3)
    catch_up(database)

    taken = checkpoint(signed, database)
    result = check(signed, database, taken)

    assert (taken.position, taken.head_hash) == (positions[-1], verify(database).head_hash)
    assert (result.ok, result.problem, result.checked) == (True, None, 6)


def test_records_appended_after_the_checkpoint_still_pass(
    signed: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    walk_ins(services, 2)
    taken = checkpoint(signed, database)
    later = walk_ins(services, 2)

    result = check(signed, database, taken)

    assert (result.ok, result.checked, result.log_position) == (True, 4, later[-1])


def test_a_rewrite_of_log_and_chain_together_passes_plain_verify_but_not_the_checkpoint(
    signed: Settings, store_settings: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    positions = walk_ins(services, 3)
    catch_up(database)
    taken = checkpoint(signed, database)
    walk_ins(services, 1)
    catch_up(database)

    alter_triage(store_settings, positions[1])
    assert not verify(database).ok  # the log alone: caught by the chain
    rechain(store_settings, database)
    plain = verify(database)
    result = check(signed, database, taken)

    assert (plain.ok, plain.checked) == (True, 8)  # the gap: the chain agrees with the log
    assert (result.ok, result.problem, result.checkpoint_position) == (
        False, "rewritten", positions[-1],
    )  # fmt: skip
    assert f"the log up to position {positions[-1]} was rewritten" in result.detail


def test_the_newest_records_removed_with_their_chain_rows_and_tracking_are_reported(
    signed: Settings, store_settings: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    positions = walk_ins(services, 3)
    catch_up(database)
    taken = checkpoint(signed, database)

    cut_newest(store_settings, database, after=positions[3])
    plain = verify(database)
    truncated = check(signed, database, taken)
    walk_ins(services, 2)  # new records past the checkpoint: its own is still missing
    refilled = check(signed, database, taken)

    assert (plain.ok, plain.head_position) == (True, positions[3])
    assert (truncated.ok, truncated.problem, truncated.log_position) == (
        False, "truncated", positions[3],
    )  # fmt: skip
    assert (refilled.ok, refilled.problem) == (False, "rewritten")


def test_a_forged_checkpoint_is_refused_without_reading_the_log(
    signed: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    walk_ins(services, 2)
    taken = checkpoint(signed, database)
    moved = msgspec.structs.replace(taken, head_hash="0" * 64)
    stranger = Ed25519PrivateKey.generate()
    other = take_checkpoint(database, stranger, NOW)  # a genuine head, another key
    resigned = msgspec.structs.replace(moved, signature=sign(stranger, signed_bytes(moved)))

    results = [check(signed, database, forged) for forged in (moved, other, resigned)]

    assert [(r.ok, r.problem, r.checked) for r in results] == [(False, "signature", 0)] * 3
    assert "not genuine" in results[0].detail
    assert f"names key {other.key_id}" in results[1].detail


# ---- the command line -----------------------------------------------------------------------
@pytest.fixture
def cli_env(signed: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr("adapters.logging.configure_logging", lambda settings: None)
    var_dir = signed.var_dir if signed.postgres is None else tmp_path / "var"
    env = {
        "VAR_DIR": str(var_dir), "JWT_SECRET": signed.jwt_secret,
        "DATABASE_URL": signed.database_url or "",
        "AUDIT_SIGNING_KEY_FILE": str(signed.audit_signing_key_file),
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_audit_verify_with_a_checkpoint_exits_0_unchanged_1_rewritten_5_forged_3_unreadable(
    cli_env: dict[str, str],
    store_settings: Settings,
    services: PatientServices,
    database: ReadDatabase,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    positions = walk_ins(services, 2)
    taken, public, forged = tmp_path / "cp.json", tmp_path / "public.pem", tmp_path / "f.json"
    assert main(["audit", "checkpoint", "--output", str(taken)]) == 0
    assert main(["audit", "public-key", "--output", str(public)]) == 0
    assert main(["audit", "checkpoint", "--output", str(taken)]) == 1  # never overwritten
    capsys.readouterr()
    verify_args = ["audit", "verify", "--checkpoint", str(taken), "--public-key", str(public)]

    assert main(verify_args) == 0
    intact = capsys.readouterr()
    fields = msgspec.json.decode(taken.read_bytes())
    forged.write_bytes(msgspec.json.encode({**fields, "position": positions[0]}))
    assert main(["audit", "verify", "--checkpoint", str(forged)]) == 5
    not_genuine = capsys.readouterr().out
    forged.write_text("{not json")
    assert main(["audit", "verify", "--checkpoint", str(forged)]) == 3
    unreadable = capsys.readouterr().err
    alter_triage(store_settings, positions[1])
    assert main(verify_args) == 1
    rewritten = capsys.readouterr()

    assert f'"ok":true,"checked":4,"checkpointPosition":{positions[-1]}' in intact.out
    assert "is unchanged" in intact.err
    assert '"problem":"signature"' in not_genuine
    assert "is not a checkpoint" in unreadable
    assert '"problem":"rewritten"' in rewritten.out
    assert f"the log up to position {positions[-1]} was rewritten" in rewritten.err


def test_on_postgresql_a_checkpoint_needs_the_key_setting_and_a_public_key_suffices_to_check(
    postgres_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("adapters.logging.configure_logging", lambda settings: None)
    services = PatientServices(env=eventsourcing_env(postgres_settings))
    walk_ins(services, 1)
    services.close()
    for name, value in {
        "VAR_DIR": str(tmp_path / "var"), "JWT_SECRET": postgres_settings.jwt_secret,
        "DATABASE_URL": postgres_settings.database_url or "",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AUDIT_SIGNING_KEY_FILE", raising=False)
    assert main(["audit", "checkpoint"]) == 2
    refused = capsys.readouterr().err
    key = write_key(tmp_path / "k.pem")
    monkeypatch.setenv("AUDIT_SIGNING_KEY_FILE", str(key))
    assert main(["audit", "checkpoint", "--output", str(tmp_path / "cp.json")]) == 0
    assert main(["audit", "public-key", "--output", str(tmp_path / "public.pem")]) == 0
    monkeypatch.delenv("AUDIT_SIGNING_KEY_FILE")
    capsys.readouterr()

    without_key = main(["audit", "verify", "--checkpoint", str(tmp_path / "cp.json")])
    unverified = capsys.readouterr().err
    with_public_key = main(
        ["audit", "verify", "--checkpoint", str(tmp_path / "cp.json"),
         "--public-key", str(tmp_path / "public.pem")]
    )  # fmt: skip

    assert "AUDIT_SIGNING_KEY_FILE: must be set" in refused
    assert (without_key, with_public_key) == (3, 0)
    assert "AUDIT_SIGNING_KEY_FILE" in unverified
    assert not (tmp_path / "var").exists()  # no key generated on PostgreSQL


# ---- HTTP -------------------------------------------------------------------------------------
def test_posting_a_checkpoint_to_verify_reports_what_the_cli_reports(
    signed: Settings, store_settings: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    positions = walk_ins(services, 2)
    catch_up(database)
    taken = msgspec.json.encode(checkpoint(signed, database))
    auditor = {"Authorization": f"Bearer {mint_token(signed, 'audrey', ['auditor'])}"}

    with TestClient(create_app(signed, services, database)) as client:
        intact = client.post("/api/v1/audit/verify", content=taken, headers=auditor)
        alter_triage(store_settings, positions[1])
        rechain(store_settings, database)
        plain = client.get("/api/v1/audit/verify", headers=auditor)
        rewritten = client.post("/api/v1/audit/verify", content=taken, headers=auditor)

    assert (intact.status_code, intact.json()["ok"], intact.json()["checked"]) == (200, True, 4)
    assert plain.json()["ok"] is True
    assert rewritten.status_code == 200
    assert {k: rewritten.json()[k] for k in ("ok", "checkpointPosition", "problem")} == {
        "ok": False, "checkpointPosition": positions[-1], "problem": "rewritten",
    }  # fmt: skip


def test_on_postgresql_without_the_key_setting_a_posted_checkpoint_is_a_503_naming_it(
    postgres_settings: Settings, tmp_path: Path
) -> None:
    services = PatientServices(env=eventsourcing_env(postgres_settings))
    database = open_read_database(postgres_settings)
    try:
        walk_ins(services, 1)
        keyed = replace(postgres_settings, audit_signing_key_file=write_key(tmp_path / "k.pem"))
        taken = msgspec.json.encode(checkpoint(keyed, database))
        auditor = {"Authorization": f"Bearer {mint_token(postgres_settings, 'a', ['auditor'])}"}
        with TestClient(create_app(postgres_settings, services, database)) as client:
            reply = client.post("/api/v1/audit/verify", content=taken, headers=auditor)
    finally:
        database.close()
        services.close()

    assert (reply.status_code, reply.json()["code"]) == (503, "SERVICE_UNAVAILABLE")
    assert "AUDIT_SIGNING_KEY_FILE: must be set" in reply.json()["detail"]
