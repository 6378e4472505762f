"""The Dash application factory."""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape as html_escape
from pathlib import Path

import dash
import flask
from dash._utils import to_json

import callbacks
from dashboard import jobs
from dashboard.api import exports, facilities, geo, map_data, v1
from dashboard.jobs import background_manager
from dashboard.pages import register_pages
from dashboard.pages.explore import title as explore_title
from dashboard.pages.shell import app_layout, setup_problems
from dashboard.server import (
    compression,
    cost_limits,
    dash_requests,
    errors,
    headers,
    http_cache,
    limits,
    memory_release,
    page_answers,
    sync_views,
    timing,
)
from dashboard.server.constant_answers import ConstantAnswers
from dashboard.server.headers import add_nonce, csp_nonce
from dashboard.vendor import vendor_url
from layers import strings_fr as fr
from layers.appdata import AppData, current_data, init_app
from layers.config import REPO_ROOT, Settings
from layers.geocache import web_levels
from layers.map_start import first_spec
from layers.url_state import DEFAULT_LEVEL

# Server routes beside the Dash pages: registered before `harden` wraps them.
BLUEPRINTS = (geo.bp, map_data.bp, v1.bp, exports.bp, facilities.bp)
# Served by dashboard/api/geo.py from the vendor directory: nothing comes from a CDN.
STYLESHEETS = ("bootstrap.min.css", "maplibre-gl.css")
MAPLIBRE = "maplibre-gl.mjs"


def module_tags(vendor: Path) -> str:
    """Import map and preload of MapLibre, an ES module imported by assets/cafmap.js by its
    plain URL: the map sends that import to the content-hashed URL (cached a year), and the
    preload starts the download with the page."""
    url = vendor_url(vendor, MAPLIBRE)
    imports = json.dumps({"imports": {f"/vendor/{MAPLIBRE}": url}})
    return f'<script type="importmap">{imports}</script>\n<link rel="modulepreload" href="{url}">'


def first_map_tag(rel: Callable[[str], str]) -> str:
    """The map's first spec for the page URL, inline: assets/cafmap.js starts the map with it
    while Dash starts (layers/map_start.py). Its JSON cannot close the script ("<" escaped)."""
    spec = first_spec(flask.request.args.to_dict(), current_data(), rel)
    if spec is None:
        return ""
    text = json.dumps(spec, ensure_ascii=False).replace("<", "\\u003c")
    # The demonstration notice above the page changes the map's height (its first tiles).
    info = current_data().store()
    demo = ' data-demo="1"' if info is not None and info.notice else ""
    return f'\n<script type="application/json" id="cafmap-depart"{demo}>{text}</script>'


class CafDash(dash.Dash):
    """Dash with the geometry of the level asked in the URL preloaded from the page head."""

    settings: Settings
    constant: ConstantAnswers

    def serve_layout(self) -> flask.Response:
        # The layout reads the store in service and what is missing to run: both are named
        # by the builds stamp and the setup problems (cheap: a few readlink and stat calls).
        settings = current_data().settings
        key = "\n".join([http_cache.builds_stamp(settings), *setup_problems(settings)])
        return self.constant.respond("layout", key, lambda: to_json(self.get_layout()))

    def dependencies(self) -> flask.Response:
        # Fixed once the callbacks are installed; the builds stamp keeps it per build anyway.
        key = f"{http_cache.builds_stamp(self.settings)}\n{len(self._callback_list)}"
        return self.constant.respond("dependencies", key, lambda: to_json(self._callback_list))

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
            kwargs["title"] = html_escape(explore_title(**flask.request.args.to_dict()))
            kwargs["css"] += first_map_tag(self.get_relative_path)
        # Dash's inline config and start-up scripts run under the CSP thanks to the nonce.
        return add_nonce(super().interpolate_index(**kwargs), csp_nonce())


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Build the app: pages, callbacks and server routes. Starts even with no cache."""
    settings = settings or Settings.from_env()
    app = CafDash(
        __name__,
        title=fr.APP_TITLE,
        assets_folder=str(REPO_ROOT / "assets"),
        # Content-hashed URLs (?v=): browsers keep them a year.
        external_stylesheets=[vendor_url(settings.vendor, name) for name in STYLESHEETS],
        serve_locally=True,
        update_title=None,
        use_pages=True,
        pages_folder="",
        background_callback_manager=background_manager(settings),
    )
    app.settings = settings
    app.constant = ConstantAnswers()
    data = AppData(settings)
    init_app(app.server, data)
    app.config.suppress_callback_exceptions = True
    app.index_string = app.index_string.replace("<html>", '<html lang="fr">', 1).replace(
        "{%css%}", "{%css%}\n" + module_tags(settings.vendor), 1
    )
    register_pages()
    app.layout = app_layout
    callbacks.install(app)
    for blueprint in BLUEPRINTS:
        app.server.register_blueprint(blueprint)
    harden(app.server, settings)
    dash_requests.init_app(app)  # forged update bodies: a French 400 before Dash runs them
    page_answers.init_app(app.server)  # the map page's answer, once per URL and worker
    jobs.init_app(app.server)  # the exports' French answer when Redis is down
    # Said once at start in the server log too (the page says it on every load).
    for problem in setup_problems(settings):
        app.server.logger.error(problem)
    return app


def harden(server: flask.Flask, settings: Settings) -> None:
    """Production behaviour of the server: limits, errors, caching, headers, compression.
    Called once every route exists (the rate limits wrap the routes registered so far)."""
    errors.init_app(server)
    cost_limits.init_app(server, settings)  # heavy answers: inside the cache, never on a hit
    http_cache.init_app(server, settings)
    limits.init_app(server, settings)  # wraps the cached views: cache hits count too
    headers.init_app(server)
    memory_release.init_app(server)  # after a whole-level answer: its memory back to the system
    compression.init_app(server)  # its hook runs last, after the headers of every other
    timing.init_app(server)  # only with CAFCARTO_SERVER_TIMING=1: after compression too
    sync_views.init_app(server)  # Flask's per-call coroutine check, once per function


def main() -> None:
    """Run the development server (`python -m dashboard.app`)."""
    settings = Settings.from_env()
    create_app(settings).run(host=settings.host, port=settings.port, debug=False)


if __name__ == "__main__":
    main()
