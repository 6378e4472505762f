"""Explore page callbacks: thin wiring from the side panel to the map spec, the URL, the
selected territory's series, the metadata dialog, the data table and the export links."""

from __future__ import annotations

from urllib.parse import urlencode

from dash import (
    ALL,
    ClientsideFunction,
    Dash,
    Input,
    Output,
    State,
    ctx,
    dash_table,
    dcc,
    html,
    no_update,
)

from callbacks.map import map_spec
from callbacks.profile import readable_scale
from dashboard.explore_page import (
    indicator_options,
    level_options,
    period_options,
    subtheme_options,
)
from layers import strings_fr as fr
from layers.appdata import AppData
from layers.catalogue import BY_ID, search
from layers.geocache import web_geometries
from layers.model import LEVEL, MAP_LEVELS, level_name
from layers.profile import series_figure
from layers.store import PUBLISHED
from layers.views import (
    ViewError,
    layer,
    parent_of,
    period_text,
    rank,
    series_with_references,
    value_text,
)

MAP_INPUTS = (
    "indicateur",
    "niveau",
    "periode",
    "representation",
    "methode",
    "classes",
    "bornes",
    "palette",
    "filtre",
)


def values_query(state: dict) -> str:
    """Query of /api/carte for the panel's state (only what the map needs)."""
    params = {
        "indicateur": state["indicateur"],
        "periode": state.get("periode") or "",
        "methode": state.get("methode") or "quantiles",
        "classes": state.get("classes") or 5,
        "palette": state.get("palette") or "YlGnBu",
        "representation": state.get("representation") or "choroplethe",
    }
    if params["methode"] == "manual":
        params["bornes"] = state.get("bornes") or ""
    if state.get("filtre"):
        params["filtre"] = state["filtre"]
    return urlencode(params)


def export_href(state: dict, fmt: str) -> str:
    params = {
        "indicator": state["indicateur"],
        "level": state["niveau"],
        "period": state.get("periode") or "",
        "format": fmt,
    }
    if state.get("filtre"):
        params["parent"] = state["filtre"]
    return "/api/v1/data?" + urlencode(params)


def register(app: Dash, data: AppData) -> None:  # noqa: C901 - one place for the page's wiring
    """Register the explore page callbacks."""

    @app.callback(
        Output("resultats-recherche", "children"),
        Input("recherche-indicateur", "value"),
        prevent_initial_call=True,
    )
    def show_search(query: str | None):
        if not query or len(query.strip()) < 2:
            return []
        found = search(query[:80], limit=8)
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

    @app.callback(
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
    def navigate(theme, subtheme, _clicks, current):
        trig = ctx.triggered_id
        if isinstance(trig, dict):
            if not any(_clicks):
                return (no_update,) * 6
            ind = BY_ID[trig["id"]]
            return (
                ind.theme,
                subtheme_options(ind.theme),
                ind.subtheme,
                indicator_options(ind.theme, ind.subtheme),
                ind.id,
                "",
            )
        subs = subtheme_options(theme)
        if trig == "theme" and subtheme not in [o["value"] for o in subs]:
            subtheme = ""
        options = indicator_options(theme, subtheme)
        values = [o["value"] for o in options]
        value = current if current in values else (values[0] if values else no_update)
        return no_update, subs, subtheme, options, value, no_update

    @app.callback(
        Output("niveau", "options"),
        Output("niveau", "value"),
        Output("bloc-representation", "hidden"),
        Output("representation", "value"),
        Input("indicateur", "value"),
        State("niveau", "value"),
        State("representation", "value"),
        prevent_initial_call=True,
    )
    def levels_for(indicateur, niveau, representation):
        index = data.index()
        built = index.levels() if index else []
        options = level_options(indicateur, built)
        usable = [o["value"] for o in options if not o["disabled"]]
        if niveau not in usable:
            niveau = "departement" if "departement" in usable else (usable or [None])[0]
        rate = BY_ID[indicateur].nature == "taux"
        return options, niveau, rate, "choroplethe" if rate else representation

    @app.callback(
        Output("periode", "options"),
        Output("periode", "value"),
        Input("indicateur", "value"),
        Input("niveau", "value"),
        State("periode", "value"),
        prevent_initial_call=True,
    )
    def periods_for(indicateur, niveau, periode):
        info = data.store()
        periods = info.store.periods(indicateur, niveau) if info and niveau else []
        value = periode if periode in periods else (periods[-1] if periods else None)
        return period_options(periods), value

    @app.callback(
        Output("map-spec", "data"),
        Output("export-csv", "href"),
        Output("export-geojson", "href"),
        *[Input(name, "value") for name in MAP_INPUTS],
    )
    def update_spec(*values):
        state = dict(zip(MAP_INPUTS, values, strict=True))
        ind = BY_ID.get(state["indicateur"])
        if ind is None or not state["niveau"] or not state["periode"]:
            return (no_update,) * 3
        geometries = web_geometries(data.settings.cache)
        levels = {k: v for k, v in geometries.items() if k in MAP_LEVELS}
        title = (
            f"{ind.title} par {LEVEL[state['niveau']].singular}, {period_text(state['periode'])}"
        )
        spec = map_spec(
            levels,
            state["niveau"],
            ind.id,
            app.get_relative_path,
            geometries,
            values_query=values_query(state),
            title=title,
        )
        if spec is None:
            return (no_update,) * 3
        spec["profil"] = app.get_relative_path("/territoire/")
        spec["points"] = app.get_relative_path(
            f"/geo/{state['niveau']}-points.geojson?v={levels[state['niveau']].version}"
        )
        return (spec, *(app.get_relative_path(export_href(state, f)) for f in ("csv", "geojson")))

    @app.callback(
        Output("table-donnees", "children"),
        Input("indicateur", "value"),
        Input("niveau", "value"),
        Input("periode", "value"),
        Input("filtre", "value"),
        Input("bloc-table", "open"),
    )
    def data_table(indicateur, niveau, periode, filtre, is_open):
        if not is_open:
            return no_update
        info, index = data.store(), data.index()
        ind = BY_ID.get(indicateur)
        if info is None or index is None or ind is None or not periode:
            return html.P("Pas de données.")
        try:
            parent = parent_of(index, niveau, filtre)
            df = layer(info.store, index, ind, niveau, periode, parent)
        except ViewError as exc:
            return html.P(exc.message)
        df["rang"] = rank(df["valeur"])
        rows = [
            {
                "nom": r.nom,
                "code": r.code,
                "valeur": value_text(r.valeur, r.statut, ind),
                "tri": None if r.statut != PUBLISHED else r.valeur,
                "rang": "" if r.rang != r.rang else int(r.rang),
            }
            for r in df.itertuples()
        ]
        return dash_table.DataTable(
            id="table-vue",
            data=rows,
            page_size=15,
            sort_action="native",
            filter_action="native",
            columns=[
                {"name": "Territoire", "id": "nom"},
                {"name": "Code", "id": "code"},
                {"name": f"{ind.title} ({period_text(periode)})", "id": "valeur"},
                {"name": "Rang", "id": "rang", "type": "numeric"},
            ],
            style_cell={"fontFamily": "inherit", "fontSize": "0.85rem", "textAlign": "left"},
            style_header={"fontWeight": "600"},
        )

    @app.callback(
        Output("meta-modal", "is_open"),
        Output("meta-titre", "children"),
        Output("meta-corps", "children"),
        Input("btn-meta", "n_clicks"),
        State("indicateur", "value"),
        prevent_initial_call=True,
    )
    def show_metadata(_n, indicateur):
        ind = BY_ID[indicateur]
        rows = [
            ("Définition", ind.definition),
            ("Unité", ind.unit),
            ("Source", ind.source),
            ("Champ", ind.scope),
            ("Fréquence", ", ".join(sorted({ind.frequency(n) for n in ind.levels}))),
            ("Granularité temporelle", ind.granularity),
            ("Niveaux", ", ".join(level_name(n) for n in ind.levels)),
            ("Première période", ind.first_period),
            ("Dernière mise à jour", ind.last_update),
            ("Observations", ind.observations or "—"),
            ("Série labellisée", "oui" if ind.labelled_series else "non"),
            ("Mots-clés", ", ".join(ind.keywords) or "—"),
        ]
        body = html.Dl(
            [part for k, v in rows for part in (html.Dt(k), html.Dd(v))], className="cc-meta"
        )
        return True, ind.title, body

    @app.callback(
        Output("selection", "className"),
        Output("selection-titre", "children"),
        Output("selection-contenu", "children"),
        Input("selection-territoire", "data"),
        Input("indicateur", "value"),
        Input("selection-fermer", "n_clicks"),
    )
    def show_selection(selected, indicateur, _close):
        if ctx.triggered_id == "selection-fermer" or not selected or ":" not in str(selected):
            return "cc-selection", fr.SELECTION_TITLE, html.P(fr.SELECTION_HINT)
        info, index = data.store(), data.index()
        level, code = str(selected).split(":", 1)
        terr = index.get(level, code) if index else None
        ind = BY_ID.get(indicateur)
        if terr is None or info is None or ind is None:
            return "cc-selection", fr.SELECTION_TITLE, html.P("Territoire inconnu.")
        profile = app.get_relative_path(f"/territoire/{level}/{code}")
        content = [
            dcc.Link(
                fr.OPEN_PROFILE, href=profile, className="btn btn-primary btn-sm", id="lien-fiche"
            )
        ]
        if level in ind.levels:
            df = series_with_references(info.store, index, ind, level, code)
            content.insert(
                0, html.P(f"{ind.title} ({ind.unit}), secrets en blanc", className="cc-note")
            )
            fig = readable_scale(series_figure(df, ind), ind)
            content.insert(
                1,
                dcc.Graph(
                    figure=fig, id="graphe-serie", config={"displaylogo": False, "locale": "fr"}
                ),
            )
        title = f"{terr.name} ({level_name(level)} {code})"
        return "cc-selection cc-selection-open", title, content

    @app.callback(
        Output("recherche-territoire", "options"),
        Input("recherche-territoire", "search_value"),
        prevent_initial_call=True,
    )
    def territory_options(query):
        index = data.index()
        if not query or len(query) < 2 or index is None:
            return no_update
        found = index.search(query[:100], 10)
        # `search` holds the query itself: the server already matched accents and postal codes
        return [
            {
                "label": f"{t.name} ({level_name(t.level)} {t.code})",
                "value": f"{t.level}/{t.code}",
                "search": query,
            }
            for t in found
        ]

    @app.callback(
        Output("navigation", "href"),
        Input("recherche-territoire", "value"),
        prevent_initial_call=True,
    )
    def open_profile(value):
        return app.get_relative_path(f"/territoire/{value}") if value else no_update

    # The URL always says what is shown (replaceState: no page reload, no history spam).
    app.clientside_callback(
        ClientsideFunction(namespace="cafurl", function_name="sync"),
        Output("url-applied", "data"),
        *[Input(name, "value") for name in MAP_INPUTS],
        Input("selection-territoire", "data"),
        Input("carte-equipements", "value"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="cafmap", function_name="exportImage"),
        Output("export-applied", "data"),
        Input("export-png", "n_clicks"),
        Input("export-svg", "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        "function(n){ document.body.classList.toggle('cc-panel-open', n % 2 === 1);"
        " return window.dash_clientside.no_update; }",
        Output("panneau-bascule", "title"),
        Input("panneau-bascule", "n_clicks"),
        prevent_initial_call=True,
    )
