"""Infra-communal zones: QPV (quartiers prioritaires) and IRIS.

The loaders take the sample files under `qpv/` and `iris/` as well as the national files as
published (ANCT QPV 2015 / 2024 GeoJSON, IGN CONTOURS-IRIS), whose column names differ: each
known spelling is mapped to one schema.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from geodata.caf import caf_of_communes
from geodata.cog import Cog, normalise_commune_code
from geodata.levels import CRS, _finish
from layers.model import LEVEL

QPV_COLUMNS = {
    "code": ("code_qp", "code_qpv", "CODE_QP", "cd_qp"),
    "nom": ("nom_qp", "lib_qp", "NOM_QP", "nom_qpv"),
    "commune_source": ("code_commune", "insee_com", "INSEE_COM", "code_insee", "com"),
}
IRIS_COLUMNS = {
    "code": ("id", "code_iris", "CODE_IRIS", "iris_code", "DCOMIRIS"),
    "nom": ("libiris", "nom_iris", "NOM_IRIS", "LIBIRIS"),
    "commune_source": ("com", "insee_com", "INSEE_COM", "DEPCOM"),
    "type_iris": ("typ_iris", "TYP_IRIS"),
    "population": ("p12_pop", "P12_POP", "p21_pop", "P21_POP", "population"),
}


def _pick(gdf: pd.DataFrame, aliases: dict[str, tuple[str, ...]], what: str) -> pd.DataFrame:
    out = {}
    for target, names in aliases.items():
        found = next((n for n in names if n in gdf.columns), None)
        if found is None and target in ("code", "commune_source"):
            raise ValueError(
                f"{what} : colonne « {target} » introuvable (attendu l'une de : {', '.join(names)})"
            )
        out[target] = gdf[found] if found else None
    return pd.DataFrame(out, index=gdf.index)


def with_parents(zones: pd.DataFrame, cog: Cog) -> pd.DataFrame:
    """Fill the commune's own parents (EPCI, Caf, département, région) from the COG."""
    parents = cog.communes.assign(caf=caf_of_communes(cog.communes)).set_index("code")
    for parent in LEVEL["iris"].parents[1:]:  # the commune's own parents
        zones[parent] = zones["commune"].map(parents[parent])
    return zones


def _to_zones(gdf: gpd.GeoDataFrame, cols: pd.DataFrame, cog: Cog) -> gpd.GeoDataFrame:
    cols = cols.copy()
    cols["commune_source"] = cols["commune_source"].map(normalise_commune_code)
    # IRIS of Paris, Lyon and Marseille sit in municipal arrondissements: the commune is the
    # city, the arrondissement is kept in `arm` (NA elsewhere).
    cols["commune"] = cols["commune_source"].map(cog.current_code)
    municipal = set(cog.municipal["code"]) if len(cog.municipal) else set()
    cols["arm"] = cols["commune_source"].where(cols["commune_source"].isin(municipal))
    cols = with_parents(cols, cog)
    zones = gpd.GeoDataFrame(cols, geometry=gdf.geometry.to_crs(CRS).values, crs=CRS)
    zones["code"] = zones["code"].astype(str)
    return _finish(zones.sort_values("code", kind="stable"))


def load_qpv(path: Path, cog: Cog, indicators_csv: Path | None = None) -> gpd.GeoDataFrame:
    """QPV polygons with their commune and parents; population from INSEE's file when given."""
    gdf = gpd.read_file(path)
    zones = _to_zones(gdf, _pick(gdf, QPV_COLUMNS, path.name), cog)
    zones["population"] = pd.array([pd.NA] * len(zones), dtype="Int64")
    if indicators_csv is not None and indicators_csv.exists():
        insee = pd.read_csv(indicators_csv, encoding="utf-8-sig", dtype={"code_qp": str})
        pop = insee.set_index("code_qp")["pop_mun"]
        zones["population"] = zones["code"].map(pop).astype("Int64")
    return zones


def load_iris(path: Path, cog: Cog, where: str | None = None) -> gpd.GeoDataFrame:
    """IRIS polygons with their commune (and municipal arrondissement) and parents.

    A `.gz` file is read through GDAL's /vsigzip/; `where` (OGR SQL) filters while reading.
    """
    name = f"/vsigzip/{path}" if path.suffix == ".gz" else path
    gdf = gpd.read_file(name, where=where) if where else gpd.read_file(name)
    cols = _pick(gdf, IRIS_COLUMNS, path.name)
    cols["code"] = cols["code"].astype(str).str.zfill(9)
    zones = _to_zones(gdf, cols, cog)
    zones["population"] = (
        pd.to_numeric(zones["population"], errors="coerce").round().astype("Int64")
    )
    return zones
