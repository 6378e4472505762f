"""Demonstration values of the municipal arrondissements: each city's counts split among its
arrondissements by population, so that the city is exactly their sum, and every breakdown adds
up in each arrondissement as it does in the city. Generated, like the rest of `layers.demo`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from layers.catalogue import BREAKDOWNS

POPULATION = "population"  # the denominator a reader knows

if TYPE_CHECKING:
    from layers.demo import DemoData


def split_cities(
    rng: np.random.Generator, data: DemoData, zones: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The arrondissements (code, commune, population) of the cities the data has, and every
    count, denominator and amount of their city split among them (arrondissements x December
    periods)."""
    zones = zones.sort_values("code").reset_index(drop=True)
    row = pd.Series(range(len(data.communes)), index=data.communes["code"])
    idx = zones["commune"].map(row)
    zones = zones[idx.notna()].reset_index(drop=True)
    idx = idx.dropna().astype(int).to_numpy()
    pop = zones["population"].fillna(0).to_numpy(float) + 1.0  # no empty arrondissement
    city_pop = pd.Series(pop).groupby(idx).transform("sum").to_numpy()
    share = pop / city_pop
    annual = data.annual_index
    out: dict[str, np.ndarray] = {}
    for key, parts in BREAKDOWNS.items():
        total = key.split("@")[0]
        if not all(c in data.counts for c in (total, *parts)):
            continue
        if total in out:  # a second breakdown of a total already split: drawn within it
            out.update(_within(rng, data, parts, out[total], idx, annual))
            continue
        for part in parts:
            out[part] = _split(rng, data.counts[part][:, annual], idx, share)
        out[total] = sum(out[p] for p in parts)
    for ind, values in data.counts.items():
        if ind not in out:
            out[ind] = _split(rng, values[:, annual], idx, share)
    # Denominators of the rates (population, children) and amounts paid (with their count).
    for name, values in data.denominators.items():
        out[name] = _split(rng, np.rint(values[:, annual]), idx, share)
    # The population is public (Insee): the arrondissement's own, as for a commune.
    real = zones["population"].fillna(0).to_numpy(float)
    out[POPULATION] = np.repeat(real[:, None], len(annual), axis=1)
    for name, values in data.amounts.items():
        count = name.removesuffix("_montant")
        if count in out:
            city = data.counts[count][:, annual][idx].astype(float)
            out[name] = values[:, annual][idx] * out[count] / np.maximum(city, 1.0)
    return zones, out


def _split(
    rng: np.random.Generator, city_values: np.ndarray, idx: np.ndarray, share: np.ndarray
) -> np.ndarray:
    """Each city's value (per period) drawn among its arrondissements: their sum is exact."""
    out = np.zeros((len(idx), city_values.shape[1]), dtype=np.int64)
    for city in np.unique(idx):
        members = np.flatnonzero(idx == city)
        p = share[members] / share[members].sum()
        out[members] = rng.multinomial(city_values[city].astype(np.int64), p).T
    return out


def _within(
    rng: np.random.Generator,
    data: DemoData,
    parts: list[str],
    totals: np.ndarray,
    idx: np.ndarray,
    annual: np.ndarray,
) -> dict[str, np.ndarray]:
    """Parts of a total already split: each arrondissement draws its total from what its city
    has left of each part (hypergeometric), so that the parts add up in both directions."""
    city_parts = np.stack([data.counts[p][:, annual] for p in parts], axis=-1)
    out = np.zeros((len(idx), len(annual), len(parts)), dtype=np.int64)
    for city in np.unique(idx):
        members = np.flatnonzero(idx == city)
        for t in range(len(annual)):
            left = city_parts[city, t].astype(np.int64)
            for m in members:
                draw = rng.multivariate_hypergeometric(left, int(totals[m, t]))
                out[m, t] = draw
                left = left - draw
    return {p: out[:, :, k] for k, p in enumerate(parts)}
