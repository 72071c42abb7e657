"""``GET /fhir/{r4,r5}/metadata``: the server's CapabilityStatement for that FHIR version.

Public, as FHIR servers usually make it (SMART on FHIR requires it): a client reads it to
learn what the server supports and how to authenticate before it holds a token. It says
nothing about any patient or visit.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from adapters.fhir.capability import capability_statement
from adapters.fhir.common import FHIR_JSON
from adapters.fhir.releases import Release
from adapters.http.fhir_outcomes import fhir_response, outcome_responses


def _software_version() -> str:
    try:
        return version("patient-services")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


SOFTWARE_VERSION = _software_version()


def metadata_handler(release: Release) -> HTTPRouteHandler:
    def metadata(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        base = f"{str(request.base_url).rstrip('/')}/fhir/{release.name}"
        statement = capability_statement(
            release.fhir_version,
            base_url=base,
            software_version=SOFTWARE_VERSION,
            encounter_history=release.encounter_history,
        )
        return fhir_response(statement)

    label = release.name.upper()
    return get(
        "/metadata", operation_id=f"fhir{label}Metadata", name=f"fhir-{release.name}:metadata",
        summary=f"The FHIR {label} CapabilityStatement",
        description=f"What this server supports in FHIR {release.fhir_version} (resources, "
        "interactions, search parameters, security). No token needed.",
        media_type=FHIR_JSON, sync_to_thread=False, security=[],
        responses=outcome_responses(500),
    )(metadata)  # fmt: skip
