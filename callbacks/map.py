"""Map callbacks: the spec (layers.map_spec) applied by `window.cafmap` in the browser, and the
quick views (métropole, overseas). Clientside only: no geometry goes through Dash."""

from __future__ import annotations

import dash
from dash import ALL, ClientsideFunction, Input, Output

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
