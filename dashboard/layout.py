"""Page layout: header, side panel (level, indicator, overseas quick view), map area.

Small factory functions, no callbacks here. The layout is a function so that a cache built or
front-end installed after start-up is picked up on the next page load.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import strings_fr as fr
from dashboard.config import Settings
from dashboard.geocache import web_levels
from dashboard.vendor import missing_files
from layers.indicators_basic import INDICATORS, LEVELS

DEFAULT_LEVEL = "departement"
DEFAULT_INDICATOR = "population"


def header() -> html.Header:
    return html.Header(
        [html.H1(fr.APP_TITLE), html.Span(fr.APP_SUBTITLE, className="cc-subtitle")],
        className="cc-header",
    )


def level_selector(available: list[str]) -> html.Div:
    options = [
        {"label": fr.LEVEL_LABELS[lvl], "value": lvl, "disabled": lvl not in available}
        for lvl in LEVELS
    ]
    value = DEFAULT_LEVEL if DEFAULT_LEVEL in available else (available or [DEFAULT_LEVEL])[0]
    return html.Div(
        [html.H2(fr.LABEL_LEVEL), dbc.RadioItems(id="niveau", options=options, value=value)]
    )


def indicator_selector() -> html.Div:
    options = [{"label": ind.libelle, "value": code} for code, ind in INDICATORS.items()]
    return html.Div(
        [
            html.H2(fr.LABEL_INDICATOR),
            dbc.RadioItems(id="indicateur", options=options, value=DEFAULT_INDICATOR),
        ]
    )


def zone_selector() -> html.Div:
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


def side_panel(available: list[str]) -> html.Aside:
    return html.Aside(
        [
            level_selector(available),
            indicator_selector(),
            zone_selector(),
            html.P(fr.SOURCE_NOTE, className="cc-note"),
        ],
        className="cc-panel",
    )


def setup_message(problems: list[str]) -> html.Div:
    return html.Div(
        [html.H2(fr.SETUP_TITLE), *[html.P(p) for p in problems]],
        className="cc-setup",
        id="setup-message",
        role="alert",
    )


def setup_problems(settings: Settings) -> list[str]:
    """French explanations of what is missing to draw the map (empty when all is ready)."""
    problems = []
    if missing_files(settings.vendor):
        problems.append(fr.MISSING_VENDOR)
    if not web_levels(settings.cache):
        problems.append(fr.MISSING_CACHE.format(path=settings.cache))
    return problems


def map_area(problems: list[str]) -> html.Main:
    if problems:
        content = setup_message(problems)
    else:
        content = html.Div(
            id="cafmap", className="cafmap-root", role="region", **{"aria-label": fr.MAP_ARIA}
        )
    return html.Main(content, className="cc-main")


def serve_layout(settings: Settings) -> html.Div:
    """The whole page, reflecting the current state of the cache and vendor directories."""
    problems = setup_problems(settings)
    available = sorted(web_levels(settings.cache), key=LEVELS.index)
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            header(),
            html.Div([side_panel(available), map_area(problems)], className="cc-body"),
            dcc.Store(id="map-spec"),
            dcc.Store(id="map-applied"),
            dcc.Store(id="zone-applied"),
        ],
        className="cc-app",
    )
