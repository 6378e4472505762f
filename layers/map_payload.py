"""The values of one map (level x indicator) as sent to the browser: values, classes, legend.

The lists are aligned to the feature order of web/<level>.geojson, so the browser colours
feature i with `classes[i]` without sending or matching any code.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from layers.classify import classify
from layers.indicators_basic import INDICATORS


def _round_values(values: pd.Series, decimals: int) -> list[float | None]:
    arr = np.round(values.to_numpy(dtype="float64"), decimals)
    if decimals == 0:
        return [None if math.isnan(v) else int(v) for v in arr.tolist()]
    return [None if math.isnan(v) else v for v in arr.tolist()]


def carte_payload(
    level: str,
    indicator: str,
    values: pd.Series,
    *,
    k: int = 5,
    palette_name: str = "YlGnBu",
) -> dict:
    """Build the JSON of /api/carte/<level> from the values of an indicator in row order."""
    meta = INDICATORS[indicator]
    result = classify(
        values.to_numpy(dtype="float64"),
        k,
        "quantiles",
        palette_name=palette_name,
        decimals=meta.decimales,
        unit=meta.unite,
    )
    return {
        "niveau": level,
        "indicateur": indicator,
        "libelle": meta.libelle,
        "unite": meta.unite,
        "decimales": meta.decimales,
        "methode": "quantiles",
        "valeurs": _round_values(values, meta.decimales),
        "classes": result["classes"].tolist(),
        "bornes": result["bornes"],
        "legende": result["legende"],
        "couleurs": result["couleurs"],
    }
