"""Facilities in a commune and, optionally, its neighbours, nearest first."""

from __future__ import annotations

import weakref
from collections.abc import Iterable

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


# (id of a facilities table, column) -> (the table, weakly; row spans by code): a table never
# changes once loaded (an import brings a new one), and the lists read a few codes of it.
_SPANS: dict[tuple[int, str], tuple[weakref.ref, np.ndarray, dict[str, tuple[int, int]]]] = {}


def _spans(facilities: pd.DataFrame, column: str) -> tuple[np.ndarray, dict]:
    """The table's row positions grouped by code of `column` (in table order within a code),
    and each code's span in them; a missing code is in no span."""
    key = (id(facilities), column)
    kept = _SPANS.get(key)
    if kept is None or kept[0]() is not facilities:
        for old in [k for k, v in _SPANS.items() if v[0]() is None]:
            _SPANS.pop(old, None)
        groups: dict[str, list[int]] = {}
        for i, code in enumerate(facilities[column].astype(str).tolist()):
            if isinstance(code, str):  # astype(str) leaves a missing code missing
                groups.setdefault(code, []).append(i)
        order = np.fromiter((i for rows in groups.values() for i in rows), np.intp)
        ends = np.cumsum([len(rows) for rows in groups.values()], dtype=np.intp).tolist()
        spans = dict(zip(groups, zip([0, *ends[:-1]], ends, strict=True), strict=True))
        kept = _SPANS[key] = (weakref.ref(facilities), order, spans)
    return kept[1], kept[2]


def rows_of(facilities: pd.DataFrame, column: str, codes: Iterable[str]) -> pd.DataFrame:
    """`facilities[facilities[column].astype(str).isin(codes)]`, in table order, without a
    pass over every row per call (19,000 rows: most of the profile's facilities callback)."""
    order, spans = _spans(facilities, column)
    found = [spans[c] for c in set(codes) if c in spans]
    rows = np.sort(np.concatenate([order[lo:hi] for lo, hi in found] or [order[:0]]))
    return facilities.iloc[rows]


def warm(facilities: pd.DataFrame) -> None:
    """The spans of the facilities' communes and arrondissements, made before gunicorn forks."""
    for column in ("commune", ARM):
        if column in facilities.columns:
            _spans(facilities, column)


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
    sel = rows_of(facilities, column, codes)
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
    sel = rows_of(facilities, "commune", codes)
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
