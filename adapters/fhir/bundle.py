"""A search's answer: a FHIR ``searchset`` Bundle (the same shape in R4 and R5)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.fhir.common import instant


def searchset(
    resources: Sequence[dict[str, Any]],
    *,
    base_url: str,
    self_url: str,
    next_url: str | None,
    at: datetime,
) -> dict[str, Any]:
    """Each resource a ``match`` entry whose ``fullUrl`` is its address under ``base_url``;
    ``next`` links the following page when there is one. No ``total``: pages are read one at
    a time, so the number of matches is not known."""
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": instant(at),
        "link": links,
    }
    if resources:  # FHIR JSON has no empty arrays
        bundle["entry"] = [
            {
                "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ]
    return bundle
