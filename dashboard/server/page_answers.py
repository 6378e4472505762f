"""The map page's answer to Dash's page callback, kept per process by URL and builds in service.

Dash renders a page with a callback (`_pages_content.children`) whose answer depends only on
the path, the query string and the builds in service. Every visit of the map (`/`, `/embed`)
asked it: ~6 ms of CPU (the layout's ~4,000 components, then 138 kB of JSON), the same bytes
for every visitor of the same URL. Here each worker makes it once per URL and build. Profile
pages (one per territory, rarely asked twice) are not kept.

The request is checked first (dashboard.server.dash_requests runs before this hook); the key
holds the builds the request pinned, so a new build is never answered with an older page.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from flask import Flask, Response, g, request

from dashboard.server.dash_requests import UPDATE_PATH
from dashboard.server.encoding import COMPRESSIONS, compress, negotiate
from dashboard.server.http_cache import builds_stamp
from layers.appdata import current_data

PAGES_OUTPUT = ".._pages_content.children..._pages_store.data.."
KEPT_PATHS = frozenset({"/", "/embed"})
# Distinct map URLs (indicator, level, period, view...) kept per worker: ~140 kB each.
MAX_ENTRIES = 48
EXTENSION = "cafcarto.page_answers"


class PageAnswers:
    """A bounded, thread-safe map from a page key to its answer's JSON bytes, each with its
    compressed variants made on first demand (brotli on 138 kB is ~2 ms, twice the rest)."""

    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self.size = size
        self._kept: OrderedDict[str, dict[str, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, coding: str | None) -> bytes | None:
        """The answer in `coding` (None: plain), or None when not kept."""
        with self._lock:
            variants = self._kept.get(key)
            if variants is None:
                return None
            self._kept.move_to_end(key)
            body = variants.get(coding or "")
        if body is None:  # outside the lock: two threads may both compress once
            body = compress(variants[""], str(coding))
            with self._lock:
                variants[str(coding)] = body
        return body

    def put(self, key: str, body: bytes) -> None:
        with self._lock:
            self._kept[key] = {"": body}
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


def page_key(body: bytes) -> str | None:
    """The key of a page callback's request for a kept path, else None."""
    if b"_pages_content" not in body:  # every other update: no second parse of its body
        return None
    try:
        sent = json.loads(body)
    except ValueError:
        return None
    if not isinstance(sent, dict) or sent.get("output") != PAGES_OUTPUT:
        return None
    values: dict[str, Any] = {}
    for item in sent.get("inputs") or []:
        if isinstance(item, dict) and item.get("id") == "_pages_location":
            values[str(item.get("property"))] = item.get("value")
    path, search = values.get("pathname"), values.get("search")
    if path not in KEPT_PATHS or not isinstance(search, str | None):
        return None
    return f"{builds_stamp(current_data().settings)}\n{path}\n{search or ''}"


def _answer_kept(server: Flask) -> Response | None:
    if request.method != "POST" or request.path != UPDATE_PATH:
        return None
    key = page_key(request.get_data(cache=True))
    if key is None:
        return None
    coding = negotiate(request.headers.get("Accept-Encoding"), COMPRESSIONS)
    body = server.extensions[EXTENSION].get(key, coding)
    if body is None:
        g.page_key = key
        return None
    resp = Response(body, mimetype="application/json")
    if coding is not None:  # the compression hook leaves an encoded answer alone
        resp.headers["Content-Encoding"] = coding
    return resp


def _keep(server: Flask, resp: Response) -> Response:
    key = g.pop("page_key", None)
    if key is not None and resp.status_code == 200 and not resp.is_streamed:
        server.extensions[EXTENSION].put(key, resp.get_data())
    return resp


def init_app(server: Flask) -> None:
    """Answer kept pages before Dash runs; call after dash_requests.init_app (checks first)."""
    server.extensions[EXTENSION] = PageAnswers()
    server.before_request(lambda: _answer_kept(server))
    server.after_request(lambda resp: _keep(server, resp))
