"""The OpenAPI document against the service, on both stores: schemathesis generates requests
from the document (valid ones, and ones it forbids) and checks every answer against it.

Checks: no 5xx at all (``not_a_server_error``); the answer is as documented: its status
(``status_code_conformance``), media type (``content_type_conformance``), headers
(``response_headers_conformance``) and body (``response_schema_conformance``); and the
document says what the service enforces: a request it forbids is refused
(``negative_data_rejection``) and one it allows is not refused as invalid
(``positive_data_acceptance``). A check failure fails the test unless :data:`INTENDED` lists
it, by operation and check, with the reason it is intended.

In-process (schemathesis' ASGI transport against the Litestar app), one store per backend for
the module, the projection workers running so the read models answer, and a token with every
role so no operation is only ever a 403. The budget is fixed: schemathesis' coverage cases
(boundaries of every documented constraint) and ``MAX_EXAMPLES`` generated requests per
operation. Derandomised under CI, so a failure there fails the same way on a laptop.
``CONTRACT_REPORT=<file>`` appends the run's figures to that file.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

import hypothesis
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from schemathesis.core.failures import FailureGroup

from adapters.auth_tokens import mint_token
from adapters.composition import open_services
from adapters.http.app import create_app
from adapters.privacy import key_use
from adapters.readmodels.database import open_read_database
from adapters.readmodels.registry import prepare_read_models, read_model_factories
from adapters.readmodels.supervisor import ProjectionSupervisor
from adapters.settings import Settings
from adapters.storage import ensure_schema
from application.shared import permissions
from application.shared.commands import Command
from tests.support.hl7 import register_contract_media_type
from tests.support.postgres import BACKENDS, schema_settings

#: Generated requests per operation (the fuzzing phase), beside the coverage phase's cases.
MAX_EXAMPLES = 5
DERANDOMIZE = bool(os.environ.get("CI"))
#: Fixed, so a failing example is reproducible; long enough for HS256.
JWT_SECRET = "contract-secret-" + "x" * 40

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.negative_data_rejection,
    schemathesis.checks.positive_data_acceptance,
]
POSITIVE = "positive_data_acceptance"


@dataclass(frozen=True)
class Intended:
    """Failures of ``check`` on the operations matching ``operations`` (a glob over
    "METHOD /path") that are intended. For ``positive_data_acceptance`` (a request the
    document allows was refused as invalid) only the refusals matching ``refusals`` are:
    regular expressions over each of the problem's errors, as "field: message" (the field
    "-" when the error names none), or over its code when it lists no errors."""

    operations: str
    check: str
    why: str
    refusals: tuple[str, ...] = ()

    def covers(self, operation: str, check: str, refusals: list[str]) -> bool:
        if check != self.check or not fnmatchcase(operation, self.operations):
            return False
        if check != POSITIVE:
            return True
        return bool(refusals) and all(
            any(re.search(allowed, refusal) for allowed in self.refusals) for refusal in refusals
        )


#: Every check failure the document cannot or should not prevent. Anything else fails the test.
INTENDED = [
    # A FHIR search ignores search parameters it does not know (FHIR's default "lenient"
    # handling: a client cannot tell a server's optional parameters from unknown ones), so
    # a request the document forbids for an extra query parameter is answered, not refused.
    Intended(
        "GET /fhir/*/Encounter*",
        "negative_data_rejection",
        "unknown search parameters are ignored, as FHIR search does by default",
    ),
    # JSON Schema's date-time format has no bounds; the years 1900-2199 are stated in the
    # document's description instead (beyond them, period arithmetic would overflow).
    Intended(
        "* /api/v1/*",
        POSITIVE,
        "times outside 1900-2199",
        (r"^[-\w]+: (\w+ )?must be between 1900 and 2200$",),
    ),
    # Rules across fields or headers, which JSON Schema cannot state.
    Intended(
        "POST /api/v1/*",
        POSITIVE,
        "cross-field and cross-header rules",
        (
            r"^[\w.\[\]]+: [A-Z]{3} amounts have at most \d decimals$",  # decimals per currency
            r"^X-Source-(System|Message-Id): X-Source-System and X-Source-Message-Id are sent",
            r"^scheduledEnd: the scheduled end must be after the start$",
            r"^visitNumberAuthority: an assigning authority needs a visit number$",
            r"^toLineId: a line cannot transfer to itself$",
            # Against the clock, stated in the document's description.
            r"^\w+: is more than 5 minutes in the future$",
        ),
    ),
    # An Idempotency-Key is the client's: generated keys repeat across different requests,
    # which is exactly what 422 IDEMPOTENCY_KEY_REUSED is for.
    Intended(
        "POST /api/v1/*",
        POSITIVE,
        "a key reused for another request",
        (r"^IDEMPOTENCY_KEY_REUSED$",),
    ),
    # JSON Schema counts 2000.0 as an integer; the service wants an integer literal (msgspec
    # decodes strictly, so a float never slips into an integer field).
    Intended(
        "POST /api/v1/*",
        POSITIVE,
        "an integral float for an integer",
        (r"^[\w.\[\]]+: Expected `int`, got `float`$",),
    ),
    # A complaint may name a visit: it must be one the service holds (looked up, not a format).
    Intended(
        "POST /api/v1/complaints",
        POSITIVE,
        "an unknown visit",
        (r"^visitId: no visit has this id$",),
    ),
    # Cursors are opaque: only one the service returned is one.
    Intended(
        "GET /api/v1/*",
        POSITIVE,
        "a made-up cursor",
        (r"^cursor: not a cursor this service returned$",),
    ),
    # Query periods: from before to, and a bounded length (cross-parameter rules).
    Intended(
        "GET /api/v1/*",
        POSITIVE,
        "a period backwards or too long",
        (r"^from: must be before `to`$", r"^to: the period may be at most \d+ days$"),
    ),
    # A record as of a version or as of a time, not both (a cross-parameter rule).
    Intended(
        "GET /api/v1/*/{id}",
        POSITIVE,
        "asOf with asOfVersion",
        (r"^asOf: give asOf or asOfVersion, not both$",),
    ),
    # The visit search reads an index of one of its keys: at least one is required (a rule
    # across parameters).
    Intended(
        "GET /api/v1/visits",
        POSITIVE,
        "a visit search without a key",
        (r"^visitNumber: give visitNumber or patientRef \(or both\)$",),
    ),
    # Capacity: rules across a schedule's fields, over a unit's or schedule's state (a bed
    # list the same as now, a date that holds no session), and across query parameters.
    Intended(
        "POST /api/v1/*",
        POSITIVE,
        "capacity rules across fields or against the configuration",
        (
            r"^end: (must be after start|a session lasts at most 24 hours)$",
            r"^start: must be on a whole minute$",
            r"^slotMinutes: a slot must fit in the session$",
            r"^repeat\.until: (must not be before the first session|at most \d+ days after the"
            r" start)$",
            r"^beds: (the bed list is the same as now|each bed may be listed once)$",
            r"^date: the schedule has no session on that date$",
            r"^scheduledStart: is not the start of a slot",
            r"^serviceUnit: the schedule is of another unit$",
            r"^scheduledEnd: must be the slot's end",
        ),
    ),
    # The facility's complaint settings: a default policy a registration may rely on only
    # once chosen, a calendar's holidays only with a name of the facility's own, and no choice
    # the same as the one in force.
    Intended(
        "POST /api/v1/complaint*",
        POSITIVE,
        "complaint rules across fields or against the facility's settings",
        (
            r"^policy: name the case's policy: the facility has chosen no default policy$",
            r"^policy: [\w-]+ is the facility's default policy already$",
            r"^holidays: (.+ is shipped with the service|a calendar of your own needs)",
            r"^name: (this is the facility's calendar already|a calendar of your own may not be "
            r"named like a shipped one)$",
        ),
    ),
    # A FHIR Slot search: its page cursor is the server's, its start bounds a period forwards
    # of at most 92 days (a rule across the two `start` values).
    Intended(
        "GET /fhir/*/Slot",
        POSITIVE,
        "a made-up cursor; start bounds not a day, backwards or too far apart",
        (
            r"^_cursor: is not a cursor this server gave$",
            r"^start: (must be before `start`|the period may be at most \d+ days)$",
            # The pattern has the shape of a date; the calendar says which are days.
            r"^start: (is not a FHIR date or dateTime|must be between 1900 and 2200)$",
        ),
    ),
    Intended(
        "GET /api/v1/units/{code}",
        POSITIVE,
        "asOf with asOfVersion",
        (r"^asOf: give asOf or asOfVersion, not both$",),
    ),
    Intended(
        "GET /api/v1/flow/occupancy",
        POSITIVE,
        "an instant or a period, not both; a period backwards",
        (
            r"^at: give at, or from and to, not both$",
            r"^(from|to): give from and to together$",
            r"^from: must not be after `to`$",
        ),
    ),
    Intended(
        "GET /api/v1/*slots",
        POSITIVE,
        "a made-up page cursor",
        (r"^after: is not a nextAfter this service gave$",),
    ),
    # minPosition's bound is the head of the log, which only the store knows.
    Intended(
        "GET /api/v1/*",
        POSITIVE,
        "a position beyond the log",
        (r"^minPosition: is beyond the log",),
    ),
]


def every_role() -> list[str]:
    """Every role a command or a read names, so the token is never the reason for a 403."""
    roles: set[str] = set()
    for value in vars(permissions).values():
        if isinstance(value, frozenset):
            roles |= value
    pending: list[type[Command]] = [Command]
    while pending:
        command = pending.pop()
        roles |= command.roles
        pending.extend(command.__subclasses__())
    return sorted(roles)


@dataclass
class Findings:
    """What the run met, for ``CONTRACT_REPORT``."""

    examples: Counter[str] = field(default_factory=Counter)
    failures: Counter[tuple[str, str, bool]] = field(default_factory=Counter)
    refusals: Counter[tuple[str, str]] = field(default_factory=Counter)

    def summary(self, backend: str) -> str:
        lines = [
            f"{backend}: {len(self.examples)} operations, {sum(self.examples.values())} examples",
            *(
                f"  {count:5d} {check} {operation}{' (intended)' if intended else ''}"
                for (operation, check, intended), count in sorted(self.failures.items())
            ),
        ]
        by_refusal: Counter[str] = Counter()
        for (_, refusal), count in self.refusals.items():
            by_refusal[refusal] += count
        lines += [f"  {count:5d} refused: {refusal}" for refusal, count in by_refusal.most_common()]
        return "\n".join(lines)


def _document() -> dict[str, Any]:
    """The OpenAPI document, from an app that is built but never started (no store)."""
    return create_app(Settings(jwt_secret=JWT_SECRET)).openapi_schema.to_schema()


@pytest.fixture(scope="module", params=BACKENDS)
def contract_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """One store per backend for the whole module: examples pile up in it as in a real one."""
    if request.param == "sqlite":
        yield Settings(jwt_secret=JWT_SECRET, var_dir=tmp_path_factory.mktemp("contract") / "var")
        return
    server = request.getfixturevalue("postgres_server")
    database = request.getfixturevalue("postgres_database")
    with schema_settings(server, database, JWT_SECRET) as settings:
        # POST /api/v1/hl7 needs the patientRef key on PostgreSQL, POST /api/v1/audit/verify
        # the checkpoint signing key (else a 503, by design).
        key = tmp_path_factory.mktemp("contract-key") / "audit_signing_key.pem"
        key.write_bytes(
            Ed25519PrivateKey.generate().private_bytes(
                Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
            )
        )
        yield replace(
            settings,
            patient_ref_secret="contract-ref-secret-" + "x" * 40,
            audit_signing_key_file=key,
        )


@pytest.fixture(scope="module")
def contract_app(contract_settings: Settings) -> Iterator[Any]:
    """The app over the store, with the read models' workers running."""
    ensure_schema(contract_settings)
    services = open_services(contract_settings)  # composed as in production: sealing text
    database = open_read_database(contract_settings)
    factories = list(read_model_factories(contract_settings).values())
    prepare_read_models(database, factories)
    supervisor = ProjectionSupervisor(database, factories)
    supervisor.start()
    # An erasure waits out the reads racing it (2 s): shortened, or the generated erasures
    # would take minutes. The rule it keeps is tested in tests/api/test_erasure.py.
    grace = pytest.MonkeyPatch()
    grace.setattr(key_use, "GRACE_SECONDS", 0.01)
    try:
        yield create_app(contract_settings, services, read_database=database)
    finally:
        grace.undo()
        supervisor.stop()
        database.close()
        services.close()


@pytest.fixture(scope="module")
def everyone(contract_settings: Settings) -> dict[str, str]:
    token = mint_token(contract_settings, "contract-tester", every_role())
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def findings(contract_settings: Settings) -> Iterator[Findings]:
    found = Findings()
    yield found
    report = os.environ.get("CONTRACT_REPORT")
    if report:
        backend = "postgres" if contract_settings.database_url else "sqlite"
        with open(report, "a") as out:
            out.write(found.summary(backend) + "\n")


register_contract_media_type()  # POST /api/v1/hl7 sends and answers HL7 v2 text
schema = schemathesis.openapi.from_dict(
    _document(),
    config=schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": DERANDOMIZE},
            # The document declares no links between operations.
            "phases": {"stateful": {"enabled": False}},
        }
    ),
    # The live board is a stream that ends only after minutes: a call would wait for all
    # of it. tests/integration/test_board_stream.py tries it as a streaming client would.
).exclude(operation_id="streamFlowBoard")


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    database=None,
    # The store fills up as the examples run: timing health checks would be noise.
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_the_service_answers_as_its_openapi_document_says(
    case: Any, contract_app: Any, everyone: dict[str, str], findings: Findings
) -> None:
    operation = case.operation.label
    findings.examples[operation] += 1
    response = case.call(app=contract_app, headers=everyone)
    unintended: list[FailureGroup] = []
    for check in CHECKS:
        try:
            case.validate_response(response, checks=[check])
        except FailureGroup as group:
            refusals = _refusals(response) if check.__name__ == POSITIVE else []
            intended = any(i.covers(operation, check.__name__, refusals) for i in INTENDED)
            findings.failures[operation, check.__name__, intended] += 1
            for refusal in refusals:
                findings.refusals[operation, refusal] += 1
            if not intended:
                unintended.append(group)
    if unintended:
        raise unintended[0]


def _refusals(response: Any) -> list[str]:
    """A 4xx problem's errors as "field: message", or its code if it lists none; a FHIR
    OperationOutcome's diagnostics (written "field: message" too)."""
    try:
        problem = response.json()
    except ValueError:
        return []
    if not isinstance(problem, dict):
        return []
    if problem.get("resourceType") == "OperationOutcome":
        return [str(issue.get("diagnostics")) for issue in problem.get("issue") or []]
    errors = problem.get("errors") or []
    if not errors:
        return [str(problem.get("code"))]
    return [f"{error.get('field') or '-'}: {error.get('message')}" for error in errors]
