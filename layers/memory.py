"""Give back to the system the memory a large step used, once it is freed.

Freed memory stays in the allocators' free lists (Arrow's mimalloc pool, glibc's arenas): a
process's resident size then keeps the high-water mark of each step. Arrow's pool releases
its unused pages and glibc trims its heaps (`malloc_trim`, a few ms). Used after the app's
whole-level answers (`dashboard/server/memory_release.py`) and between the steps of a
publication of the real store (`layers/real_store.py`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

import pyarrow as pa


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
