"""Territory profile callbacks: neighbours and evolution charts, comparison, facilities nearby."""

from __future__ import annotations

from dash import Dash, Input, Output, State, html, no_update

from layers.appdata import AppData
from layers.catalogue import BY_ID
from layers.facility_search import display_rows, near_facilities
from layers.model import level_name
from layers.profile import neighbours, neighbours_figure, series_figure
from layers.views import ViewError, series_with_references, value_text

COMPARED = (
    "allocataires",
    "taux_personnes_couvertes",
    "part_monoparentales",
    "part_aides_logement",
    "part_rsa",
    "part_aah",
    "taux_couverture_eaje",
)
MAX_COMPARED = 6


def comparison_table(data: AppData, territories: list[str]) -> html.Table | html.P:
    """Key indicators side by side at each territory's latest period (secrets stay secret)."""
    info, index = data.store(), data.index()
    cols = []
    for item in territories[:MAX_COMPARED]:
        level, _, code = str(item).partition(":")
        terr = index.get(level, code) if index else None
        if terr is not None:
            cols.append((level, code, f"{terr.name} ({level_name(level)})"))
    if not cols or info is None:
        return html.P("Choisissez un ou plusieurs territoires à comparer.")
    # One store read for every indicator and territory; the latest period of each series
    # (rows come oldest period first: the last one written wins).
    found = info.store.series_many(list(COMPARED), [(lv, c) for lv, c, _ in cols])
    latest = {
        (str(r.indicateur), str(r.niveau), str(r.code)): (r.valeur, str(r.statut))
        for r in found.itertuples()
    }
    rows = []
    for ident in COMPARED:
        ind = BY_ID[ident]
        cells = []
        for level, code, _ in cols:
            if level not in ind.levels:
                cells.append(html.Td("non concerné"))
                continue
            last = latest.get((ind.id, level, code))
            text = "pas de données" if last is None else value_text(last[0], last[1], ind)
            cells.append(html.Td(text, className="cc-num"))
        rows.append(html.Tr([html.Th(ind.title, scope="row"), *cells]))
    head = html.Tr(
        [html.Th("Indicateur", scope="col"), *[html.Th(name, scope="col") for *_, name in cols]]
    )
    return html.Table(
        [html.Thead(head), html.Tbody(rows)],
        className="table table-sm cc-theme-table",
        id="table-comparaison",
    )


def readable_scale(fig, ind):
    """Counts of a commune and of France differ a thousandfold: a log axis keeps both legible."""
    if ind.nature != "taux":
        fig.update_yaxes(type="log", title_text=f"{ind.unit} (échelle logarithmique)")
    return fig


def register(app: Dash, data: AppData) -> None:
    """Register the profile page callbacks."""

    @app.callback(
        Output("graphe-voisins", "figure"),
        Input("voisins-indicateur", "value"),
        State("fiche-territoire", "data"),
        prevent_initial_call=True,
    )
    def update_neighbours(ident, where):
        info, index = data.store(), data.index()
        ind = BY_ID.get(ident)
        if ind is None or info is None or where["niveau"] not in ind.levels:
            return no_update
        rows = neighbours(info.store, index, ind, where["niveau"], where["code"])
        return neighbours_figure(rows, where["code"])

    @app.callback(
        Output("graphe-evolution", "figure"),
        Input("evolution-indicateur", "value"),
        State("fiche-territoire", "data"),
    )
    def update_evolution(ident, where):
        info, index = data.store(), data.index()
        ind = BY_ID.get(ident)
        if ind is None or info is None or where["niveau"] not in ind.levels:
            return no_update
        try:
            df = series_with_references(info.store, index, ind, where["niveau"], where["code"])
        except ViewError:
            return no_update
        return readable_scale(series_figure(df, ind), ind)

    @app.callback(
        Output("comparer", "options"),
        Input("comparer", "search_value"),
        State("comparer", "value"),
        State("comparer", "options"),
    )
    def compare_options(query, chosen, options):
        index = data.index()
        keep = [o for o in (options or []) if o["value"] in (chosen or [])]
        if not query or index is None or len(query) < 2:
            return keep or no_update
        found = [
            {
                "label": f"{t.name} ({level_name(t.level)} {t.code})",
                "value": f"{t.level}:{t.code}",
                "search": query,
            }
            for t in index.search(query[:100], 10)
        ]
        return keep + [o for o in found if o["value"] not in (chosen or [])]

    @app.callback(
        Output("comparaison", "children"),
        Input("comparer", "value"),
        State("fiche-territoire", "data"),
    )
    def compare(chosen, where):
        own = f"{where['niveau']}:{where['code']}"
        return comparison_table(data, [own, *[c for c in (chosen or []) if c != own]])

    @app.callback(
        Output("equipements-table", "data"),
        Input("equipements-types", "value"),
        State("fiche-territoire", "data"),
    )
    def facilities(types, where):
        points, index = data.facilities(), data.index()
        if points is None or index is None:
            return []
        sel = near_facilities(points.table, index, where["code"], set(types or []), near=True)
        return display_rows(sel, index)
