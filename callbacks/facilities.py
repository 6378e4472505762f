"""Facilities on the explore page: the point layer's spec and the list beside the map.

What is listed comes from `layers.facility_listing`; the callbacks only build the table."""

from __future__ import annotations

import dash
from dash import ClientsideFunction, Input, Output, State, dash_table, html

from layers.appdata import current_data
from layers.facility_listing import (
    HINT,
    LIST_LIMIT,
    MORE,
    NO_FILE,
    NONE_HERE,
    TABLE_CELL_STYLE,
    Listing,
    facility_listing,
    table_columns,
)
from layers.map_spec import facility_spec
from layers.model import FACILITY_BY_SLUG

# With no type ticked the server's answers are the page's own state (no points, no list):
# the browser asks for them only when a type is ticked, or to switch off what was shown
# (`cafrelay.whileSome`), not at every visit of the map.
# One relay for the points (the types only), one for the list (the types and its territory).
RELAYS = {
    "equipements-relais-types": (),
    "equipements-relais": (Input("selection-territoire", "data"), Input("filtre", "value")),
}
for _relay, _also in RELAYS.items():
    dash.clientside_callback(
        ClientsideFunction(namespace="cafrelay", function_name="whileSome"),
        Output(_relay, "data"),
        Input("carte-equipements", "value"),
        *_also,
        State(_relay, "data"),
    )


@dash.callback(
    Output("equipements-spec", "data"),
    State("carte-equipements", "value"),
    Input("equipements-relais-types", "data"),
    prevent_initial_call=True,
)
def spec(types: list[str] | None, _relay: object = None) -> dict:
    """The spec of the points layer for the facility types ticked (slugs)."""
    points = current_data().facilities()
    version = points.version if points is not None else None
    return facility_spec(version, types or [], dash.get_relative_path)


dash.clientside_callback(
    ClientsideFunction(namespace="cafequip", function_name="apply"),
    Output("equipements-applied", "data"),
    Input("equipements-spec", "data"),
)


@dash.callback(
    Output("equipements-liste", "children"),
    Output("equipements-liste", "hidden"),
    State("carte-equipements", "value"),
    State("selection-territoire", "data"),
    State("filtre", "value"),
    Input("equipements-relais", "data"),
    prevent_initial_call=True,
)
def listing(
    types: list[str] | None, selection: str | None, area: str | None, _relay: object = None
) -> tuple:
    """The facilities of the types ticked in the selected commune (and its neighbours) or in
    the filtered territory; hidden while no type is ticked."""
    if not types:
        return [], True
    labels = [FACILITY_BY_SLUG[t].label for t in types if t in FACILITY_BY_SLUG]
    return facilities_list(labels, selection or area), False


def facilities_list(labels: list[str], target: str | None) -> list:
    """Heading, coverage context and table for a "<level>:<code>" target, with the
    demonstration notice."""
    data = current_data()
    points, index, info = data.facilities(), data.index(), data.store()
    if points is None or index is None:
        return [html.P(NO_FILE)]
    notice = [html.P(points.notice, className="cc-note")] if points.notice else []
    found = facility_listing(points.table, index, labels, target, info.store if info else None)
    if found is None:
        return [html.P(HINT), *notice]
    context = [html.P(found.context, className="cc-note")] if found.context else []
    more = [html.P(MORE.format(limit=LIST_LIMIT), className="cc-note")] if found.truncated else []
    return [html.H2(found.title), *context, _table(found), *more, *notice]


def _table(found: Listing) -> dash_table.DataTable | html.P:
    if not found.total:
        return html.P(NONE_HERE)
    return dash_table.DataTable(
        id="equipements-liste-table",
        data=found.rows,
        columns=table_columns(found.with_distance),
        page_size=10,
        sort_action="native",
        style_table={"overflowX": "auto"},
        style_cell=TABLE_CELL_STYLE,
    )
