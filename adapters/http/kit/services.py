"""Where a request finds the application: the app's :class:`PatientServices`, kept in
``app.state`` by the app factory (None while the process starts, or once it stops)."""

from __future__ import annotations

from typing import Any, cast

from litestar.connection import ASGIConnection

from adapters.http.kit.errors import ServiceUnavailableError
from application.service import PatientServices

#: Where the app keeps its :class:`PatientServices` (``app.state``).
SERVICES_STATE_KEY = "services"


def services_of(connection: ASGIConnection[Any, Any, Any, Any]) -> PatientServices:
    services = connection.app.state.get(SERVICES_STATE_KEY)
    if services is None:  # only between process start and the end of start-up
        raise ServiceUnavailableError("the application is starting")
    return cast(PatientServices, services)
