"""Give back to the system the memory a large answer used, once it is sent.

A whole-level answer (the commune CSV, Excel or JSON, ~35,000 rows) briefly needs ~100 MB of
frames, lists and strings. Once freed, that memory stays in the allocators' free lists (Arrow's
mimalloc pool, glibc's arenas, one per thread): each worker kept ~75 MB more after its first
such answer (the ~150 MB per worker seen after `/api/v1/data?level=commune`). After an answer
of at least `LARGE_BODY` bytes, Arrow's pool releases its unused pages and glibc trims its
heaps (`layers.memory.release`, ~1–3 ms, only after those answers).
"""

from __future__ import annotations

from flask import Flask, Response, g

from layers.memory import release

LARGE_BODY = 512 * 1024


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
