"""The QPV of 2024 (codes `QN...`), drawn the day their contours are put in the sources folder.

Real QPV datasets of the portal use the 2024 geography, whose contours (ANCT) have no open copy
here. When `<sources>/qpv/` holds one (`qpv-2024*`, `QP2024*`, `*qpv*2024*`: GeoJSON,
GeoPackage or shapefile, as ANCT publishes it: `code_qp` / `CODE_QP` with QN codes, `lib_qp`,
`insee_com`), its zones join the `qpv` level beside the 2015 ones, placed in the commune the
file names (or, when it names none or several, the commune they overlap most), then its
parents. Rows of QPV still without a contour stay in the store and are listed, not drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from geodata.cog import Cog, normalise_commune_code
from geodata.infra import QPV_COLUMNS, _pick, with_parents
from geodata.levels import CRS, _finish, polygonal
from geodata.qpv_national import largest_overlap

PATTERNS = ("qpv-2024*", "QP2024*", "qp2024*", "*qpv*2024*", "*QPV*2024*")
SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".gz")
QPV_2024_PREFIX = "QN"


def find_qpv2024(sources: Path) -> Path | None:
    """The 2024 contour file of `<sources>/qpv/` (first by name), None when there is none."""
    folder = sources / "qpv"
    if not folder.is_dir():
        return None
    found = {
        p
        for pattern in PATTERNS
        for p in folder.glob(pattern)
        if p.is_file() and p.name.lower().endswith(SUFFIXES)
    }
    return min(found, key=lambda p: p.name) if found else None


def _commune(text: object, cog: Cog) -> str | None:
    """The current commune of a single INSEE code, None for none or a list of several."""
    if text is None or pd.isna(text):
        return None
    value = str(text).strip()
    if not value or any(sep in value for sep in (",", ";", "|", " ")):
        return None
    return cog.current_code(normalise_commune_code(value))


def load_qpv2024(
    path: Path,
    cog: Cog,
    communes: gpd.GeoDataFrame,
    departements: Iterable[str] | None = None,
) -> gpd.GeoDataFrame:
    """The QN zones of a 2024 contour file, with commune and parents (population unknown)."""
    raw = gpd.read_file(f"/vsigzip/{path}" if path.suffix == ".gz" else path)
    cols = _pick(raw, QPV_COLUMNS, path.name)
    code = cols["code"].astype(str).str.strip().str.upper()
    keep = code.str.startswith(QPV_2024_PREFIX).to_numpy()
    raw, cols, code = raw[keep], cols[keep], code[keep]
    geoms = polygonal(shapely.make_valid(raw.to_crs(CRS).geometry.values))
    commune = cols["commune_source"].map(lambda t: _commune(t, cog)).to_numpy(dtype=object)
    unnamed = pd.isna(commune)
    if unnamed.any():
        commune[unnamed] = largest_overlap(geoms[unnamed], communes)
    nom = cols["nom"] if cols["nom"] is not None else code
    zones = pd.DataFrame(
        {"code": code.to_numpy(), "nom": nom.astype(str).str.strip().to_numpy()}
    ).assign(commune=commune)
    zones = with_parents(zones, cog)
    if departements is not None:
        inside = zones["departement"].isin(set(departements)).to_numpy()
        zones, geoms = zones[inside], geoms[inside]
    zones["population"] = pd.array([pd.NA] * len(zones), dtype="Int64")
    gdf = gpd.GeoDataFrame(zones.reset_index(drop=True), geometry=list(geoms), crs=CRS)
    return _finish(gdf.sort_values("code", kind="stable"))


def with_qpv2024(
    qpv: gpd.GeoDataFrame,
    sources: Path,
    cog: Cog,
    communes: gpd.GeoDataFrame,
    departements: Iterable[str] | None,
    log: Callable[[str], None],
) -> gpd.GeoDataFrame:
    """The `qpv` level with the 2024 zones added when their contour file is present."""
    path = find_qpv2024(sources)
    if path is None:
        return qpv
    zones = load_qpv2024(path, cog, communes, departements)
    log(f"  QPV 2024 ({path.name}) : {len(zones)} zones ajoutées au niveau QPV")
    if not len(qpv):
        return zones
    both = pd.concat([qpv, zones[zones.columns.intersection(qpv.columns)]], ignore_index=True)
    return gpd.GeoDataFrame(both, geometry="geometry", crs=qpv.crs)
