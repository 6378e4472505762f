"""The embeddable map (/embed): the explore page's view with map and legend only, for iframes
(the only page the security headers let another site frame)."""

from __future__ import annotations

import dash
from dash import html

from dashboard.pages.explore import explore_layout, title


def layout(**query: str) -> html.Div:
    """The view of the URL's query, embedded (Dash pages passes the query as keywords)."""
    return explore_layout(query, embed=True)


def register() -> None:
    dash.register_page("embed", path="/embed", title=title, name="Carte intégrable", layout=layout)
