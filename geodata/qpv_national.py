"""The 1,514 QPV of 2015 (ANCT shapefile, métropole and overseas), placed by geometry.

The shapefile's `COMMUNE_QP` holds commune *names* (« Les Abymes, Pointe-à-Pitre »), not INSEE
codes: each QPV is placed in the commune it overlaps most, then that commune's parents. QPV
outside every commune polygon (Polynésie française, Saint-Martin: collectivités d'outre-mer,
outside the Caf network) stay in the level with empty parents and are listed by the build.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodata.cog import Cog
from geodata.infra import with_parents
from geodata.levels import CRS, _finish, polygonal

SHAPEFILE = "QP_METROPOLEOUTREMER_WGS84_EPSG4326.shp"
# The .dbf is Windows-1252 and ships without a .cpg: GDAL would guess wrong.
DBF_ENCODING = "cp1252"


def departement_of_qpv(code: str) -> str:
    """QP075001 -> 75, QP02A001 -> 2A, QP971001 -> 971 (the three characters after QP)."""
    part = str(code)[2:5]
    return part[1:] if part.startswith("0") else part


def largest_overlap(geoms: np.ndarray, communes: gpd.GeoDataFrame) -> np.ndarray:
    """Code of the commune each polygon overlaps most (None where it overlaps none)."""
    targets = communes.geometry.values
    tree = shapely.STRtree(np.asarray(targets))
    left, right = tree.query(geoms, predicate="intersects")
    area = shapely.area(shapely.intersection(geoms[left], np.asarray(targets)[right]))
    pairs = pd.DataFrame({"zone": left, "commune": right, "area": area})
    best = pairs[pairs["area"] > 0].sort_values("area").groupby("zone").tail(1)
    out = np.full(len(geoms), None, dtype=object)
    out[best["zone"].to_numpy()] = communes["code"].to_numpy()[best["commune"].to_numpy()]
    return out


def load_national_qpv(
    folder: Path,
    cog: Cog,
    communes: gpd.GeoDataFrame,
    departements: Iterable[str] | None = None,
    indicators_csv: Path | None = None,
) -> gpd.GeoDataFrame:
    """QPV of the national shapefile (optionally only some départements), placed by geometry."""
    raw = gpd.read_file(folder / SHAPEFILE, encoding=DBF_ENCODING).to_crs(CRS)
    if departements is not None:
        raw = raw[raw["CODE_QP"].map(departement_of_qpv).isin(set(departements))]
    geoms = polygonal(shapely.make_valid(raw.geometry.values))  # 34 invalid as shipped
    zones = pd.DataFrame(
        {
            "code": raw["CODE_QP"].astype(str).to_numpy(),
            "nom": raw["NOM_QP"].astype(str).str.strip().to_numpy(),
            "communes_qp": raw["COMMUNE_QP"].astype(str).to_numpy(),
            "commune": largest_overlap(geoms, communes),
        }
    )
    zones = with_parents(zones, cog)
    zones["population"] = _population(zones["code"], indicators_csv)
    gdf = gpd.GeoDataFrame(zones, geometry=geoms, crs=CRS)
    return _finish(gdf.sort_values("code", kind="stable"))


def _population(codes: pd.Series, indicators_csv: Path | None) -> pd.arrays.IntegerArray:
    """Population from INSEE's QPV indicators where the file covers the QPV, else NA."""
    if indicators_csv is None or not indicators_csv.exists():
        return pd.array([pd.NA] * len(codes), dtype="Int64")
    insee = pd.read_csv(indicators_csv, encoding="utf-8-sig", dtype={"code_qp": str})
    return codes.map(insee.set_index("code_qp")["pop_mun"]).astype("Int64").array
