"""The composition root: settings → event store → application → policies → read models →
jobs, built here and only here.

The app factory (:mod:`adapters.http.app`) and every CLI command (:mod:`adapters.cli`) ask
this module for what they need: :func:`migrate` makes the tables, :func:`start_runtime`
opens the application and the read side and starts the projection workers beside it,
:func:`open_read_database` with :func:`read_models` serve the maintenance commands, and
:func:`hl7_processor` is the HL7 v2 intake the MLLP listener, ``POST /api/v1/hl7`` and
``hl7 import`` share.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import cast
from uuid import UUID

from adapters.access_recording import AccessRecorder
from adapters.hl7.identity import PatientRefs
from adapters.hl7.processor import Hl7Processor, Hl7Settings
from adapters.periodic import PeriodicJob
from adapters.policies import policies_of
from adapters.postgres.schema import creating_tables
from adapters.privacy.erasing import retention_job
from adapters.privacy.mapper import SealingMapper
from adapters.privacy.sealing import KeyRing
from adapters.privacy.subjects import note_sealing_began
from adapters.privacy.vault import open_vault
from adapters.readmodels import tracking as tr
from adapters.readmodels.capacity import store as capacity_store
from adapters.readmodels.complaints import store as complaints_store
from adapters.readmodels.database import ReadDatabase, open_read_database
from adapters.readmodels.healing import healing_job
from adapters.readmodels.registry import (
    ReadModelFactory,
    prepare_read_models,
    read_model_factories,
)
from adapters.readmodels.supervisor import ProjectionSupervisor
from adapters.settings import Settings
from adapters.snapshots import snapshot_key_of, stored_snapshots
from adapters.storage import ensure_schema, eventsourcing_env
from application.access_log import is_recorded, record_accesses
from application.capacity.offer_expiry import OfferExpiry
from application.complaints.deadline_watcher import DeadlineWatcher
from application.service import PatientServices
from application.shared.idempotency import Fingerprints
from domain.complaints.case import ComplaintCase

__all__ = [
    "Runtime", "access_recorder", "background_jobs", "breach_candidates", "hl7_processor",
    "migrate", "open_read_database", "open_services", "read_models", "start_runtime",
]  # fmt: skip


@contextmanager
def _creating_tables(settings: Settings) -> Iterator[None]:
    """One process at a time creates missing tables (see ``creating_tables``); SQLite's own
    write lock already serialises it there."""
    with creating_tables(settings.postgres) if settings.postgres else nullcontext():
        yield


#: What the fingerprint key is derived from the KEK for (never change: retries would not match).
FINGERPRINT_KEY_LABEL = b"patient-services/idempotency-fingerprint/v1"
#: The aggregates whose personal free text is sealed per data subject.
SEALED_AGGREGATES = (ComplaintCase,)


def open_services(settings: Settings) -> PatientServices:
    """The application on the configured event store, with the facility's policies and the
    mapper that seals personal free text (:mod:`adapters.privacy`). Constructing it creates
    the event store's and the data keys' tables where missing.

    Raises SettingsError on PostgreSQL without PRIVACY_KEK."""
    current, previous = settings.resolve_keks()
    with _creating_tables(settings):
        vault = open_vault(KeyRing(current, previous), settings.postgres, settings.var_dir)
        try:
            services = PatientServices(
                env=eventsourcing_env(settings), policies=policies_of(settings),
                mapper=partial(SealingMapper, vault=vault, aggregates=SEALED_AGGREGATES),
                fingerprints=fingerprints_of(current, previous),
                snapshots=stored_snapshots(snapshot_key_of(current)),
                snapshot_every=settings.snapshot_every,
                held_aggregates=settings.held_aggregates,
            )  # fmt: skip
        except BaseException:
            vault.close()
            raise
    mapper = cast(SealingMapper, services.mapper)
    mapper.attach(
        lambda record_id: next(iter(services.recorder.select_events(record_id, limit=1)), None)
    )
    note_sealing_began(vault, services.recorder)
    return services


def fingerprints_of(kek: bytes, previous: tuple[bytes, ...]) -> Fingerprints:
    """Idempotency fingerprints keyed by a key derived from the KEK (one secret fewer to
    keep; every instance has it), and from the previous KEKs for requests retried across a
    rotation."""

    def derived(secret: bytes) -> bytes:
        return hmac.new(secret, FINGERPRINT_KEY_LABEL, hashlib.sha256).digest()

    return Fingerprints(key=derived(kek), previous=tuple(derived(p) for p in previous))


def hl7_processor(settings: Settings, services: PatientServices) -> Hl7Processor:
    """The HL7 v2 processing over ``services``: the same for the MLLP listener, the HTTP
    route and the batch import, so a message gets the same ACK whichever way it came.

    Raises SettingsError when the patientRef key is needed but not configured (PostgreSQL
    without PATIENT_REF_SECRET); on SQLite the key is generated once under VAR_DIR."""
    return Hl7Processor(
        services,
        Hl7Settings(
            patient_refs=PatientRefs(settings.resolve_patient_ref_secret()),
            zone=settings.facility_zone,
            allowed_senders=settings.hl7_allowed_senders,
            processing_ids=settings.hl7_processing_ids,
        ),
    )


def _prepare_read_models(
    settings: Settings, database: ReadDatabase, factories: list[ReadModelFactory]
) -> None:
    """Create every read model's missing tables (one process at a time)."""
    with _creating_tables(settings):
        prepare_read_models(database, factories)


def read_models(settings: Settings) -> dict[str, ReadModelFactory]:
    """Every read model, by name, with the facility's calendar."""
    return read_model_factories(settings)


def migrate(settings: Settings) -> None:
    """Create the schema, the event store's tables and every read model's tables where
    missing (``migrate``; ``serve``, ``project`` and ``rebuild`` run it first)."""
    ensure_schema(settings)
    open_services(settings).close()
    database = open_read_database(settings)
    try:
        _prepare_read_models(settings, database, list(read_models(settings).values()))
    finally:
        database.close()


def breach_candidates(read_database: ReadDatabase, now: datetime) -> list[UUID]:
    """Cases the complaints read model says may have an unflagged breach at ``now``."""
    with read_database.read() as tx:
        generation = tr.active_position(tx, complaints_store.NAME).generation
        prefix = tr.table_prefix(complaints_store.NAME, generation)
        return [UUID(case_id) for case_id in complaints_store.breach_candidates(tx, prefix, now)]


def offer_candidates(read_database: ReadDatabase, now: datetime) -> list[tuple[UUID, UUID]]:
    """Waitlist offers the capacity read model says are due at ``now``."""
    with read_database.read() as tx:
        if not tr.generations_known(tx, capacity_store.NAME):
            return []  # an app without the capacity read model
        generation = tr.active_position(tx, capacity_store.NAME).generation
        prefix = tr.table_prefix(capacity_store.NAME, generation)
        due = capacity_store.due_offers(tx, prefix, now)
    return [(UUID(schedule), UUID(entry)) for schedule, entry in due]


def closed_cases(
    read_database: ReadDatabase, after: datetime | None, up_to: datetime
) -> list[UUID]:
    """Cases the complaints read model says closed in (``after``, ``up_to``]."""
    with read_database.read() as tx:
        generation = tr.active_position(tx, complaints_store.NAME).generation
        prefix = tr.table_prefix(complaints_store.NAME, generation)
        return [UUID(i) for i in complaints_store.closed_between(tx, prefix, after, up_to)]


def background_jobs(
    settings: Settings, services: PatientServices, read_database: ReadDatabase
) -> list[PeriodicJob]:
    """The deadline watcher (candidates from the complaints read model, decisions by each
    case), the healing of read models an older release built, and, with
    COMPLAINT_TEXT_RETENTION_YEARS set, the retention policy's erasures."""
    watcher = DeadlineWatcher(services, lambda now: breach_candidates(read_database, now))
    jobs = [
        PeriodicJob("deadline-watcher", settings.deadline_check_seconds, watcher.check),
        PeriodicJob(
            "offer-expiry",
            settings.deadline_check_seconds,
            OfferExpiry(services, partial(offer_candidates, read_database)).check,
        ),
        healing_job(read_database, list(read_models(settings).values())),
    ]
    years = settings.complaint_text_retention_years
    retention = (
        None if years is None
        else retention_job(services, partial(closed_cases, read_database), years)
    )  # fmt: skip
    if retention is not None:
        jobs.append(PeriodicJob("retention", settings.retention_check_seconds, retention.check))
    return jobs


def access_recorder(settings: Settings, services: PatientServices) -> AccessRecorder:
    """The buffer that saves the process's access records into ``services``' log in the
    background (not started: call ``start()``)."""
    return AccessRecorder(
        partial(record_accesses, services), partial(is_recorded, services),
        flush_ms=settings.access_flush_ms, buffer_limit=settings.access_buffer_limit,
        list_threshold=settings.access_list_threshold,
        default_purpose=settings.access_default_purpose,
    )  # fmt: skip


@dataclass
class Runtime:
    """What a serving process holds: the application, the read side, the supervisor of
    the projection workers and background jobs, and the access recorder."""

    services: PatientServices
    read_database: ReadDatabase
    supervisor: ProjectionSupervisor
    access_recorder: AccessRecorder | None = None

    def stop(self) -> None:
        """Save the pending access records, stop the workers, then close the read side and
        the application (in that order: a worker may be mid-batch)."""
        try:
            if self.access_recorder is not None:
                self.access_recorder.close()
            self.supervisor.stop()
        finally:
            self.read_database.close()
            self.services.close()


def start_runtime(
    settings: Settings, *, workers: bool | None = None, access_recording: bool = True
) -> Runtime:
    """Open the application and the read side (creating any missing read-model tables, so
    queries answer before the first batch), start the access recorder and, when
    ``workers`` (default: the settings' ``PROJECTION_WORKERS``), the projection workers and
    background jobs. ``access_recording=False`` leaves the recorder out: only the read
    benchmark does, for its figure without recording (no setting reaches it)."""
    services = open_services(settings)
    try:
        read_database = open_read_database(settings)
    except BaseException:
        services.close()
        raise
    try:
        factories = list(read_models(settings).values())
        _prepare_read_models(settings, read_database, factories)
        supervisor = ProjectionSupervisor(
            read_database,
            factories,
            background_jobs(settings, services, read_database),
            batch_interval=settings.projection_batch_interval_ms / 1000,
        )
    except BaseException:
        read_database.close()
        services.close()
        raise
    recorder = access_recorder(settings, services).start() if access_recording else None
    runtime = Runtime(services, read_database, supervisor, recorder)
    if settings.projection_workers if workers is None else workers:
        supervisor.start()
    return runtime
