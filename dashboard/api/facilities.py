"""Facility points for the map layer: one GeoJSON of every EAJE and LAEP, loaded on demand.

The map clusters them itself (MapLibre), filters by type in the browser and shows the details
of a point on click; the list beside the map comes from the facilities callbacks.
"""

from __future__ import annotations

import gzip
import json

import pandas as pd
from flask import Flask, Response, request

from dashboard.api.geo import LONG_CACHE, REVALIDATE, encoded_response
from dashboard.server.responses import json_error
from layers.appdata import AppData
from layers.facilities import facility_places
from layers.model import FACILITY_BY_LABEL

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
_ENCODED: dict[str, tuple[bytes, bytes]] = {}


def _encoded(table: pd.DataFrame, version: str) -> tuple[bytes, bytes]:
    hit = _ENCODED.get(version)
    if hit is None:  # threads may both build it once: harmless, and nothing is read half-set
        raw = json.dumps(
            facility_features(table), ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")
        hit = (raw, gzip.compress(raw, 6))
        _ENCODED.clear()
        _ENCODED[version] = hit
    return hit


def register_facility_routes(server: Flask, data: AppData) -> None:
    """Attach /geo/equipements.geojson."""

    @server.route("/geo/equipements.geojson")
    def facility_points() -> Response:
        points = data.facilities()
        if points is None:
            return json_error(ERR_NO_FACILITIES, 404)
        version = points.version
        raw, raw_gz = _encoded(points.table, version)
        resp = encoded_response(
            raw,
            raw_gz,
            "application/geo+json",
            {
                "Cache-Control": LONG_CACHE if request.args.get("v") == version else REVALIDATE,
            },
        )
        resp.headers["ETag"] = f'"{version}{"-gz" if resp.content_encoding else ""}"'
        return resp
