"""Give back to the system the memory a large answer used, once it is sent.

A whole-level answer (the commune CSV, Excel or JSON, ~35,000 rows) briefly needs ~100 MB of
frames, lists and strings. Once freed, that memory stays in the allocators' free lists (Arrow's
mimalloc pool, glibc's arenas, one per thread): each worker kept ~75 MB more after its first
such answer (the ~150 MB per worker seen after `/api/v1/data?level=commune`). After an answer
of at least `LARGE_BODY` bytes, Arrow's pool releases its unused pages and glibc trims its
heaps (`malloc_trim`, ~1–3 ms, only after those answers).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

import pyarrow as pa
from flask import Flask, Response, g

LARGE_BODY = 512 * 1024


def _glibc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None  # absent outside glibc
    except (OSError, AttributeError):
        return None


_TRIM = _glibc_trim()


def release() -> None:
    """Return free pages of Arrow's pool and of the C heap to the system."""
    pa.default_memory_pool().release_unused()
    if _TRIM is not None:
        _TRIM(0)


def _mark_large(response: Response) -> Response:
    if not response.is_streamed and (response.calculate_content_length() or 0) >= LARGE_BODY:
        g.cafcarto_release_memory = True
    return response


def _after_sending(_exc: BaseException | None) -> None:
    if g.pop("cafcarto_release_memory", False):
        release()


def init_app(server: Flask) -> None:
    """Mark large answers before compression (the size built), release when the request ends."""
    server.after_request(_mark_large)
    server.teardown_request(_after_sending)
