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
    gdf = gpd.GeoDataFrame(table, geometry=polygonal(np.array(geoms, dtype=object)), crs=CRS)
    return _finish(gdf)


def build_commune_arm(communes: gpd.GeoDataFrame, arm: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The communes with each city that has its arrondissements replaced by them."""
    split = set(arm["commune"])
    keep = ["code", "nom", *CITY_PARENTS, "population", "codes_postaux", "geometry"]
    whole = communes.loc[~communes["code"].isin(split), keep]
    parts = arm[keep]
    both = pd.concat([whole, parts], ignore_index=True).sort_values("code", kind="stable")
    return _finish(gpd.GeoDataFrame(both, geometry="geometry", crs=CRS))
