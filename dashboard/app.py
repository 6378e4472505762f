"""The Dash application factory."""

from __future__ import annotations

from html import escape as html_escape

import dash
import flask

from callbacks import explore as explore_callbacks
from callbacks import exports as export_callbacks
from callbacks import facilities as facility_callbacks
from callbacks import map as map_callbacks
from callbacks import profile as profile_callbacks
from dashboard import strings_fr as fr
from dashboard.api_v1 import register_api
from dashboard.appdata import AppData
from dashboard.config import REPO_ROOT, Settings
from dashboard.explore_page import explore_layout
from dashboard.export_routes import register_exports
from dashboard.facility_routes import register_facility_routes
from dashboard.geocache import web_levels
from dashboard.jobs import background_manager
from dashboard.layout import setup_problems, shell
from dashboard.profile_page import profile_layout
from dashboard.routes import register_routes
from dashboard.url_state import DEFAULT_LEVEL

# Served by dashboard/routes.py from the vendor directory: nothing comes from a CDN.
EXTERNAL_STYLESHEETS = ["/vendor/bootstrap.min.css", "/vendor/maplibre-gl.css"]
# MapLibre is an ES module imported by assets/cafmap.js; start downloading it with the page.
MODULE_PRELOAD = '<link rel="modulepreload" href="/vendor/maplibre-gl.mjs">'


class CafDash(dash.Dash):
    """Dash with the geometry of the level asked in the URL preloaded from the page head."""

    settings: Settings

    def interpolate_index(self, **kwargs: str) -> str:
        # The map asks for its geometry only once Dash has booted (~0.5 s): start it with the HTML.
        level = flask.request.args.get("niveau", DEFAULT_LEVEL)
        entry = web_levels(self.settings.cache).get(level)
        if entry is not None and not entry.tiles_url:  # tiles are fetched by view, not whole
            href = html_escape(self.get_relative_path(entry.url))
            kwargs["css"] += (
                f'\n<link rel="preload" href="{href}" as="fetch" crossorigin="anonymous">'
            )
        # Dash pages give a title function the path variables only: the map's view is in the
        # query string, so its title is made here (and kept current by cafmap.js).
        if flask.request.path.rstrip("/") in ("", "/embed"):
            kwargs["title"] = html_escape(_title(**flask.request.args.to_dict()))
        return super().interpolate_index(**kwargs)


def _notice(data: AppData) -> str | None:
    info = data.store()
    return info.notice if info else None


def _title(**query: str) -> str:
    """Page title naming the view (indicator and level), for tabs and screen readers."""
    from layers.catalogue import BY_ID

    ind = BY_ID.get(str(query.get("indicateur", "")))
    level = fr.LEVEL_SINGULAR.get(str(query.get("niveau", "")), "")
    if ind is None:
        return f"Carte des indicateurs – {fr.APP_TITLE}"
    return f"{ind.titre}{' par ' + level if level else ''} – {fr.APP_TITLE}"


def _profile_title(data: AppData, niveau: str = "", code: str = "", **_kw: str) -> str:
    """"Fiche territoire : Lyon (commune) – Cafdata Carto"; the code when it is unknown."""
    index = data.index()
    terr = index.get(niveau, code) if index is not None and niveau in index.levels() else None
    level = fr.LEVEL_SINGULAR.get(niveau, "")
    name = terr.name if terr is not None else code[:20]
    return f"Fiche territoire : {name}{f' ({level})' if level else ''} – {fr.APP_TITLE}"


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Build the app: layout, callbacks and server routes. Starts even with no cache."""
    settings = settings or Settings.from_env()
    app = CafDash(
        __name__,
        title=fr.APP_TITLE,
        assets_folder=str(REPO_ROOT / "assets"),
        external_stylesheets=EXTERNAL_STYLESHEETS,
        serve_locally=True,
        update_title=None,
        use_pages=True,
        pages_folder="",
        background_callback_manager=background_manager(settings),
    )
    app.settings = settings
    data = AppData(settings)
    app.config.suppress_callback_exceptions = True
    app.index_string = app.index_string.replace("<html>", '<html lang="fr">', 1).replace(
        "{%css%}", "{%css%}\n" + MODULE_PRELOAD, 1
    )
    dash.register_page(
        "carte", path="/", title=_title, name="Carte",
        layout=lambda **query: explore_layout(data, **query),
    )  # fmt: skip
    dash.register_page(
        "embed", path="/embed", title=_title, name="Carte intégrable",
        layout=lambda **query: explore_layout(data, embed=True, **query),
    )  # fmt: skip
    dash.register_page(
        "fiche", path_template="/territoire/<niveau>/<code>",
        title=lambda **kw: _profile_title(data, **kw),
        name="Fiche territoire", layout=lambda **kw: profile_layout(data, **kw),
    )  # fmt: skip
    app.layout = lambda: shell(_notice(data), dash.page_container, setup_problems(settings))
    register_routes(app.server, settings, data)
    register_api(app.server, data)
    register_exports(app.server, data)
    register_facility_routes(app.server, data)
    map_callbacks.register(app, settings)
    explore_callbacks.register(app, data)
    profile_callbacks.register(app, data)
    facility_callbacks.register(app, data)
    export_callbacks.register(app, data)
    return app


def main() -> None:
    """Run the development server (`python -m dashboard.app`)."""
    settings = Settings.from_env()
    create_app(settings).run(host=settings.host, port=settings.port, debug=False)


if __name__ == "__main__":
    main()
