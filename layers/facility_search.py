"""Facilities in a commune and, optionally, its neighbours, nearest first."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.territory_index import TerritoryIndex

EARTH_RADIUS_KM = 6371.0


def haversine_km(lon1: float, lat1: float, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance (km) from one point to many."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    dlat, dlon = (lat2 - lat1) / 2, (lon2 - lon1) / 2
    a = np.sin(dlat) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


def near_facilities(
    facilities: pd.DataFrame,
    index: TerritoryIndex,
    commune: str,
    types: set[str] | None = None,
    near: bool = True,
) -> pd.DataFrame:
    """Facilities of the commune (and its neighbours when `near`), with `distance_km` from the
    commune's label point, nearest first; sorted by type and name otherwise."""
    terr = index.get("commune", commune)
    if terr is None:
        return facilities.iloc[0:0]
    codes = [commune, *(index.neighbours("commune", commune) if near else [])]
    sel = facilities[facilities["commune"].astype(str).isin(codes)]
    if types is not None:
        sel = sel[sel["type"].isin(types)]
    if not near:
        return sel.sort_values(["type", "nom"])
    if terr.label is not None and {"lon", "lat"} <= set(sel.columns):
        lon, lat = terr.label
        dist = haversine_km(lon, lat, sel["lon"].to_numpy(float), sel["lat"].to_numpy(float))
    else:
        dist = np.full(len(sel), np.nan)
    return sel.assign(distance_km=dist).sort_values("distance_km", na_position="last")
