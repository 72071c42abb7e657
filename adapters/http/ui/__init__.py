"""The screens the service serves under ``/ui/``: sign-in, the live flow board, the
complaints worklist, budget vs actual and the audit browser.

Plain HTML shells rendered here and ES modules from ``static/ui/`` (no build step, no
library, nothing from another host): the pages read the same JSON API as any front end."""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from adapters.http.kit.auth import BearerAuthMiddleware
from adapters.http.ui.layout import ASSETS
from adapters.http.ui.pages import page_handlers
from adapters.http.ui.sign_in import sign_in_handlers
from adapters.settings import Settings

ASSETS_DIRECTORY = Path(__file__).resolve().parent.parent / "static" / "ui"


def ui_routers(settings: Settings, authentication: BearerAuthMiddleware) -> list[Router]:
    pages = Router(
        path="/ui",
        route_handlers=[
            *sign_in_handlers(settings, authentication),
            *page_handlers(settings, authentication),
        ],
        include_in_schema=False,
    )
    assets = create_static_files_router(
        path=ASSETS,
        directories=[ASSETS_DIRECTORY],
        name="ui_assets",
        # Revalidated each time (ETag): an upgrade shows at once, an unchanged file is a 304.
        cache_control=CacheControlHeader(no_cache=True),
        include_in_schema=False,
    )
    return [pages, assets]
