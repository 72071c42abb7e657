"""Every read-model store can hold anything the log can hold.

HTTP commands refuse control characters, but the log may already hold them (records written
before that rule, or by a feed), and a store must not need the parking safety net for them.
A hypothesis property builds command Structs directly (msgspec validates patterns only when
*decoding*), with every free-text and identifier field — and every field of the request
context — taken from hostile text: NUL, C0/C1 controls, astral characters, bidi marks,
COPY's escape sequences, and 10,000-character strings. It walks as many event types of
PatientVisit, ComplaintCase and BudgetLine as a plausible history reaches, then catches up
every read model on both stores and asserts that nothing is parked, every position is the
head, every read route answers 200, and the audit trail shows each actor as
:func:`shown_as_key` predicts (the same on SQLite and PostgreSQL: the sanitising is in the
backend-neutral projections).

Lone surrogates cannot reach a projection: the event store's JSON transcoder cannot encode
them, so such a command fails and records nothing (``test_the_log_refuses_lone_surrogates``).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from adapters.auth_tokens import mint_token
from adapters.http.app import create_app
from adapters.readmodels import tracking as tr
from adapters.readmodels.audit.store import verify
from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.registry import read_model_factories
from adapters.readmodels.status import read_model_status
from adapters.settings import Settings
from application.service import PatientServices
from application.shared.commands import Command
from application.shared.context import RequestContext
from application.visits import commands as v
from domain.budget.policy import BudgetRules
from projections.audit.trail import names_of
from projections.shared.records import decode_state, key_text, without_nul
from tests.support.histories import (
    EXPECTED_EVENTS,
    NOW,
    Hostile,
    Scenario,
    catch_up_all,
    walk_budget,
    walk_complaints,
    walk_visits,
)  # fmt: skip
from tests.support.raw_log import raw_events, sql

LONG = 10_000

# ---- hostile text -------------------------------------------------------------------------
#: Pieces that have broken or could break a store: NUL (PostgreSQL text), COPY's text-format
#: escapes (backslash, \N, the end-of-data marker \.), tabs and newlines, a JSON-looking
#: escape that is *text* (it must stay as written), quotes, LIKE wildcards, C1 controls (CSI),
#: bidi overrides, a byte-order mark, an emoji and an astral ideograph.
PIECES = (
    "\x00", "\\", "\\N", "\\.", "\\.\n", "\t", "\n", "\r\n", "\\u0000", "\\\\u0000", '"', "'",
    "%", "_", "\x1b[31m", "\x85", "\x9b", "\u200f", "\u202e", "\ufeff", "\U0001f600",
    "\U00020000", "\x7f", "\ufffd", "…",
)  # fmt: skip
#: Any code point the log can hold (not a surrogate: see the lone-surrogate test).
any_character = st.characters(exclude_categories=("Cs",))
#: A pool of characters long strings are drawn from: NULs and controls included.
LONG_POOL = [chr(n) for n in (*range(0x20), 0x7F, 0x85, 0x9B, 0x200F, 0x202E, 0x1F600)]
LONG_POOL += [chr(n) for n in range(0x21, 0x7F)] + ["é", "ß", "中", "\U00020000"]


def long_text(seed: int, repeated: bool) -> str:
    """10,000 characters: random (incompressible, as an index tuple cannot shrink it), or a
    short hostile chunk repeated. Built from a seed: hypothesis generating 10,000 characters
    one by one is far too slow."""
    rng = random.Random(seed)
    if repeated:
        chunk = "".join(rng.choices(LONG_POOL, k=rng.randint(1, 9)))
        return (chunk * (LONG // len(chunk) + 1))[:LONG]
    return "".join(rng.choices(LONG_POOL, k=LONG))


def visible(text: str) -> str:
    """Domain rules refuse blank reasons and references: keep one visible character."""
    return text if text.strip() else text + "x"


short_text = st.lists(st.one_of(any_character, st.sampled_from(PIECES)), min_size=1, max_size=12)
hostile_text = st.one_of(
    short_text.map("".join),
    st.builds(long_text, st.integers(0, 2**32), st.booleans()),
).map(visible)

#: Above this many characters a value is clipped in indexed columns
#: (see projections.shared.records).
KEY_MAX, KEY_HEAD = 256, 200


def sanitised(text: str) -> str:
    return text.replace("\x00", "\ufffd")


def shown_as_key(text: str) -> str:
    """How a read model shows an identifier it keeps in an indexed column: NUL as U+FFFD,
    and a value over 256 characters as its first 200, "…" and 16 hex digits of the SHA-256
    of the whole (sanitised) value."""
    text = sanitised(text)
    if len(text) <= KEY_MAX:
        return text
    return text[:KEY_HEAD] + "…" + hashlib.sha256(text.encode()).hexdigest()[:16]


# ---- the stores -------------------------------------------------------------------------------
READ_MODELS = read_model_factories()


pytestmark = pytest.mark.read_models(list(READ_MODELS.values()))


def assert_every_model_at_the_head_with_nothing_parked(database: ReadDatabase) -> None:
    statuses = read_model_status(database, READ_MODELS)
    with database.read() as tx:
        parked = {name: tr.parked_records(tx, name, 1) for name in READ_MODELS}
    assert {name: [p.error for p in kept] for name, kept in parked.items() if kept} == {}
    for status in statuses:
        assert (status.name, status.position, status.parked) == (status.name, status.head, 0)


def recorded_event_types(settings: Settings) -> dict[str, set[str]]:
    with raw_events(settings) as (conn, events, _):
        topics = [row[0] for row in sql(conn, f"SELECT DISTINCT topic FROM {events}")]
    found: dict[str, set[str]] = {}
    for topic in topics:
        aggregate, event = names_of(topic)
        found.setdefault(aggregate, set()).add(event)
    return found


def coverage_gaps(recorded: dict[str, set[str]]) -> dict[str, tuple[set[str], set[str]]]:
    """Per aggregate type whose events differ from EXPECTED_EVENTS: (unexpected, missing)."""
    return {
        kind: (found - expected, expected - found)
        for kind in recorded.keys() | EXPECTED_EVENTS.keys()
        if (found := recorded.get(kind, set())) != (expected := EXPECTED_EVENTS.get(kind, set()))
    }


def headers(settings: Settings, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, 'reader-1', list(roles))}"}


def read_everything(
    client: TestClient[Any], settings: Settings, scenario: Scenario, fiscal_year: int
) -> dict[str, list[dict[str, Any]]]:
    """Every read route over the hostile data answers 200 (no 5xx, no refusal): the trail
    of each aggregate."""
    staff = headers(settings, "clerk", "nurse", "clinician", "manager")
    finance = headers(settings, "finance")
    auditor = headers(settings, "auditor")
    window = f"from={(NOW - timedelta(days=30)).isoformat()}&to={NOW.isoformat()}"
    window = window.replace("+", "%2B")
    routes: list[tuple[str, dict[str, str]]] = [
        ("/api/v1/flow/board", staff), ("/api/v1/flow/census", staff),
        (f"/api/v1/flow/metrics?{window}", staff), ("/api/v1/complaints/worklist", staff),
        (f"/api/v1/complaints/sla?{window}", staff),
        (f"/api/v1/complaints/themes?{window}", staff),
        (f"/api/v1/budget/summary?fiscalYear={fiscal_year}", finance),
        ("/api/v1/audit/events?limit=500&includeBookkeeping=true", auditor),
        ("/api/v1/audit/verify", auditor), ("/ready", {}),
    ]  # fmt: skip
    routes += [(f"/api/v1/visits/{visit}/timeline", staff) for visit in scenario.visits]
    for path, auth in routes:
        reply = client.get(path, headers=auth)
        assert reply.status_code == 200, (path, reply.status_code, reply.text[:300])
    trails = {}
    for aggregate in scenario.actors:
        reply = client.get(f"/api/v1/audit/events?aggregateId={aggregate}&limit=500",
                           headers=auditor)  # fmt: skip
        assert reply.status_code == 200, reply.text[:300]
        trails[str(aggregate)] = reply.json()["items"]
    return trails


# ---- the property ---------------------------------------------------------------------------
#: An explicit example: a NUL, two 10,000-character strings, COPY's escapes around a NUL,
#: and values that are exactly COPY's NULL marker and end-of-data line.
NUL_AND_LONG = [
    visible(text)
    for text in (
        "a\x00b",
        long_text(1, False),
        long_text(2, True),
        "\\\x00\\N\t\n\\.\n",
        "\\N",
        "\\.",
    )
]


@settings(
    max_examples=4, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)  # fmt: skip
@example(pool=NUL_AND_LONG)
@given(pool=st.lists(hostile_text, min_size=3, max_size=8))
def test_every_read_model_holds_any_text_the_log_holds(
    store_settings: Settings, services: PatientServices, database: ReadDatabase, pool: list[str]
) -> None:
    # Each example appends new aggregates to the same store and catches up incrementally.
    scenario = Scenario(services, Hostile(pool))
    rules = BudgetRules()
    fiscal_year = rules.fiscal_year_of(rules.local_date(NOW))
    walk_visits(scenario)
    walk_complaints(scenario)
    walk_budget(scenario, fiscal_year)
    # Five of the flow, two booked into a clinic slot, one from its waitlist.
    assert len(scenario.visits) == 8
    assert coverage_gaps(recorded_event_types(store_settings)) == {}

    catch_up_all(database)
    assert_every_model_at_the_head_with_nothing_parked(database)
    assert verify(database).ok  # the chain hashes the stored bytes, NULs and all

    app = create_app(store_settings, services, read_database=database)
    with TestClient(app) as client:
        trails = read_everything(client, store_settings, scenario, fiscal_year)
    for aggregate, actors in scenario.actors.items():
        entries = trails[str(aggregate)]
        assert entries, aggregate
        recorded = [e for e in entries if e["outcome"] == "recorded"]
        # Identifiers kept in indexed columns are shown as the test predicts, on every store.
        assert {e["actorId"] for e in recorded} >= {shown_as_key(a) for a in actors}
        attempted = {e["actorId"] for e in entries if e["outcome"] != "recorded"}
        assert attempted == {shown_as_key(a) for a in scenario.attempt_actors.get(aggregate, ())}
        # Free text stays whole (NULs shown as U+FFFD).
        reasons = {e["reason"] for e in recorded if e["reason"] is not None}
        assert reasons >= {sanitised(r) for r in scenario.reasons.get(aggregate, ())}


# ---- lone surrogates ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: (v.RegisterWalkIn(patient_ref="pt-\ud800", visit_class="EMER", service_unit="ED"),
                 RequestContext(actor_id="c1", actor_role="clerk", correlation_id="t")),
        lambda: (v.RegisterWalkIn(patient_ref="pt-1", visit_class="EMER", service_unit="ED"),
                 RequestContext(actor_id="c-\udfff", actor_role="clerk", correlation_id="t")),
    ],
    ids=["in-a-command", "in-the-context"],
)  # fmt: skip
def test_the_log_refuses_lone_surrogates(
    store_settings: Settings,
    services: PatientServices,
    make: Callable[[], tuple[Command, RequestContext]],
) -> None:
    command, context = make()
    before = services.recorder.max_notification_id() or 0
    with pytest.raises(UnicodeEncodeError):
        services.execute(command, context)
    assert (services.recorder.max_notification_id() or 0) == before


# ---- NUL: decoded as U+FFFD, hashed as stored ------------------------------------------------
def test_a_chain_over_a_record_holding_a_nul_verifies_and_the_trail_shows_u_fffd(
    store_settings: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    clerk = RequestContext(actor_id="clerk\x00one", actor_role="clerk", correlation_id="t")
    walk_in = v.RegisterWalkIn(patient_ref="pt-\x00", visit_class="EMER", service_unit="ED")
    visit = services.execute(walk_in, clerk).id
    with raw_events(store_settings) as (conn, events, _):
        [(state,)] = sql(conn, f"SELECT state FROM {events} WHERE originator_id = ?",
                         (visit if store_settings.postgres else visit.hex,))  # fmt: skip
    assert b'"pt-\\u0000"' in bytes(state)  # the log holds the NUL, as JSON escapes it
    catch_up_all(database)
    assert_every_model_at_the_head_with_nothing_parked(database)
    assert verify(database).ok  # the chain hashed the stored bytes, not the decoded ones
    app = create_app(store_settings, services, read_database=database)
    with TestClient(app) as client:
        reply = client.get(f"/api/v1/audit/events?aggregateId={visit}",
                           headers=headers(store_settings, "auditor"))  # fmt: skip
    [entry] = reply.json()["items"]
    assert (entry["actorId"], entry["patientRef"]) == ("clerk\ufffdone", "pt-\ufffd")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\x00b", "a\ufffdb"),
        ("\\u0000", "\\u0000"),  # the text backslash-u0000 is not a NUL: it stays
        ("\\\x00", "\\\ufffd"),  # a backslash, then a NUL
        ("\\\\u0000\x00", "\\\\u0000\ufffd"),
        ("\x00\x00", "\ufffd\ufffd"),
        ("no nul", "no nul"),
    ],
)
def test_without_nul_replaces_only_escaped_nul_characters(text: str, shown: str) -> None:
    stored = json.dumps({"reason": text}, ensure_ascii=False, separators=(",", ":")).encode()
    assert decode_state(stored) == {"reason": shown}


def test_without_nul_takes_a_state_sqlite_holds_as_text() -> None:
    assert without_nul('{"reason":"a\\u0000b"}') == b'{"reason":"a\\ufffdb"}'
    assert without_nul(memoryview(b'{"reason":"ab"}')) == b'{"reason":"ab"}'


def test_key_text_clips_long_identifiers_deterministically() -> None:
    assert key_text("ED") == "ED"
    assert key_text("x" * 256) == "x" * 256
    long = "é" * 300
    clipped = key_text(long)
    assert clipped == "é" * 200 + "…" + hashlib.sha256(long.encode()).hexdigest()[:16]
    assert len(clipped) == 217 and key_text(clipped) == clipped
    assert key_text(long + "!") != clipped  # distinct values stay distinct
    assert shown_as_key(long) == clipped
