"""Territory profile callbacks: neighbours and evolution charts, comparison, facilities nearby.

The figures come from `layers.charts`, the comparison from `layers.comparison`, the facilities
from `layers.facility_listing`; the callbacks read `current_data()` and wire them."""

from __future__ import annotations

import dash
from dash import Input, Output, State, html, no_update

from callbacks.inputs import chosen_values, option_list, territory_ref
from layers.appdata import current_data
from layers.catalogue import BY_ID
from layers.charts import neighbours_chart, series_chart
from layers.comparison import CHOOSE, Comparison, compared, comparison
from layers.facility_listing import nearby_rows
from layers.options import search_territories, territory_choices
from layers.profile_figures import Figure
from layers.views import ViewError


@dash.callback(
    Output("graphe-voisins", "figure"),
    Input("voisins-indicateur", "value"),
    State("fiche-territoire", "data"),
    prevent_initial_call=True,
)
def update_neighbours(ident: str | None, where: dict) -> Figure:
    """The territory among its neighbours for the indicator chosen."""
    level, code = territory_ref(where)
    data = current_data()
    info, ind = data.store(), BY_ID.get(str(ident))
    if ind is None or info is None or level not in ind.levels:
        return no_update
    return neighbours_chart(info.store, data.index(), ind, level, code)


@dash.callback(
    Output("graphe-evolution", "figure"),
    Input("evolution-indicateur", "value"),
    State("fiche-territoire", "data"),
)
def update_evolution(ident: str | None, where: dict) -> Figure:
    """The territory's series beside its references for the indicator chosen."""
    level, code = territory_ref(where)
    data = current_data()
    info, ind = data.store(), BY_ID.get(str(ident))
    if ind is None or info is None or level not in ind.levels:
        return no_update
    try:
        return series_chart(info.store, data.index(), ind, level, code)
    except ViewError:
        return no_update


@dash.callback(
    Output("comparer", "options"),
    Input("comparer", "search_value"),
    State("comparer", "value"),
    State("comparer", "options"),
    # At the page's load nothing is searched nor chosen: the answer would be no_update.
    prevent_initial_call=True,
)
def compare_options(query: str | None, chosen: list[str] | None, options: list | None) -> list:
    """Territories matching the search, after the ones already chosen (kept as options)."""
    chosen = chosen_values(chosen, "comparer.value")
    keep = [o for o in option_list(options, "comparer.options") if o["value"] in chosen]
    found = search_territories(current_data().index(), query)
    if found is None:
        return keep or no_update
    new = territory_choices(found, str(query), ":")
    return keep + [o for o in new if o["value"] not in chosen]


@dash.callback(
    Output("comparaison", "children"),
    Input("comparer", "value"),
    State("fiche-territoire", "data"),
)
def compare(chosen: list[str] | None, where: dict) -> html.Table | html.P:
    """Key indicators of the territory and the ones chosen, side by side."""
    level, code = territory_ref(where)
    chosen = chosen_values(chosen, "comparer.value")
    data = current_data()
    info = data.store()
    found = (
        comparison(info.store, data.index(), compared(f"{level}:{code}", chosen)) if info else None
    )
    return html.P(CHOOSE) if found is None else comparison_table(found)


def comparison_table(found: Comparison) -> html.Table:
    head = html.Tr(
        [html.Th("Indicateur", scope="col")]
        + [html.Th(name, scope="col") for name in found.territories]
    )
    rows = [
        html.Tr(
            [html.Th(title, scope="row")]
            + [html.Td(c.text, className="cc-num") if c.numeric else html.Td(c.text) for c in cells]
        )
        for title, cells in found.rows
    ]
    return html.Table(
        [html.Thead(head), html.Tbody(rows)],
        className="table table-sm cc-theme-table",
        id="table-comparaison",
    )


@dash.callback(
    Output("equipements-table", "data"),
    Input("equipements-types", "value"),
    State("fiche-territoire", "data"),
)
def facilities(types: list[str] | None, where: dict) -> list[dict]:
    """Facilities of the types ticked (labels) in the commune and its neighbours."""
    _level, code = territory_ref(where)
    types = chosen_values(types, "equipements-types.value")
    data = current_data()
    points, index = data.facilities(), data.index()
    if points is None or index is None:
        return []
    return nearby_rows(points.table, index, code, types)
