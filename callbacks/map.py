"""Map spec: (level, indicator, values URL) -> a small spec that `window.cafmap` applies.

No geometry and no values go through Dash: the spec only carries URLs and labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from dash import ALL, ClientsideFunction, Dash, Input, Output

from layers import strings_fr as fr
from layers.catalogue import GEOMETRY_INDICATORS
from layers.classify import NO_DATA_COLOUR, palette
from layers.config import Settings
from layers.geocache import DETAIL_SUFFIX, WebLevel
from layers.model import LEVEL

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
    values_query: str | None = None,
    title: str | None = None,
) -> dict | None:
    """Spec handed to `dash_clientside.cafmap.apply`, or None for an unknown/unbuilt choice.

    `values_query` (the query of /api/carte) serves the store's indicators; without it the
    indicator is one computed from the geometry (population, densité)."""
    if niveau not in levels or (values_query is None and indicateur not in GEOMETRY_INDICATORS):
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
        "valeurs": rel(f"/api/carte/{niveau}?{values_query}&v={entry.version}")
        if values_query is not None
        else rel(f"/api/carte/{niveau}?indicateur={indicateur}&v={entry.version}"),
        "bordures": rel(dep.url) if (niveau == "commune" and dep) else None,
        "tuiles": rel(entry.tiles_url) if entry.tiles_url else None,
        "tuiles_maxzoom": entry.tiles_maxzoom,
        "bordures_tuiles": rel(dep.tiles_url)
        if (niveau == "commune" and dep and dep.tiles_url)
        else None,
        "bordures_maxzoom": dep.tiles_maxzoom if dep else None,
        "detail": rel(detail.url) if detail else None,
        "zoom_detail": detail_zoom(entry.tolerance),
        "emprise": bbox,
        "effectif": entry.features,
        "accueil": [list(fr.ZONES["metropole"][1][:2]), list(fr.ZONES["metropole"][1][2:])],
        "titre": title or f"{GEOMETRY_INDICATORS[indicateur].title} par {LEVEL[niveau].singular}",
        "libelle_niveau": LEVEL[niveau].plural,
        "nodata": NO_DATA_COLOUR,
        "couleurs": palette("YlGnBu", 5),  # the values API default: layers start right
        "zones": {code: list(bounds) for code, (_label, bounds) in fr.ZONES.items()},
        "lib": rel("/vendor/maplibre-gl.mjs"),
        "attribution": "IGN Admin Express 2018 · Insee",
    }


def register(app: Dash, settings: Settings) -> None:
    """Register the map callbacks on `app`."""

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
