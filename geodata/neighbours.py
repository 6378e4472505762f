"""Neighbours: territories of one level that share a border (a line, not a single point).

Two polygons of a coverage that share a border share the segments of that border, vertex for
vertex: matching segments (hashed on their rounded end points) finds those pairs and the length
of their border in one vectorised pass. Only the pairs that touch without an identical segment
(a corner, or edges drawn twice with different vertices) go through GEOS's boundary
intersection, which is what made 48,592 IRIS slow when done for every pair.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod, Transformer

from geodata.levels import CRS, EQUAL_AREA

# Vertices equal to 1e-7 degree (1 cm) are the same vertex.
_SCALE = 1e7
_OFFSET = 2**31  # longitudes and latitudes times 1e7 fit in 32 bits once offset


def _vertex_keys(coords: np.ndarray) -> np.ndarray:
    """One integer per rounded vertex (longitude and latitude packed in 64 bits)."""
    q = (np.round(coords * _SCALE).astype(np.int64) + _OFFSET).astype(np.uint64)
    return (q[:, 0] << np.uint64(32)) | q[:, 1]


def _matched_borders(geoms: np.ndarray) -> pd.DataFrame:
    """Pairs (left < right) sharing identical segments, with the summed length in km."""
    polys, poly_owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_poly = shapely.get_rings(polys, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = np.flatnonzero(ring_of[:-1] == ring_of[1:])  # segment i: vertex i to i + 1
    keys = _vertex_keys(coords)
    lo = np.minimum(keys[same], keys[same + 1])
    hi = np.maximum(keys[same], keys[same + 1])
    order = np.lexsort((hi, lo))
    lo, hi, same = lo[order], hi[order], same[order]
    twin = np.flatnonzero((lo[1:] == lo[:-1]) & (hi[1:] == hi[:-1]))
    first = poly_owner[ring_poly[ring_of[same[twin]]]]
    second = poly_owner[ring_poly[ring_of[same[twin + 1]]]]
    seg = same[twin][first != second]
    x, y = Transformer.from_crs(CRS, EQUAL_AREA, always_xy=True).transform(
        coords[np.r_[seg, seg + 1], 0], coords[np.r_[seg, seg + 1], 1]
    )
    n = len(seg)
    km = np.hypot(x[n:] - x[:n], y[n:] - y[:n]) / 1000
    a, b = first[first != second], second[first != second]
    pairs = pd.DataFrame({"left": np.minimum(a, b), "right": np.maximum(a, b), "km": km})
    return pairs.groupby(["left", "right"], sort=False, as_index=False)["km"].sum()


def _geos_borders(geoms: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Length in km of the boundary shared by each pair (0 where they touch at points only)."""
    borders = shapely.intersection(shapely.boundary(geoms[left]), shapely.boundary(geoms[right]))
    return gpd.GeoSeries(borders, crs=CRS).to_crs(EQUAL_AREA).length.to_numpy() / 1000


def shared_borders(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """Each pair (code, neighbour) both ways, with the length of the shared border in km."""
    geoms = np.asarray(gdf.geometry.values)
    matched = _matched_borders(geoms)
    left, right = gdf.sindex.query(geoms, predicate="intersects")
    keep = left < right
    touching = pd.DataFrame({"left": left[keep], "right": right[keep]})
    rest = touching.merge(matched[["left", "right"]], how="left", indicator=True)
    rest = rest[rest["_merge"] == "left_only"]
    rest = rest.assign(km=_geos_borders(geoms, rest["left"].to_numpy(), rest["right"].to_numpy()))
    found = pd.concat([matched, rest[["left", "right", "km"]]], ignore_index=True)
    found = found[found["km"] > 0.0]
    codes = gdf["code"].to_numpy()
    one = pd.DataFrame(
        {
            "code": codes[found["left"].to_numpy()],
            "voisin": codes[found["right"].to_numpy()],
            "frontiere_km": found["km"].to_numpy(),
        }
    )
    other = one.rename(columns={"code": "voisin", "voisin": "code"})
    both = pd.concat([one, other[["code", "voisin", "frontiere_km"]]], ignore_index=True)
    both["frontiere_km"] = both["frontiere_km"].round(3)
    return both.sort_values(["code", "voisin"], ignore_index=True)


# QPV rarely touch one another (they are separate neighbourhoods of a town): a QPV's neighbours
# are those sharing a border, then those of the same EPCI less than 1 km away (border 0 km,
# `distance_km` says how far). Other levels are coverages: neighbours share a border.
NEARBY: dict[str, tuple[float, str]] = {"qpv": (1.0, "epci")}
_KM_PER_DEGREE = 111.0


def nearby(gdf: gpd.GeoDataFrame, km: float, same: str) -> pd.DataFrame:
    """Pairs (both ways) of territories with the same `same` parent less than `km` apart."""
    geoms = np.asarray(gdf.geometry.values)
    # Generous in degrees (a degree of longitude is shorter away from the equator), exact below.
    left, right = gdf.sindex.query(geoms, predicate="dwithin", distance=2 * km / _KM_PER_DEGREE)
    parent = gdf[same].to_numpy()
    keep = (left != right) & (parent[left] == parent[right]) & pd.notna(parent[left])
    left, right = left[keep], right[keep]
    lines = shapely.shortest_line(geoms[left], geoms[right])
    ends = shapely.get_coordinates(lines).reshape(-1, 2, 2)
    _, _, metres = Geod(ellps="WGS84").inv(
        ends[:, 0, 0], ends[:, 0, 1], ends[:, 1, 0], ends[:, 1, 1]
    )
    close = metres <= km * 1000
    codes = gdf["code"].to_numpy()
    return pd.DataFrame(
        {
            "code": codes[left[close]],
            "voisin": codes[right[close]],
            "frontiere_km": 0.0,
            "distance_km": np.round(metres[close] / 1000, 3),
        }
    )


def level_neighbours(level: str, gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """The neighbours of a level: shared borders, plus the near ones where the level says so."""
    borders = shared_borders(gdf).assign(distance_km=0.0)
    if level not in NEARBY or gdf[NEARBY[level][1]].isna().all():
        return borders
    near = nearby(gdf, *NEARBY[level])
    pairs = set(zip(borders["code"], borders["voisin"], strict=True))
    near = near[[p not in pairs for p in zip(near["code"], near["voisin"], strict=True)]]
    both = pd.concat([borders, near], ignore_index=True)
    return both.sort_values(["code", "voisin"], ignore_index=True)
