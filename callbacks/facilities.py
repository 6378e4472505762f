"""Facilities on the explore page: the point layer's spec and the list beside the map."""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output, dash_table, html

from dashboard.layout import TABLE_CELL_STYLE
from layers.appdata import AppData
from layers.catalogue import BY_ID
from layers.facility_search import display_rows, in_territory, near_facilities
from layers.model import FACILITY_BY_SLUG, FACILITY_TYPES, level_name
from layers.views import ViewError, series_with_references, value_text

LIST_LIMIT = 200
CONTEXT_INDICATOR = "taux_couverture_eaje"  # places per 100 children under 3
HINT = (
    "Cliquez une commune de la carte, ou choisissez un territoire dans « Afficher seulement », "
    "pour lister ses équipements."
)
COLUMNS = (
    ("nom", "Nom"),
    ("type", "Type"),
    ("adresse", "Adresse"),
    ("commune", "Commune"),
    ("places", "Places"),
    ("distance", "Distance (km)"),
)


def facility_table(rows: list[dict], with_distance: bool) -> dash_table.DataTable:
    columns = [{"name": n, "id": i} for i, n in COLUMNS if with_distance or i != "distance"]
    return dash_table.DataTable(
        id="equipements-liste-table",
        data=rows,
        columns=columns,
        page_size=10,
        sort_action="native",
        style_table={"overflowX": "auto"},
        style_cell=TABLE_CELL_STYLE,
    )


def coverage_line(data: AppData, commune: str) -> html.P | None:
    """Places in EAJE per 100 children under 3 for the commune beside its references."""
    info = data.store()
    if info is None:
        return None
    try:
        series = series_with_references(
            info.store, data.index(), BY_ID[CONTEXT_INDICATOR], "commune", commune
        )
    except ViewError:
        return None
    latest = series[series["periode"] == series["periode"].max()]
    order = {"territoire": 0, "epci": 1, "departement": 2, "region": 3, "france": 4}
    latest = latest.sort_values("role", key=lambda r: r.map(order))
    parts = []
    for rec in latest.itertuples():
        text = value_text(rec.valeur, rec.statut, BY_ID[CONTEXT_INDICATOR])
        parts.append(f"{rec.nom} : {text}")
    if not parts:
        return None
    return html.P(
        "Taux de couverture en EAJE (places pour 100 enfants de moins de 3 ans) — "
        + " ; ".join(parts),
        className="cc-note",
    )


def facilities_list(
    data: AppData, types: list[str], selection: str | None, filtre: str | None
) -> list:
    """Heading, coverage context and table for the selected commune or the filtered area."""
    points, index = data.facilities(), data.index()
    if points is None or index is None:
        return [html.P("Aucun fichier d'équipements n'est installé.")]
    wanted = set(types)
    table = points.table[points.table["type"].isin(wanted)]
    notice = [html.P(points.notice, className="cc-note")] if points.notice else []
    target = selection or filtre
    level, _, code = (target or "").partition(":")
    terr = index.get(level, code) if level in index.levels() else None
    if terr is None:
        return [html.P(HINT), *notice]
    if level == "commune":
        sel = near_facilities(table, index, code, None, near=True)
        title = f"Équipements de {terr.name} et des communes voisines ({len(sel)})"
        context = coverage_line(data, code)
    else:
        sel = in_territory(table, index, level, code)
        title = f"Équipements : {terr.name} ({level_name(level)}) — {len(sel)}"
        context = None
    more = (
        [
            html.P(
                f"Les {LIST_LIMIT} premiers sont listés : choisissez une commune pour voir "
                "ceux qui l'entourent.",
                className="cc-note",
            )
        ]
        if len(sel) > LIST_LIMIT
        else []
    )
    body = (
        facility_table(display_rows(sel, index, LIST_LIMIT), level == "commune")
        if len(sel)
        else html.P("Aucun équipement de ces types ici.")
    )
    return [html.H2(title), *([context] if context else []), body, *more, *notice]


def register(app: Dash, data: AppData) -> None:
    """Register the facilities callbacks of the explore page."""

    @app.callback(
        Output("equipements-spec", "data"),
        Input("carte-equipements", "value"),
    )
    def spec(types: list[str] | None):
        points = data.facilities()
        codes = sorted(FACILITY_BY_SLUG[t].code for t in (types or []) if t in FACILITY_BY_SLUG)
        if points is None or not codes:
            return {"types": []}
        url = f"/geo/equipements.geojson?v={points.version}"
        return {
            "url": app.get_relative_path(url),
            "types": codes,
            "couleurs": [ft.colour for ft in FACILITY_TYPES],
            "libelles": [ft.label for ft in FACILITY_TYPES],
        }

    app.clientside_callback(
        ClientsideFunction(namespace="cafequip", function_name="apply"),
        Output("equipements-applied", "data"),
        Input("equipements-spec", "data"),
    )

    @app.callback(
        Output("equipements-liste", "children"),
        Output("equipements-liste", "hidden"),
        Input("carte-equipements", "value"),
        Input("selection-territoire", "data"),
        Input("filtre", "value"),
    )
    def listing(types, selection, filtre):
        if not types:
            return [], True
        labels = [FACILITY_BY_SLUG[t].label for t in types if t in FACILITY_BY_SLUG]
        return facilities_list(data, labels, selection, filtre), False
