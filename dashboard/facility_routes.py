"""Facility points for the map layer: one GeoJSON of every EAJE and LAEP, loaded on demand.

The map clusters them itself (MapLibre), filters by type in the browser and shows the details
of a point on click; the list beside the map comes from the facilities callbacks.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from functools import lru_cache
from pathlib import Path

import pandas as pd
from flask import Flask, Response, request

from dashboard.appdata import AppData
from dashboard.responses import json_error
from dashboard.routes import LONG_CACHE, REVALIDATE, accepts_gzip
from layers.facilities import FACILITY_KINDS, LAEP

# Type codes of the point layer (short, for a light payload); the order is the legend's.
TYPE_CODES = {label: i for i, label in enumerate(FACILITY_KINDS.values())}
# Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), by type code.
TYPE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00")
ERR_NO_FACILITIES = "Aucun fichier d'équipements n'est installé (cafcarto build ou equipements)."


def facilities_version(path: Path) -> str:
    """Changes whenever the facilities file in service changes (a new import or build)."""
    stat = path.stat()
    return hashlib.sha256(f"{path}:{stat.st_mtime_ns}:{stat.st_size}".encode()).hexdigest()[:12]


def facility_features(table: pd.DataFrame) -> dict:
    """FeatureCollection of the points: id, name, type code, places, commune."""
    places = table["places"].astype("Float64") if "places" in table else None
    features = []
    for i, rec in enumerate(table.itertuples(index=False)):
        p = None if places is None or pd.isna(places.iloc[i]) else int(places.iloc[i])
        features.append({
            "type": "Feature",
            "id": i,
            "properties": {"id": str(rec.id), "n": str(rec.nom), "t": TYPE_CODES.get(rec.type, 0),
                           "p": None if rec.type == LAEP else p, "c": str(rec.commune)},
            "geometry": {"type": "Point", "coordinates": [float(rec.lon), float(rec.lat)]},
        })  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


@lru_cache(maxsize=4)
def _encoded(path: Path, version: str) -> tuple[bytes, bytes]:
    raw = json.dumps(
        facility_features(pd.read_parquet(path)), ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")
    return raw, gzip.compress(raw, 6)


def register_facility_routes(server: Flask, data: AppData) -> None:
    """Attach /geo/equipements.geojson."""

    @server.route("/geo/equipements.geojson")
    def facility_points() -> Response:
        points = data.facilities()
        if points is None:
            return json_error(ERR_NO_FACILITIES, 404)
        version = facilities_version(points.path)
        raw, raw_gz = _encoded(points.path, version)
        use_gz = accepts_gzip(request.headers.get("Accept-Encoding"))
        resp = Response(raw_gz if use_gz else raw, mimetype="application/geo+json")
        resp.headers.update({
            "Cache-Control": LONG_CACHE if request.args.get("v") == version else REVALIDATE,
            "Vary": "Accept-Encoding",
            "ETag": f'"{version}{"-gz" if use_gz else ""}"',
        })  # fmt: skip
        if use_gz:
            resp.headers["Content-Encoding"] = "gzip"
        return resp
