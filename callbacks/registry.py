"""Module-level Dash callbacks given to every app of the process.

`dash.callback` and `dash.clientside_callback` put what they declare in process-wide lists
(`dash._callback.GLOBAL_CALLBACK_LIST`, `GLOBAL_CALLBACK_MAP`, `GLOBAL_INLINE_SCRIPTS`) that
the first app to serve a request takes and empties (Dash 4.4.1, `Dash._setup_server`): a
second app of the same process (the tests build many, each on its own data) would have no
callback. So the callbacks declared inside `taking()` are taken out of those lists, and
`install(app, declared)` copies them into an app, as `app.callback` would have registered
them. Background callbacks need nothing more: Dash registers their job functions with every
manager, created before or after (`BaseBackgroundCallbackManager.functions`), and runs them
with the manager of the app serving the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from dash import Dash
from dash import _callback as dash_lists
from dash.exceptions import DuplicateCallback


@dataclass
class Declared:
    """Callbacks declared at module level, as Dash records them."""

    specs: list[dict] = field(default_factory=list)  # for the renderer (/_dash-dependencies)
    entries: dict[str, dict] = field(default_factory=dict)  # for the server, by output id
    scripts: list[str] = field(default_factory=list)  # inline clientside functions


@contextmanager
def taking() -> Iterator[Declared]:
    """The callbacks declared inside the block, taken out of Dash's process-wide lists."""
    declared = Declared()
    first_spec = len(dash_lists.GLOBAL_CALLBACK_LIST)
    first_script = len(dash_lists.GLOBAL_INLINE_SCRIPTS)
    yield declared
    declared.specs += dash_lists.GLOBAL_CALLBACK_LIST[first_spec:]
    del dash_lists.GLOBAL_CALLBACK_LIST[first_spec:]
    for spec in declared.specs:
        declared.entries[spec["output"]] = dash_lists.GLOBAL_CALLBACK_MAP.pop(spec["output"])
    declared.scripts += dash_lists.GLOBAL_INLINE_SCRIPTS[first_script:]
    del dash_lists.GLOBAL_INLINE_SCRIPTS[first_script:]


def install(app: Dash, declared: Declared) -> None:
    """Register the declared callbacks on `app` (before it serves its first request). Each app
    gets its own records: Dash edits them when it starts (the background callbacks' cancel
    inputs become callbacks of that app)."""
    for key, entry in declared.entries.items():
        if key in app.callback_map:
            raise DuplicateCallback(f"callback {key} is already registered on this app")
        background = entry.get("background")
        app.callback_map[key] = {**entry, "background": background and dict(background)}
    app._callback_list.extend(dict(spec) for spec in declared.specs)
    app._inline_scripts.extend(declared.scripts)
