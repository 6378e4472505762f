"""The first two indicators, computed from the geometry table of a level: population, density.

Values come back as a float Series aligned to the row order of geo/<level>.parquet (which is
also the feature order of web/<level>.geojson); NaN means "pas de données".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

LEVELS: tuple[str, ...] = ("region", "departement", "caf", "epci", "commune", "qpv", "iris")
TABLE_COLUMNS: tuple[str, ...] = ("code", "nom", "population", "area_km2")


@dataclass(frozen=True)
class Indicator:
    """Metadata of an indicator, as shown in the interface."""

    code: str
    libelle: str
    unite: str
    nature: Literal["effectif", "taux"]
    decimales: int


INDICATORS: dict[str, Indicator] = {
    "population": Indicator("population", "Population municipale", "habitants", "effectif", 0),
    "densite": Indicator("densite", "Densité de population", "hab./km²", "taux", 1),
}


def read_level_table(cache: Path, level: str) -> pd.DataFrame:
    """Read the attribute columns (no geometry) of geo/<level>.parquet, in row order."""
    if level not in LEVELS:
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
    if indicator not in INDICATORS:
        raise ValueError(f"unknown indicator {indicator!r}")
    values = _COMPUTE[indicator](table)
    values.name = indicator
    return values
