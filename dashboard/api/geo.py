"""HTTP routes on the Flask server: vendored front-end files, web geometry, map values API.

Every path parameter is checked against a whitelist before any file is touched.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from functools import lru_cache
from pathlib import Path

from flask import Flask, Response, request, send_file

from dashboard.api.map_data import store_map
from dashboard.api.tiles import read_tile
from dashboard.server.responses import json_error
from dashboard.vendor import MIME_TYPES, file_version, package_version, vendor_path
from layers import strings_fr as fr
from layers.appdata import AppData
from layers.catalogue import BY_ID, GEOMETRY_INDICATORS
from layers.config import Settings
from layers.geocache import (
    GEOMETRY_NAMES,
    geometry_file,
    level_parquet,
    level_table,
    tiles_file,
    web_geometries,
    web_levels,
)
from layers.geometry_values import compute
from layers.map_payload import carte_payload
from layers.model import MAP_LEVELS
from layers.territory_index import TerritoryIndex

LONG_CACHE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
GZIP_MIN_BYTES = 1024


def accepts_gzip(header: str | None) -> bool:
    """True if an Accept-Encoding header accepts gzip (q > 0)."""
    for part in (header or "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.strip().removeprefix("q=").strip() if "q=" in params else "1"
            try:
                return float(q) > 0
            except ValueError:
                return False
    return False


def _not_modified(etag: str, headers: dict[str, str]) -> Response | None:
    inm = request.headers.get("If-None-Match", "")
    tags = {t.strip() for t in inm.split(",")}
    if etag in tags or "*" in tags:
        resp = Response(status=304)
        resp.headers.update(headers)
        resp.headers["ETag"] = etag
        return resp
    return None


@lru_cache(maxsize=64)
def _payload_bytes(
    cache: str, level: str, indicator: str, stamp: str, features: int
) -> tuple[bytes, bytes, str]:
    table = level_table(Path(cache), level)
    if len(table) != features:
        raise ValueError(f"{level}: {len(table)} rows in geo/ but {features} web features")
    values = compute(table, indicator)
    payload = carte_payload(level, indicator, values)
    payload["version"] = stamp.split("-")[0]
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    etag = '"' + hashlib.sha256(raw).hexdigest()[:20] + '"'
    return raw, gzip.compress(raw, 5), etag


def encoded_response(raw: bytes, raw_gz: bytes, mimetype: str, headers: dict[str, str]) -> Response:
    """The gzip body when the client accepts it (both prepared once), else the plain one."""
    use_gz = accepts_gzip(request.headers.get("Accept-Encoding"))
    resp = Response(raw_gz if use_gz else raw, mimetype=mimetype)
    resp.headers.update({**headers, "Vary": "Accept-Encoding"})
    if use_gz:
        resp.headers["Content-Encoding"] = "gzip"
    return resp


@lru_cache(maxsize=16)
def _points_bytes(index: TerritoryIndex, level: str) -> tuple[bytes, bytes]:
    """Label points of a level (feature id = row, as in the polygons) for proportional circles."""
    table = index.table(level)
    features = [
        {
            "type": "Feature",
            "id": i,
            "properties": {"code": c, "nom": n},
            "geometry": {"type": "Point", "coordinates": [round(x, 5), round(y, 5)]},
        }
        for i, (c, n, x, y) in enumerate(
            zip(table["code"], table["nom"], table["label_lon"], table["label_lat"], strict=True)
        )
    ]
    doc = {"type": "FeatureCollection", "features": features}
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return raw, gzip.compress(raw, 5)


def register_routes(server: Flask, settings: Settings, data: AppData | None = None) -> None:
    """Attach /vendor/, /geo/ and /api/carte/ to the Flask server."""

    @server.route("/vendor/<name>")
    def vendor_file(name: str) -> Response:
        path = vendor_path(settings.vendor, name)
        if path is None:
            return json_error(fr.ERR_NOT_FOUND, 404)
        resp = send_file(path, mimetype=MIME_TYPES.get(path.suffix, "application/octet-stream"))
        # Long-lived only under its content hash or its pinned npm version (MapLibre's worker);
        # a plain name revalidates (ETag / Last-Modified, answered 304).
        asked = request.args.get("v")
        versioned = asked is not None and asked in (
            file_version(settings.vendor, name),
            package_version(settings.vendor, name),
        )
        resp.headers["Cache-Control"] = LONG_CACHE if versioned else REVALIDATE
        return resp

    @server.route("/tuiles/<level>/<int:z>/<int:x>/<int:y>.pbf")
    def tile(level: str, z: int, x: int, y: int) -> Response:
        if level not in MAP_LEVELS:
            allowed = ", ".join(MAP_LEVELS)
            return json_error(fr.ERR_UNKNOWN_LEVEL.format(value=level, allowed=allowed), 404)
        path = tiles_file(settings.cache, level)
        if path is None:
            return json_error(fr.ERR_LEVEL_NOT_BUILT.format(value=level), 404)
        if not (0 <= z <= 24 and 0 <= x < 2**z and 0 <= y < 2**z):
            return json_error(fr.ERR_BAD_TILE, 400)
        headers = {
            "Cache-Control": LONG_CACHE if request.args.get("v") else REVALIDATE,
            "Vary": "Accept-Encoding",
        }
        data, gzipped = read_tile(str(path), z, x, y)
        if data is None:
            return Response(status=204, headers=headers)
        if gzipped and not accepts_gzip(request.headers.get("Accept-Encoding")):
            data, gzipped = gzip.decompress(data), False
        resp = Response(data, mimetype="application/vnd.mapbox-vector-tile", headers=headers)
        if gzipped:
            resp.headers["Content-Encoding"] = "gzip"
        return resp

    @server.route("/geo/<level>-points.geojson")
    def label_points(level: str) -> Response:
        index = data.index() if data is not None else None
        if index is None or level not in index.levels():
            return json_error(fr.ERR_LEVEL_NOT_BUILT.format(value=level[:30]), 404)
        raw, raw_gz = _points_bytes(index, level)
        control = LONG_CACHE if request.args.get("v") else REVALIDATE
        return encoded_response(raw, raw_gz, "application/geo+json", {"Cache-Control": control})

    @server.route("/geo/<level>.geojson")
    def geometry(level: str) -> Response:
        if level not in GEOMETRY_NAMES:
            allowed = ", ".join(MAP_LEVELS)
            return json_error(fr.ERR_UNKNOWN_LEVEL.format(value=level, allowed=allowed), 404)
        entry = web_geometries(settings.cache).get(level)
        if entry is None:
            return json_error(fr.ERR_LEVEL_NOT_BUILT.format(value=level), 404)
        use_gz = accepts_gzip(request.headers.get("Accept-Encoding"))
        path = geometry_file(settings.cache, level, gz=use_gz)
        if path is None and use_gz:
            use_gz, path = False, geometry_file(settings.cache, level, gz=False)
        if path is None:
            return json_error(fr.ERR_LEVEL_NOT_BUILT.format(value=level), 404)
        etag = f'"{entry.sha256[:32]}{"-gz" if use_gz else ""}"'
        versioned = request.args.get("v") == entry.version
        headers = {
            "Cache-Control": LONG_CACHE if versioned else REVALIDATE,
            "Vary": "Accept-Encoding",
        }
        cached = _not_modified(etag, headers)
        if cached is not None:
            return cached
        resp = send_file(path, mimetype="application/geo+json", etag=False, conditional=False)
        resp.headers.update(headers)
        resp.headers.pop("Content-Disposition", None)
        resp.headers["ETag"] = etag
        if use_gz:
            resp.headers["Content-Encoding"] = "gzip"
        return resp

    @server.route("/api/carte/<level>")
    def carte(level: str) -> Response:
        if data is not None and request.args.get("indicateur") in BY_ID:
            return store_map(data, level, request.args)
        if level not in MAP_LEVELS:
            allowed = ", ".join(MAP_LEVELS)
            return json_error(fr.ERR_UNKNOWN_LEVEL.format(value=level, allowed=allowed), 404)
        indicator = request.args.get("indicateur", "population")
        if indicator not in GEOMETRY_INDICATORS:
            allowed = ", ".join(GEOMETRY_INDICATORS)
            message = fr.ERR_UNKNOWN_INDICATOR.format(value=indicator, allowed=allowed)
            return json_error(message, 400)
        entry = web_levels(settings.cache).get(level)
        if entry is None:
            return json_error(fr.ERR_LEVEL_NOT_BUILT.format(value=level), 404)
        parquet = level_parquet(settings.cache, level)
        if not parquet.is_file():
            return json_error(fr.ERR_LEVEL_NOT_BUILT.format(value=level), 404)
        stamp = f"{entry.version}-{parquet.stat().st_mtime_ns}"
        try:
            raw, raw_gz, etag = _payload_bytes(
                str(settings.cache), level, indicator, stamp, entry.features
            )
        except ValueError:
            return json_error(fr.ERR_CACHE_MISMATCH.format(value=level), 500)
        use_gz = len(raw) >= GZIP_MIN_BYTES and accepts_gzip(request.headers.get("Accept-Encoding"))
        if use_gz:
            etag = etag[:-1] + '-gz"'
        headers = {"Cache-Control": REVALIDATE, "Vary": "Accept-Encoding"}
        cached = _not_modified(etag, headers)
        if cached is not None:
            return cached
        resp = Response(raw_gz if use_gz else raw, mimetype="application/json")
        resp.headers.update(headers)
        resp.headers["ETag"] = etag
        if use_gz:
            resp.headers["Content-Encoding"] = "gzip"
        return resp
