"""The explore page: side panel (indicator, level, period, classification, filter, export),
the map, the selected territory's series and the data table. Built from the URL's state."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.layout import map_area, zone_selector
from dashboard.map_options import ALL_PALETTES
from dashboard.url_state import ViewState, parse_state
from layers import strings_fr as fr
from layers.appdata import AppData
from layers.catalogue import BY_ID, CATEGORIES, INDICATORS
from layers.classify import METHODS
from layers.model import FACILITY_TYPES, FILTER_LEVELS, LEVEL, MAP_LEVELS, level_name
from layers.views import period_text


def theme_options() -> list[dict]:
    opts = [{"label": fr.ALL_THEMES, "value": ""}]
    for themes in CATEGORIES.values():
        for theme in themes:
            if not any(o["value"] == theme for o in opts):
                opts.append({"label": theme, "value": theme})
    return opts


def subtheme_options(theme: str | None) -> list[dict]:
    subs: list[str] = []
    for ind in INDICATORS:
        if (not theme or ind.theme == theme) and ind.subtheme not in subs:
            subs.append(ind.subtheme)
    return [{"label": fr.ALL_SUBTHEMES, "value": ""}] + [{"label": s, "value": s} for s in subs]


def indicator_options(theme: str | None, subtheme: str | None) -> list[dict]:
    return [
        {"label": ind.title, "value": ind.id}
        for ind in INDICATORS
        if (not theme or ind.theme == theme) and (not subtheme or ind.subtheme == subtheme)
    ]


def level_options(indicator: str, built: list[str]) -> list[dict]:
    ind = BY_ID[indicator]
    return [
        {
            "label": LEVEL[lv].plural,
            "value": lv,
            "disabled": lv not in ind.levels or lv not in built,
        }
        for lv in MAP_LEVELS
    ]


def period_options(periods: list[str]) -> list[dict]:
    return [{"label": period_text(p), "value": p} for p in reversed(periods)]


def filter_options(data: AppData) -> list[dict]:
    """Régions, départements, Caf and EPCI to restrict the map to (and zoom on)."""
    index = data.index()
    if index is None:
        return []
    opts = []
    for level in FILTER_LEVELS:
        if level not in index.levels():
            continue
        table = index.table(level).sort_values("code")
        name = level_name(level)
        opts += [
            {"label": f"{r.nom} ({name} {r.code})", "value": f"{level}:{r.code}"}
            for r in table.itertuples()
        ]
    return opts


def _labelled(label: str, control, html_for: str | None = None) -> html.Div:
    return html.Div(
        [html.Label(label, htmlFor=html_for, className="cc-label"), control], className="cc-field"
    )


def indicator_block(state: ViewState) -> html.Div:
    ind = BY_ID[state.indicateur]
    return html.Div(
        [
            html.H2(fr.LABEL_INDICATOR),
            _labelled(
                fr.LABEL_SEARCH,
                dcc.Input(
                    id="recherche-indicateur",
                    type="search",
                    debounce=0.3,
                    placeholder=fr.SEARCH_PLACEHOLDER,
                    className="form-control form-control-sm",
                    autoComplete="off",
                    maxLength=80,
                ),
                "recherche-indicateur",
            ),
            html.Ul(
                id="resultats-recherche",
                className="cc-results",
                **{"aria-label": "Indicateurs trouvés"},
            ),
            _labelled(
                fr.LABEL_THEME,
                dcc.Dropdown(
                    id="theme",
                    options=theme_options(),
                    value=ind.theme,
                    clearable=False,
                ),
                "theme",
            ),
            _labelled(
                fr.LABEL_SUBTHEME,
                dcc.Dropdown(
                    id="sous-theme",
                    options=subtheme_options(ind.theme),
                    value=ind.subtheme,
                    clearable=False,
                ),
                "sous-theme",
            ),
            _labelled(
                fr.LABEL_INDICATOR,
                dcc.Dropdown(
                    id="indicateur",
                    options=indicator_options(ind.theme, ind.subtheme),
                    value=ind.id,
                    clearable=False,
                    optionHeight=48,
                ),
                "indicateur",
            ),
            dbc.Button(
                fr.META_BUTTON,
                id="btn-meta",
                color="link",
                size="sm",
                className="cc-meta-btn",
                n_clicks=0,
            ),
        ]
    )


def view_block(state: ViewState, built: list[str], periods: list[str]) -> html.Div:
    ind = BY_ID[state.indicateur]
    counts = ind.nature != "taux"
    return html.Div(
        [
            html.H2(fr.LABEL_LEVEL),
            dbc.RadioItems(id="niveau", options=level_options(ind.id, built), value=state.niveau),
            _labelled(
                fr.LABEL_PERIOD,
                dcc.Dropdown(
                    id="periode",
                    options=period_options(periods),
                    value=state.periode or (periods[-1] if periods else None),
                    clearable=False,
                ),
                "periode",
            ),
            html.Div(
                _labelled(
                    fr.LABEL_REPRESENTATION,
                    dbc.RadioItems(
                        id="representation",
                        options=[
                            {"label": v, "value": k} for k, v in fr.REPRESENTATION_LABELS.items()
                        ],
                        value=state.representation if counts else "choroplethe",
                    ),
                ),
                id="bloc-representation",
                hidden=not counts,
            ),
        ]
    )


def classification_block(state: ViewState) -> html.Details:
    return html.Details(
        [
            html.Summary(fr.LABEL_METHOD),
            _labelled(
                fr.LABEL_METHOD,
                dcc.Dropdown(
                    id="methode",
                    options=[{"label": fr.METHOD_LABELS[m], "value": m} for m in METHODS],
                    value=state.methode,
                    clearable=False,
                ),
                "methode",
            ),
            _labelled(
                fr.LABEL_BREAKS,
                dcc.Input(
                    id="bornes",
                    type="text",
                    value=state.bornes,
                    debounce=True,
                    maxLength=200,
                    className="form-control form-control-sm",
                    placeholder="ex. : 10;20;30",
                ),
                "bornes",
            ),
            _labelled(
                fr.LABEL_CLASSES,
                dcc.Slider(
                    id="classes",
                    min=3,
                    max=7,
                    step=1,
                    value=state.classes,
                    marks={i: str(i) for i in range(3, 8)},
                ),
            ),
            _labelled(
                fr.LABEL_PALETTE,
                dcc.Dropdown(
                    id="palette",
                    options=[{"label": fr.PALETTE_LABELS[p], "value": p} for p in ALL_PALETTES],
                    value=state.palette,
                    clearable=False,
                ),
                "palette",
            ),
        ],
        className="cc-details",
        open=state.methode != "quantiles" or state.palette != "YlGnBu" or state.classes != 5,
    )


def export_block() -> html.Div:
    links = [
        html.A(
            "CSV",
            id="export-csv",
            className="btn btn-outline-secondary btn-sm",
            download="",
            href="#",
        ),
        html.Button(
            "Excel",
            id="export-xlsx",
            className="btn btn-outline-secondary btn-sm",
            n_clicks=0,
            type="button",
        ),
        html.A(
            "GeoJSON",
            id="export-geojson",
            className="btn btn-outline-secondary btn-sm",
            download="",
            href="#",
        ),
        html.Button(
            "PNG",
            id="export-png",
            className="btn btn-outline-secondary btn-sm",
            n_clicks=0,
            type="button",
        ),
        html.Button(
            "SVG",
            id="export-svg",
            className="btn btn-outline-secondary btn-sm",
            n_clicks=0,
            type="button",
        ),
        html.Button(
            fr.ATLAS_BUTTON,
            id="export-atlas",
            title=fr.ATLAS_HINT,
            className="btn btn-outline-secondary btn-sm",
            n_clicks=0,
            type="button",
        ),
    ]
    job = html.Div(
        [
            html.Div(
                dbc.Progress(id="export-progression", value=0, label="", className="cc-progress"),
                id="export-progression-bloc",
                hidden=True,
                role="progressbar",
                **{"aria-label": "Progression de l'export"},
            ),
            html.Div(id="export-job-etape", className="cc-note"),
            html.Button(
                "Annuler l'export",
                id="export-annuler",
                hidden=True,
                n_clicks=0,
                className="btn btn-link btn-sm p-0",
                type="button",
            ),
            html.Div(id="export-job-statut", role="status", className="cc-note"),
            dcc.Store(id="export-fichier"),
            dcc.Store(id="export-telecharge"),
        ]
    )
    return html.Div(
        [
            html.H2(fr.LABEL_EXPORT),
            html.Div(links, className="cc-exports"),
            job,
            html.Div(id="export-status", role="status", className="cc-note"),
        ]
    )


def facilities_block(state: ViewState) -> html.Div:
    """Facility types to show as points over the map (none by default)."""
    options = [
        {
            "label": html.Span(
                [html.Span(className="cc-dot", style={"background": ft.colour}), ft.label]
            ),
            "value": ft.slug,
        }
        for ft in FACILITY_TYPES
    ]
    return html.Div(
        [
            html.H2(fr.LABEL_FACILITIES),
            dbc.Checklist(
                id="carte-equipements",
                options=options,
                value=[t for t in state.equipements.split(",") if t],
            ),
            html.P(fr.FACILITIES_HINT, className="cc-note"),
        ]
    )


def explore_panel(state: ViewState, data: AppData, built: list[str], periods: list[str]):
    return html.Aside(
        [
            _labelled(
                "Fiche d'un territoire",
                dcc.Dropdown(
                    id="recherche-territoire",
                    options=[],
                    searchable=True,
                    placeholder="Nom, code Insee ou code postal…",
                ),
                "recherche-territoire",
            ),
            dcc.Location(id="navigation", refresh="callback-nav"),
            indicator_block(state),
            view_block(state, built, periods),
            _labelled(
                fr.LABEL_FILTER,
                dcc.Dropdown(
                    id="filtre",
                    options=filter_options(data),
                    value=state.filtre or None,
                    placeholder=fr.FILTER_PLACEHOLDER,
                    optionHeight=40,
                ),
                "filtre",
            ),
            classification_block(state),
            facilities_block(state),
            zone_selector(),
            export_block(),
            html.P(fr.SOURCE_NOTE, className="cc-note"),
        ],
        className="cc-panel",
        id="panneau",
        **{"aria-label": "Réglages de la carte"},
    )


def selection_panel() -> html.Section:
    return html.Section(
        [
            html.Div(
                [
                    html.H2(fr.SELECTION_TITLE, id="selection-titre"),
                    html.Button(
                        "×",
                        id="selection-fermer",
                        className="btn-close",
                        **{"aria-label": "Fermer"},
                        n_clicks=0,
                    ),
                ],
                className="cc-selection-head",
            ),
            html.Div(html.P(fr.SELECTION_HINT), id="selection-contenu"),
        ],
        id="selection",
        className="cc-selection",
        **{"aria-live": "polite"},
    )


def meta_modal() -> dbc.Modal:
    return dbc.Modal(
        [dbc.ModalHeader(dbc.ModalTitle(id="meta-titre")), dbc.ModalBody(id="meta-corps")],
        id="meta-modal",
        is_open=False,
        size="lg",
        scrollable=True,
    )


def explore_layout(data: AppData, embed: bool = False, **query: str) -> html.Div:
    """The page for a URL's query (Dash pages passes the query string as keyword arguments).

    `embed`: the same view with map and legend only (/embed, for iframes)."""
    problems = []  # the shell already says what is missing
    info, index = data.store(), data.index()
    if info is None:
        problems.append("L'entrepôt d'indicateurs n'est pas construit : lancez « cafcarto build ».")
    built = index.levels() if index is not None else []
    state, ignored = parse_state(query, info.store if info else None, index, built)
    periods = info.store.periods(state.indicateur, state.niveau) if info else []
    notice = []
    if ignored:
        text = fr.URL_NOTICE.format(names=", ".join(ignored))
        notice = [
            dbc.Alert(
                text, color="warning", dismissable=True, className="cc-url-notice", id="url-notice"
            )
        ]
    return html.Div(
        [
            *notice,
            html.Div(
                [
                    html.Button(
                        fr.PANEL_TOGGLE,
                        id="panneau-bascule",
                        n_clicks=0,
                        className="cc-toggle btn btn-secondary btn-sm",
                        type="button",
                        **{"aria-controls": "panneau"},
                    ),
                    explore_panel(state, data, built, periods),
                    html.Div(
                        [
                            map_area(problems),
                            html.Div(
                                [
                                    selection_panel(),
                                    html.Section(
                                        id="equipements-liste",
                                        hidden=True,
                                        className="cc-equip-list",
                                        **{"aria-live": "polite"},
                                    ),
                                ],
                                className="cc-bottom",
                            ),
                        ],
                        className="cc-mapcol",
                    ),
                ],
                className="cc-body",
            ),
            html.Details(
                [html.Summary(fr.TABLE_TOGGLE), html.Div(id="table-donnees")],
                className="cc-table-alt",
                id="bloc-table",
            ),
            meta_modal(),
            dcc.Store(id="etat-initial", data={"vue": state.vue, "territoire": state.territoire}),
            dcc.Store(id="selection-territoire", data=state.territoire or None),
            dcc.Store(id="map-spec"),
            dcc.Store(id="map-applied"),
            dcc.Store(id="zone-applied"),
            dcc.Store(id="url-applied"),
            dcc.Store(id="export-applied"),
            dcc.Store(id="equipements-spec"),
            dcc.Store(id="equipements-applied"),
        ],
        className="cc-page cc-embed" if embed else "cc-page",
    )
