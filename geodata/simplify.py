"""Topology-preserving simplification: shared borders are simplified once, for both sides.

`shapely.coverage_simplify` treats the polygons of a level as one coverage, so neighbours keep
the same border after simplification: no gaps, no slivers (per-polygon `simplify` opens both).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

# Tolerance in degrees (~ 111 km per degree of latitude), per level and zoom.
# "national": the GeoJSON of the whole level (downloads, exports); "tiles": the input of the
# vector tiles, which tippecanoe simplifies further for each zoom.
TOLERANCES: dict[str, dict[str, float]] = {
    "france": {"national": 0.02, "tiles": 0.001},
    "region": {"national": 0.01, "tiles": 0.001},
    "departement": {"national": 0.006, "tiles": 0.0005},
    "caf": {"national": 0.006, "tiles": 0.0005},
    "epci": {"national": 0.004, "tiles": 0.0005},
    "commune": {"national": 0.005, "tiles": 0.0005},
    # Arrondissements are city districts: finer than communes, coarser than IRIS.
    "arm": {"national": 0.0005, "tiles": 0.00005},
    # Taken from the communes' simplified polygons (build.py), hence the same tolerances.
    "commune_arm": {"national": 0.005, "tiles": 0.0005},
    "qpv": {"national": 0.0001, "tiles": 0.00002},
    # The national IRIS file is already on a 1e-5 degree grid: its tiles take it as it is.
    "iris": {"national": 0.0001, "tiles": 0.0},
}
# GEOS's coverage simplification grows faster than the coverage (measured: 1,000 IRIS 0.6 s,
# 20,000 IRIS 32 s, 48,592 IRIS 69 s): these levels are simplified département by département,
# each keeping its outline (the borders between départements stay as drawn, so nothing opens).
BY_DEPARTEMENT = frozenset({"iris"})
# Decimals kept in the web geometry: 4 decimals is ~10 m, well under the tolerances above.
DECIMALS = {"national": 4, "tiles": 5}


def simplify_coverage(
    geoms: gpd.GeoSeries | np.ndarray, tolerance: float, groups: np.ndarray | None = None
) -> np.ndarray:
    """Simplify polygons that form a coverage, keeping shared edges shared.

    With `groups`, each group is simplified on its own with its outline kept; a tolerance of 0
    keeps the geometry as it is.
    """
    values = np.asarray(geoms.values if hasattr(geoms, "values") else geoms)
    if tolerance <= 0:
        return values.copy()
    if groups is None:
        return shapely.coverage_simplify(values, tolerance, simplify_boundary=True)
    out = values.copy()
    keys = pd.Series(groups).fillna("").to_numpy()
    for key in pd.unique(keys):
        rows = np.flatnonzero(keys == key)
        out[rows] = shapely.coverage_simplify(values[rows], tolerance, simplify_boundary=False)
    return out


def round_coordinates(geoms: np.ndarray, decimals: int) -> np.ndarray:
    """Round every vertex; shared vertices round the same way, so shared edges stay shared."""
    return shapely.transform(geoms, lambda xy: np.round(xy, decimals))


def vertex_count(geoms: np.ndarray) -> int:
    return int(shapely.get_num_coordinates(np.asarray(geoms)).sum())
