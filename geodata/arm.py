"""The municipal arrondissements of Paris, Lyon and Marseille, and the « communes et
arrondissements » view.

The 2018 commune polygons have the three cities whole; the IRIS carry the arrondissement code in
`arm` (INSEE_COM), so dissolving them by it gives the 45 arrondissements. They are clipped to the
city polygon, so that in the combined view they fill the city and never overlap its neighbours.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodata.cog import Cog
from geodata.levels import CRS, _finish, polygonal
from layers.model import LEVEL

CITY_PARENTS = LEVEL["commune_arm"].parents  # epci, caf, departement, region


def build_arm(iris: gpd.GeoDataFrame, communes: gpd.GeoDataFrame, cog: Cog) -> gpd.GeoDataFrame:
    """One polygon per municipal arrondissement found in the IRIS (45 with every city)."""
    inside = iris[iris["arm"].notna()] if "arm" in iris else iris.iloc[:0]
    cities = communes.set_index("code")
    rows, geoms = [], []
    names = cog.municipal.set_index("code")
    for code, part in inside.groupby("arm", sort=True):
        if code not in names.index or names.at[code, "commune"] not in cities.index:
            continue
        city = names.at[code, "commune"]
        shape = shapely.union_all(part.geometry.values, grid_size=1e-7)
        geoms.append(shapely.intersection(shape, cities.at[city, "geometry"], grid_size=1e-7))
        row = {"code": code, "nom": names.at[code, "nom"], "commune": city}
        row.update({p: cities.at[city, p] for p in CITY_PARENTS})
        row["population"] = names.at[code, "population"]
        row["codes_postaux"] = names.at[code, "codes_postaux"]
        rows.append(row)
    columns = ["code", "nom", "commune", *CITY_PARENTS, "population", "codes_postaux"]
    table = pd.DataFrame(rows, columns=columns)
    table["population"] = table["population"].astype("Int64")
    geoms = polygonal(np.array(geoms, dtype=object))
    for city in table["commune"].unique():
        rows_of = np.flatnonzero(table["commune"].to_numpy() == city)
        geoms[rows_of] = _fill_city(geoms[rows_of], cities.at[city, "geometry"])
    return _finish(gpd.GeoDataFrame(table, geometry=geoms, crs=CRS))


def _fill_city(parts: np.ndarray, city: shapely.Geometry) -> np.ndarray:
    """Give each piece of the city no arrondissement covers to the nearest one.

    The IRIS (2020, 13 m grid) and the 2018 commune polygons (simplified) disagree along the
    city's edge by about 1 % of its area: without this the combined view would have holes there.
    """
    parts = parts.copy()
    for i in range(1, len(parts)):  # IRIS of two arrondissements may overlap by a few metres
        parts[i] = shapely.difference(parts[i], shapely.union_all(parts[:i]), grid_size=1e-7)
    parts = polygonal(parts)
    gaps = shapely.get_parts(shapely.difference(city, shapely.union_all(parts), grid_size=1e-7))
    gaps = gaps[shapely.area(gaps) > 0]
    if not len(gaps):
        return parts
    owner = shapely.STRtree(parts).query_nearest(gaps, all_matches=False)[1]
    out = parts.copy()
    for i in np.unique(owner):
        out[i] = shapely.union_all([parts[i], *gaps[owner == i]], grid_size=1e-7)
    return polygonal(out)


def build_commune_arm(communes: gpd.GeoDataFrame, arm: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The communes with each city that has its arrondissements replaced by them."""
    split = set(arm["commune"])
    keep = ["code", "nom", *CITY_PARENTS, "population", "codes_postaux", "geometry"]
    whole = communes.loc[~communes["code"].isin(split), keep]
    parts = arm[keep]
    both = pd.concat([whole, parts], ignore_index=True).sort_values("code", kind="stable")
    return _finish(gpd.GeoDataFrame(both, geometry="geometry", crs=CRS))


def simplified_commune_arm(
    view: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    arm: gpd.GeoDataFrame,
    commune_geoms: np.ndarray,
) -> np.ndarray:
    """The view's web geometry from the communes' (simplified once): each arrondissement cut
    to its simplified city and filling it, so the view matches the commune map outside."""
    position = pd.Series(np.arange(len(communes)), index=communes["code"].to_numpy())
    out = np.empty(len(view), dtype=object)
    whole = view["code"].isin(position.index).to_numpy()
    out[whole] = commune_geoms[position[view.loc[whole, "code"]].to_numpy()]
    city_of = view["code"].map(arm.set_index("code")["commune"]).to_numpy()
    for city in pd.unique(city_of[~whole]):
        rows = np.flatnonzero(city_of == city)
        shape = commune_geoms[position[city]]
        cut = polygonal(shapely.intersection(view.geometry.values[rows], shape, grid_size=1e-7))
        out[rows] = _fill_city(cut, shape)
    return out
