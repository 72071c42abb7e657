"""The auditor's queries on real PostgreSQL and SQLite: accesses in the trail beside the
changes, the filters by kind, purpose of use, source system and patient (an access naming
several patients is found under each), newest-first pages, one entry by its position with its
chain hashes, and the accounting of disclosures as JSON and CSV. Hostile text in an access
never stops the audit worker."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import TestClient

from adapters.auth_tokens import mint_token
from adapters.composition import access_recorder
from adapters.http.app import create_app
from adapters.readmodels import tracking as tr
from adapters.readmodels.audit.store import AuditReadModel, verify
from adapters.readmodels.database import ReadDatabase
from adapters.settings import Settings
from application.service import PatientServices
from application.shared.access import Access, AccessRecord
from application.shared.attempts import Attempt
from application.shared.context import RequestContext
from application.visits.commands import RegisterWalkIn
from domain.shared.envelope import Envelope, recording
from tests.support.audit import PREFIX, catch_up, trail

UTC = timezone.utc
AUDIT = "/api/v1/audit"
CLERK = RequestContext(actor_id="clerk-1", actor_role="clerk", correlation_id="c-1")
FEED = RequestContext(
    actor_id="feed", actor_role="integration", correlation_id="c-2", source_system="LAB",
    source_message_id="m-1",
)  # fmt: skip
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.read_models([AuditReadModel])


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def record_access(
    services: PatientServices,
    *refs: str,
    actor: str = "nurse-1",
    purpose: str = "TREAT",
    at: datetime = T0,
    query: dict[str, str] | None = None,
    on_behalf_of: str | None = None,
) -> int:
    """A read of ``refs`` recorded as the access recording would: its position."""
    access = Access(
        action="read visits", route="/api/v1/visits", query=query or {"status": "arrived"},
        purpose_of_use=purpose, patient_refs=refs, record_ids=tuple(f"v-{r}" for r in refs),
        result_count=len(refs),
    )  # fmt: skip
    envelope = Envelope(
        actor_id=actor, actor_role="nurse,clinician", command_id=uuid4(), correlation_id="r-1",
        occurred_at=at, on_behalf_of=on_behalf_of,
    )  # fmt: skip
    with recording(envelope):
        return services.save(AccessRecord.accessed(access))[-1].notification.id


def export(services: PatientServices, patient_ref: str | None = None, **filters: str) -> int:
    return services.record_export(
        format="csv", patient_ref=patient_ref, filters=filters, actor_id="audrey",
        actor_role="auditor", correlation_id="x-1", purpose_of_use="TREAT",
    )  # fmt: skip


def walk_in(services: PatientServices, patient_ref: str, context: RequestContext = CLERK) -> Any:
    command = RegisterWalkIn(patient_ref=patient_ref, visit_class="EMER", service_unit="ED")
    return services.execute(command, context)


@pytest.fixture
def client(
    store_settings: Settings, services: PatientServices, database: ReadDatabase
) -> Iterator[TestClient[Any]]:
    # No workers: each test catches the trail up itself, so what it reads is exact.
    with TestClient(create_app(store_settings, services, database)) as test_client:
        yield test_client


@pytest.fixture
def get(
    client: TestClient[Any], store_settings: Settings, database: ReadDatabase
) -> Callable[..., Any]:
    """``get(path, role=..., **params)``: the reply, once the trail has read the whole log."""

    def run(path: str, role: str = "auditor", headers: dict[str, str] | None = None,
            **params: Any) -> Any:  # fmt: skip
        catch_up(database, batch_size=50)
        token = mint_token(store_settings, "audrey", (role,))
        headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        return client.get(f"{AUDIT}{path}", params=params, headers=headers)

    return run


def pages(get: Callable[..., Any], path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        reply = get(path, **params, **({"cursor": cursor} if cursor else {}))
        assert reply.status_code == 200, reply.text
        items += reply.json()["items"]
        cursor = reply.json()["nextCursor"]
        if cursor is None:
            return items


# ---- accesses in the trail and the new filters --------------------------------------------
def test_accesses_sit_beside_changes_and_each_filter_narrows_them(
    services: PatientServices, get: Callable[..., Any]
) -> None:
    walk_in(services, "P-1")
    walk_in(services, "P-2", FEED)
    record_access(services, "P-1", "P-2", purpose="TREAT")
    record_access(services, "P-2", actor="billing-1", purpose="HPAYMT")
    export(services, "P-1")

    def listed(**params: Any) -> list[tuple[str, str]]:
        return [(e["kind"], e["action"]) for e in pages(get, "/events", limit=2, **params)]

    assert listed() == [("change", "WalkInRegistered"), ("change", "WalkInRegistered"),
                        ("access", "read visits"), ("access", "read visits"),
                        ("access", "Exported")]  # fmt: skip
    assert listed(kind="change") == [("change", "WalkInRegistered")] * 2
    assert listed(kind="access") == [("access", "read visits")] * 2 + [("access", "Exported")]
    assert listed(purposeOfUse="hpaymt") == [("access", "read visits")]
    assert listed(sourceSystem="LAB") == [("change", "WalkInRegistered")]
    # An access naming two patients is found under each; changes and exports by their own.
    walked, read, exported = ("change", "WalkInRegistered"), ("access", "read visits"), (
        "access", "Exported",
    )  # fmt: skip
    assert listed(patientRef="P-1") == [walked, read, exported]
    assert listed(patientRef="P-2") == [walked, read, read]
    # Combined with the filters that were there before.
    assert listed(patientRef="P-2", kind="access", actor="billing-1") == [("access", "read visits")]
    assert listed(patientRef="P-2", outcome="success", purposeOfUse="TREAT") == [
        ("access", "read visits")
    ]
    assert listed(kind="access", outcome="recorded") == [("access", "Exported")]
    assert listed(sourceSystem="LAB", kind="access") == []


def test_an_access_shows_what_was_read_and_why(
    services: PatientServices, get: Callable[..., Any]
) -> None:
    record_access(services, "P-1", "P-2", on_behalf_of="dr-boss")
    export(services, None, actor="bob", **{"from": "2026-01-01T00:00:00Z"})

    read, exported = pages(get, "/events", kind="access")

    assert read["patientRefs"] == ["P-1", "P-2"] and read["patientRef"] is None
    assert (read["recordIds"], read["resultCount"]) == (["v-P-1", "v-P-2"], 2)
    assert (read["route"], read["query"]) == ("/api/v1/visits", {"status": "arrived"})
    assert (read["purposeOfUse"], read["actorRole"], read["onBehalfOf"]) == (
        "TREAT", "nurse,clinician", "dr-boss",
    )  # fmt: skip
    assert read["occurredAt"] == iso(T0)
    # The Exported row shows its format and filters (they were null before).
    assert (exported["format"], exported["query"]) == (
        "csv", {"actor": "bob", "from": "2026-01-01T00:00:00Z"},
    )  # fmt: skip


def test_a_read_that_returned_only_record_ids_is_found_under_their_patients(
    services: PatientServices, get: Callable[..., Any]
) -> None:
    # A visit's timeline answers with the visit's facts, not its patient: the trail names
    # the patient the visit's creation stated.
    first, second = walk_in(services, "P-7").id, walk_in(services, "P-8").id
    access = Access(
        action="read visit timeline", route="/api/v1/visits/{visit_id}/timeline", query={},
        purpose_of_use="TREAT", record_ids=(str(first), str(second), "not-a-record"),
        result_count=1,
    )  # fmt: skip
    envelope = Envelope(
        actor_id="nurse-1", actor_role="nurse", command_id=uuid4(), correlation_id="r-2",
        occurred_at=T0,
    )  # fmt: skip
    with recording(envelope):
        services.save(AccessRecord.accessed(access))

    [read] = pages(get, "/events", kind="access")
    assert read["patientRefs"] == ["P-7", "P-8"] and read["patientRef"] is None
    assert [e["action"] for e in pages(get, "/events", patientRef="P-8", kind="access")] == [
        "read visit timeline"
    ]
    disclosed = pages(get, "/disclosures", patientRef="P-7")
    assert [d["action"] for d in disclosed] == ["read visit timeline"]


def test_denied_reads_are_accesses_and_denied_commands_changes(
    services: PatientServices, get: Callable[..., Any]
) -> None:
    visit = walk_in(services, "P-1")
    for action in ("read visits", "CloseVisit"):
        services.record_denial(Attempt(action=action, actor_id="mallory", actor_roles=("finance",),
                                       correlation_id="c", target_type="PatientVisit",
                                       target_id=visit.id))  # fmt: skip

    denied = pages(get, "/events", outcome="denied")

    assert [(e["action"], e["kind"]) for e in denied] == [
        ("read visits", "access"), ("CloseVisit", "change"),
    ]  # fmt: skip
    assert [e["action"] for e in pages(get, "/events", patientRef="P-1", kind="access")] == [
        "read visits"
    ]


# ---- newest first --------------------------------------------------------------------------
def test_newest_first_pages_back_through_the_trail_and_its_filters(
    services: PatientServices, get: Callable[..., Any]
) -> None:
    for n in range(5):
        walk_in(services, f"P-{n}")
        record_access(services, f"P-{n}", "P-all")

    newest = pages(get, "/events", order="desc", limit=3)
    oldest = pages(get, "/events", limit=3)
    of_all = pages(get, "/events", order="desc", limit=2, patientRef="P-all")
    first = get("/events", order="desc", limit=4).json()

    assert [e["position"] for e in newest] == [e["position"] for e in reversed(oldest)]
    assert len(newest) == 10
    assert [e["patientRefs"] for e in of_all] == [[f"P-{n}", "P-all"] for n in reversed(range(5))]
    assert first["nextCursor"].startswith("d")
    # A cursor belongs to its order.
    assert get("/events", order="asc", cursor=first["nextCursor"]).status_code == 400
    assert get("/events", order="desc", cursor="12").status_code == 400


# ---- one entry -----------------------------------------------------------------------------
def test_one_entry_by_its_position_with_its_chain_hashes(
    services: PatientServices, get: Callable[..., Any], database: ReadDatabase
) -> None:
    walk_in(services, "P-1")
    position = record_access(services, "P-1")
    [_, listed] = pages(get, "/events")

    reply = get(f"/events/{position}")

    assert reply.status_code == 200, reply.text
    entry = reply.json()
    assert {k: v for k, v in entry.items() if k not in ("hash", "prevHash")} == listed
    with database.read() as tx:
        hashes = dict(tx.execute(f"SELECT position, hash FROM {PREFIX}entries"))
    assert entry["hash"] == hashes[position]
    assert entry["prevHash"] == hashes[max(p for p in hashes if p < position)]
    assert verify(database).head_hash == entry["hash"]


@pytest.mark.parametrize("position", ["999", "0", "-1", str(2**63), str(10**30), "abc", "1.5"])
def test_a_position_without_an_entry_is_404(
    services: PatientServices, get: Callable[..., Any], position: str
) -> None:
    walk_in(services, "P-1")

    reply = get(f"/events/{position}")

    assert reply.status_code == 404, reply.text
    assert reply.headers["Content-Type"].startswith("application/problem+json")


def test_an_entry_not_chained_yet_is_404_and_minposition_waits_for_it(
    services: PatientServices, client: TestClient[Any], store_settings: Settings
) -> None:
    position = walk_in(services, "P-1").position  # no catch_up: the worker has not read it
    headers = {"Authorization": f"Bearer {mint_token(store_settings, 'a', ('auditor',))}"}

    assert client.get(f"{AUDIT}/events/{position}", headers=headers).status_code == 404
    lagging = client.get(f"{AUDIT}/events/{position}", params={"minPosition": position,
                         "waitMs": 0}, headers=headers)  # fmt: skip
    assert lagging.status_code == 503


# ---- disclosures ---------------------------------------------------------------------------
def test_disclosures_list_every_read_and_export_of_the_patient_oldest_first(
    services: PatientServices, get: Callable[..., Any]
) -> None:
    walk_in(services, "P-1")  # a change: not a disclosure
    named = record_access(services, "P-1", "P-2", at=T0, on_behalf_of="dr-boss")
    record_access(services, "P-2", at=T0 + timedelta(hours=1))
    services.record_denial(Attempt(action="read visits", actor_id="mallory",
                                   actor_roles=("finance",), correlation_id="c"))  # fmt: skip
    filtered = export(services, "P-1")
    unfiltered = export(services)
    too_early = export(services, **{"to": "2000-01-01T00:00:00Z"})  # held nothing of P-1
    after_it = export(services, **{"from": iso(datetime.now(UTC) + timedelta(days=1))})

    items = pages(get, "/disclosures", patientRef="P-1", limit=2)

    assert [(d["position"], d["basis"]) for d in items] == [
        (named, "named"), (filtered, "named"), (unfiltered, "unfilteredExport"),
    ]  # fmt: skip
    assert {too_early, after_it}.isdisjoint(d["position"] for d in items)
    read = items[0]
    assert (read["actorId"], read["actorRoles"], read["onBehalfOf"]) == (
        "nurse-1", ["nurse", "clinician"], "dr-boss",
    )  # fmt: skip
    assert (read["action"], read["route"], read["recordIds"]) == (
        "read visits", "/api/v1/visits", ["v-P-1", "v-P-2"],
    )  # fmt: skip
    assert (read["purposeOfUse"], read["occurredAt"]) == ("TREAT", iso(T0))
    assert (items[1]["action"], items[1]["format"]) == ("Exported", "csv")


def test_disclosures_in_a_period_and_as_csv(
    services: PatientServices, get: Callable[..., Any]
) -> None:
    for hour in range(4):
        record_access(services, "P-1", at=T0 + timedelta(hours=hour), query={"q": '=1+2,"x"'})

    period = {"patientRef": "P-1", "from": iso(T0 + timedelta(hours=1)),
              "to": iso(T0 + timedelta(hours=3))}  # fmt: skip
    json_items = pages(get, "/disclosures", **period)
    as_csv = get("/disclosures", format="csv", **period)
    by_accept = get("/disclosures", headers={"Accept": "text/csv"}, **period)

    assert [d["occurredAt"] for d in json_items] == [iso(T0 + timedelta(hours=h)) for h in (1, 2)]
    assert as_csv.status_code == 200
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    assert as_csv.text == by_accept.text
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [int(r["position"]) for r in rows] == [d["position"] for d in json_items]
    assert rows[0]["actorRoles"] == "nurse,clinician"
    assert rows[0]["recordIds"] == '["v-P-1"]'
    assert rows[0]["query"] == '{"q":"=1+2,\\"x\\""}'


@pytest.mark.parametrize(
    ("role", "status"),
    [("privacy_officer", 200), ("auditor", 200), ("clerk", 403), ("nurse", 403),
     ("manager", 403)],
)  # fmt: skip
def test_who_may_read_disclosures(
    services: PatientServices, get: Callable[..., Any], database: ReadDatabase,
    role: str, status: int,
) -> None:  # fmt: skip
    reply = get("/disclosures", role=role, patientRef="P-1")

    assert reply.status_code == status, reply.text
    if status == 403:
        catch_up(database)
        [denial] = trail(database, outcome="denied")
        assert (denial.action, denial.kind) == ("read audit disclosures", "access")


@pytest.mark.parametrize(
    ("path", "params"),
    [("/disclosures", {}), ("/disclosures", {"patientRef": ""}),
     ("/disclosures", {"patientRef": "P-1", "from": "2026-01-01T00:00:00"}),
     ("/disclosures", {"patientRef": "P-1", "format": "xml"}),
     ("/disclosures", {"patientRef": "P-1", "cursor": "d5"}),
     ("/events", {"kind": "both"}), ("/events", {"order": "sideways"}),
     ("/events", {"purposeOfUse": "x" * 65}), ("/events", {"sourceSystem": "a\u0000b"}),
     ("/events", {"outcome": "maybe"})],
)  # fmt: skip
def test_bad_parameters_are_400_and_record_nothing(
    services: PatientServices, get: Callable[..., Any], database: ReadDatabase,
    path: str, params: dict[str, str],
) -> None:  # fmt: skip
    reply = get(path, **params)

    assert reply.status_code == 400, reply.text
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert reply.json()["code"] == "VALIDATION"
    assert services.recorder.max_notification_id() in (None, 0)


# ---- hostile text --------------------------------------------------------------------------
def test_hostile_text_in_an_access_does_not_stop_the_audit_worker(
    services: PatientServices, database: ReadDatabase
) -> None:
    huge = "x" * 200_000
    hostile = {"unit": "E\u0000D", "bell": "\u0007\u001b[2J\r\n", "huge": huge,
               "patientRef": "P-" + huge}  # fmt: skip
    record_access(services, "P-\u0000" + huge, "P-2", query=hostile, purpose="T\u0000" * 300)
    after = walk_in(services, "P-3").position

    catch_up(database)

    with database.read() as tx:
        assert tr.tracking(tx, "audit", 1).position == after
        assert tr.parked_count(tx, "audit", 1) == 0  # projected, not set aside
    [access] = trail(database, kind="access")
    assert access.query is not None and access.query["huge"] == huge
    assert access.query["unit"] == "E\ufffdD"
    assert [e.action for e in trail(database, patient_ref="P-2")] == ["read visits"]
    assert trail(database, patient_ref="P-3")[0].action == "WalkInRegistered"
    assert verify(database).ok


# ---- the audit routes are themselves recorded ----------------------------------------------
def test_reading_the_trail_or_the_disclosures_leaves_one_access_record_each(
    store_settings: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    walk_in(services, "P-1")
    record_access(services, "P-1", "P-2")
    catch_up(database)
    recorder = access_recorder(store_settings, services).start()
    token = mint_token(store_settings, "pat", ("privacy_officer", "auditor"))
    headers = {"Authorization": f"Bearer {token}", "X-Purpose-Of-Use": "HOPERAT"}
    try:
        app = create_app(store_settings, services, database, access_recorder=recorder)
        with TestClient(app) as client:
            before = services.recorder.max_notification_id()
            for path, params in (
                ("/events", {"patientRef": "P-1"}), ("/events/1", {}),
                ("/disclosures", {"patientRef": "P-1"}),
                ("/disclosures", {"patientRef": "P-1", "format": "csv"}),
            ):  # fmt: skip
                reply = client.get(f"{AUDIT}{path}", params=params, headers=headers)
                assert reply.status_code == 200, reply.text
            assert client.get(f"{AUDIT}/events/999", headers=headers).status_code == 404
            assert recorder.flush()
    finally:
        recorder.close()
    catch_up(database)

    reads = [e for e in trail(database, kind="access") if e.position > before]

    assert [(e.action, e.route, e.purpose_of_use) for e in reads] == [
        ("read audit trail", "/api/v1/audit/events", "HOPERAT"),
        ("read audit entry", "/api/v1/audit/events/{position}", "HOPERAT"),
        ("read disclosures", "/api/v1/audit/disclosures", "HOPERAT"),
        ("read disclosures", "/api/v1/audit/disclosures", "HOPERAT"),
    ]
    trail_read, entry_read, disclosures_read, csv_read = reads
    assert trail_read.patient_refs == ["P-1", "P-2"]  # the entries it listed are about both
    assert trail_read.query == {"patientRef": "P-1"}
    assert entry_read.patient_refs == ["P-1"]
    assert (disclosures_read.patient_refs, disclosures_read.record_ids) == (["P-1"], ["2"])
    assert csv_read.query == {"patientRef": "P-1", "format": "csv"}
    # Each is then a disclosure of P-1 itself.
    with database.read() as tx:
        from adapters.readmodels.audit.disclosures import DisclosurePeriod, disclosures

        page = disclosures(tx, PREFIX, DisclosurePeriod("P-1"), None, 50)
    assert {r.position for r in reads} <= {d.position for d in page.items}
