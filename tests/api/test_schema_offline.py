"""``/schema`` (Swagger UI) works without internet access: the page names only the service's
own files (adapters/http/openapi_assets.py), and the service serves each of them."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar.testing import TestClient

# The media types each kind of file may be served with (``.js`` differs between platforms'
# mimetypes tables).
_TYPES = {
    ".js": {"text/javascript", "application/javascript"},
    ".css": {"text/css"},
    ".png": {"image/png"},
}


class _References(HTMLParser):
    """Every ``src`` and ``href`` attribute of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls.extend(value for name, value in attrs if name in {"src", "href"} and value)


@pytest.fixture
def references(client: TestClient[Any]) -> list[str]:
    reply = client.get("/schema")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/html")
    parser = _References()
    parser.feed(reply.text)
    return parser.urls


def test_the_page_refers_only_to_same_origin_paths(references: list[str]) -> None:
    # The bundle, the preset, the stylesheet and the favicon.
    assert len(references) == 4
    for url in references:
        parts = urlsplit(url)
        # No scheme and no host: not http(s)://..., not protocol-relative //host/...
        assert not parts.scheme and not parts.netloc, url
        assert url.startswith("/schema/assets/"), url


def test_every_referenced_file_is_served(client: TestClient[Any], references: list[str]) -> None:
    for url in references:
        reply = client.get(url)  # no Authorization header: the page is public
        assert reply.status_code == 200, url
        media_type = reply.headers["content-type"].split(";")[0].strip()
        suffix = url[url.rindex(".") :]
        assert media_type in _TYPES[suffix], (url, media_type)
        # Real files, not an error page: the favicon is the smallest (628 bytes).
        assert len(reply.content) > 500, url
        assert "max-age" in reply.headers.get("cache-control", ""), url


def test_the_stylesheet_loads_nothing_from_elsewhere(client: TestClient[Any]) -> None:
    css = client.get("/schema/assets/swagger-ui.css").text
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", css)
    assert "@import" not in css
