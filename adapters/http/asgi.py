"""The ASGI entry point: ``uvicorn adapters.http.asgi:create --factory``.

A factory, not a module-level app, so nothing is read from the environment at import time
and each uvicorn worker process builds its own app (and its own database pool).
"""

from __future__ import annotations

import os

from litestar import Litestar

from adapters.http.app import create_app
from adapters.logging import configure_logging
from adapters.settings import Settings


def create() -> Litestar:
    settings = Settings.from_env(os.environ)
    configure_logging(settings)
    # create_app passes logging_config=None, so Litestar leaves this configuration alone.
    return create_app(settings)
