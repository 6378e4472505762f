"""Content negotiation shared by every route and middleware.

- one Accept-Encoding parser (`negotiate`, RFC 9110 §12.5.3: q-values, `*`, a coding refused
  with q=0 stays refused whatever `*` says);
- one pair of Cache-Control strings for the files and layers the routes serve;
- `Encoded`: a body serialised once and gzip-compressed once (map payloads, point layers),
  answered plain or compressed as each client accepts, never compressed again per request.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import brotli
from flask import Response, request

# Content-hashed or versioned URLs: browsers keep them a year. Anything else revalidates
# (ETag or Last-Modified, answered 304).
LONG_CACHE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

# Codings the compression middleware offers, preferred first (brotli wins ties).
COMPRESSIONS: tuple[str, ...] = ("br", "gzip")
# Measured on the whole-France commune CSV (9.8 MB): brotli 4 gives 441 kB in ~30 ms, gzip 6
# 454 kB in ~120 ms; brotli 5 saves 7 % more at three times the time.
BROTLI_QUALITY = 4
GZIP_LEVEL = 6
# Prepared bodies (map values, point layers) are compressed on the request that builds them:
# level 5 as before the refactor (all-communes map values: ~15 ms less than level 6 for a
# payload 1-2 % larger, measured 2026-11-28).
PREPARED_GZIP_LEVEL = 5
# Answers of this size or more (the all-commune CSV, 20 MB, never kept by the response cache)
# are compressed anew for each request: brotli 2 and gzip 4 take ×0.6 and ×0.8 of the CPU for
# 3 % more bytes (416 against 404 kB, 497 against 482 kB; measured 2026-11-29).
LARGE_BODY = 4_000_000
LARGE_BROTLI_QUALITY = 2
LARGE_GZIP_LEVEL = 4


def _qvalue(text: str) -> float:
    try:
        q = float(text.strip())
    except ValueError:
        return 0.0
    return q if math.isfinite(q) else 0.0


def accepted_codings(header: str | None) -> dict[str, float]:
    """The codings an Accept-Encoding header names (lower case), with their q-values."""
    codings: dict[str, float] = {}
    for part in (header or "").split(","):
        name, *params = part.split(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                q = _qvalue(value)
        codings[name] = q
    return codings


def negotiate(header: str | None, offered: Sequence[str]) -> str | None:
    """The coding of `offered` the client prefers (highest q, the earlier offered on ties),
    or None for the plain body (identity is always acceptable)."""
    accepted = accepted_codings(header)
    anything = accepted.get("*", 0.0)
    best, best_q = None, 0.0
    for coding in offered:
        q = accepted.get(coding, anything)
        if q > best_q:
            best, best_q = coding, q
    return best


def client_accepts(coding: str) -> bool:
    """True when the current request's Accept-Encoding accepts `coding` (q > 0)."""
    return negotiate(request.headers.get("Accept-Encoding"), (coding,)) is not None


def compress(data: bytes, coding: str, gzip_level: int = GZIP_LEVEL) -> bytes:
    """`data` compressed in "br" or "gzip" (no timestamp: the same bytes every time)."""
    large = len(data) >= LARGE_BODY
    if coding == "br":
        return brotli.compress(data, quality=LARGE_BROTLI_QUALITY if large else BROTLI_QUALITY)
    return gzip.compress(data, min(gzip_level, LARGE_GZIP_LEVEL) if large else gzip_level, mtime=0)


@dataclass(frozen=True)
class Encoded:
    """A body prepared once: its plain bytes, their gzip copy and a digest of the plain bytes
    (an ETag stem)."""

    raw: bytes
    gz: bytes
    digest: str

    @classmethod
    def of(cls, raw: bytes) -> Encoded:
        gz = compress(raw, "gzip", PREPARED_GZIP_LEVEL)
        return cls(raw, gz, hashlib.sha256(raw).hexdigest()[:20])

    @classmethod
    def of_json(cls, payload: object) -> Encoded:
        """Compact UTF-8 JSON of `payload`."""
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return cls.of(text.encode("utf-8"))


def encoded_response(
    body: Encoded,
    mimetype: str,
    headers: Mapping[str, str],
    *,
    etag: str | None = None,
    min_bytes: int = 0,
) -> Response:
    """`body` gzip-compressed when the client accepts gzip (and it weighs `min_bytes` or more),
    else plain; `Vary: Accept-Encoding`, and when `etag` is given the ETag `"<etag>"`, or
    `"<etag>-gz"` for the compressed variant (each variant has its own validator)."""
    use_gz = len(body.raw) >= min_bytes and client_accepts("gzip")
    resp = Response(body.gz if use_gz else body.raw, mimetype=mimetype)
    resp.headers.update({**headers, "Vary": "Accept-Encoding"})
    if etag is not None:
        resp.headers["ETag"] = f'"{etag}{"-gz" if use_gz else ""}"'
    if use_gz:
        resp.headers["Content-Encoding"] = "gzip"
    return resp
