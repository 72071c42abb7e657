"""API fixtures: the real app over an in-memory store or a SQLite one with read models, and tokens.

The app is built with ``create_app(settings, services)`` so each test owns its store and can
look at what was (or was not) recorded through ``memory_services`` (behind ``client``) or
``stored_services`` (behind ``read_client``). Request helpers are in tests/support/api.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.auth_tokens import mint_token
from adapters.http.app import create_app
from adapters.readmodels.base import ReadModel
from adapters.readmodels.database import ReadDatabase, open_read_database
from adapters.readmodels.registry import prepare_read_models, read_model_factories
from adapters.readmodels.supervisor import ProjectionSupervisor
from adapters.settings import Settings
from application.service import PatientServices
from tests.support.api import Headers, scheduler
from tests.support.projections import marked_read_models


@pytest.fixture
def client(settings: Settings, memory_services: PatientServices) -> Iterator[TestClient[Any]]:
    """The app over ``memory_services`` (no read models: see ``read_client`` below)."""
    with TestClient(create_app(settings, memory_services)) as test_client:
        yield test_client


@pytest.fixture
def auth(settings: Settings) -> Callable[..., Headers]:
    """``auth("clerk", "nurse", sub="alice")`` → an Authorization header for those roles."""

    def headers(*roles: str, sub: str = "alice") -> Headers:
        return {"Authorization": f"Bearer {mint_token(settings, sub, roles)}"}

    return headers


@pytest.fixture
def admin(auth: Callable[..., Headers]) -> Headers:
    return auth("admin", sub="ada")


@pytest.fixture
def manager(auth: Callable[..., Headers]) -> Headers:
    return auth("manager", sub="mo")


@pytest.fixture
def clerk(auth: Callable[..., Headers]) -> Headers:
    return auth("clerk")


@pytest.fixture
def staff(auth: Callable[..., Headers]) -> Headers:
    """Every role a visit's flow needs, so walks need only one token."""
    return auth("clerk", "nurse", "clinician", "manager")


@pytest.fixture
def schedule(client: TestClient[Any], clerk: Headers) -> Callable[..., str]:
    """Schedule a visit (as a clerk) through ``client`` and return its id."""
    return scheduler(client, clerk)


@pytest.fixture
def read_schedule(read_client: TestClient[Any], clerk: Headers) -> Callable[..., str]:
    """Schedule a visit (as a clerk) through ``read_client`` and return its id."""
    return scheduler(read_client, clerk)


# ---- the read side: a SQLite store, its read models and their workers ----------------------
# A module picks its read models with ``pytestmark = pytest.mark.read_models([...])`` (default:
# all of them); ``read_client`` then serves ``stored_services`` with their workers running,
# ``idle_read_client`` with none (the views never move).
@pytest.fixture
def read_models(request: pytest.FixtureRequest) -> list[Callable[[], ReadModel]]:
    return marked_read_models(request) or list(read_model_factories().values())


@pytest.fixture
def read_database(
    settings: Settings,
    stored_services: PatientServices,
    read_models: list[Callable[[], ReadModel]],
) -> Iterator[ReadDatabase]:
    database = open_read_database(settings)
    prepare_read_models(database, read_models)
    yield database
    database.close()


@pytest.fixture
def read_client(
    settings: Settings,
    stored_services: PatientServices,
    read_database: ReadDatabase,
    read_models: list[Callable[[], ReadModel]],
) -> Iterator[TestClient[Any]]:
    supervisor = ProjectionSupervisor(read_database, read_models)
    supervisor.start()
    try:
        app = create_app(settings, stored_services, read_database=read_database)
        with TestClient(app) as test_client:
            yield test_client
    finally:
        supervisor.stop()


@pytest.fixture
def idle_read_client(
    settings: Settings, stored_services: PatientServices, read_database: ReadDatabase
) -> Iterator[TestClient[Any]]:
    app = create_app(settings, stored_services, read_database=read_database)
    with TestClient(app) as test_client:
        yield test_client
