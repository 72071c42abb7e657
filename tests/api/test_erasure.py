"""Erasing a complainant: their narrative, findings and reasons read as erased everywhere the
API showed them, the rest of the case and the trail stay intact, and a certificate says what
was erased, when, by whom and why, without the text."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import TestClient

from adapters.privacy import key_use, sealing
from adapters.settings import Settings
from application.privacy.erasures import ErasureRecord
from application.service import PatientServices
from domain.shared.personal_data import ERASED_TEXT
from tests.support.api import Headers, iso

NARRATIVE = "Ms Erasable Person (born 1948) waited nine hours in the corridor"
WITHDRAWAL = "Ms Erasable Person's daughter asked us to stop"
OTHER = "Mr Keepable Person's complaint about parking"
COMPLAINTS = "/api/v1/complaints"
ERASURES = "/api/v1/privacy/erasures"


def _complaint(client: TestClient[Any], manager: Headers, complainant: str, summary: str) -> str:
    body = {
        "channel": "written", "receivedAt": iso(datetime.now(timezone.utc) - timedelta(days=3)),
        "complainantRef": complainant, "patientRef": "P-77", "categories": ["clinical-care"],
        "summary": summary, "policy": "us-cms",
    }  # fmt: skip
    created = client.post(COMPLAINTS, json=body, headers=manager)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _files_holding(root: Path, text: str) -> list[str]:
    needle = text.encode()
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_an_erasure_removes_the_text_everywhere_and_leaves_a_certificate(
    read_client: TestClient[Any],
    auth: Callable[..., Headers],
    settings: Settings,
    capfd: pytest.CaptureFixture[str],
) -> None:
    manager, auditor = auth("manager", sub="mo"), auth("auditor", sub="audrey")
    officer = auth("privacy_officer", sub="priya")
    case = _complaint(read_client, manager, "CMP-ERASE", NARRATIVE)
    kept = _complaint(read_client, manager, "CMP-KEEP", OTHER)
    withdrawn = read_client.post(
        f"{COMPLAINTS}/{case}/withdraw", json={"reason": WITHDRAWAL}, headers=manager
    )
    assert withdrawn.status_code == 200, withdrawn.text
    at = withdrawn.json()["position"]

    # Before: the case shows its text, and so does the trail's copy of the reason.
    assert read_client.get(f"{COMPLAINTS}/{case}", headers=manager).json()["summary"] == NARRATIVE
    trail = read_client.get(
        "/api/v1/audit/events", params={"minPosition": at, "aggregateId": case}, headers=auditor
    )
    assert [e["reason"] for e in trail.json()["items"]][-1] == WITHDRAWAL
    # The stored events never held it in plain.
    assert _files_holding(settings.var_dir, "Erasable Person") == []

    refused = read_client.post(
        ERASURES, json={"subjectRef": "CMP-ERASE", "reason": "request"}, headers=manager
    )
    assert refused.status_code == 403
    erased = read_client.post(
        ERASURES, json={"subjectRef": "CMP-ERASE", "reason": "DSAR 2026-118"}, headers=officer
    )
    assert erased.status_code == 201, erased.text
    erasure_id = erased.json()["id"]
    assert erased.headers["Location"] == f"{ERASURES}/{erasure_id}"
    certified_at = erased.json()["position"]

    shown = read_client.get(f"{COMPLAINTS}/{case}", headers=manager).json()
    assert shown["summary"] == ERASED_TEXT
    assert shown["status"] == "withdrawn"  # the rest of the record is intact
    as_of = read_client.get(f"{COMPLAINTS}/{case}", params={"asOfVersion": 1}, headers=manager)
    assert as_of.json()["summary"] == ERASED_TEXT
    other = read_client.get(f"{COMPLAINTS}/{kept}", headers=manager).json()
    assert other["summary"] == OTHER  # another complainant's text is untouched

    trail = read_client.get(
        "/api/v1/audit/events",
        params={"minPosition": certified_at, "aggregateId": case},
        headers=auditor,
    )
    assert [e["reason"] for e in trail.json()["items"]][-1] == ERASED_TEXT
    exports = [
        read_client.get("/api/v1/audit/export", params={"format": f}, headers=auditor)
        for f in ("csv", "fhir-r4-ndjson", "fhir-r5-ndjson")
    ]
    assert all(e.status_code == 200 for e in exports)
    assert ERASED_TEXT in exports[0].text
    verified = read_client.get("/api/v1/audit/verify", headers=auditor)
    assert verified.status_code == 200 and verified.json()["ok"] is True, verified.text

    certificate = read_client.get(f"{ERASURES}/{erasure_id}", headers=auditor)
    assert certificate.status_code == 200, certificate.text
    body = certificate.json()
    assert body["subjectRef"] == "CMP-ERASE" and body["basis"] == "request"
    assert body["erasedBy"] == "priya" and body["erasedByRole"] == "privacy_officer"
    assert body["reason"] == "DSAR 2026-118"
    assert body["unsealedRecords"] == []
    [record] = body["records"]
    assert record["aggregateType"] == "ComplaintCase" and record["aggregateId"] == case
    fields = {e["version"]: e["fields"] for e in record["events"]}
    assert fields[1] == ["summary"]
    assert "reason" in fields[max(fields)]
    assert "the complaint's narrative" in body["dataKinds"]
    on_trail = read_client.get(
        "/api/v1/audit/events",
        params={"minPosition": certified_at, "aggregateId": erasure_id},
        headers=auditor,
    ).json()["items"]
    assert [(e["action"], e["actorId"]) for e in on_trail] == [("SubjectErased", "priya")]

    again = read_client.post(
        ERASURES, json={"subjectRef": "CMP-ERASE", "reason": "asked twice"}, headers=officer
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == erasure_id and again.json()["erasedNow"] is False
    # Nothing left to erase, but the request is on the trail, on the certificate.
    repeated = read_client.get(f"{ERASURES}/{erasure_id}", headers=auditor).json()
    [request] = repeated["repeatedRequests"]
    assert (request["by"], request["role"], request["reason"]) == (
        "priya", "privacy_officer", "asked twice")  # fmt: skip
    on_trail = read_client.get(
        "/api/v1/audit/events",
        params={"minPosition": again.json()["position"], "aggregateId": erasure_id},
        headers=auditor,
    ).json()["items"]
    assert [e["action"] for e in on_trail] == ["SubjectErased", "ErasureRequestedAgain"]

    replies = [shown, as_of.json(), trail.text, *(e.text for e in exports), body, repeated]
    assert not any("Erasable Person" in str(reply) for reply in replies)
    assert _files_holding(settings.var_dir, "Erasable Person") == []
    logged = capfd.readouterr()
    assert "privacy.subject_erased" in logged.out + logged.err
    assert "Erasable Person" not in logged.out + logged.err


@pytest.mark.parametrize(
    "body",
    [
        {"subjectRef": "CMP-1"},
        {"reason": "no subject"},
        {"subjectRef": "CMP-1", "reason": "x", "occurredAt": "2026-01-01T00:00:00Z"},
        {"subjectRef": "CMP\x00-1", "reason": "nul"},
        {"subjectRef": "CMP-1", "reason": "x" * 501},
        {"subjectRef": "CMP-1", "reason": "bell\x07"},
    ],
)
def test_a_malformed_erasure_request_is_a_400_and_erases_nothing(
    read_client: TestClient[Any], auth: Callable[..., Headers], body: dict[str, Any]
) -> None:
    manager, officer = auth("manager"), auth("privacy_officer")
    case = _complaint(read_client, manager, "CMP-1", NARRATIVE)
    reply = read_client.post(ERASURES, json=body, headers=officer)
    assert reply.status_code == 400, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert read_client.get(f"{COMPLAINTS}/{case}", headers=manager).json()["summary"] == NARRATIVE


def test_a_subject_with_no_text_gets_a_certificate_listing_nothing(
    read_client: TestClient[Any], auth: Callable[..., Headers]
) -> None:
    officer, auditor = auth("privacy_officer"), auth("auditor")
    erased = read_client.post(
        ERASURES, json={"subjectRef": "CMP-NONE", "reason": "DSAR"}, headers=officer
    )
    assert erased.status_code == 201, erased.text
    body = read_client.get(f"{ERASURES}/{erased.json()['id']}", headers=auditor).json()
    assert body["records"] == [] and body["keyIds"] == [] and body["dataKinds"] == []
    unknown = read_client.get(f"{ERASURES}/{'0' * 8}-0000-4000-8000-{'0' * 12}", headers=auditor)
    assert unknown.status_code == 404
    assert (
        read_client.get(f"{ERASURES}/{erased.json()['id']}", headers=auth("clerk")).status_code
        == 403
    )


# ---- a read racing an erasure ----------------------------------------------------------------
def _slow_open(monkeypatch: pytest.MonkeyPatch, during: Callable[[], None], seconds: float) -> None:
    """Opening sealed text takes ``seconds``, and ``during`` runs after its key was fetched:
    a slow read with an erasure committing in the middle of it."""
    real = sealing.open_text
    calls: list[int] = []

    def slow(key: bytes, blob: bytes, context: bytes) -> str:
        if not calls:
            calls.append(1)
            during()
            time.sleep(seconds)
        return real(key, blob, context)

    monkeypatch.setattr(sealing, "open_text", slow)


@pytest.mark.parametrize("erased_meanwhile", [True, False], ids=["erased", "kept"])
def test_a_slow_read_whose_keys_are_erased_while_it_runs_does_not_answer_with_the_text(
    read_client: TestClient[Any], stored_services: PatientServices, auth: Callable[..., Headers],
    monkeypatch: pytest.MonkeyPatch, erased_meanwhile: bool,
) -> None:  # fmt: skip
    monkeypatch.setattr(key_use, "GRACE_SECONDS", 0.2)
    manager = auth("manager", sub="mo")
    case = _complaint(read_client, manager, "CMP-RACE", NARRATIVE)
    vault = stored_services.mapper.vault  # type: ignore[attr-defined]

    def erase_now() -> None:
        if erased_meanwhile:
            vault.destroy(ErasureRecord(
                erasure_id=uuid4(), subject_ref="CMP-RACE", basis="request", actor_id="priya",
                actor_role="privacy_officer", correlation_id="race", reason="DSAR",
                erased_at=datetime.now(timezone.utc),
            ))  # fmt: skip

    _slow_open(monkeypatch, erase_now, seconds=0.3)  # past the grace after the key's fetch

    reply = read_client.get(f"{COMPLAINTS}/{case}", headers=manager)

    if erased_meanwhile:  # checked again before it went out: refused, not the text
        assert reply.status_code == 503, reply.text
        assert reply.json()["code"] == "SERVICE_UNAVAILABLE"
        assert NARRATIVE not in reply.text
        again = read_client.get(f"{COMPLAINTS}/{case}", headers=manager)
        assert again.json()["summary"] == ERASED_TEXT
    else:  # checked again, still live: answered
        assert reply.status_code == 200, reply.text
        assert reply.json()["summary"] == NARRATIVE


def test_an_erasure_answers_only_after_the_grace_a_racing_read_may_take(
    read_client: TestClient[Any], auth: Callable[..., Headers], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(key_use, "GRACE_SECONDS", 0.5)
    _complaint(read_client, auth("manager", sub="mo"), "CMP-WAIT", NARRATIVE)

    started = time.monotonic()
    reply = read_client.post(ERASURES, json={"subjectRef": "CMP-WAIT", "reason": "DSAR"},
                             headers=auth("privacy_officer", sub="priya"))  # fmt: skip

    assert reply.status_code == 201, reply.text
    assert time.monotonic() - started >= 0.5


def _destroy(vault: Any, subject_ref: str) -> None:
    vault.destroy(ErasureRecord(
        erasure_id=uuid4(), subject_ref=subject_ref, basis="request", actor_id="priya",
        actor_role="privacy_officer", correlation_id="race", reason="DSAR",
        erased_at=datetime.now(timezone.utc),
    ))  # fmt: skip


def test_keys_are_known_live_from_before_their_look_up_not_after_it(
    read_client: TestClient[Any], stored_services: PatientServices, auth: Callable[..., Headers],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The look-up itself is slow and the erasure commits during it, after the row was read:
    the text opens, and only the time taken before the look-up shows that it is stale."""
    monkeypatch.setattr(key_use, "GRACE_SECONDS", 0.2)
    manager = auth("manager", sub="mo")
    case = _complaint(read_client, manager, "CMP-LOOKUP", NARRATIVE)
    vault = stored_services.mapper.vault  # type: ignore[attr-defined]
    real = vault.data_keys

    def slow_after_reading(key_ids: Any) -> Any:
        keys = real(key_ids)
        if any(key is not None for key in keys.values()):
            _destroy(vault, "CMP-LOOKUP")
            time.sleep(0.3)
        return keys

    monkeypatch.setattr(vault, "data_keys", slow_after_reading)

    reply = read_client.get(f"{COMPLAINTS}/{case}", headers=manager)

    assert reply.status_code == 503, reply.text
    assert NARRATIVE not in reply.text


def test_a_key_check_that_fails_is_a_503_problem_not_the_text(
    read_client: TestClient[Any], stored_services: PatientServices, auth: Callable[..., Headers],
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setattr(key_use, "GRACE_SECONDS", 0.1)
    manager = auth("manager", sub="mo")
    case = _complaint(read_client, manager, "CMP-DOWN", NARRATIVE)
    vault = stored_services.mapper.vault  # type: ignore[attr-defined]

    def store_gone(key_ids: Any) -> bool:
        raise OSError("the key store is unreachable")

    monkeypatch.setattr(vault, "all_live", store_gone)
    _slow_open(monkeypatch, lambda: None, seconds=0.2)

    reply = read_client.get(f"{COMPLAINTS}/{case}", headers=manager)

    assert reply.status_code == 503, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert "could not be checked" in reply.json()["detail"]
    assert NARRATIVE not in reply.text
    assert "privacy.key_check_failed" in "".join(capfd.readouterr())


def test_a_copy_cached_before_an_erasure_is_not_confirmed_by_a_304(
    read_client: TestClient[Any], stored_services: PatientServices, auth: Callable[..., Headers]
) -> None:
    manager = auth("manager", sub="mo")
    case = _complaint(read_client, manager, "CMP-CACHED", NARRATIVE)
    first = read_client.get(f"{COMPLAINTS}/{case}", headers=manager)
    assert first.json()["summary"] == NARRATIVE
    assert first.headers["cache-control"] == "no-store"
    etag = first.headers["etag"]
    unchanged = read_client.get(f"{COMPLAINTS}/{case}", headers={**manager, "If-None-Match": etag})
    assert unchanged.status_code == 304  # nothing erased yet: the copy is still right

    _destroy(stored_services.mapper.vault, "CMP-CACHED")  # type: ignore[attr-defined]
    after = read_client.get(f"{COMPLAINTS}/{case}", headers={**manager, "If-None-Match": etag})

    assert after.status_code == 200, after.text
    assert after.headers["etag"] == etag  # the record's version has not moved
    assert after.json()["summary"] == ERASED_TEXT
    assert after.headers["cache-control"] == "no-store"


def test_a_response_without_personal_text_may_be_cached(
    read_client: TestClient[Any], auth: Callable[..., Headers]
) -> None:
    reply = read_client.get("/api/v1/complaint-settings", headers=auth("admin"))
    assert reply.status_code == 200, reply.text
    assert "no-store" not in reply.headers.get("cache-control", "")
