"""Facility points for the map layer: one GeoJSON of every EAJE and LAEP, loaded on demand.

The map clusters them itself (MapLibre), filters by type in the browser and shows the details
of a point on click; the list beside the map comes from the facilities callbacks.
"""

from __future__ import annotations

import pandas as pd
from flask import Blueprint, Response, request

from dashboard.server.encoding import LONG_CACHE, REVALIDATE, Encoded, encoded_response
from dashboard.server.responses import json_error
from layers.appdata import current_data
from layers.facilities import facility_places
from layers.model import FACILITY_BY_LABEL

bp = Blueprint("facilities", __name__)

ERR_NO_FACILITIES = "Aucun fichier d'équipements n'est installé (cafcarto build ou equipements)."


def facility_features(table: pd.DataFrame) -> dict:
    """FeatureCollection of the points: id, name, type code, places, commune."""
    features = []
    for i, rec in enumerate(table.itertuples(index=False)):
        features.append(
            {
                "type": "Feature",
                "id": i,
                "properties": {
                    "id": str(rec.id),
                    "n": str(rec.nom),
                    "t": FACILITY_BY_LABEL[rec.type].code if rec.type in FACILITY_BY_LABEL else 0,
                    "p": facility_places(rec.type, getattr(rec, "places", None)),
                    "c": str(rec.commune),
                },
                "geometry": {"type": "Point", "coordinates": [float(rec.lon), float(rec.lat)]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


# The encoded layer of the facilities file in service, by version (one entry: a new import
# replaces it). Built from the table AppData already holds, not read again.
_ENCODED: dict[str, Encoded] = {}


def _encoded(table: pd.DataFrame, version: str) -> Encoded:
    hit = _ENCODED.get(version)
    if hit is None:  # threads may both build it once: harmless, and nothing is read half-set
        hit = Encoded.of_json(facility_features(table))
        _ENCODED.clear()
        _ENCODED[version] = hit
    return hit


@bp.route("/geo/equipements.geojson")
def facility_points() -> Response:
    points = current_data().facilities()
    if points is None:
        return json_error(ERR_NO_FACILITIES, 404)
    version = points.version
    control = LONG_CACHE if request.args.get("v") == version else REVALIDATE
    body = _encoded(points.table, version)
    return encoded_response(body, "application/geo+json", {"Cache-Control": control}, etag=version)
