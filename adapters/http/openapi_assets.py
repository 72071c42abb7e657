"""Swagger UI at ``/schema`` without the internet: its JS, CSS and favicon are served by the
service itself from ``static/swagger_ui/`` (vendored swagger-ui-dist, see the README there),
not from Litestar's default CDN, so the page works on an isolated network.

The assets are public and carry no data, so the router is outside ``/api`` and its
authentication, and left out of the OpenAPI document.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

#: The vendored swagger-ui-dist release (the one Litestar 2.25's plugin would fetch).
SWAGGER_UI_VERSION = "5.18.2"
#: Where the assets are served (below the OpenAPI path, ``/schema``).
ASSETS_PATH = "/schema/assets"
ASSETS_DIRECTORY = Path(__file__).parent / "static" / "swagger_ui"

# A day: the URLs carry no version, so an upgrade shows within a day at worst.
_CACHE = CacheControlHeader(public=True, max_age=86_400)


def swagger_ui_assets_router() -> Router:
    """``GET /schema/assets/<file>``: the vendored Swagger UI files."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS_DIRECTORY],
        name="swagger_ui_assets",
        cache_control=_CACHE,
        include_in_schema=False,
    )


def swagger_ui_plugin() -> SwaggerRenderPlugin:
    """Litestar's Swagger UI page, pointed at :func:`swagger_ui_assets_router`'s files
    (the favicon too: Litestar's default is an image on a CDN)."""
    return SwaggerRenderPlugin(
        version=SWAGGER_UI_VERSION,
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
    )
