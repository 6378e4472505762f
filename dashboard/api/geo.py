"""Files the map loads: web geometry, label points, vector tiles, vendored front-end libraries.

Every path parameter is checked against a whitelist before any file is touched.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

import pandas as pd
from flask import Blueprint, Response, request, send_file

from dashboard.api.tiles import read_tile
from dashboard.server.encoding import (
    LONG_CACHE,
    REVALIDATE,
    Encoded,
    client_accepts,
    encoded_response,
)
from dashboard.server.http_cache import not_modified
from dashboard.server.responses import json_error
from dashboard.vendor import MIME_TYPES, file_version, package_version, vendor_path
from layers import strings_fr as fr
from layers.appdata import current_data
from layers.geocache import GEOMETRY_NAMES, geometry_file, tiles_file, web_geometries
from layers.model import MAP_LEVELS
from layers.territory_index import TerritoryIndex

bp = Blueprint("geo", __name__)

TILE_MIME = "application/vnd.mapbox-vector-tile"
MAX_ZOOM = 24


def _unknown_level(level: str) -> Response:
    allowed = ", ".join(MAP_LEVELS)
    return json_error(fr.ERR_UNKNOWN_LEVEL.format(value=level, allowed=allowed), 404)


def _not_built(level: str) -> Response:
    return json_error(fr.ERR_LEVEL_NOT_BUILT.format(value=level), 404)


@bp.route("/vendor/<name>")
def vendor_file(name: str) -> Response:
    vendor = current_data().settings.vendor
    path = vendor_path(vendor, name)
    if path is None:
        return json_error(fr.ERR_NOT_FOUND, 404)
    resp = send_file(path, mimetype=MIME_TYPES.get(path.suffix, "application/octet-stream"))
    # Long-lived only under its content hash or its pinned npm version (MapLibre's worker);
    # a plain name revalidates (ETag / Last-Modified, answered 304).
    asked = request.args.get("v")
    versioned = asked is not None and asked in (
        file_version(vendor, name),
        package_version(vendor, name),
    )
    resp.headers["Cache-Control"] = LONG_CACHE if versioned else REVALIDATE
    return resp


def _valid_tile(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


@bp.route("/tuiles/<level>/<int:z>/<int:x>/<int:y>.pbf")
def tile(level: str, z: int, x: int, y: int) -> Response:
    if level not in MAP_LEVELS:
        return _unknown_level(level)
    path = tiles_file(current_data().settings.cache, level)
    if path is None:
        return _not_built(level)
    if not _valid_tile(z, x, y):
        return json_error(fr.ERR_BAD_TILE, 400)
    headers = {
        "Cache-Control": LONG_CACHE if request.args.get("v") else REVALIDATE,
        "Vary": "Accept-Encoding",
    }
    data, gzipped = read_tile(str(path), z, x, y)
    if data is None:
        return Response(status=204, headers=headers)
    # The archive stores gzip tiles: inflated here only for the rare client refusing gzip.
    if gzipped and not client_accepts("gzip"):
        data, gzipped = gzip.decompress(data), False
    resp = Response(data, mimetype=TILE_MIME, headers=headers)
    if gzipped:
        resp.headers["Content-Encoding"] = "gzip"
    return resp


def _label_coords(table: pd.DataFrame) -> list[float]:
    """A level's label points as one flat array [lon0, lat0, lon1, lat1, ...]: the map builds
    its proportional circles from it when its tiles predate their `points` layer (no names, a
    sixth of a GeoJSON's bytes)."""
    return table[["label_lon", "label_lat"]].to_numpy(dtype="float64").round(5).ravel().tolist()


def _level_names(table: pd.DataFrame) -> dict[str, list[str]]:
    """{"codes": [...], "noms": [...]}: the tooltip's and the click's, which the tiles (ids
    only, so geometry alone in their bytes) do not carry."""
    return {"codes": table["code"].tolist(), "noms": table["nom"].tolist()}


# What the map fetches once per level and build beside its tiles, in feature order (feature
# id = row of the level's table, as in the polygons).
FEATURE_DATA = {"points": _label_coords, "noms": _level_names}


@lru_cache(maxsize=32)
def _feature_data(index: TerritoryIndex, level: str, kind: str) -> Encoded:
    return Encoded.of_json(FEATURE_DATA[kind](index.table(level)))


@bp.route("/geo/<level>-<any(points, noms):kind>.json")
def feature_data(level: str, kind: str) -> Response:
    index = current_data().index()
    if index is None or level not in index.levels():
        return _not_built(level[:30])
    body = _feature_data(index, level, kind)
    control = LONG_CACHE if request.args.get("v") else REVALIDATE
    return encoded_response(body, "application/json", {"Cache-Control": control}, etag=body.digest)


def _geometry_file(cache: Path, level: str) -> tuple[Path | None, bool]:
    """The precompressed file when the client takes gzip (and it exists), else the plain one;
    and whether it is the gzip one."""
    if client_accepts("gzip"):
        path = geometry_file(cache, level, gz=True)
        if path is not None:
            return path, True
    return geometry_file(cache, level, gz=False), False


@bp.route("/geo/<level>.geojson")
def geometry(level: str) -> Response:
    if level not in GEOMETRY_NAMES:
        return _unknown_level(level)
    cache = current_data().settings.cache
    entry = web_geometries(cache).get(level)
    if entry is None:
        return _not_built(level)
    path, gzipped = _geometry_file(cache, level)
    if path is None:
        return _not_built(level)
    etag = f"{entry.sha256[:32]}{'-gz' if gzipped else ''}"
    headers = {
        "Cache-Control": LONG_CACHE if request.args.get("v") == entry.version else REVALIDATE,
        "Vary": "Accept-Encoding",
    }
    # Answered before the file is opened: revalidations are most of this route's traffic.
    cached = not_modified(etag, headers)
    if cached is not None:
        return cached
    resp = send_file(path, mimetype="application/geo+json", etag=False, conditional=False)
    resp.headers.update(headers)
    resp.headers.pop("Content-Disposition", None)
    resp.headers["ETag"] = f'"{etag}"'
    if gzipped:
        resp.headers["Content-Encoding"] = "gzip"
    return resp
