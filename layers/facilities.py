"""Facilities of the demonstration: EAJE (crèches) and LAEP, generated inside real communes.

The Cnaf publishes no list of establishments (mon-enfant.fr shows them one by one), so the
demonstration makes its own, clearly labelled as generated: the number of facilities follows
the population and density of each commune, their places add up to the commune's
`places_eaje`, and each point lies inside its commune's polygon.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from layers.model import FACILITY_BY_SLUG, LAEP, PLACELESS_LABELS

# Demonstration mix of the EAJE types: (share of facilities, min places, max places).
DEMO_EAJE_MIX = {
    FACILITY_BY_SLUG["creche_collective"].label: (0.45, 20, 60),
    FACILITY_BY_SLUG["micro_creche"].label: (0.40, 10, 12),
    FACILITY_BY_SLUG["creche_familiale"].label: (0.08, 30, 80),
    FACILITY_BY_SLUG["creche_parentale"].label: (0.07, 12, 20),
}
FIRST_YEAR, LAST_YEAR = 2005, 2024


def facility_places(kind: str, places: object) -> int | None:
    """Approved places of a facility; None for a LAEP (none to approve: a file's 0 there means
    "not applicable") and for a count the file does not give (blank, never 0)."""
    if kind in PLACELESS_LABELS or places is None or pd.isna(places):
        return None
    return int(places)


GENERATED = "Équipement fictif (données de démonstration)"


def generate_facilities(
    communes: pd.DataFrame, rng: np.random.Generator, *, urban: np.ndarray
) -> pd.DataFrame:
    """One row per facility: commune (row and code), type, places, opening year, name."""
    pop = communes["population"].fillna(0).to_numpy(float)
    overseas = communes["departement"].str.startswith("97").to_numpy()
    rate = (0.00009 + 0.0002 * urban) * (1 - 0.4 * overseas)  # facilities per inhabitant
    n_eaje = rng.poisson(pop * rate)
    n_eaje[pop < 300] = 0
    n_laep = rng.poisson(pop / 25_000 * (0.6 + 0.6 * urban))
    rows = np.repeat(np.arange(len(pop)), n_eaje + n_laep)
    is_laep = np.concatenate(
        [np.r_[np.zeros(a, bool), np.ones(b, bool)] for a, b in zip(n_eaje, n_laep, strict=True)]
        or [np.zeros(0, bool)]
    )
    names = list(DEMO_EAJE_MIX)
    shares = np.array([DEMO_EAJE_MIX[t][0] for t in names])
    kind = np.where(
        is_laep,
        LAEP,
        np.asarray(names, dtype=object)[
            rng.choice(len(names), size=len(rows), p=shares / shares.sum())
        ],
    )
    places = np.zeros(len(rows), dtype=np.int64)
    for name, (_share, lo, hi) in DEMO_EAJE_MIX.items():
        sel = kind == name
        places[sel] = rng.integers(lo, hi + 1, int(sel.sum()))
    # Older facilities are more common: opening years skewed towards the past.
    years = FIRST_YEAR + np.floor((LAST_YEAR - FIRST_YEAR + 1) * rng.beta(1.0, 1.6, len(rows)))
    out = pd.DataFrame(
        {
            "commune_row": rows,
            "commune": communes["code"].to_numpy()[rows],
            "type": kind,
            "places": places,
            "annee_ouverture": years.astype(int),
        }
    )
    order = out.groupby("commune_row").cumcount() + 1
    out["nom"] = [f"{t} n° {k} (fictif)" for t, k in zip(out["type"], order, strict=True)]
    out["id"] = [f"DEMO-{c}-{k:03d}" for c, k in zip(out["commune"], order, strict=True)]
    return out


def places_by_period(facilities: pd.DataFrame, n_communes: int, years: np.ndarray) -> np.ndarray:
    """Places in EAJE per commune and period: facilities opened by the period's year."""
    out = np.zeros((n_communes, len(years)), dtype=np.int64)
    eaje = facilities[facilities["type"] != LAEP]
    for j, year in enumerate(years):
        open_ = eaje[eaje["annee_ouverture"] <= year]
        np.add.at(out[:, j], open_["commune_row"].to_numpy(), open_["places"].to_numpy())
    return out


def place_points(
    facilities: pd.DataFrame, polygons: pd.Series, rng: np.random.Generator
) -> pd.DataFrame:
    """Longitude and latitude of each facility, drawn uniformly inside its commune polygon.

    `polygons` is indexed by commune code (shapely geometries in WGS84)."""
    lon = np.full(len(facilities), np.nan)
    lat = np.full(len(facilities), np.nan)
    todo = np.arange(len(facilities))
    geoms = polygons.reindex(facilities["commune"]).to_numpy()
    for _ in range(60):  # rejection sampling; a handful of rounds places nearly everything
        if todo.size == 0:
            break
        bounds = shapely.bounds(geoms[todo])
        x = rng.uniform(bounds[:, 0], bounds[:, 2])
        y = rng.uniform(bounds[:, 1], bounds[:, 3])
        inside = shapely.contains_xy(geoms[todo], x, y)
        lon[todo[inside]], lat[todo[inside]] = x[inside], y[inside]
        todo = todo[~inside]
    if todo.size:  # very thin communes: their point on surface
        pts = shapely.point_on_surface(geoms[todo])
        lon[todo], lat[todo] = shapely.get_x(pts), shapely.get_y(pts)
    out = facilities.drop(columns="commune_row").copy()
    out["lon"] = lon.round(5)
    out["lat"] = lat.round(5)
    out["adresse"] = GENERATED
    return out
