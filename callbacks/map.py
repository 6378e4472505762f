"""Map callbacks: (niveau, indicateur) -> a small spec that `window.cafmap` fetches and applies.

No geometry and no values go through Dash: the spec only carries URLs and labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs

from dash import ALL, ClientsideFunction, Dash, Input, Output, no_update

from dashboard import strings_fr as fr
from dashboard.config import Settings
from dashboard.geocache import DETAIL_SUFFIX, WebLevel, web_geometries, web_levels
from layers.classify import NO_DATA_COLOUR, palette
from layers.indicators_basic import INDICATORS, LEVELS

# A level whose bbox is wider than this (degrees of longitude) includes overseas territories:
# the map then frames métropole rather than the whole bbox.
NATIONAL_SPAN = 30.0
# Default zoom from which the finer `<level>-detail` geometry replaces the national one.
DETAIL_ZOOM = 7.0


def detail_zoom(tolerance: float | None) -> float:
    """Zoom at which the national geometry's tolerance becomes about one screen pixel."""
    if not tolerance or tolerance <= 0:
        return DETAIL_ZOOM
    return round(min(max(math.log2(360.0 / (512.0 * tolerance)), 5.0), 10.0), 1)


def _identity(path: str) -> str:
    return path


def map_spec(
    levels: Mapping[str, WebLevel],
    niveau: str | None,
    indicateur: str | None,
    rel: Callable[[str], str] = _identity,
    details: Mapping[str, WebLevel] | None = None,
) -> dict | None:
    """Spec handed to `dash_clientside.cafmap.apply`, or None for an unknown/unbuilt choice."""
    if niveau not in levels or indicateur not in INDICATORS:
        return None
    entry = levels[niveau]
    bbox = list(entry.bbox)
    if bbox[2] - bbox[0] > NATIONAL_SPAN:
        bbox = list(fr.ZONES["metropole"][1])
    dep = levels.get("departement")
    detail = details.get(niveau + DETAIL_SUFFIX) if details else None
    return {
        "niveau": niveau,
        "indicateur": indicateur,
        "geometrie": rel(entry.url),
        "valeurs": rel(f"/api/carte/{niveau}?indicateur={indicateur}&v={entry.version}"),
        "bordures": rel(dep.url) if (niveau == "commune" and dep) else None,
        "tuiles": rel(entry.tiles_url) if entry.tiles_url else None,
        "tuiles_maxzoom": entry.tiles_maxzoom,
        "bordures_tuiles": rel(dep.tiles_url) if (niveau == "commune" and dep and dep.tiles_url)
        else None,
        "bordures_maxzoom": dep.tiles_maxzoom if dep else None,
        "detail": rel(detail.url) if detail else None,
        "zoom_detail": detail_zoom(entry.tolerance),
        "emprise": bbox,
        "effectif": entry.features,
        "accueil": [list(fr.ZONES["metropole"][1][:2]), list(fr.ZONES["metropole"][1][2:])],
        "titre": f"{INDICATORS[indicateur].libelle} par {fr.LEVEL_SINGULAR[niveau]}",
        "libelle_niveau": fr.LEVEL_LABELS[niveau],
        "nodata": NO_DATA_COLOUR,
        "couleurs": palette("YlGnBu", 5),  # the values API default: layers start right
        "zones": {code: list(bounds) for code, (_label, bounds) in fr.ZONES.items()},
        "lib": rel("/vendor/maplibre-gl.mjs"),
        "attribution": "IGN Admin Express 2018 · Insee",
    }


def choice_from_query(search: str | None) -> tuple[str | None, str | None]:
    """(niveau, indicateur) from a query string such as "?niveau=commune&indicateur=densite".

    Unknown values give None (keep the current choice).
    """
    query = parse_qs((search or "").lstrip("?"))
    niveau = (query.get("niveau") or [None])[0]
    indicateur = (query.get("indicateur") or [None])[0]
    return (
        niveau if niveau in fr.LEVEL_LABELS else None,
        indicateur if indicateur in INDICATORS else None,
    )


def register(app: Dash, settings: Settings) -> None:
    """Register the map callbacks on `app`."""

    @app.callback(
        Output("niveau", "value"),
        Output("indicateur", "value"),
        Input("url", "search"),
    )
    def choice_from_url(search: str | None) -> tuple:
        niveau, indicateur = choice_from_query(search)
        if niveau is not None and niveau not in web_levels(settings.cache):
            niveau = None
        return (niveau or no_update, indicateur or no_update)

    @app.callback(
        Output("map-spec", "data"),
        Input("niveau", "value"),
        Input("indicateur", "value"),
    )
    def update_spec(niveau: str | None, indicateur: str | None) -> dict:
        geometries = web_geometries(settings.cache)
        levels = {k: v for k, v in geometries.items() if k in LEVELS}
        spec = map_spec(levels, niveau, indicateur, app.get_relative_path, geometries)
        return no_update if spec is None else spec

    app.clientside_callback(
        ClientsideFunction(namespace="cafmap", function_name="apply"),
        Output("map-applied", "data"),
        Input("map-spec", "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="cafmap", function_name="zone"),
        Output("zone-applied", "data"),
        Input({"type": "zone", "code": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
