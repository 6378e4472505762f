"""The explore page (/): side panel (indicator, level, period, classification, filter,
export), the map, the selected territory's series and the data table. Built from the URL's
state (`layers.url_state`) and the data of the app serving the request; its controls' choices
come from `layers.options`, its callbacks from `callbacks/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from dashboard.pages.shell import setup_message
from layers import strings_fr as fr
from layers.appdata import current_data
from layers.catalogue import BY_ID
from layers.classify import METHODS
from layers.map_options import ALL_PALETTES, representation_note
from layers.map_start import initial_state
from layers.model import FACILITY_TYPES, singular_name
from layers.options import (
    filter_options,
    indicator_options,
    level_options,
    levels_with_data,
    period_options,
    subtheme_options,
    theme_options,
)
from layers.territory_index import TerritoryIndex
from layers.url_state import ViewState, parse_state

NO_STORE = "L'entrepôt d'indicateurs n'est pas construit : lancez « cafcarto build »."


def _labelled(label: str, control: Component, html_for: str | None = None) -> html.Div:
    return html.Div(
        [html.Label(label, htmlFor=html_for, className="cc-label"), control], className="cc-field"
    )


def _select(
    label: str, ident: str, options: list[dict], value: object, **props: object
) -> html.Div:
    """A labelled dropdown that always has a value."""
    control = dcc.Dropdown(id=ident, options=options, value=value, clearable=False, **props)
    return _labelled(label, control, ident)


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
            _select(fr.LABEL_THEME, "theme", theme_options(), ind.theme),
            _select(fr.LABEL_SUBTHEME, "sous-theme", subtheme_options(ind.theme), ind.subtheme),
            _select(
                fr.LABEL_INDICATOR,
                "indicateur",
                indicator_options(ind.theme, ind.subtheme),
                ind.id,
                optionHeight=48,
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
    counts = not ind.is_rate
    # The same starting values as the map drawn before Dash (layers/map_start.py).
    start = initial_state(state, periods)
    representation = start["representation"]
    info = current_data().store()
    with_data = levels_with_data(info.store if info else None, ind.id)
    return html.Div(
        [
            html.H2(fr.LABEL_LEVEL),
            dbc.RadioItems(
                id="niveau", options=level_options(ind.id, built, with_data), value=state.niveau
            ),
            _select(
                fr.LABEL_PERIOD,
                "periode",
                period_options(periods),
                start["periode"],
            ),
            html.Div(
                [
                    _labelled(
                        fr.LABEL_REPRESENTATION,
                        dbc.RadioItems(
                            id="representation",
                            options=[
                                {"label": v, "value": k}
                                for k, v in fr.REPRESENTATION_LABELS.items()
                            ],
                            value=representation,
                        ),
                    ),
                    html.P(
                        representation_note(ind, representation),
                        id="note-representation",
                        className="cc-note",
                    ),
                ],
                id="bloc-representation",
                hidden=not counts,
            ),
        ]
    )


def classification_block(state: ViewState) -> html.Details:
    return html.Details(
        [
            html.Summary(fr.LABEL_METHOD),
            _select(
                fr.LABEL_METHOD,
                "methode",
                [{"label": fr.METHOD_LABELS[m], "value": m} for m in METHODS],
                state.methode,
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
            _select(
                fr.LABEL_PALETTE,
                "palette",
                [{"label": fr.PALETTE_LABELS[p], "value": p} for p in ALL_PALETTES],
                state.palette,
            ),
        ],
        className="cc-details",
        open=state.methode != "quantiles" or state.palette != "YlGnBu" or state.classes != 5,
    )


def _export_button(label: str, ident: str, title: str | None = None) -> html.Button:
    extra = {"title": title} if title else {}
    return html.Button(
        label,
        id=ident,
        className="btn btn-outline-secondary btn-sm",
        n_clicks=0,
        type="button",
        **extra,
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
        _export_button("Excel", "export-xlsx"),
        html.A(
            "GeoJSON",
            id="export-geojson",
            className="btn btn-outline-secondary btn-sm",
            download="",
            href="#",
        ),
        _export_button("PNG", "export-png"),
        _export_button("SVG", "export-svg"),
        _export_button("PDF", "export-pdf", fr.MAP_PDF_HINT),
        _export_button(fr.ATLAS_BUTTON, "export-atlas", fr.ATLAS_HINT),
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


def zone_selector() -> html.Div:
    """Quick views: métropole and each overseas département."""
    buttons = [
        dbc.Button(
            label,
            id={"type": "zone", "code": code},
            color="secondary",
            outline=True,
            size="sm",
            n_clicks=0,
        )
        for code, (label, _bounds) in fr.ZONES.items()
    ]
    return html.Div([html.H2(fr.LABEL_ZONE), html.Div(buttons, className="cc-zones")])


def map_area(problems: list[str]) -> html.Main:
    if problems:
        content = setup_message(problems)
    else:
        content = html.Div(
            id="cafmap", className="cafmap-root", role="region", **{"aria-label": fr.MAP_ARIA}
        )
    return html.Main(content, className="cc-main")


def explore_panel(
    state: ViewState, index: TerritoryIndex | None, built: list[str], periods: list[str]
) -> html.Aside:
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
                    options=filter_options(index),
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


def url_notice(ignored: list[str]) -> list[dbc.Alert]:
    """The URL parameters dropped (unknown or stale values), said once above the page."""
    if not ignored:
        return []
    text = fr.URL_NOTICE.format(names=", ".join(ignored))
    return [
        dbc.Alert(
            text, color="warning", dismissable=True, className="cc-url-notice", id="url-notice"
        )
    ]


def explore_layout(query: Mapping[str, object], embed: bool = False) -> html.Div:
    """The page for a URL's query, with the data of the app serving the request.

    `embed`: the same view with map and legend only (/embed, for iframes)."""
    data = current_data()
    info, index = data.store(), data.index()
    # The shell already says what else is missing.
    problems = [] if info is not None else [NO_STORE]
    built = index.levels() if index is not None else []
    state, ignored = parse_state(query, info.store if info else None, index, built)
    periods = info.store.periods(state.indicateur, state.niveau) if info else []
    body = html.Div(
        [
            html.Button(
                fr.PANEL_TOGGLE,
                id="panneau-bascule",
                n_clicks=0,
                className="cc-toggle btn btn-secondary btn-sm",
                type="button",
                **{"aria-controls": "panneau"},
            ),
            explore_panel(state, index, built, periods),
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
    )
    return html.Div(
        [
            *url_notice(ignored),
            body,
            html.Details(
                [html.Summary(fr.TABLE_TOGGLE), html.Div(id="table-donnees")],
                className="cc-table-alt",
                id="bloc-table",
            ),
            meta_modal(),
            *page_stores(state),
        ],
        className="cc-page cc-embed" if embed else "cc-page",
    )


def page_stores(state: ViewState) -> list[dcc.Store]:
    """The page's state shared with the browser: the initial view, the selection, the specs
    that cafmap.js and cafequip.js apply, and what they report back."""
    return [
        dcc.Store(id="etat-initial", data={"vue": state.vue, "territoire": state.territoire}),
        dcc.Store(id="selection-territoire", data=state.territoire or None),
        *[
            dcc.Store(id=name)
            for name in (
                "map-spec",
                "map-applied",
                "zone-applied",
                "url-applied",
                "export-applied",
                "equipements-spec",
                "equipements-applied",
                "table-rafraichir",
                "selection-rafraichir",
                "equipements-relais-types",
                "equipements-relais",
            )
        ],
    ]


def title(**query: str) -> str:
    """Page title naming the view (indicator and level), for tabs and screen readers."""
    query = query or _callback_query()
    ind = BY_ID.get(str(query.get("indicateur", "")))
    level = singular_name(query.get("niveau"))
    if ind is None:
        return f"Carte des indicateurs – {fr.APP_TITLE}"
    return f"{ind.title}{' par ' + level if level else ''} – {fr.APP_TITLE}"


def _callback_query() -> dict[str, str]:
    """The view's query string when Dash pages asks the title in its page callback: it passes
    the path variables only, and its answer becomes `document.title`, which named every map
    « Carte des indicateurs » until cafmap.js named the view again."""
    try:
        search = dash.ctx.inputs.get("_pages_location.search") or ""
    except (LookupError, dash.exceptions.MissingCallbackContextException):
        # not in a callback: the HTML's meta tags (its title is made from the request, see
        # DashApp.interpolate_index)
        return {}
    return dict(parse_qsl(str(search).lstrip("?")))


def layout(**query: str) -> html.Div:
    """The page's layout (Dash pages passes the query string as keyword arguments)."""
    return explore_layout(query)


def register() -> None:
    dash.register_page("carte", path="/", title=title, name="Carte", layout=layout)
