"""The app's layout around the pages: header, demonstration banner (or what is missing to run),
then the page of the URL.

Small factory functions, no callbacks here. The layout is a function, evaluated on every page
load with the data of the app serving it: a cache built or front-end installed after start-up
is picked up on the next load.
"""

from __future__ import annotations

import dash
from dash import html
from dash.development.base_component import Component

from dashboard.cache_check import cache_problems
from dashboard.vendor import missing_files
from layers import strings_fr as fr
from layers.appdata import current_data
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


def demo_banner(notice: str | None) -> html.Div | None:
    if not notice:
        return None
    return html.Div(notice, className="cc-demo", role="note", id="bandeau-demo")


def shell(
    notice: str | None, page_container: Component, problems: list[str] | None = None
) -> html.Div:
    """Header, demonstration banner (or what is missing to run), then the page of the URL."""
    setup = setup_message(problems) if problems else None
    parts = [header(), demo_banner(notice), setup, html.Div(page_container, className="cc-pages")]
    return html.Div([p for p in parts if p is not None], className="cc-app")


def app_layout() -> html.Div:
    """The layout of the app (`app.layout`), for the data of the app serving the request."""
    data = current_data()
    info = data.store()
    notice = info.notice if info else None
    return shell(notice, dash.page_container, setup_problems(data.settings))
