"""Fixtures and hypothesis profiles shared by every test folder.

Where things live: fixtures only in conftest.py files, each defined once, in the narrowest
conftest that serves all its users (here: settings, envs, ``memory_services``,
``stored_services``; tests/api/conftest.py: the app as ``client`` over ``memory_services`` or as
``read_client`` over ``stored_services`` with read models, tokens; tests/integration/conftest.py:
PostgreSQL, ``store_settings`` on both stores, ``services``, ``database`` and ``served_client``
on them). A module chooses the read models those fixtures prepare with a
``pytest.mark.read_models([...])`` mark, never by redefining a fixture. Helpers,
builders, given-when-then and histories live in tests/support/ (gwt.py, budget.py,
complaints.py, histories.py, api.py, postgres.py, counting_model.py, ...), and test modules and
conftests import them from there: no test module imports another test module or a conftest.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from adapters.composition import open_services
from adapters.memory import MEMORY_ENV
from adapters.settings import Settings
from adapters.storage import eventsourcing_env
from application.service import PatientServices
from tests.support.postgres import TEST_KEK

# The service refuses to start on PostgreSQL without a key-encryption key; the processes and
# in-process CLI runs of the tests find this one in their environment.
os.environ.setdefault("PRIVACY_KEK", TEST_KEK)

# The test process holds millions of live objects (litestar, hypothesis, the FHIR models of
# two versions), and each full collection walks them all: with the default thresholds a
# third of the API tests' time went to about a hundred full collections of ~0.6 s each
# (measured with gc.callbacks). Collecting the young generations as usual but the oldest
# rarely keeps that to a few; the process grows by a few hundred MB of garbage in exchange.
gc.set_threshold(10_000, 50, 100)

# "ci": reproducible (derandomised) and bounded, so the suite stays fast and a failure in CI
# fails the same way on a laptop. "dev": fewer examples for quick feedback, random seeds so
# repeated runs explore more. Timing belongs in benchmarks, so no deadline in either.
hypothesis_settings.register_profile(
    "ci", max_examples=50, deadline=None, derandomize=True, print_blob=True
)
hypothesis_settings.register_profile("dev", max_examples=20, deadline=None)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture
def jwt_secret() -> str:
    """Long enough for HS256 (32 bytes); fixed so a failing token test is reproducible."""
    return "test-secret-" + "x" * 40


@pytest.fixture
def settings(tmp_path: Path, jwt_secret: str) -> Settings:
    """Settings for a fresh SQLite store under ``tmp_path`` (never the repository's var/)."""
    return Settings(jwt_secret=jwt_secret, var_dir=tmp_path / "var")


@pytest.fixture
def memory_env() -> dict[str, str]:
    """eventsourcing env for an in-memory store with ``position_of`` (unit tests, no I/O)."""
    return dict(MEMORY_ENV)


@pytest.fixture
def sqlite_env(settings: Settings) -> dict[str, str]:
    """eventsourcing env for a fresh SQLite file, configured exactly as in production."""
    return eventsourcing_env(settings)


@pytest.fixture
def memory_services(memory_env: dict[str, str]) -> Iterator[PatientServices]:
    """The application on a fresh in-memory store."""
    app = PatientServices(env=memory_env)
    yield app
    app.close()


@pytest.fixture
def stored_services(settings: Settings) -> Iterator[PatientServices]:
    """The application on ``settings``'s fresh SQLite store, composed as in production (its
    personal free text sealed per data subject)."""
    app = open_services(settings)
    yield app
    app.close()
