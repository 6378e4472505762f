"""The pages of the app (Dash pages): the map (/), the embeddable map (/embed) and the
territory profile (/territoire/<niveau>/<code>).

Their layouts and titles are module-level functions reading the data of the app serving the
request (`current_data()`); `register_pages()` declares them once the Dash app exists (Dash
pages requires it), and again for every app of the process (same functions, no data held).
"""

from __future__ import annotations

import dash
from dash import html

from dashboard import profile_page
from dashboard.pages import embed, explore
from layers import strings_fr as fr
from layers.appdata import current_data
from layers.model import LEVEL, MAP_LEVELS


def register_pages() -> None:
    explore.register()
    embed.register()
    dash.register_page(
        "fiche",
        path_template="/territoire/<niveau>/<code>",
        title=profile_title,
        name="Fiche territoire",
        layout=profile_layout,
    )


def profile_layout(niveau: str | None = None, code: str | None = None, **_query: str) -> html.Div:
    """The profile of the territory of the path (dashboard/profile_page.py)."""
    return profile_page.profile_layout(current_data(), niveau, code)


def profile_title(niveau: str = "", code: str = "", **_kw: str) -> str:
    """« Fiche territoire : Lyon (commune) – Cafdata Carto »; the code when it is unknown."""
    index = current_data().index()
    terr = index.get(niveau, code) if index is not None and niveau in index.levels() else None
    level = LEVEL[niveau].singular if niveau in MAP_LEVELS else ""
    name = terr.name if terr is not None else code[:20]
    return f"Fiche territoire : {name}{f' ({level})' if level else ''} – {fr.APP_TITLE}"
