"""Explore page callbacks: thin wiring from the side panel to the map spec, the URL, the
selected territory's series, the metadata dialog, the data table and the territory search.

Declared at module level (`dash.callback`); the data comes from `current_data()` (the app
serving the request), URLs go through `dash.get_relative_path`. What they show is computed by
`layers.options`, `layers.map_spec`, `layers.explore_view` and `layers.charts`.
"""

from __future__ import annotations

import dash
from dash import (
    ALL,
    ClientsideFunction,
    Input,
    Output,
    State,
    ctx,
    dash_table,
    dcc,
    html,
    no_update,
)
from dash.exceptions import PreventUpdate

from callbacks.inputs import ForgedInput
from layers import strings_fr as fr
from layers.appdata import current_data
from layers.catalogue import BY_ID, search
from layers.charts import series_chart
from layers.explore_view import (
    NO_DATA,
    UNKNOWN_TERRITORY,
    metadata_rows,
    series_note,
    table_columns,
    table_rows,
)
from layers.geocache import web_geometries
from layers.map_options import default_representation, representation_note
from layers.map_spec import MAP_INPUTS, view_spec
from layers.options import (
    indicator_choice,
    level_choice,
    levels_with_data,
    period_choice,
    period_options,
    search_territories,
    territory_choices,
    territory_label,
    territory_of,
)
from layers.series_notes import note, provenance_of, source_line
from layers.views import ViewError

GRAPH_CONFIG = {"displaylogo": False, "locale": "fr"}
VIEW_TABLE_STYLE = {"fontFamily": "inherit", "fontSize": "0.85rem", "textAlign": "left"}
SEARCH_MAX = 80  # characters of an indicator search
SEARCH_FOUND = 8
# The panel's values the data table shows.
TABLE_INPUTS = ("indicateur", "niveau", "periode", "filtre")


@dash.callback(
    Output("resultats-recherche", "children"),
    Input("recherche-indicateur", "value"),
    prevent_initial_call=True,
)
def show_search(query: str | None) -> list:
    """The indicators matching the search box, as buttons that pick one."""
    if not query or len(query.strip()) < 2:
        return []
    found = search(query[:SEARCH_MAX], limit=SEARCH_FOUND)
    if not found:
        return [html.Li("Aucun indicateur ne correspond.", className="cc-noresult")]
    return [
        html.Li(
            html.Button(
                [ind.title, html.Span(f" · {ind.theme}", className="cc-result-theme")],
                id={"type": "resultat", "id": ind.id},
                className="cc-result",
                n_clicks=0,
                type="button",
            )
        )
        for ind in found
    ]


@dash.callback(
    Output("theme", "value"),
    Output("sous-theme", "options"),
    Output("sous-theme", "value"),
    Output("indicateur", "options"),
    Output("indicateur", "value"),
    Output("recherche-indicateur", "value"),
    Input("theme", "value"),
    Input("sous-theme", "value"),
    Input({"type": "resultat", "id": ALL}, "n_clicks"),
    State("indicateur", "value"),
    prevent_initial_call=True,
)
def navigate(
    theme: str | None, subtheme: str | None, clicks: list[int], current: str | None
) -> tuple:
    """Theme, sub-theme and indicator pickers kept consistent; a search result picks its
    indicator (and its theme and sub-theme) and clears the search box."""
    trigger = ctx.triggered_id
    if isinstance(trigger, dict):
        if not any(clicks):
            return (no_update,) * 6
        ind = BY_ID.get(str(trigger.get("id")))
        if ind is None:  # a search result's button is always a catalogue indicator
            raise ForgedInput("resultat.n_clicks")
        choice = indicator_choice(ind.theme, ind.subtheme, ind.id)
        return ind.theme, choice.subthemes, choice.subtheme, choice.indicators, ind.id, ""
    choice = indicator_choice(theme, subtheme, current, theme_changed=trigger == "theme")
    value = choice.indicator if choice.indicator is not None else no_update
    return no_update, choice.subthemes, choice.subtheme, choice.indicators, value, no_update


@dash.callback(
    Output("niveau", "options"),
    Output("niveau", "value"),
    Output("bloc-representation", "hidden"),
    Output("representation", "value"),
    Input("indicateur", "value"),
    State("niveau", "value"),
    State("representation", "value"),
    prevent_initial_call=True,
)
def levels_for(indicator: str, level: str | None, _representation: str | None) -> tuple:
    """The levels of the indicator (the ones not built or without data greyed out); a new
    indicator opens in its nature's representation (counts as circles, a rate as a choropleth
    only)."""
    ind = BY_ID.get(str(indicator))
    if ind is None:  # cleared, or no indicator of the catalogue
        raise PreventUpdate
    data = current_data()
    index, info = data.index(), data.store()
    with_data = levels_with_data(info.store if info else None, ind.id)
    options, level = level_choice(ind.id, level, index.levels() if index else [], with_data)
    return options, level, ind.is_rate, default_representation(ind)


@dash.callback(
    Output("note-representation", "children"),
    Input("indicateur", "value"),
    Input("representation", "value"),
    prevent_initial_call=True,
)
def representation_text(indicator: str, representation: str | None) -> str:
    """Why counts are circles, or the note of a choropleth of counts asked for."""
    return representation_note(BY_ID.get(indicator), representation)


@dash.callback(
    Output("periode", "options"),
    Output("periode", "value"),
    Input("indicateur", "value"),
    Input("niveau", "value"),
    State("periode", "value"),
    prevent_initial_call=True,
)
def periods_for(indicator: str, level: str | None, period: str | None) -> tuple:
    """The periods the store has for the indicator and level, the current one kept."""
    info = current_data().store()
    periods = info.store.periods(indicator, level) if info and level else []
    return period_options(periods), period_choice(periods, period)


@dash.callback(
    Output("map-spec", "data"),
    Output("export-csv", "href"),
    Output("export-geojson", "href"),
    *[Input(name, "value") for name in MAP_INPUTS],
)
def update_spec(*values: object) -> tuple:
    """The map's spec and the CSV and GeoJSON links of the panel's state; nothing while the
    period is not one the store has for the indicator at that level."""
    state = dict(zip(MAP_INPUTS, values, strict=True))
    data = current_data()
    info = data.store()
    # After a new level, the period follows from `periods_for`; when that answer is lost (an
    # error, a time-out under load), Dash still runs this one with the old level's period,
    # and its values URL would be refused (400: a period the level lacks).
    if info and state["periode"] not in info.store.periods(
        str(state["indicateur"]), str(state["niveau"])
    ):
        return (no_update,) * 3
    geometries = web_geometries(data.settings.cache)
    found = view_spec(state, geometries, dash.get_relative_path)
    return found if found is not None else (no_update,) * 3


# The table follows the panel only while its block is open: the browser asks the server again
# on a change of the view then (a new `table-rafraichir`), not on every change while the block
# is closed (three answers of nothing per visit of the map).
dash.clientside_callback(
    ClientsideFunction(namespace="cafrelay", function_name="whileOpen"),
    Output("table-rafraichir", "data"),
    *[Input(name, "value") for name in TABLE_INPUTS],
    State("bloc-table", "open"),
    prevent_initial_call=True,
)


@dash.callback(
    Output("table-donnees", "children"),
    Input("bloc-table", "open"),
    Input("table-rafraichir", "data"),
    *[State(name, "value") for name in TABLE_INPUTS],
    prevent_initial_call=True,
)
def data_table(
    is_open: bool | None,
    _refresh: object,
    indicator: str,
    level: str,
    period: str | None,
    area: str | None,
) -> dash_table.DataTable | html.P:
    """The map's view as a table (its text alternative), built once the block is opened."""
    if not is_open:
        return no_update
    data = current_data()
    info, index, ind = data.store(), data.index(), BY_ID.get(indicator)
    if info is None or index is None or ind is None or not period:
        return html.P(NO_DATA)
    try:
        rows = table_rows(info.store, index, ind, level, period, area)
    except ViewError as exc:
        return html.P(exc.message)
    return dash_table.DataTable(
        id="table-vue",
        data=rows,
        page_size=15,
        sort_action="native",
        filter_action="native",
        columns=table_columns(ind, period),
        style_cell=VIEW_TABLE_STYLE,
        style_header={"fontWeight": "600"},
    )


@dash.callback(
    Output("meta-modal", "is_open"),
    Output("meta-titre", "children"),
    Output("meta-corps", "children"),
    Input("btn-meta", "n_clicks"),
    State("indicateur", "value"),
    State("niveau", "value"),
    State("periode", "value"),
    prevent_initial_call=True,
)
def show_metadata(
    _n: int, indicator: str, level: str | None = None, period: str | None = None
) -> tuple[bool, str, html.Dl]:
    """The « Définition et source » dialog of the indicator, with the origin and disclosure
    regime of the series shown (its dataset, field, update date) when the store knows them."""
    ind = BY_ID.get(str(indicator))
    if ind is None:
        raise PreventUpdate
    info = current_data().store()
    prov = provenance_of(info.store if info else None, ind.id, str(level), str(period or ""))
    rows = metadata_rows(ind)
    if prov is not None:
        rows += [("Série affichée", source_line(prov, ind)), ("Diffusion", note(prov))]
    parts = [part for k, v in rows for part in (html.Dt(k), html.Dd(v))]
    return True, ind.title, html.Dl(parts, className="cc-meta")


# The selection's panel changes only when a territory is (or was) selected: the browser asks
# the server then (a new `selection-rafraichir`), not at the page's load without a selection
# nor after every choice of indicator (the panel's hint is the page's own).
dash.clientside_callback(
    ClientsideFunction(namespace="cafrelay", function_name="whileSome"),
    Output("selection-rafraichir", "data"),
    Input("selection-territoire", "data"),
    Input("indicateur", "value"),
    State("selection-rafraichir", "data"),
)


@dash.callback(
    Output("selection", "className"),
    Output("selection-titre", "children"),
    Output("selection-contenu", "children"),
    State("selection-territoire", "data"),
    State("indicateur", "value"),
    Input("selection-fermer", "n_clicks"),
    Input("selection-rafraichir", "data"),
    prevent_initial_call=True,
)
def show_selection(
    selected: str | None, indicator: str, _close: int, _refresh: object = None
) -> tuple:
    """The territory clicked on the map: its series beside its references and a link to its
    profile; closed by its button."""
    if ctx.triggered_id == "selection-fermer" or not selected or ":" not in str(selected):
        return "cc-selection", fr.SELECTION_TITLE, html.P(fr.SELECTION_HINT)
    data = current_data()
    info, index, ind = data.store(), data.index(), BY_ID.get(indicator)
    terr = territory_of(index, selected)
    if terr is None or info is None or ind is None:
        return "cc-selection", fr.SELECTION_TITLE, html.P(UNKNOWN_TERRITORY)
    link = dcc.Link(
        fr.OPEN_PROFILE,
        href=dash.get_relative_path(f"/territoire/{terr.level}/{terr.code}"),
        className="btn btn-primary btn-sm",
        id="lien-fiche",
    )
    content = [link]
    if terr.level in ind.levels:
        fig = series_chart(info.store, index, ind, terr.level, terr.code)
        graph = dcc.Graph(figure=fig, id="graphe-serie", config=GRAPH_CONFIG)
        content = [html.P(series_note(ind), className="cc-note"), graph, link]
    title = territory_label(terr.name, terr.level, terr.code)
    return "cc-selection cc-selection-open", title, content


@dash.callback(
    Output("recherche-territoire", "options"),
    Input("recherche-territoire", "search_value"),
    prevent_initial_call=True,
)
def territory_options(query: str | None) -> list[dict]:
    """Territories matching the profile search box (name, code, postal code)."""
    found = search_territories(current_data().index(), query)
    return no_update if found is None else territory_choices(found, query, "/")


@dash.callback(
    Output("navigation", "href"),
    Input("recherche-territoire", "value"),
    prevent_initial_call=True,
)
def open_profile(value: str | None) -> str:
    """Go to the profile of the territory chosen in the search box."""
    return dash.get_relative_path(f"/territoire/{value}") if value else no_update


# The URL always says what is shown (replaceState: no page reload, no history spam).
dash.clientside_callback(
    ClientsideFunction(namespace="cafurl", function_name="sync"),
    Output("url-applied", "data"),
    *[Input(name, "value") for name in MAP_INPUTS],
    Input("selection-territoire", "data"),
    Input("carte-equipements", "value"),
)
dash.clientside_callback(
    ClientsideFunction(namespace="cafmap", function_name="exportImage"),
    Output("export-applied", "data"),
    Input("export-png", "n_clicks"),
    Input("export-svg", "n_clicks"),
    Input("export-pdf", "n_clicks"),
    prevent_initial_call=True,
)
dash.clientside_callback(
    "function(n){ document.body.classList.toggle('cc-panel-open', n % 2 === 1);"
    " return window.dash_clientside.no_update; }",
    Output("panneau-bascule", "title"),
    Input("panneau-bascule", "n_clicks"),
    prevent_initial_call=True,
)
