"""Territory levels built from the harmonised communes: commune, EPCI, département, région, Caf.

Every level above the commune is dissolved from the same commune polygons, so that borders nest
exactly (an EPCI border is the union of its communes' borders, never a second drawing of it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodata.caf import MAYOTTE, caf_names, caf_of_communes
from geodata.cog import Cog, Harmonised, harmonise_codes
from layers.progress import counting

CRS = "EPSG:4326"
EQUAL_AREA = "EPSG:6933"  # world cylindrical equal-area: right areas for métropole and overseas


def read_commune_polygons(
    folder: Path, departements: Iterable[str] | None = None, bars: TextIO | None = None
) -> gpd.GeoDataFrame:
    """Read the 2018 commune polygons (one GeoJSON per département); optionally only some.
    `bars`: where the progress bar goes (none without)."""
    files = sorted(folder.glob("communes-*.geojson"))
    if departements is not None:
        wanted = set(departements)
        files = [f for f in files if f.stem.split("-")[1] in wanted]
    if not files:
        raise FileNotFoundError(f"aucun fichier communes-*.geojson dans {folder}")
    frames = []
    with counting("communes 2018", len(files), bars, unit="départements") as advance:
        for path in files:
            frames.append(gpd.read_file(path, columns=["code", "nom"]))
            advance(1)
    gdf = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(gdf, geometry="geometry", crs=CRS)


def _union_by(keys: pd.Series, geoms: np.ndarray) -> pd.Series:
    """Union of a valid polygon coverage per key (coverage union: fast, no slivers)."""
    order = np.argsort(keys.to_numpy(), kind="stable")
    sorted_keys = keys.to_numpy()[order]
    sorted_geoms = geoms[order]
    bounds = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1], True])
    out = {}
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        part = sorted_geoms[start:end]
        out[sorted_keys[start]] = part[0] if len(part) == 1 else shapely.coverage_union_all(part)
    return pd.Series(out)


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygon parts (make_valid may leave stray lines or points beside them)."""
    out = np.asarray(geoms).copy()
    for i in np.flatnonzero(shapely.get_type_id(out) == 7):  # GeometryCollection
        parts = shapely.get_parts(out[i])
        polys = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
        out[i] = shapely.union_all(polys) if len(polys) else shapely.Polygon()
    return out


def _finish(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add area (km²) and a label point guaranteed inside the territory."""
    gdf = gdf.reset_index(drop=True)
    gdf["geometry"] = polygonal(shapely.make_valid(gdf.geometry.values))
    gdf["area_km2"] = gdf.geometry.to_crs(EQUAL_AREA).area.to_numpy() / 1e6
    label = shapely.point_on_surface(gdf.geometry.values)
    gdf["label_lon"] = shapely.get_x(label).round(5)
    gdf["label_lat"] = shapely.get_y(label).round(5)
    return gdf


def build_communes(polygons: gpd.GeoDataFrame, cog: Cog) -> tuple[gpd.GeoDataFrame, Harmonised]:
    """Current communes (COG 2026) with their parents, from the 2018 polygons."""
    harm = harmonise_codes(polygons["code"], cog)
    current = polygons["code"].map(harm.mapping)
    keep = current.notna().to_numpy()
    geoms = _union_by(current[keep], polygons.geometry.values[keep])
    attrs = cog.communes.loc[geoms.index]
    gdf = gpd.GeoDataFrame(attrs.reset_index(drop=True), geometry=list(geoms.values), crs=CRS)
    gdf["caf"] = caf_of_communes(gdf).to_numpy()
    gdf = gdf.sort_values("code", kind="stable")
    return _finish(gdf), harm


def dissolve_level(
    communes: gpd.GeoDataFrame, key: str, names: dict[str, str], population: pd.Series
) -> gpd.GeoDataFrame:
    """Dissolve communes by a parent column; parents kept when the same for every member.

    `population` is indexed by the parent code and counts every current commune, including
    the few (re-created since 2018) that have no polygon of their own.
    """
    with_key = communes[communes[key].notna()]
    geoms = _union_by(with_key[key], with_key.geometry.values)
    pop = population
    gdf = gpd.GeoDataFrame(
        {
            "code": geoms.index.astype(str),
            "nom": [names.get(c, c) for c in geoms.index],
            "population": pop.reindex(geoms.index).astype("Int64").to_numpy(),
            "communes": with_key.groupby(key).size().reindex(geoms.index).to_numpy(),
        },
        geometry=list(geoms.values),
        crs=CRS,
    )
    # Parent codes that are the same for every member (a département's région, for instance).
    for parent in ("departement", "region"):
        if parent == key or parent not in with_key:
            continue
        uniq = with_key.groupby(key)[parent].agg(lambda s: s.iloc[0] if s.nunique() == 1 else None)
        gdf[parent] = uniq.reindex(geoms.index).to_numpy()
    return _finish(gdf.sort_values("code", kind="stable"))


# CPU seconds of the communes and of each dissolved level on the national sources
# (2026-11-29): the weights of the build step's bar.
PARTS_S = {
    "commune": 1.4,
    "epci": 0.9,
    "departement": 0.5,
    "region": 0.4,
    "caf": 0.5,
    "france": 0.6,
}


def build_admin_levels(
    communes: gpd.GeoDataFrame, cog: Cog, done: Callable[[float], None] | None = None
) -> dict[str, gpd.GeoDataFrame]:
    """EPCI, département, région, Caf territories and France dissolved from the communes;
    `done(PARTS_S[level])` after each level (a progress bar)."""
    every = cog.communes.assign(caf=caf_of_communes(cog.communes))

    def level(key: str, names: dict[str, str]) -> gpd.GeoDataFrame:
        out = dissolve_level(communes, key, names, every.groupby(key)["population"].sum())
        if done is not None:
            done(PARTS_S[key])
        return out

    epci = level("epci", dict(zip(cog.epci["code"], cog.epci["nom"], strict=True)))
    epci = epci.merge(cog.epci[["code", "type"]], on="code", how="left")
    deps = level(
        "departement", dict(zip(cog.departements["code"], cog.departements["nom"], strict=True))
    )
    regs = level("region", dict(zip(cog.regions["code"], cog.regions["nom"], strict=True)))
    cafs = level("caf", caf_names(cog.departements))
    cafs["organisme"] = np.where(cafs["code"] == MAYOTTE, "CSSM", "Caf")
    france = dissolve_level(
        communes.assign(pays="FR"),
        "pays",
        {"FR": "France"},
        pd.Series({"FR": every["population"].sum()}),
    )
    if done is not None:
        done(PARTS_S["france"])
    return {
        "commune": communes,
        "epci": epci,
        "departement": deps,
        "region": regs,
        "caf": cafs,
        "france": france,
    }
