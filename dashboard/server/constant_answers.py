"""Dash answers that change only with the build: `/_dash-layout` and `/_dash-dependencies`.

Dash serialises them on every request (the layout is a function of the store in service, the
dependencies a fixed list once the callbacks exist). Under load a page open costs both, and
each waits in the same queue as the heavy callbacks: here each is serialised once per worker
and per key (the builds in service), compressed once per coding, and revalidated by ETag
(`no-cache`: the browser asks, the server answers 304 without a body).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Response, request

from dashboard.server.encoding import COMPRESSIONS, REVALIDATE, compress, negotiate
from dashboard.server.http_cache import not_modified

JSON = "application/json"
# A new build changes the key; a handful of keys per route covers a build switch in service.
MAX_KEYS = 4


@dataclass
class _Body:
    """One serialised answer and its compressed variants, made on first demand."""

    raw: bytes
    etag: str
    coded: dict[str, bytes] = field(default_factory=dict)

    def variant(self, coding: str | None) -> bytes:
        if coding is None:
            return self.raw
        if coding not in self.coded:
            self.coded[coding] = compress(self.raw, coding)
        return self.coded[coding]


class ConstantAnswers:
    """Serialised answers by (route, key), thread-safe, at most MAX_KEYS keys per route."""

    def __init__(self) -> None:
        self._bodies: dict[tuple[str, str], _Body] = {}
        self._lock = threading.Lock()

    def body(self, route: str, key: str, make: Callable[[], str]) -> _Body:
        with self._lock:
            hit = self._bodies.get((route, key))
        if hit is not None:
            return hit
        raw = make().encode("utf-8")  # outside the lock: two threads may both serialise once
        made = _Body(raw, hashlib.sha256(raw).hexdigest()[:24])
        with self._lock:
            stale = [k for k in self._bodies if k[0] == route and k[1] != key]
            for k in stale[: max(len(stale) - MAX_KEYS + 1, 0)]:
                del self._bodies[k]
            return self._bodies.setdefault((route, key), made)

    def respond(self, route: str, key: str, make: Callable[[], str]) -> Response:
        """The answer of `route` for `key` (serialised by `make` once), 304 when the client
        holds it, else compressed as the client accepts (the ETag suffixed per coding)."""
        body = self.body(route, key, make)
        coding = negotiate(request.headers.get("Accept-Encoding"), COMPRESSIONS)
        etag = f"{body.etag}-{coding}" if coding else body.etag
        headers = {"Cache-Control": REVALIDATE, "Vary": "Accept-Encoding"}
        cached = not_modified(etag, headers)
        if cached is not None:
            return cached
        resp = Response(body.variant(coding), mimetype=JSON, headers=headers)
        resp.headers["ETag"] = f'"{etag}"'
        if coding:
            resp.headers["Content-Encoding"] = coding
        return resp
