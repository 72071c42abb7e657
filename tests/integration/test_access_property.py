"""The access property (issue 13, item 7): over generated visits of several patients in
several units, and complaints, every request to a route that returns patient data leaves
exactly one access record, holding exactly the patientRefs and record ids its answer
contained (or, past the threshold, none of them and their count), the route, the query and
the action. Read back from the event log after a flush, on SQLite.

The refs are found in the JSON that was sent (``patientRef``, ``id`` and ``visitId`` keys;
FHIR resources' ids and patient-ref identifiers), independently of the walk the service
makes of its Structs before encoding them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from adapters.auth_tokens import mint_token
from adapters.composition import access_recorder, read_models
from adapters.fhir.common import PATIENT_REF_SYSTEM
from adapters.http.app import create_app
from adapters.readmodels.database import open_read_database
from adapters.readmodels.registry import prepare_read_models
from adapters.readmodels.status import wait_for_position
from adapters.readmodels.supervisor import ProjectionSupervisor
from adapters.settings import Settings
from application.complaints.commands import RegisterComplaint
from application.service import PatientServices
from application.shared.access import AccessRecord
from application.shared.context import RequestContext, utc_now
from application.visits import commands as v
from tests.support.api import position, recorded_since

THRESHOLD = 4
STAGES = ("scheduled", "arrived", "triaged", "with_clinician", "admitted", "discharged")
READS = ("visit", "visit_as_of", "search", "timeline", "board", "census", "metrics",
         "complaint", "worklist", "fhir_read", "fhir_search", "fhir_appointment",
         "fhir_history")  # fmt: skip
_examples = itertools.count()


@dataclass(frozen=True)
class VisitPlan:
    patient: int
    unit: int
    booked: bool
    stage: str


visit_plans = st.builds(
    VisitPlan, st.integers(0, 2), st.integers(0, 1), st.booleans(), st.sampled_from(STAGES)
)
complaint_plans = st.tuples(st.one_of(st.none(), st.integers(0, 3)), st.booleans())
read_plans = st.tuples(st.sampled_from(READS), st.integers(0, 50), st.sampled_from(["r4", "r5"]))


_BOOKINGS = itertools.count()


def context(role: str) -> RequestContext:
    return RequestContext(actor_id="setup", actor_role=role, correlation_id="setup")


def build_visit(
    services: PatientServices, plan: VisitPlan, tag: str
) -> tuple[str, int, bool, str, str]:
    """The visit, walked to its stage; (id, last position, booked, patient, unit)."""
    patient, unit, ward = f"P{tag}-{plan.patient}", f"U{tag}-{plan.unit}", f"W{tag}-{plan.unit}"
    if plan.booked:
        # An hour apart: a patient may not hold two overlapping bookings.
        start = utc_now() + timedelta(hours=2 + next(_BOOKINGS))
        result = services.execute(
            v.ScheduleVisit(patient_ref=patient, visit_class="AMB", service_unit=unit,
                            scheduled_start=start), context("clerk"))  # fmt: skip
    else:
        result = services.execute(
            v.RegisterWalkIn(patient_ref=patient, visit_class="EMER", service_unit=unit),
            context("clerk"),
        )
    reached = max(STAGES.index(plan.stage), 0 if plan.booked else 1)
    steps: list[tuple[int, Any, str]] = [
        (1, v.RegisterArrival(), "clerk"),
        (2, v.RecordTriage(acuity_scale="ESI", acuity_level=3), "nurse"),
        (3, v.StartClinicianContact(clinician_ref="dr-1"), "clinician"),
        (4, v.RecordDecisionToAdmit(target_unit=ward), "clinician"),
        (4, v.AdmitPatient(unit=ward, bed="B1"), "clinician"),
        (5, v.DischargePatient(disposition="home"), "clinician"),
    ]
    last = result.position
    for stage, command, role in steps:
        if stage <= reached and (stage > 1 or plan.booked):
            last = services.execute(command, context(role), target=result.id).position
    return str(result.id), last, plan.booked, patient, unit


def request_of(
    kind: str, n: int, release: str, world: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The path and query of one read of ``kind`` (``n`` picks the visit, unit, patient)."""
    visits, cases = world["visits"], world["complaints"]
    visit_id, _, _, patient, unit = visits[n % len(visits)]
    if n % 5 == 0:  # now and then a unit and a patient with nothing to show
        unit, patient = f"U{world['tag']}-none", f"P{world['tag']}-none"
    fresh = {"minPosition": world["position"]}
    booked = [visit[0] for visit in visits if visit[2]]
    if kind == "fhir_appointment" and booked:
        return f"/fhir/{release}/Appointment/{booked[n % len(booked)]}", {}
    if kind == "complaint" and cases:
        return f"/api/v1/complaints/{cases[n % len(cases)]}", {}
    if kind == "worklist":
        return "/api/v1/complaints/worklist", fresh
    if kind == "visit_as_of":
        return f"/api/v1/visits/{visit_id}", {"asOf": world["as_of"]}
    if kind == "search":
        return "/api/v1/visits", {"patientRef": patient, **fresh}
    if kind == "timeline":
        return f"/api/v1/visits/{visit_id}/timeline", fresh
    if kind in ("board", "census", "metrics"):
        return f"/api/v1/flow/{kind}", {"unit": unit, **fresh}
    if kind in ("fhir_read", "fhir_appointment"):
        return f"/fhir/{release}/Encounter/{visit_id}", {}
    if kind == "fhir_search":
        return f"/fhir/{release}/Encounter", {"patient": patient}
    if kind == "fhir_history":
        return "/fhir/r5/EncounterHistory", {"encounter": visit_id}
    return f"/api/v1/visits/{visit_id}", {}


#: (action, route) by the path's shape.
def expected_route(path: str) -> tuple[str, str]:
    parts = path.strip("/").split("/")
    if parts[0] == "fhir":
        kind = parts[2]
        return (f"read fhir {kind}" if len(parts) > 3 else f"search fhir {kind}",
                "/" + "/".join(parts[:3]) + ("/{id}" if len(parts) > 3 else ""))  # fmt: skip
    if parts[2] == "visits":
        if len(parts) == 3:
            return "search visits", "/api/v1/visits"
        if len(parts) == 5:
            return "read visit timeline", "/api/v1/visits/{id}/timeline"
        return "read visit", "/api/v1/visits/{id}"
    if parts[2] == "complaints":
        if parts[3] == "worklist":
            return "read complaint worklist", "/api/v1/complaints/worklist"
        return "read complaint", "/api/v1/complaints/{id}"
    return {"board": "read board", "census": "read census",
            "metrics": "read flow metrics"}[parts[3]], path  # fmt: skip


def found_in_json(body: Any, fhir: bool) -> tuple[set[str], list[str], set[str], list[str]]:
    """(refs, every ref met, ids, every id met) in a decoded answer."""
    refs: list[str] = []
    ids: list[str] = []

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
            return
        if not isinstance(value, dict):
            return
        if fhir:
            if value.get("resourceType") not in (None, "Bundle") and "id" in value:
                ids.append(value["id"])
            if value.get("system") == PATIENT_REF_SYSTEM:
                refs.append(value["value"])
            for item in value.values():
                walk(item)
            return
        for key, item in value.items():
            if key == "patientRef":
                refs.extend(strings(item))
            elif key in ("id", "visitId") and isinstance(item, str):
                ids.append(item)
            else:
                walk(item)

    walk(body)
    return set(refs), refs, set(ids), ids


@contextmanager
def recording_app(app_settings: Settings, services: PatientServices) -> Iterator[Any]:
    database = open_read_database(app_settings)
    factories = list(read_models(app_settings).values())
    prepare_read_models(database, factories)
    recorder = access_recorder(app_settings, services).start()
    supervisor = ProjectionSupervisor(database, factories)
    supervisor.start()
    try:
        app = create_app(app_settings, services, read_database=database, access_recorder=recorder)
        with TestClient(app) as client:
            yield client, recorder, database
    finally:
        supervisor.stop()
        recorder.close()
        database.close()


#: Bounded (item 7): each example builds its own patients, units and cases in one store and
#: app shared by the examples, so the function-scoped fixtures are meant.
settings_for_property = settings(
    max_examples=20, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip


def test_every_patient_read_leaves_one_access_record_with_exactly_the_refs_returned(
    settings: Settings, stored_services: PatientServices
) -> None:
    app_settings = replace(settings, access_list_threshold=THRESHOLD)
    roles = ["clerk", "nurse", "clinician", "manager", "executive", "auditor"]
    token = {"Authorization": f"Bearer {mint_token(app_settings, 'prop-reader', roles)}"}
    with recording_app(app_settings, stored_services) as (client, recorder, database):

        @settings_for_property
        @given(
            visits=st.lists(visit_plans, min_size=1, max_size=8),
            complaints=st.lists(complaint_plans, max_size=3),
            reads=st.lists(read_plans, min_size=1, max_size=8),
        )
        def check(visits: list[VisitPlan], complaints: list[Any], reads: list[Any]) -> None:
            example = next(_examples)
            tag = f"x{example}"
            built = [build_visit(stored_services, plan, tag) for plan in visits]
            as_of = utc_now().isoformat()
            last = max(visit[1] for visit in built)
            cases = []
            for patient, linked in complaints:
                complaint = RegisterComplaint(
                    channel="written", received_at=utc_now() - timedelta(minutes=5),
                    complainant_ref="C-1", categories=["communication"], summary="a text",
                    policy="nhs-england-2009",
                    patient_ref=None if patient is None else f"P{tag}-{patient % 3}",
                    visit_id=UUID(built[0][0]) if linked else None, service_unit=f"U{tag}-0",
                )  # fmt: skip
                result = stored_services.execute(complaint, context("clerk"))
                cases.append(str(result.id))
                last = result.position
            for name in ("flow", "complaints"):
                assert wait_for_position(database, name, last, 10) is not None
            world = {"visits": built, "tag": tag, "position": last, "as_of": as_of,
                     "complaints": cases}  # fmt: skip
            assert recorder.flush()
            before = position(stored_services)
            sent: dict[str, tuple[str, dict[str, Any], Any]] = {}
            for k, (kind, n, release) in enumerate(reads):
                path, params = request_of(kind, n, release, world)
                correlation = f"prop-{example}-{k}"
                reply = client.get(path, params=params,
                                   headers={**token, "X-Correlation-Id": correlation})  # fmt: skip
                assert reply.status_code == 200, (path, reply.text)
                sent[correlation] = (path, params, reply.json())
            assert recorder.flush()
            records = [e for e in recorded_since(stored_services, before)
                       if isinstance(e, AccessRecord.Accessed)]  # fmt: skip
            # Exactly one per request, and none besides.
            assert sorted(r.correlation_id for r in records) == sorted(sent)
            for record in records:
                path, params, body = sent[record.correlation_id]
                refs, all_refs, ids, all_ids = found_in_json(body, path.startswith("/fhir"))
                action, route = expected_route(path)
                event(f"{action}, {'truncated' if record.truncated else 'listed'}")
                assert (record.action, record.route) == (action, route)
                assert record.query == {key: str(value) for key, value in params.items()}
                assert (record.actor_id, record.purpose_of_use) == ("prop-reader", "TREAT")
                assert record.result_count == (len(ids) or len(refs))
                assert record.truncated == (max(len(ids), len(refs)) > THRESHOLD)
                if record.truncated:
                    assert (record.patient_refs, record.record_ids) == ([], [])
                else:
                    assert (
                        len(record.patient_refs) == len(refs) and set(record.patient_refs) == refs
                    )
                    assert len(record.record_ids) == len(ids) and set(record.record_ids) == ids
                assert set(all_refs) == refs and set(all_ids) == ids

        check()
