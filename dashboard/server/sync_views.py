"""Flask asks, for each hook and view of every request, whether the function is a coroutine
function (`Flask.ensure_sync`: inspect.iscoroutinefunction, 16 calls and ~0.035 ms per
request). The answer never changes for a given function: it is kept once found."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

# The app's hooks, views and error handlers are a few dozen functions; a bound keeps any
# function made per request (none today) from growing the table.
MAX_KEPT = 1024


def init_app(server: Flask) -> None:
    """Answer `server.ensure_sync` from a table for the plain (not async) functions."""
    plain = server.ensure_sync
    known: dict[Callable[..., Any], bool] = {}

    def ensure_sync(func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            if known.get(func):
                return func
        except TypeError:  # an unhashable callable: asked every time
            return plain(func)
        found = plain(func)
        if found is func and len(known) < MAX_KEPT:
            known[func] = True  # async functions are wrapped anew each time, as Flask does
        return found

    server.ensure_sync = ensure_sync  # type: ignore[method-assign]
