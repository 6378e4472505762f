"""Indicators computed from the geometry table of a level: population, density.

Their metadata is in the catalogue (`GEOMETRY_INDICATORS`). Values come back as a float Series
aligned to the row order of geo/<level>.parquet (which is also the feature order of
web/<level>.geojson); NaN means "pas de données".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from layers.catalogue import GEOMETRY_INDICATORS
from layers.model import LEVEL

TABLE_COLUMNS: tuple[str, ...] = ("code", "nom", "population", "area_km2")


def read_level_table(cache: Path, level: str) -> pd.DataFrame:
    """Read the attribute columns (no geometry) of geo/<level>.parquet, in row order."""
    if level not in LEVEL or level == "france":
        raise ValueError(f"unknown level {level!r}")
    path = Path(cache) / "geo" / f"{level}.parquet"
    return pd.read_parquet(path, columns=list(TABLE_COLUMNS))


def population(table: pd.DataFrame) -> pd.Series:
    """Municipal population (habitants); NaN where unknown."""
    return pd.to_numeric(table["population"], errors="coerce").astype("float64")


def densite(table: pd.DataFrame) -> pd.Series:
    """Population per km²; NaN where population is unknown or the area is not positive."""
    pop = population(table)
    area = pd.to_numeric(table["area_km2"], errors="coerce").astype("float64")
    area = area.where(area > 0)
    return (pop / area).replace([np.inf, -np.inf], np.nan)


_COMPUTE = {"population": population, "densite": densite}


def compute(table: pd.DataFrame, indicator: str) -> pd.Series:
    """Values of `indicator` for every row of `table` (same index, float64, NaN = missing)."""
    if indicator not in GEOMETRY_INDICATORS:
        raise ValueError(f"unknown indicator {indicator!r}")
    values = _COMPUTE[indicator](table)
    values.name = indicator
    return values
