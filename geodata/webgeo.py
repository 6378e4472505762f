"""Web geometry: compact GeoJSON per level, written once, served as static compressed files.

Features follow the row order of the level's GeoParquet and carry an integer `id` (that row
index), so the browser can recolour a feature from a plain array of values, without geometry.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from geodata.simplify import (
    BY_DEPARTEMENT,
    DECIMALS,
    round_coordinates,
    simplify_coverage,
    vertex_count,
)


@dataclass
class WebLayer:
    file: str
    sha256: str
    features: int
    vertices: int
    bytes: int
    gzip_bytes: int
    bbox: list[float]
    tolerance: float


def feature_collection(gdf: gpd.GeoDataFrame, geoms) -> bytes:
    """GeoJSON text with `id` = row index and properties {code, nom}."""
    shapes = shapely.to_geojson(geoms)
    parts = []
    for i, (code, nom, shape) in enumerate(zip(gdf["code"], gdf["nom"], shapes, strict=True)):
        props = json.dumps({"code": code, "nom": nom}, ensure_ascii=False, separators=(",", ":"))
        parts.append(f'{{"type":"Feature","id":{i},"properties":{props},"geometry":{shape}}}')
    return ('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}").encode("utf-8")


def simplified(gdf: gpd.GeoDataFrame, name: str, tolerance: float) -> np.ndarray:
    """The level's polygons simplified as a coverage (by département for the largest)."""
    groups = gdf["departement"].to_numpy() if name in BY_DEPARTEMENT else None
    return simplify_coverage(gdf.geometry, tolerance, groups)


def write_web_layer(
    gdf: gpd.GeoDataFrame,
    folder: Path,
    name: str,
    tolerance: float,
    zoom: str,
    geoms: np.ndarray | None = None,
) -> WebLayer:
    """Simplify (as a coverage) unless `geoms` is given, round and write `<name>.geojson` and
    its gzip beside it."""
    if geoms is None:
        geoms = simplified(gdf, name, tolerance)
    geoms = round_coordinates(geoms, DECIMALS[zoom])
    data = feature_collection(gdf, geoms)
    packed = gzip.compress(data, compresslevel=6, mtime=0)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.geojson").write_bytes(data)
    (folder / f"{name}.geojson.gz").write_bytes(packed)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    return WebLayer(
        file=f"{name}.geojson",
        sha256=hashlib.sha256(data).hexdigest(),
        features=len(gdf),
        vertices=vertex_count(geoms),
        bytes=len(data),
        gzip_bytes=len(packed),
        bbox=[round(float(v), 4) for v in (minx, miny, maxx, maxy)],
        tolerance=tolerance,
    )
