"""Map callbacks: the spec (layers.map_spec) applied by `window.cafmap` in the browser, and the
quick views (métropole, overseas). Clientside only: no geometry goes through Dash."""

from __future__ import annotations

import dash
from dash import ALL, ClientsideFunction, Input, Output, State

dash.clientside_callback(
    ClientsideFunction(namespace="cafmap", function_name="apply"),
    Output("map-applied", "data"),
    Input("map-spec", "data"),
)
dash.clientside_callback(
    ClientsideFunction(namespace="cafmap", function_name="zone"),
    Output("zone-applied", "data"),
    Input({"type": "zone", "code": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
# The browser's own recolour on a new indicator, period or classification (cafmap.js `quick`,
# same argument order): it draws before the server's callbacks send the spec. cafmap.js starts
# the same recolour earlier from Dash's store (`watchPanel`); this callback then finds it asked.
QUICK_INPUTS = (
    "indicateur",
    "periode",
    "representation",
    "methode",
    "classes",
    "palette",
    "bornes",
)
dash.clientside_callback(
    ClientsideFunction(namespace="cafmap", function_name="quick"),
    Output("map-applied", "data", allow_duplicate=True),
    *[Input(name, "value") for name in QUICK_INPUTS],
    State("niveau", "value"),
    State("filtre", "value"),
    prevent_initial_call=True,
)
