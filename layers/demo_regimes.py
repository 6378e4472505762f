"""Disclosure regimes of the demonstration, like the portal's (CAFDATA-CATALOGUE.md, SECRECY.md).

- The current portal's `_f` files (commune, EPCI, IRIS, QPV; December 2020 on) round counts to
  5 and amounts to 100 EUR and blank nothing, except the Caf rule of the IRIS and QPV: a zone
  of fewer than 100 allocataires (`CAFCARTO_SEUIL_INFRA`) has every value hidden, and further
  IRIS of its commune protect it (`layers.zone_secrecy`); the others are rounded.
- The older portal (2009-2019) blanked its secret cells: earlier years go through suppression
  (primary + secondary, the household links included).
- National and départemental files are exact: so are the département, Caf, région and France
  cells (a secret cell there is still suppressed), computed from the unrounded values, so that
  no sum of rounded communes is ever shown as their total.
Rates computed from rounded counts are approximate: not computed below
`MIN_ROUNDED_DENOMINATOR` units in the denominator (published "secret": the count is too small
for its rounding to leave a meaningful share, the reason the portal rounds it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.catalogue import CURATED
from layers.household_links import household_counts, under_secrecy
from layers.model import INFRA, LEVEL, LOCAL, levels_of_tier
from layers.periods import decembers
from layers.provenance import (
    DEMO_DATASET,
    EXACT,
    PROVENANCE_COLUMNS,
    ROUNDED,
    SUPPRESSED,
    check_provenance,
)

ROUNDED_FROM = 2020  # first December of the portal's rounded ("_f") files
# commune, EPCI, arrondissements, QPV, IRIS (not the composite view: it stores no cell)
ROUNDED_LEVELS = tuple(lv for lv in levels_of_tier(LOCAL, INFRA) if not LEVEL[lv].composite)


def is_rounded_period(period: str, rounded_from: int | None) -> bool:
    """Whether local cells of `period` are rounded (else suppressed); local levels are
    published for Decembers only."""
    return rounded_from is not None and period in decembers() and int(period[:4]) >= rounded_from


def rounding_step(indicator: str) -> int:
    """The portal's rounding of an indicator at a rounded level: 5 for the counts under
    secrecy, 100 for the amounts paid to those households, 0 (exact) for the rest."""
    ind = CURATED.by_id.get(indicator)
    if ind is None or not ind.rounding:
        return 0
    if under_secrecy(indicator) or (ind.nature != "taux" and household_counts(indicator)):
        return int(ind.rounding)
    return 0


def round_to(values: np.ndarray, step: int) -> np.ndarray:
    """Nearest multiple of `step` (7 -> 5, 12 -> 10, 3 -> 5, 2 -> 0); NaN stays NaN."""
    if not step:
        return values
    return np.round(np.asarray(values, dtype=float) / step) * step


def is_rounded_rate(indicator: str) -> bool:
    """A rate computed from at least one count rounded at the rounded levels."""
    ind = CURATED.by_id.get(indicator)
    return bool(ind and ind.computed_from and any(rounding_step(c) for c in ind.computed_from))


def demo_provenance(rows: pd.DataFrame, rounded_from: int | None) -> pd.DataFrame:
    """One provenance row per (indicator, level, period) of the demonstration store: `arrondi`
    (step 5 or 100; 0 for a rate computed from rounded counts) at the rounded levels of the
    rounded periods; `supprime` for a series with a secret cell, or describing households in
    a year of the older portal; `exact` elsewhere (no household behind it, or a national
    series of the current portal with no cell hidden)."""
    keys = rows.groupby(["indicateur", "niveau", "periode"], observed=True)["statut"]
    table = keys.agg(lambda s: bool((s.astype(str) == "secret").any())).rename("any_secret")
    table = table.reset_index().astype({"indicateur": str, "niveau": str, "periode": str})
    ind, level, period = table["indicateur"], table["niveau"], table["periode"]
    step = ind.map(rounding_step)
    rounded_period = period.map(lambda p: is_rounded_period(p, rounded_from))
    is_rounded = (
        level.isin(ROUNDED_LEVELS) & rounded_period & ((step > 0) | ind.map(is_rounded_rate))
    )
    protected = ind.map(lambda i: under_secrecy(i) or bool(household_counts(i)))
    older = period.str[:4].astype(int) < (rounded_from or 10_000)
    suppressed = table["any_secret"] | (protected & older)
    out = table.assign(
        jeu=DEMO_DATASET,
        champ=ind,
        mis_a_jour="",
        regime=np.where(is_rounded, ROUNDED, np.where(suppressed, SUPPRESSED, EXACT)),
        arrondi=np.where(is_rounded, step, 0).astype("int64"),
    )
    return check_provenance(out[list(PROVENANCE_COLUMNS)])


def rounding_violations(
    cells: pd.DataFrame, rounded_periods: set[str], public: pd.DataFrame
) -> tuple[int, pd.DataFrame]:
    """The rounding rule, checked on published cells (indicateur, niveau, code, periode, valeur,
    statut) of the rounded levels and periods: every count and amount on its step, and every
    approximate rate equal to the one computed from the published rounded counts (or a public
    denominator, `public`: indicateur, niveau, code, valeur, e.g. the population), so that no
    derived value gives an exact count below the rounding. Returns (cells checked, offenders)."""
    at = cells["niveau"].isin(ROUNDED_LEVELS) & cells["periode"].isin(rounded_periods)
    pub = cells[at & (cells["statut"] == "publie")]
    step = pub["indicateur"].map(rounding_step).astype("int64")  # int even when empty
    counted = pub[step > 0]
    off_step = counted[(counted["valeur"] % step[step > 0]).abs() > 1e-9]
    rates = pub[pub["indicateur"].map(is_rounded_rate).astype(bool)]
    known = pd.concat([pub, public.assign(periode=None)], ignore_index=True)
    wrong = [off_step]
    for ind, group in rates.groupby("indicateur"):
        num, den = CURATED.by_id[ind].computed_from
        merged = group
        for name, col in ((num, "num"), (den, "den")):
            part = known[known["indicateur"] == name][["niveau", "code", "periode", "valeur"]]
            if part["periode"].isna().all():  # public, every period
                part = part.drop(columns="periode")
            merged = merged.merge(part.rename(columns={"valeur": col}), how="left")
        expected = np.round(100 * merged["num"] / merged["den"], 1)
        wrong.append(
            merged.loc[~((expected - merged["valeur"]).abs() <= 0.05 + 1e-9), group.columns]
        )
    checked = len(counted) + len(rates)
    return checked, pd.concat(wrong, ignore_index=True)[list(cells.columns)]
