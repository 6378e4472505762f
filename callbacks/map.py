"""Map callbacks: (niveau, indicateur) -> a small spec that `window.cafmap` fetches and applies.

No geometry and no values go through Dash: the spec only carries URLs and labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import parse_qs

from dash import ALL, ClientsideFunction, Dash, Input, Output, get_relative_path, no_update

from dashboard import strings_fr as fr
from dashboard.config import Settings
from dashboard.geocache import WebLevel, web_levels
from layers.classify import NO_DATA_COLOUR
from layers.indicators_basic import INDICATORS

# A level whose bbox is wider than this (degrees of longitude) includes overseas territories:
# the map then frames métropole rather than the whole bbox.
NATIONAL_SPAN = 30.0


def _identity(path: str) -> str:
    return path


def map_spec(
    levels: Mapping[str, WebLevel],
    niveau: str | None,
    indicateur: str | None,
    rel: Callable[[str], str] = _identity,
) -> dict | None:
    """Spec handed to `dash_clientside.cafmap.apply`, or None for an unknown/unbuilt choice."""
    if niveau not in levels or indicateur not in INDICATORS:
        return None
    entry = levels[niveau]
    bbox = list(entry.bbox)
    if bbox[2] - bbox[0] > NATIONAL_SPAN:
        bbox = list(fr.ZONES["metropole"][1])
    dep = levels.get("departement")
    return {
        "niveau": niveau,
        "indicateur": indicateur,
        "geometrie": rel(entry.url),
        "valeurs": rel(f"/api/carte/{niveau}?indicateur={indicateur}&v={entry.version}"),
        "bordures": rel(dep.url) if (niveau == "commune" and dep) else None,
        "emprise": bbox,
        "effectif": entry.features,
        "accueil": [list(fr.ZONES["metropole"][1][:2]), list(fr.ZONES["metropole"][1][2:])],
        "titre": f"{INDICATORS[indicateur].libelle} par {fr.LEVEL_SINGULAR[niveau]}",
        "libelle_niveau": fr.LEVEL_LABELS[niveau],
        "nodata": NO_DATA_COLOUR,
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
        spec = map_spec(web_levels(settings.cache), niveau, indicateur, get_relative_path)
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
