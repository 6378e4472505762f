"""The pages of the app (Dash pages): the map (/), the embeddable map (/embed) and the
territory profile (/territoire/<niveau>/<code>).

Their layouts and titles are module-level functions reading the data of the app serving the
request (`current_data()`); `register_pages()` declares them once the Dash app exists (Dash
pages requires it), and again for every app of the process (same functions, no data held).
"""

from __future__ import annotations

from dashboard.pages import embed, explore, profile


def register_pages() -> None:
    explore.register()
    embed.register()
    profile.register()
