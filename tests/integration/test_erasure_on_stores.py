"""Crypto-shredding on both stores: the text is stored sealed, an erasure destroys the key
(the plaintext is then nowhere in the store), a read racing the erasure never returns the
text once the erasure has answered, the retention policy erases exactly once, and text stored
in plain before sealing began still reads and is listed as unsealed."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from litestar.testing import TestClient

from adapters.auth_tokens import mint_token
from adapters.composition import open_services
from adapters.privacy.erasing import erasures_for, retention_job
from adapters.privacy.sealing import KeyRing
from adapters.privacy.vault import KEYS_FILE, open_vault
from adapters.readmodels.postgres_backend import pg_conninfo
from adapters.settings import Settings
from adapters.storage import eventsourcing_env
from application.complaints import commands as cc
from application.privacy.erasures import Erasures
from application.service import PatientServices
from application.shared.context import RequestContext
from domain.complaints.case import ComplaintCase
from domain.privacy.erasure import DataErasure
from domain.shared.personal_data import ERASED_TEXT
from tests.integration.test_complaint_read_model import answered_case, register, run

SECRET = "Mx Shreddable Person, NHS 943 476 5919"
OFFICER = RequestContext(actor_id="priya", actor_role="privacy_officer", correlation_id="t")


@pytest.fixture
def sealed(store_settings: Settings) -> Iterator[PatientServices]:
    services = open_services(store_settings)
    yield services
    services.close()


def _erasures(services: PatientServices) -> Erasures:
    erasures = erasures_for(services)
    assert erasures is not None
    return erasures


def _stored_bytes(settings: Settings) -> list[bytes]:
    """Everything the store holds: every file under VAR_DIR (SQLite), or every row of every
    table of the store's schema (PostgreSQL)."""
    if settings.postgres is None:
        return [p.read_bytes() for p in Path(settings.var_dir).rglob("*") if p.is_file()]
    schema = settings.postgres.schema or "public"
    found: list[bytes] = []
    with psycopg.connect(**pg_conninfo(settings.postgres)) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
        for (table,) in tables:
            rows = conn.execute(f'SELECT t::text FROM "{schema}"."{table}" t').fetchall()
            found.extend(row[0].encode() for row in rows)
    return found


def _holds(settings: Settings, text: str) -> bool:
    needle = text.encode()
    return any(needle in chunk for chunk in _stored_bytes(settings))


def test_text_is_sealed_and_gone_from_the_store_after_erasure(
    sealed: PatientServices, store_settings: Settings
) -> None:
    case = register(sealed, datetime.now(timezone.utc) - timedelta(days=2), summary=SECRET)
    assert sealed.get_aggregate(case, ComplaintCase).summary == SECRET
    assert not _holds(store_settings, "Shreddable")  # never stored in plain

    outcome = _erasures(sealed).erase("cmp-1", "DSAR 7", OFFICER, basis="request")

    assert outcome.created
    erased = sealed.get_aggregate(case, ComplaintCase)
    assert erased.summary == ERASED_TEXT and erased.complainant_ref == "cmp-1"
    assert sealed.get_aggregate(case, ComplaintCase, version=1).summary == ERASED_TEXT
    certificate = sealed.get_aggregate(outcome.erasure_id, DataErasure)
    assert certificate.records[0]["aggregate_id"] == str(case)
    assert certificate.basis == "request" and certificate.erased_by == "priya"
    # The key is gone: no wrapped key is left for the subject.
    vault = sealed.mapper.vault  # type: ignore[attr-defined]
    with vault.transaction() as tx:
        rows = tx.execute(
            "SELECT wrapped_key FROM privacy_data_keys WHERE subject_ref = ?", ("cmp-1",)
        )
    assert rows and all(row[0] is None for row in rows)
    # Repeating erases nothing; the request is recorded on the certificate.
    again = _erasures(sealed).erase("cmp-1", "DSAR 7 again", OFFICER, basis="request")
    assert (again.erasure_id, again.created) == (outcome.erasure_id, False)
    certificate = sealed.get_aggregate(outcome.erasure_id, DataErasure)
    assert [(r["by"], r["reason"]) for r in certificate.repeats] == [
        (OFFICER.actor_id, "DSAR 7 again")]  # fmt: skip
    # The retention job asking again records nothing (exactly once per subject).
    retention = _erasures(sealed).erase("cmp-1", "retention", OFFICER, basis="retention")
    assert retention.position is None
    assert len(sealed.get_aggregate(outcome.erasure_id, DataErasure).repeats) == 1


def test_a_read_racing_an_erasure_never_shows_the_text_after_it_answered(
    sealed: PatientServices,
) -> None:
    case = register(sealed, datetime.now(timezone.utc) - timedelta(days=2), summary=SECRET)
    reads: list[tuple[float, str]] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            started = time.monotonic()
            reads.append((started, sealed.get_aggregate(case, ComplaintCase).summary))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        time.sleep(0.05)
        _erasures(sealed).erase("cmp-1", "DSAR", OFFICER, basis="request")
        answered = time.monotonic()
        time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
    before = [text for started, text in reads if started < answered]
    after = [text for started, text in reads if started > answered]
    assert SECRET in before and after  # the reads did race the erasure
    assert set(after) == {ERASED_TEXT}


def test_the_retention_policy_erases_each_subject_once(sealed: PatientServices) -> None:
    received = datetime.now(timezone.utc) - timedelta(days=30)
    closed = answered_case(sealed, received)
    still_open = register(sealed, received, complainant_ref="cmp-2", summary=SECRET)
    other_closed = _closed_for(sealed, received, "cmp-2")  # withdrawn
    later = datetime.now(timezone.utc) + timedelta(days=365 * 8)
    sealed.clock = lambda: later  # type: ignore[method-assign]
    cases = [closed, other_closed]
    job = retention_job(sealed, lambda after, up_to: cases if after is None else [], 7)
    assert job is not None

    assert job.check() == 1  # cmp-1; cmp-2 still has an open case
    assert job.check() == 0
    case = sealed.get_aggregate(closed, ComplaintCase)
    assert case.summary == ERASED_TEXT and case.resolution == ERASED_TEXT
    assert sealed.get_aggregate(still_open, ComplaintCase).summary == SECRET
    [erasure] = _erasures(sealed).keys.erasures_of("cmp-1")
    certificate = sealed.get_aggregate(erasure.erasure_id, DataErasure)
    assert (certificate.basis, certificate.erased_by) == ("retention", "system:retention")
    assert _erasures(sealed).keys.erasures_of("cmp-2") == []


def test_a_final_response_checklist_and_an_external_outcome_are_sealed_and_erased(
    sealed: PatientServices, store_settings: Settings
) -> None:
    """The final response's answers and the ombudsman's findings about the complainant are
    their personal data too."""
    checklist = cc.ResponseChecklist(
        how_considered=f"we spoke to {SECRET}", conclusions="partly upheld",
        remedial_action="training", confirmation=True, ombudsman_rights=True,
        signed_by="chief executive",
    )  # fmt: skip
    case = answered_case(sealed, datetime.now(timezone.utc) - timedelta(days=30), checklist)
    answers = sealed.get_aggregate(case, ComplaintCase).final_response["checklist"]
    assert answers["howConsidered"] == f"we spoke to {SECRET}"
    assert answers["confirmation"] is True
    outcome = f"PHSO upheld it: {SECRET} was left unattended"
    run(sealed, cc.ReferExternally(body="PHSO", reference="PHSO-118"), case)
    run(sealed, cc.RecordExternalOutcome(outcome=outcome, body="PHSO"), case)
    assert sealed.get_aggregate(case, ComplaintCase).referrals[0]["outcome"] == outcome
    assert not _holds(store_settings, "Shreddable")

    _erasures(sealed).erase("cmp-1", "DSAR 9", OFFICER, basis="request")

    erased = sealed.get_aggregate(case, ComplaintCase)
    assert erased.referrals[0]["outcome"] == ERASED_TEXT
    answers = erased.final_response["checklist"]
    assert answers["howConsidered"] == answers["conclusions"] == ERASED_TEXT
    assert answers["confirmation"] is True  # not text: kept as it was
    assert not _holds(store_settings, "Shreddable")


def _closed_for(services: PatientServices, received: datetime, complainant: str) -> UUID:
    case = register(services, received, complainant_ref=complainant)
    services.execute(
        cc.WithdrawComplaint(reason="settled"),
        RequestContext(actor_id="m", actor_role="manager", correlation_id="t"),
        target=case,
    )
    return case


def test_text_stored_before_sealing_began_still_reads_and_is_listed_unsealed(
    store_settings: Settings,
) -> None:
    plain = PatientServices(env=eventsourcing_env(store_settings))
    try:
        old = register(plain, datetime.now(timezone.utc) - timedelta(days=3), summary=SECRET)
    finally:
        plain.close()
    services = open_services(store_settings)
    try:
        assert services.get_aggregate(old, ComplaintCase).summary == SECRET
        new = register(services, datetime.now(timezone.utc) - timedelta(days=1), summary="new")
        outcome = _erasures(services).erase("cmp-1", "DSAR", OFFICER, basis="request")
        certificate = services.get_aggregate(outcome.erasure_id, DataErasure)
        assert [r["aggregate_id"] for r in certificate.records] == [str(new)]
        assert [r["aggregate_id"] for r in certificate.unsealed_records] == [str(old)]
        assert certificate.unsealed_records[0]["events"][0]["fields"] == ["summary"]
        assert services.get_aggregate(new, ComplaintCase).summary == ERASED_TEXT
        # Plain text cannot be erased by destroying a key; it still reads (the README says so).
        assert services.get_aggregate(old, ComplaintCase).summary == SECRET
    finally:
        services.close()


def test_a_rotated_kek_rewraps_the_live_keys(settings: Settings) -> None:
    first, second = b"\x01" * 32, b"\x02" * 32
    vault = open_vault(KeyRing(first, ()), None, settings.var_dir)
    try:
        key_id, key = vault.sealing_key("cmp-9", UUID(int=9))
    finally:
        vault.close()
    rotated = open_vault(KeyRing(second, (first,)), None, settings.var_dir)
    try:
        assert rotated.rewrap() == 1
        assert rotated.data_keys([key_id]) == {key_id: key}
    finally:
        rotated.close()
    alone = open_vault(KeyRing(second, ()), None, settings.var_dir)
    try:
        assert alone.data_keys([key_id]) == {key_id: key}  # the old KEK is no longer needed
    finally:
        alone.close()
    with sqlite3.connect(settings.var_dir / KEYS_FILE) as conn:
        [(kek_id,)] = conn.execute("SELECT kek_id FROM privacy_data_keys").fetchall()
    assert kek_id == KeyRing(second, ()).current_id


def test_the_cli_rotates_the_kek(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import base64

    from adapters.cli import main

    old, new = b"\x03" * 32, b"\x04" * 32
    var_dir = tmp_path / "var"
    vault = open_vault(KeyRing(old, ()), None, var_dir)
    try:
        key_id, key = vault.sealing_key("cmp-3", UUID(int=3))
    finally:
        vault.close()
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("VAR_DIR", str(var_dir))
    monkeypatch.setenv("PRIVACY_KEK", base64.urlsafe_b64encode(new).decode())

    # Without the old KEK the key cannot be unwrapped: a clear failure, nothing changed.
    monkeypatch.delenv("PRIVACY_PREVIOUS_KEKS", raising=False)
    assert main(["privacy", "rotate-kek"]) == 1
    assert "PRIVACY_PREVIOUS_KEKS" in capsys.readouterr().err
    monkeypatch.setenv("PRIVACY_PREVIOUS_KEKS", base64.urlsafe_b64encode(old).decode())
    assert main(["privacy", "rotate-kek"]) == 0
    assert "rewrapped 1 data key" in capsys.readouterr().err

    alone = open_vault(KeyRing(new, ()), None, var_dir)
    try:
        assert alone.data_keys([key_id]) == {key_id: key}
    finally:
        alone.close()


def test_over_http_with_read_models_and_hostile_text_nothing_is_left_in_the_store(
    served_client: TestClient[Any], store_settings: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    """The app as `serve` builds it, its workers copying the trail into the read models:
    text with control characters and NUL-adjacent bytes reads back, then erases to nothing."""
    roles = ["manager", "auditor", "privacy_officer"]
    headers = {"Authorization": f"Bearer {mint_token(store_settings, 'pat', roles)}"}
    hostile = "Hostile Person \u2028 «ünïcode» " + "x" * 19_900
    body = {
        "channel": "written", "receivedAt": (datetime.now(timezone.utc) - timedelta(days=1))
        .isoformat(), "complainantRef": "CMP-H", "categories": ["clinical-care"],
        "summary": hostile, "policy": "us-cms",
    }  # fmt: skip
    created = served_client.post("/api/v1/complaints", json=body, headers=headers)
    assert created.status_code == 201, created.text
    case = created.json()["id"]
    withdrawn = served_client.post(
        f"/api/v1/complaints/{case}/withdraw", json={"reason": "Hostile Person\ttabbed"},
        headers=headers,
    )  # fmt: skip
    assert withdrawn.status_code == 200, withdrawn.text
    shown = served_client.get(f"/api/v1/complaints/{case}", headers=headers).json()
    assert shown["summary"] == hostile

    erased = served_client.post(
        "/api/v1/privacy/erasures", json={"subjectRef": "CMP-H", "reason": "DSAR"},
        headers=headers,
    )  # fmt: skip
    assert erased.status_code == 201, erased.text
    trail = served_client.get(
        "/api/v1/audit/events",
        params={"minPosition": erased.json()["position"], "aggregateId": case},
        headers=headers,
    )
    assert trail.status_code == 200 and trail.json()["items"][-1]["reason"] == ERASED_TEXT
    assert (
        served_client.get(f"/api/v1/complaints/{case}", headers=headers).json()["summary"]
        == ERASED_TEXT
    )
    assert not _holds(store_settings, "Hostile Person")
    logged = capfd.readouterr()
    assert "Hostile Person" not in logged.out + logged.err


def test_keys_are_looked_up_in_bounded_lists_however_many_a_read_opens(
    sealed: PatientServices,
) -> None:
    """More keys than one ``IN`` list takes (an export across many complainants): every one
    is found, and a response's re-check sees the one destroyed among them."""
    vault: Any = sealed.mapper.vault  # type: ignore[attr-defined]
    key_ids = [vault.sealing_key(f"cmp-{n}", UUID(int=n))[0] for n in range(1, 1202)]

    assert len(vault.data_keys(key_ids)) == len(key_ids)
    assert vault.all_live(key_ids) is True

    _erasures(sealed).erase("cmp-1100", "DSAR", OFFICER, basis="request")

    keys = vault.data_keys(key_ids)
    assert [k for k, key in keys.items() if key is None] == [key_ids[1099]]
    assert vault.all_live(key_ids) is False
    assert vault.all_live(key_ids[:1099] + key_ids[1100:]) is True
