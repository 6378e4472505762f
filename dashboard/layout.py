"""Page shell and shared pieces: header, demonstration banner, overseas quick view, map area.

Small factory functions, no callbacks here. The layout is a function so that a cache built or
front-end installed after start-up is picked up on the next page load.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from dashboard.cache_check import cache_problems
from dashboard.vendor import missing_files
from layers import strings_fr as fr
from layers.config import Settings
from layers.geocache import web_levels


def header() -> html.Header:
    return html.Header(
        [
            html.H1(html.A(fr.APP_TITLE, href="/")),
            html.Span(fr.APP_SUBTITLE, className="cc-subtitle"),
        ],
        className="cc-header",
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
    return problems + cache_problems(settings)


def map_area(problems: list[str]) -> html.Main:
    if problems:
        content = setup_message(problems)
    else:
        content = html.Div(
            id="cafmap", className="cafmap-root", role="region", **{"aria-label": fr.MAP_ARIA}
        )
    return html.Main(content, className="cc-main")


def demo_banner(notice: str | None) -> html.Div | None:
    if not notice:
        return None
    return html.Div(notice, className="cc-demo", role="note", id="bandeau-demo")


def shell(notice: str | None, page_container, problems: list[str] | None = None) -> html.Div:
    """Header, demonstration banner (or what is missing to run), then the page of the URL."""
    setup = setup_message(problems) if problems else None
    parts = [header(), demo_banner(notice), setup, html.Div(page_container, className="cc-pages")]
    return html.Div([p for p in parts if p is not None], className="cc-app")


# Data tables (profile, facilities): the page's font, not DataTable's monospace default.
TABLE_CELL_STYLE = {
    "fontFamily": "system-ui, sans-serif",
    "fontSize": "0.85rem",
    "textAlign": "left",
    "whiteSpace": "normal",
    "height": "auto",
}
