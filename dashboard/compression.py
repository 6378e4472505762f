"""Brotli or gzip for text answers (Dash pages, callbacks and bundles, API, CSS, JS).

Answers that already carry a Content-Encoding (precompressed geometry, vector tiles, the map
payloads) are left alone. Compressed bodies of immutable URLs (content-hashed bundles, vendor
files) are kept in a small in-process cache: Plotly's bundle is 4 MB and must not be
recompressed for every new visitor.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict

import brotli
from flask import Flask, Response, request

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
BROTLI_QUALITY = 5  # measured: close to gzip -9 in size at gzip -6 speed on our JSON
GZIP_LEVEL = 6
STATIC_CACHE_ENTRIES = 64


def choose_encoding(accept_encoding: str | None) -> str | None:
    """The encoding to use, "br" or "gzip" (brotli on ties), from Accept-Encoding; or None."""
    best, best_q = None, 0.0
    for part in (accept_encoding or "").split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        if name not in ("br", "gzip", "*"):
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name == "*":
            name = "br"
        if q > best_q or (q == best_q and name == "br"):
            best, best_q = name, q
    return best if best_q > 0 else None


def compress(data: bytes, encoding: str) -> bytes:
    if encoding == "br":
        return brotli.compress(data, quality=BROTLI_QUALITY)
    return gzip.compress(data, GZIP_LEVEL, mtime=0)


class _StaticCache:
    """Compressed bodies of immutable URLs, least recently used evicted first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compress(self, key: tuple[str, str, int], data: bytes, encoding: str) -> bytes:
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


def register_compression(server: Flask) -> None:
    """Compress eligible answers of `server` after every other after_request hook."""
    cache = _StaticCache(STATIC_CACHE_ENTRIES)

    def _compress(resp: Response) -> Response:
        if resp.mimetype not in COMPRESSIBLE or resp.status_code != 200:
            return resp
        vary = resp.headers.get("Vary", "")
        if "accept-encoding" not in vary.lower():
            resp.headers["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
        if "Content-Encoding" in resp.headers:
            return resp
        encoding = choose_encoding(request.headers.get("Accept-Encoding"))
        if encoding is None:
            return resp
        resp.direct_passthrough = False  # send_file bodies are read here (small text files)
        data = resp.get_data()
        if len(data) < MIN_BYTES:
            return resp
        if "immutable" in resp.headers.get("Cache-Control", ""):
            body = cache.get_or_compress((request.full_path, encoding, len(data)), data, encoding)
        else:
            body = compress(data, encoding)
        resp.set_data(body)
        resp.headers["Content-Encoding"] = encoding
        etag, weak = resp.get_etag()
        if etag:
            resp.set_etag(f"{etag}-{encoding}", weak=weak)
        return resp

    # after_request hooks run in reverse order of registration: registered first, runs last.
    server.after_request_funcs.setdefault(None, []).insert(0, _compress)
