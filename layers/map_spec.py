"""Map specs: (level, indicator, values URL) -> a small dict that `window.cafmap` applies, and
the facility points' spec that `window.cafequip` applies.

No geometry and no values go through Dash: a spec only carries URLs and labels. URLs go through
`rel` (the app's URL prefix, `dash.get_relative_path` in a callback).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlencode

from layers import strings_fr as fr
from layers.catalogue import BY_ID, GEOMETRY_INDICATORS
from layers.classify import NO_DATA_COLOUR, palette
from layers.geocache import DETAIL_SUFFIX, WebLevel
from layers.map_options import default_representation
from layers.model import FACILITY_BY_SLUG, FACILITY_TYPES, LEVEL, MAP_LEVELS
from layers.views import period_text

# A level whose bbox is wider than this (degrees of longitude) includes overseas territories:
# the map then frames métropole rather than the whole bbox.
NATIONAL_SPAN = 30.0
# Default zoom from which the finer `<level>-detail` geometry replaces the national one.
DETAIL_ZOOM = 7.0
# The explore page's controls that make the map's view: each is both a component id and the
# URL parameter of the same name.
MAP_INPUTS = (
    "indicateur",
    "niveau",
    "periode",
    "representation",
    "methode",
    "classes",
    "bornes",
    "palette",
    "filtre",
)
Relative = Callable[[str], str]


def insets(bbox: Iterable[float], area: object) -> list[dict]:
    """The overseas départements drawn beside the national map (as Insee draws them): only for
    a level that reaches overseas (bbox wider than NATIONAL_SPAN) and with no territory filter.
    Each is drawn even where the build has none of its features (its box and name stay)."""
    west, _s, east, _n = bbox
    if area or east - west <= NATIONAL_SPAN:
        return []
    return [
        {"code": code, "nom": label, "emprise": list(bounds)}
        for code, (label, bounds) in fr.ZONES.items()
        if code != "metropole"
    ]


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
    rel: Relative = _identity,
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
        # Codes and names by feature id: the tiles carry ids only.
        "noms": rel(f"/geo/{niveau}-noms.json?v={entry.version}"),
        "tuiles": rel(entry.tiles_url) if entry.tiles_url else None,
        "tuiles_maxzoom": entry.tiles_maxzoom,
        # The tiles hold the label points (layer `points`): the circles need no GeoJSON.
        "tuiles_points": entry.tiles_format >= 2,
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
        "couleur_sans_donnees": NO_DATA_COLOUR,
        "couleurs": palette("YlGnBu", 5),  # the values API default: layers start right
        "zones": {code: list(bounds) for code, (_label, bounds) in fr.ZONES.items()},
        "lib": rel("/vendor/maplibre-gl.mjs"),
        "attribution": "IGN Admin Express 2018 · Insee",
    }


def values_query(state: Mapping[str, object]) -> str:
    """Query of /api/carte for the panel's state (only what the map needs)."""
    params = {
        "indicateur": state["indicateur"],
        "periode": state.get("periode") or "",
        "methode": state.get("methode") or "quantiles",
        "classes": state.get("classes") or 5,
        "palette": state.get("palette") or "YlGnBu",
        "representation": state.get("representation")
        or default_representation(BY_ID.get(str(state["indicateur"]))),
    }
    if params["methode"] == "manual":
        params["bornes"] = state.get("bornes") or ""
    if state.get("filtre"):
        params["filtre"] = state["filtre"]
    return urlencode(params)


def export_href(state: Mapping[str, object], fmt: str) -> str:
    """/api/v1/data URL of the view as a file (csv, geojson)."""
    params = {
        "indicator": state["indicateur"],
        "level": state["niveau"],
        "period": state.get("periode") or "",
        "format": fmt,
    }
    if state.get("filtre"):
        params["parent"] = state["filtre"]
    return "/api/v1/data?" + urlencode(params)


def view_spec(
    state: Mapping[str, object], geometries: Mapping[str, WebLevel], rel: Relative = _identity
) -> tuple[dict, str, str] | None:
    """The map spec of the panel's state (values of `MAP_INPUTS`) and the URLs of its CSV and
    GeoJSON exports; None while the state is incomplete or its level is not built."""
    ind = BY_ID.get(str(state.get("indicateur")))
    niveau, periode = state.get("niveau"), state.get("periode")
    levels = {k: v for k, v in geometries.items() if k in MAP_LEVELS}
    if ind is None or not niveau or not periode or niveau not in levels:
        return None
    title = f"{ind.title} par {LEVEL[str(niveau)].singular}, {period_text(str(periode))}"
    spec = map_spec(
        levels,
        str(niveau),
        ind.id,
        rel,
        geometries,
        values_query=values_query(state),
        title=title,
    )
    if spec is None:
        return None
    spec["encarts"] = insets(levels[str(niveau)].bbox, state.get("filtre"))
    spec["profil"] = rel("/territoire/")
    spec["points"] = rel(f"/geo/{niveau}-points.json?v={levels[str(niveau)].version}")
    # What the browser needs to recolour on its own (layers/map_start.py, assets/cafmap.js).
    spec["choix"] = rel("/api/carte-choix")
    return spec, rel(export_href(state, "csv")), rel(export_href(state, "geojson"))


def facility_spec(version: str | None, slugs: Iterable[str], rel: Relative = _identity) -> dict:
    """Spec of the facility points layer for the types asked (slugs); no layer without a
    facilities file (`version` None) or without a known type."""
    codes = sorted(FACILITY_BY_SLUG[t].code for t in slugs if t in FACILITY_BY_SLUG)
    if version is None or not codes:
        return {"types": []}
    return {
        "url": rel(f"/geo/equipements.geojson?v={version}"),
        "types": codes,
        "couleurs": [ft.colour for ft in FACILITY_TYPES],
        "libelles": [ft.label for ft in FACILITY_TYPES],
    }
