"""Dash callbacks, one module per feature, declared at module level with `dash.callback`.

Importing the package imports every feature module and keeps their callbacks for
`install(app)`, which `create_app` calls: each app of the process gets them (see
`callbacks.registry`). Callbacks import `layers/` only, and reach the app's data through
`layers.appdata.current_data()`.
"""

from __future__ import annotations

from dash import Dash

from callbacks.registry import install as _install
from callbacks.registry import taking

with taking() as DECLARED:
    # isort: off
    # The order create_app registered them in before they were module-level.
    from callbacks import map, explore, profile, facilities, exports  # noqa: F401
    # isort: on


def install(app: Dash) -> None:
    """Give `app` the callbacks of every page."""
    _install(app, DECLARED)
