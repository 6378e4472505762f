"""Facilities in a commune and, optionally, its neighbours, nearest first."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.classify import format_fr
from layers.facilities import GENERATED, facility_places
from layers.territory_index import TerritoryIndex

ARM = "arm"  # municipal arrondissements: facilities carry theirs

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
    """Facilities of the commune or municipal arrondissement (and its neighbours when `near`),
    with `distance_km` from its label point, nearest first; sorted by type and name otherwise."""
    level, column = "commune", "commune"
    terr = index.get(level, commune)
    if terr is None and ARM in index.levels() and "arm" in facilities.columns:
        # An arrondissement of Paris, Lyon or Marseille: its points, kept beside the city's.
        level, column, terr = ARM, "arm", index.get(ARM, commune)
    if terr is None:
        return facilities.iloc[0:0]
    codes = [commune, *(index.neighbours(level, commune) if near else [])]
    sel = facilities[facilities[column].astype(str).isin(codes)]
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


def in_territory(
    facilities: pd.DataFrame, index: TerritoryIndex, level: str, code: str
) -> pd.DataFrame:
    """Facilities of the communes of a région, département, Caf or EPCI, or of a municipal
    arrondissement (the `arm` an import keeps beside the city), by commune and name."""
    if level == ARM:
        sel = facilities[facilities.get("arm", pd.Series("", index=facilities.index)) == code]
        return sel.sort_values(["type", "nom"])
    communes = index.table("commune")
    codes = set(communes.loc[index.children("commune", level, code), "code"].astype(str))
    sel = facilities[facilities["commune"].astype(str).isin(codes)]
    return sel.sort_values(["commune", "type", "nom"])


# (key, French header) of the rows of `display_rows`, in table order: one list for the
# profile page and the facilities panel.
DISPLAY_COLUMNS = (
    ("nom", "Nom"),
    ("type", "Type"),
    ("adresse", "Adresse"),
    ("commune", "Commune"),
    ("places", "Places"),
    ("distance", "Distance (km)"),
)


def _place_name(index: TerritoryIndex, commune: str, row: object) -> str:
    """« Lyon » or, for a point of Paris, Lyon or Marseille, its arrondissement: « Marseille 3e
    Arrondissement », « Marseille (13203) » while the build has no such level."""
    arm = str(getattr(row, "arm", "") or "")
    if not arm:
        return commune
    found = index.get(ARM, arm) if ARM in index.levels() else None
    return found.name if found is not None else f"{commune} ({arm})"


def _address(address: object, commune: str, approximate: bool) -> str:
    # The demonstration's points all carry the same notice as address.
    if address == GENERATED:
        return "adresse fictive"
    text = str(address) if address else commune
    return f"{text} (position approximative)" if approximate else text


def display_rows(sel: pd.DataFrame, index: TerritoryIndex, limit: int = 200) -> list[dict]:
    """Rows for a facilities table: name, type, address, commune name, places, distance."""
    head = sel.head(limit)
    names = index.names("commune", head["commune"].astype(str).tolist())
    rows = []
    for r in head.itertuples():
        commune = _place_name(index, names.get(str(r.commune), str(r.commune)), r)
        places = facility_places(r.type, getattr(r, "places", None))
        distance = getattr(r, "distance_km", None)
        address = getattr(r, "adresse", None)
        rows.append(
            {
                "id": str(r.id),
                "nom": r.nom,
                "type": r.type,
                "adresse": _address(address, commune, bool(getattr(r, "approx", False))),
                "commune": commune,
                "places": "" if places is None else places,
                "distance": "" if distance is None or pd.isna(distance) else format_fr(distance, 1),
            }
        )
    return rows
