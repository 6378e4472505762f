"""Calling Dash callbacks as plain functions, without a browser.

`dash.callback` returns the function it decorates: a test calls it directly, inside
`app.server.test_request_context()` so that `current_data()` finds that app's data and
`dash.get_relative_path` its prefix. A callback that reads `dash.ctx.triggered_id` runs through
`triggered_by`, which sets the callback context the way Dash's testing guide shows.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import copy_context
from typing import Any

from dash._callback_context import context_value
from dash._utils import AttributeDict


def triggered_by(prop_id: str, callback: Callable[..., Any], *args: Any) -> Any:
    """`callback(*args)` as Dash runs it after `prop_id` ("<id>.<property>") changed."""

    def run() -> Any:
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": 1}]))
        return callback(*args)

    return copy_context().run(run)


PAGES_OUTPUT = ".._pages_content.children..._pages_store.data.."


def page_request(path: str, search: str = "") -> dict[str, Any]:
    """The body the renderer posts to render the page of a URL (Dash pages' router)."""
    return {
        "output": PAGES_OUTPUT,
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": path},
            {"id": "_pages_location", "property": "search", "value": search},
        ],
        "changedPropIds": ["_pages_location.pathname"],
    }
