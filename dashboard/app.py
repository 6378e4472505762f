"""The Dash application factory."""

from __future__ import annotations

import dash

from callbacks import map as map_callbacks
from dashboard import strings_fr as fr
from dashboard.config import REPO_ROOT, Settings
from dashboard.layout import serve_layout
from dashboard.routes import register_routes

# Served by dashboard/routes.py from the vendor directory: nothing comes from a CDN.
EXTERNAL_STYLESHEETS = ["/vendor/bootstrap.min.css", "/vendor/maplibre-gl.css"]
# MapLibre is an ES module imported by assets/cafmap.js; start downloading it with the page.
MODULE_PRELOAD = '<link rel="modulepreload" href="/vendor/maplibre-gl.mjs">'


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Build the app: layout, callbacks and server routes. Starts even with no cache."""
    settings = settings or Settings.from_env()
    app = dash.Dash(
        __name__,
        title=fr.APP_TITLE,
        assets_folder=str(REPO_ROOT / "assets"),
        external_stylesheets=EXTERNAL_STYLESHEETS,
        serve_locally=True,
        update_title=None,
    )
    app.config.suppress_callback_exceptions = True
    app.index_string = app.index_string.replace("<html>", '<html lang="fr">', 1).replace(
        "{%css%}", "{%css%}\n" + MODULE_PRELOAD, 1
    )
    app.layout = lambda: serve_layout(settings)
    register_routes(app.server, settings)
    map_callbacks.register(app, settings)
    return app


def main() -> None:
    """Run the development server (`python -m dashboard.app`)."""
    settings = Settings.from_env()
    create_app(settings).run(host=settings.host, port=settings.port, debug=False)


if __name__ == "__main__":
    main()
