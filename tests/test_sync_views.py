"""Flask's coroutine check answered once per function (dashboard.server.sync_views): the same
function back for a plain view, every time; an async one still goes through Flask's wrapper."""

from __future__ import annotations

import pytest
from flask import Flask

from dashboard.server import sync_views


def test_plain_functions_come_back_as_they_are_and_async_ones_are_still_wrapped() -> None:
    server = Flask(__name__)
    sync_views.init_app(server)

    def view() -> str:
        return "ok"

    async def later() -> str:
        return "ok"

    assert server.ensure_sync(view) is view and server.ensure_sync(view) is view
    with pytest.raises(RuntimeError):  # Flask's own answer without its async extra
        server.ensure_sync(later)
    unhashable = type("Unhashable", (), {"__eq__": lambda s, o: s is o, "__call__": lambda s: 1})()
    assert server.ensure_sync(unhashable) is unhashable


def test_the_app_answers_through_the_kept_functions(settings) -> None:
    from dashboard.app import create_app

    client = create_app(settings).server.test_client()
    assert [client.get("/healthz").status_code for _ in range(3)] == [200, 200, 200]
