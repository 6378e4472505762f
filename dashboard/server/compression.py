"""Brotli or gzip for text answers (Dash pages, callbacks and bundles, API, CSS, JS).

Answers that already carry a Content-Encoding (precompressed geometry, vector tiles, the map
payloads) are left alone. Compressed bodies of static files (immutable URLs, or /vendor/ and
/assets/ files under their ETag) are kept in a small in-process cache: MapLibre's module is
1.1 MB and Plotly's bundle 4 MB, and neither must be recompressed for every visitor.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from flask import Flask, Response, current_app, request

from dashboard.server.encoding import COMPRESSIONS, compress, negotiate

COMPRESSIBLE = {
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/geo+json",
    "text/csv",
    "image/svg+xml",
    "text/plain",
}
MIN_BYTES = 500
STATIC_CACHE_ENTRIES = 64
STATIC_PREFIXES = ("/vendor/", "/assets/", "/_dash-component-suites/")
EXTENSION = "cafcarto.compressed"


class _StaticCache:
    """Compressed bodies of immutable URLs, least recently used evicted first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compress(self, key: tuple[str, ...], data: bytes, encoding: str) -> bytes:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        body = compress(data, encoding)
        with self._lock:
            self._items[key] = body
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return body


def init_app(server: Flask) -> None:
    """Compress eligible answers of `server` after every other after_request hook."""
    server.extensions[EXTENSION] = _StaticCache(STATIC_CACHE_ENTRIES)
    # after_request hooks run in reverse order of registration: registered first, runs last.
    server.after_request_funcs.setdefault(None, []).insert(0, compress_response)


def _add_vary(resp: Response) -> None:
    vary = resp.headers.get("Vary", "")
    if "accept-encoding" not in vary.lower():
        resp.headers["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"


def _is_static(resp: Response, etag: str) -> bool:
    """Same URL, same bytes: worth keeping compressed."""
    return request.method == "GET" and (
        "immutable" in resp.headers.get("Cache-Control", "")
        or bool(etag and request.path.startswith(STATIC_PREFIXES))
    )


def compress_response(resp: Response) -> Response:
    """The after_request hook: brotli or gzip as the client prefers, the ETag suffixed with
    the coding (`"<etag>-br"`) so that each variant revalidates on its own."""
    if resp.mimetype not in COMPRESSIBLE or resp.status_code != 200:
        return resp
    _add_vary(resp)
    if "Content-Encoding" in resp.headers:
        return resp
    encoding = negotiate(request.headers.get("Accept-Encoding"), COMPRESSIONS)
    if encoding is None:
        return resp
    resp.direct_passthrough = False  # send_file bodies are read here (small text files)
    data = resp.get_data()
    if len(data) < MIN_BYTES:
        return resp
    etag = resp.get_etag()[0] or ""
    if _is_static(resp, etag):
        key = (request.full_path, encoding, etag, str(len(data)))
        body = current_app.extensions[EXTENSION].get_or_compress(key, data, encoding)
    else:
        body = compress(data, encoding)
    resp.set_data(body)
    resp.headers["Content-Encoding"] = encoding
    if etag:
        resp.set_etag(f"{etag}-{encoding}", weak=resp.get_etag()[1])
    return resp
