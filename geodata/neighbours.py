"""Neighbours: territories of one level that share a border (a line, not a single point)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodata.levels import EQUAL_AREA


def shared_borders(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """Each pair (code, neighbour) both ways, with the length of the shared border in km."""
    geoms = gdf.geometry.values
    left, right = gdf.sindex.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    borders = shapely.intersection(
        shapely.boundary(np.asarray(geoms)[left]), shapely.boundary(np.asarray(geoms)[right])
    )
    km = gpd.GeoSeries(borders, crs=gdf.crs).to_crs(EQUAL_AREA).length.to_numpy() / 1000
    line = km > 0.0
    codes = gdf["code"].to_numpy()
    one = pd.DataFrame(
        {"code": codes[left[line]], "voisin": codes[right[line]], "frontiere_km": km[line]}
    )
    other = one.rename(columns={"code": "voisin", "voisin": "code"})
    both = pd.concat([one, other[["code", "voisin", "frontiere_km"]]], ignore_index=True)
    both["frontiere_km"] = both["frontiere_km"].round(3)
    return both.sort_values(["code", "voisin"], ignore_index=True)
