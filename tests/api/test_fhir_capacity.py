"""The facility's capacity on the FHIR bases (issue 16, item 1): units as Location, clinic
schedules as Schedule and their slots as Slot, in R4 (validated against the R4B models) and
R5; reads from the records' events, searches from the capacity read model. On a real SQLite
store with the workers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.location import Location as LocationR5
from fhir.resources.R4B.bundle import Bundle as BundleR4B
from fhir.resources.R4B.location import Location as LocationR4B
from fhir.resources.R4B.schedule import Schedule as ScheduleR4B
from fhir.resources.R4B.slot import Slot as SlotR4B
from fhir.resources.schedule import Schedule as ScheduleR5
from fhir.resources.slot import Slot as SlotR5
from litestar.testing import TestClient

from adapters.readmodels.capacity.store import CapacityReadModel
from adapters.readmodels.visits.store import FlowReadModel
from domain.capacity.identity import unit_id_for
from tests.api.test_capacity_api import (
    LONDON,
    SCHEDULES,
    UNITS,
    book,
    make_schedule,
    next_monday_at,
)
from tests.api.test_fhir_api import fhir_json, outcome
from tests.support.api import Headers, iso

pytestmark = pytest.mark.read_models([CapacityReadModel, FlowReadModel])

MODELS = {
    "r4": {"Location": LocationR4B, "Schedule": ScheduleR4B, "Slot": SlotR4B,
           "Bundle": BundleR4B},
    "r5": {"Location": LocationR5, "Schedule": ScheduleR5, "Slot": SlotR5, "Bundle": BundleR5},
}  # fmt: skip
VERSIONS = list(MODELS)


def valid(version: str, body: dict[str, Any]) -> dict[str, Any]:
    MODELS[version][body["resourceType"]].model_validate(body)
    return body


def read(client: TestClient[Any], headers: Headers, version: str, path: str) -> dict[str, Any]:
    return valid(version, fhir_json(client.get(f"/fhir/{version}/{path}", headers=headers)))


def search(
    client: TestClient[Any], headers: Headers, version: str, kind: str, **params: Any
) -> list[dict[str, Any]]:
    reply = client.get(f"/fhir/{version}/{kind}", params=params, headers=headers)
    bundle = valid(version, fhir_json(reply))
    return [entry["resource"] for entry in bundle.get("entry", [])]


def configured_ward(client: TestClient[Any], admin: Headers) -> str:
    body = {"code": "W 4", "name": "Ward 4", "kind": "ward", "beds": [{"bed": "1"}]}
    assert client.post(UNITS, json=body, headers=admin).status_code == 201
    assert client.post(f"{UNITS}/W%204/close", headers=admin).status_code == 200
    return str(unit_id_for("W 4"))


def synced(client: TestClient[Any], headers: Headers, position: int) -> None:
    """Wait for the capacity read model to reach ``position`` (FHIR searches take none)."""
    reply = client.get(UNITS, params={"minPosition": position}, headers=headers)
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize("version", VERSIONS)
def test_a_unit_is_a_location_now_and_as_of_each_version(
    read_client: TestClient[Any], admin: Headers, staff: Headers, version: str
) -> None:
    unit = configured_ward(read_client, admin)

    now = read(read_client, staff, version, f"Location/{unit}")

    assert (now["id"], now["status"], now["name"], now["meta"]["versionId"]) == (
        unit, "suspended", "Ward 4", "2")  # fmt: skip
    assert now["identifier"] == [{"system": "urn:patient-services:unit", "value": "W 4"}]
    assert now["type"][0]["coding"][0]["code"] == "HU"
    assert ("form" if version == "r5" else "physicalType") in now
    first = read(read_client, staff, version, f"Location/{unit}/_history/1")
    assert first["status"] == "active"
    past = read_client.get(f"/fhir/{version}/Location/{unit}/_history/3", headers=staff)
    outcome(past, 404, "not-found")
    held = read_client.get(f"/fhir/{version}/Location/{unit}",
                           headers={**staff, "If-None-Match": 'W/"2"'})  # fmt: skip
    assert held.status_code == 304


@pytest.mark.parametrize("version", VERSIONS)
def test_a_units_beds_are_locations_part_of_it_read_from_its_events(
    read_client: TestClient[Any], admin: Headers, staff: Headers, version: str
) -> None:
    body = {"code": "ICU", "name": "Critical care", "kind": "ward",
            "beds": [{"bed": "1", "type": "icu"}, {"bed": "2/A", "closed": True}]}  # fmt: skip
    position = read_client.post(UNITS, json=body, headers=admin).json()["position"]
    synced(read_client, staff, position)
    unit = str(unit_id_for("ICU"))

    beds = search(read_client, staff, version, "Location", partof=f"Location/{unit}")

    assert sorted(b["identifier"][0]["value"] for b in beds) == ["1", "2/A"]
    by_code = {b["identifier"][0]["value"]: b for b in beds}
    assert by_code["1"]["partOf"]["reference"] == f"Location/{unit}"
    assert by_code["1"]["identifier"][0]["system"] == "urn:patient-services:unit:ICU:bed"
    assert (by_code["1"]["status"], by_code["2/A"]["status"]) == ("active", "suspended")
    assert by_code["2/A"]["operationalStatus"]["code"] == "C"
    # Found by the identifier an Encounter's bed reference carries.
    by_reference = search(read_client, staff, version, "Location",
                          identifier="urn:patient-services:unit:ICU:bed|1")  # fmt: skip
    assert by_reference == [by_code["1"]]
    # A bed is read by the id the search gave, from its unit's events, at the unit's version.
    bed = read(read_client, staff, version, f"Location/{by_code['1']['id']}")
    assert bed == by_code["1"]
    changed = read_client.post(f"{UNITS}/ICU/beds", json={"beds": [{"bed": "2/A"}]},
                               headers=admin)  # fmt: skip
    assert changed.status_code == 200, changed.text
    gone = read_client.get(f"/fhir/{version}/Location/{by_code['1']['id']}", headers=staff)
    outcome(gone, 404, "not-found")
    then = read(read_client, staff, version, f"Location/{by_code['1']['id']}/_history/1")
    assert then["identifier"] == by_code["1"]["identifier"]
    # Every Location: the unit and its beds as they are now.
    synced(read_client, staff, changed.json()["position"])
    assert len(search(read_client, staff, version, "Location")) == 2


@pytest.mark.parametrize("version", VERSIONS)
def test_locations_are_found_by_their_code(
    read_client: TestClient[Any], admin: Headers, staff: Headers, version: str
) -> None:
    unit = configured_ward(read_client, admin)
    body = {"code": "ED", "name": "Emergency", "kind": "ed"}
    position = read_client.post(UNITS, json=body, headers=admin).json()["position"]
    synced(read_client, staff, position)

    by_system = search(read_client, staff, version, "Location",
                       identifier="urn:patient-services:unit|W 4")  # fmt: skip
    assert [r["id"] for r in by_system] == [unit]
    assert [r["name"] for r in search(read_client, staff, version, "Location",
                                      identifier="ED")] == ["Emergency"]  # fmt: skip
    assert search(read_client, staff, version, "Location", identifier="urn:other|ED") == []
    assert len(search(read_client, staff, version, "Location")) == 3  # W 4 has a bed


@pytest.mark.parametrize("version", VERSIONS)
def test_a_schedule_and_its_slots_show_free_busy_and_cancelled(
    read_client: TestClient[Any], admin: Headers, staff: Headers, version: str
) -> None:
    schedule, _ = make_schedule(read_client, admin, capacityPerSlot=1)
    start = next_monday_at(9)
    assert book(read_client, staff, schedule, start).status_code == 201
    cancelled_day = (start + timedelta(days=7)).astimezone().date().isoformat()
    reply = read_client.post(f"{SCHEDULES}/{schedule}/cancel-session",
                             json={"date": cancelled_day, "reason": "clinic closed"},
                             headers=admin)  # fmt: skip
    assert reply.status_code == 200, reply.text
    synced(read_client, staff, reply.json()["position"])

    found = read(read_client, staff, version, f"Schedule/{schedule}")
    # Nobody configured OPD-1: the actor is its code alone, and a search by the Location id
    # its code would have finds the schedule all the same.
    assert found["actor"][0]["identifier"]["value"] == "OPD-1"
    assert "reference" not in found["actor"][0]
    assert found["meta"]["versionId"] == "2"
    opd = f"Location/{unit_id_for('OPD-1')}"
    assert [s["id"] for s in search(read_client, staff, version, "Schedule", actor=opd)] == [
        schedule]  # fmt: skip
    body = {"code": "OPD-1", "name": "Outpatients 1", "kind": "clinic"}
    assert read_client.post(UNITS, json=body, headers=admin).status_code == 201
    configured = read(read_client, staff, version, f"Schedule/{schedule}")
    assert configured["actor"][0]["reference"] == opd
    window = {"start": [f"ge{iso(start)}", f"lt{iso(start + timedelta(minutes=30))}"]}
    slots = search(read_client, staff, version, "Slot", schedule=f"Schedule/{schedule}",
                   **window)  # fmt: skip
    assert [(s["start"], s["status"]) for s in slots] == [
        (iso(start), "busy"), (iso(start + timedelta(minutes=15)), "free")]  # fmt: skip
    free = search(read_client, staff, version, "Slot", schedule=schedule, status="free",
                  **window)  # fmt: skip
    assert [s["status"] for s in free] == ["free"]
    # A read by the id a search gave agrees with it.
    assert read(read_client, staff, version, f"Slot/{slots[0]['id']}")["status"] == "busy"
    # A slot of the cancelled session: read, busy-unavailable; searched, not there.
    later = slots[1]["id"].replace(start.strftime("%Y%m%d"),
                                   (start + timedelta(days=7)).strftime("%Y%m%d"))  # fmt: skip
    assert read(read_client, staff, version, f"Slot/{later}")["status"] == "busy-unavailable"
    # FHIR date semantics: a bare date is that whole local day; le a date includes it.
    day = start.astimezone(LONDON).date().isoformat()
    whole_day = search(read_client, staff, version, "Slot", schedule=schedule, start=day)
    assert len(whole_day) == 4  # 09:00-10:00 in 15-minute slots
    through = search(read_client, staff, version, "Slot", schedule=schedule,
                     start=[f"ge{day}", f"le{day}"])  # fmt: skip
    assert through == whole_day


@pytest.mark.parametrize("version", VERSIONS)
def test_a_slot_search_needs_its_schedule_and_sane_bounds(
    read_client: TestClient[Any], admin: Headers, staff: Headers, version: str
) -> None:
    schedule, _ = make_schedule(read_client, admin)
    base = f"/fhir/{version}/Slot"

    outcome(read_client.get(base, headers=staff), 403, "too-costly")
    unsupported, backwards, too_long = (["ne2027-03-01"], ["ge2027-03-08", "lt2027-03-01"],
                                      ["ge2027-01-01", "lt2027-12-01"])  # fmt: skip
    for bad in (unsupported, backwards, too_long):
        reply = read_client.get(base, params={"schedule": schedule, "start": bad}, headers=staff)
        outcome(reply, 400, "invalid")
    outcome(read_client.get(f"{base}/{schedule}.20270301T090000Z", headers=staff), 404,
            "not-found")  # no slot at that time  # fmt: skip
    outcome(read_client.get(f"{base}/not-an-id", headers=staff), 404, "not-found")
    outcome(read_client.get(f"{base}/{schedule}.00010101T000000Z", headers=staff), 404,
            "not-found")  # out of any schedule's range  # fmt: skip
    huge = read_client.get(f"/fhir/{version}/Schedule/{schedule}/_history/{2**63}",
                           headers=staff)  # fmt: skip
    outcome(huge, 404, "not-found")


def test_configuration_reads_on_fhir_are_for_its_readers_and_integration_engines(
    read_client: TestClient[Any], admin: Headers, auth: Callable[..., Headers]
) -> None:
    unit = configured_ward(read_client, admin)

    engine = auth("integration_reader", sub="engine")
    assert read_client.get(f"/fhir/r4/Location/{unit}", headers=engine).status_code == 200
    denied = read_client.get(f"/fhir/r4/Location/{unit}", headers=auth("privacy_officer"))
    outcome(denied, 403, "forbidden")
    outcome(read_client.get(f"/fhir/r4/Location/{unit}"), 401, "login")
