"""Values the app derives from real Cafdata before publishing them: sums and rates.

A derived value is published only when it cannot give back a cell the portal left blank or
rounded:
- sums to région, Caf and France from départements only where every child département is
  published and the département series is exact, and never for a (level, period) the portal
  publishes itself (its value wins; `sum_conflicts` reports a disagreement). Communes, whose
  counts the portal rounds, are never summed into a total;
- curated rates (`computed_from`, e.g. the share of allocataires on the RSA) only where both
  terms are published at that level and period and the portal does not publish the rate; from
  rounded counts the rate is approximate (regime `arrondi`) and not computed when the
  denominator is under `MIN_ROUNDED_DENOMINATOR`;
- a blank at the source stays blank: a derived cell with a hidden term is hidden (« secret »).

Every derived series carries a provenance row whose `champ` starts with
`layers.series_notes.DERIVED` (« calcul : rsa / allocataires × 100 »): it is dropped and
recomputed at each publication, and `layers/real_audit.py` recomputes it to check the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from layers.catalogue import CURATED
from layers.ingest.columns import infer_nature  # the importer's rule, one home
from layers.model import NATIONAL, RATE, levels_of_tier
from layers.progress import weighing
from layers.provenance import (
    EXACT,
    MIN_ROUNDED_DENOMINATOR,
    PROVENANCE_COLUMNS,
    ROUNDED,
    SUPPRESSED,
    check_provenance,
)
from layers.series_notes import DERIVED, SUM
from layers.store import COLUMNS, MISSING, PUBLISHED, SECRET

KEY = ["indicateur", "niveau", "periode"]
# Levels summed from départements: the national-tier levels above them (France, région, Caf).
SUM_LEVELS: tuple[str, ...] = tuple(lv for lv in levels_of_tier(NATIONAL) if lv != "departement")
# Columns of the geography: each département's région and Caf.
GEO_COLUMNS: list[str] = ["departement", *(lv for lv in SUM_LEVELS if lv != "france")]
# Two exact sums may differ by float noise only; beyond this the portal and the app disagree.
SUM_TOLERANCE = 0.5


TEXT = ["indicateur", "niveau", "code", "periode", "statut"]


def _strings(rows: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return rows.astype({c: str for c in cols})


def _categories(rows: pd.DataFrame) -> pd.DataFrame:
    """The store's columns, text as categories: a synced store holds millions of rows, as text
    they took 860 MB more (only the few rows a sum or a rate reads are made text)."""
    rows = rows[list(COLUMNS)]
    text = [c for c in TEXT if not isinstance(rows[c].dtype, pd.CategoricalDtype)]
    return rows.astype(dict.fromkeys(text, "category")) if text else rows


def in_series(rows: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """Which rows belong to a series (indicator, level, period) listed in `keys`: the few
    distinct series are compared as text, then mapped back to the rows by group number."""
    if not len(rows) or not len(keys):
        return np.zeros(len(rows), dtype=bool)
    group = rows.groupby(KEY, observed=True, sort=False).ngroup().to_numpy()
    series = rows[KEY].drop_duplicates().astype(str)  # in order of first appearance
    found = series.merge(keys[KEY].astype(str), on=KEY, how="left", indicator=True)
    return found["_merge"].eq("both").to_numpy()[group]


def split_derived(
    rows: pd.DataFrame, provenance: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(published rows, their provenance, derived rows, their provenance); the rows' text
    columns as categories."""
    rows = _categories(rows)
    provenance = check_provenance(provenance) if len(provenance) else _empty()
    derived_prov = provenance[provenance["champ"].astype(str).str.startswith(DERIVED)]
    hit = in_series(rows, derived_prov.drop_duplicates(KEY))
    if not hit.any():  # a first sync: no copy of its millions of rows
        return rows, provenance.drop(derived_prov.index), rows.iloc[:0], derived_prov
    return rows[~hit], provenance.drop(derived_prov.index), rows[hit], derived_prov


def united(rows: pd.DataFrame, more: pd.DataFrame) -> pd.DataFrame:
    """`rows` (text as categories) then `more`, text kept as categories with theirs united
    (a plain concat would turn the millions of rows into text)."""
    if not len(more):
        return rows
    columns = {
        c: union_categoricals([rows[c], more[c].astype(str).astype("category")]) for c in TEXT
    }
    columns["valeur"] = np.concatenate(
        [rows["valeur"].to_numpy(dtype=float), more["valeur"].to_numpy(dtype=float)]
    )
    return pd.DataFrame(columns)[list(COLUMNS)]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in PROVENANCE_COLUMNS}).astype(
        {"arrondi": "int64"}
    )


# Seconds of the three parts (split, sums, rates) on the sync bench's 6 million rows: the
# progress bar's weights.
PARTS_S = (5.7, 1.8, 6.4)


def derived_values(
    rows: pd.DataFrame,
    provenance: pd.DataFrame,
    geography: pd.DataFrame | None = None,
    bars: TextIO | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The real store's rows and provenance with the derived series (re)computed.

    `geography` (departement, region, caf columns: one row per département, `caf` empty when
    the département is shared between Caf) defaults to the build in service; without a build
    no sum is made. `bars`: where the progress bar goes (none without)."""
    with weighing("valeurs dérivées", PARTS_S, bars, unit="étapes") as done:
        rows, provenance, _, _ = split_derived(rows, provenance)
        done(PARTS_S[0])
        if geography is None:
            geography = geography_in_service()
        sums, sums_prov = derived_sums(rows, provenance, geography)
        rows = united(rows, sums)
        del sums
        provenance = pd.concat([provenance, sums_prov], ignore_index=True)
        done(PARTS_S[1])
        rates, rates_prov = derived_rates(rows, provenance)
        rows = united(rows, rates)
        provenance = pd.concat([provenance, rates_prov], ignore_index=True)
        done(PARTS_S[2])
    return rows.reset_index(drop=True), provenance.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Geography


def geography_of(build: Path) -> pd.DataFrame:
    """Département -> région and Caf, from a build's communes (a Caf only when the département
    is wholly in it and the Caf holds whole départements only)."""
    communes = pd.read_parquet(Path(build) / "geo" / "commune.parquet", columns=GEO_COLUMNS).astype(
        str
    )
    pairs = communes.drop_duplicates()
    cafs_of_dep = pairs.groupby("departement")["caf"].nunique()
    deps_split = set(cafs_of_dep[cafs_of_dep > 1].index)
    split_cafs = set(pairs.loc[pairs["departement"].isin(deps_split), "caf"])
    geo = pairs.drop_duplicates("departement").copy()
    geo.loc[geo["departement"].isin(deps_split) | geo["caf"].isin(split_cafs), "caf"] = ""
    return geo.reset_index(drop=True)


def geography_in_service() -> pd.DataFrame | None:
    from geodata.cache import active_dir
    from layers.config import Settings

    build = active_dir(Settings.from_env().cache)
    if build is None or not (build / "geo" / "commune.parquet").is_file():
        return None
    return geography_of(build)


# ---------------------------------------------------------------------------------------------
# Sums from départements


def _parent_codes(geography: pd.DataFrame, level: str) -> pd.Series:
    if level == "france":
        return pd.Series("FR", index=geography["departement"])
    return geography.set_index("departement")[level]


def _sum_level(deps: pd.DataFrame, geography: pd.DataFrame, level: str) -> pd.DataFrame:
    """One département table (code, valeur, statut) summed into `level`: published where every
    child département is, else secret (a hidden child) or missing (an absent child); no row
    for a territory none of whose départements the file carries."""
    parent = _parent_codes(geography, level)
    parent = parent[parent != ""]
    children = pd.DataFrame({"code": parent.index, "parent": parent.to_numpy()})
    cells = children.merge(deps, on="code", how="left")
    cells["statut"] = cells["statut"].fillna(MISSING)
    cells["tout"] = cells["statut"] == PUBLISHED
    cells["cache"] = cells["statut"] == SECRET
    cells["vu"] = cells["statut"] != MISSING
    g = cells.groupby("parent", sort=True).agg(
        valeur=("valeur", "sum"), tout=("tout", "all"), cache=("cache", "any"), vu=("vu", "any")
    )
    g = g[g["vu"]]
    status = np.where(g["tout"], PUBLISHED, np.where(g["cache"], SECRET, MISSING))
    return pd.DataFrame(
        {
            "code": g.index.astype(str),
            "valeur": g["valeur"].astype(float).where(g["tout"]).to_numpy(),
            "statut": status,
        }
    )


def rate_series(provenance: pd.DataFrame) -> pd.Series:
    """Provenance rows of rates (curated rates, portal rates such as `txcouv_*`, derived
    series): never summed, never held to a rounding step."""
    rates = {i.id for i in CURATED.indicators if i.nature == RATE}
    champ = provenance["champ"].astype(str)
    by_field = champ.map(lambda c: infer_nature(c.partition("|")[0]) == RATE).astype(bool)
    derived = champ.str.startswith(DERIVED).astype(bool)
    return provenance["indicateur"].isin(rates).astype(bool) | by_field | derived


def _published_keys(rows: pd.DataFrame) -> set[tuple[str, str, str]]:
    return set(map(tuple, rows[KEY].drop_duplicates().to_numpy().tolist()))


def _department_series(rows: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    """(indicator, period) -> that series' département rows, as text."""
    deps = _strings(rows[rows["niveau"] == "departement"], TEXT)
    return dict(tuple(deps.groupby(["indicateur", "periode"])))


def _exact_department_series(rows: pd.DataFrame, provenance: pd.DataFrame) -> pd.DataFrame:
    """Provenance rows of the exact, non-rate département series (what may be summed)."""
    prov = provenance[(provenance["niveau"] == "departement") & (provenance["regime"] == EXACT)]
    return prov[~rate_series(prov)]


def derived_sums(
    rows: pd.DataFrame, provenance: pd.DataFrame, geography: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Région, Caf and France sums of the exact département series the portal does not
    publish at those levels itself."""
    if geography is None or not len(rows):
        return pd.DataFrame(columns=list(COLUMNS)), _empty()
    have = _published_keys(rows)
    out_rows, out_prov = [], []
    grouped = _department_series(rows)
    for src in _exact_department_series(rows, provenance).itertuples(index=False):
        deps = grouped.get((src.indicateur, src.periode))
        if deps is None:
            continue
        for level in SUM_LEVELS:
            if (src.indicateur, level, src.periode) in have:
                continue  # the portal publishes it: its value wins
            cells = _sum_level(deps[["code", "valeur", "statut"]], geography, level)
            if not (cells["statut"] == PUBLISHED).any():
                continue  # nothing to show at that level: no series of blanks
            cells = cells.assign(indicateur=src.indicateur, niveau=level, periode=src.periode)
            out_rows.append(cells[list(COLUMNS)])
            out_prov.append(
                {
                    **src._asdict(),
                    "niveau": level,
                    "champ": f"{DERIVED}{SUM} ({src.champ})",
                }
            )
    if not out_rows:
        return pd.DataFrame(columns=list(COLUMNS)), _empty()
    return pd.concat(out_rows, ignore_index=True), pd.DataFrame(out_prov)


def sum_conflicts(
    rows: pd.DataFrame, provenance: pd.DataFrame, geography: pd.DataFrame | None
) -> list[str]:
    """Territories where the portal's own total and the sum of its exact départements differ
    (French, one line each): the portal's value is the one published."""
    rows, provenance, _, _ = split_derived(rows, provenance)
    if geography is None:
        return []
    found = []
    grouped = _department_series(rows)
    totals = rows[(rows["statut"] == PUBLISHED) & rows["niveau"].isin(SUM_LEVELS)]
    own = _strings(totals, TEXT).set_index(KEY + ["code"])["valeur"]
    for src in _exact_department_series(rows, provenance).itertuples(index=False):
        deps = grouped.get((src.indicateur, src.periode))
        if deps is None:
            continue
        for level in SUM_LEVELS:
            sums = _sum_level(deps[["code", "valeur", "statut"]], geography, level)
            for code, value in sums.loc[sums["statut"] == PUBLISHED, ["code", "valeur"]].itertuples(
                index=False
            ):
                portal = own.get((src.indicateur, level, src.periode, code))
                if portal is not None and abs(float(portal) - value) > SUM_TOLERANCE:
                    found.append(
                        f"{src.indicateur} {level} {code} {src.periode} : portail {portal:g}, "
                        f"somme des départements {value:g}"
                    )
    return found


# ---------------------------------------------------------------------------------------------
# Rates


def _rate_regime(terms: pd.DataFrame) -> tuple[str, int]:
    regimes = set(terms["regime"])
    if ROUNDED in regimes:
        return ROUNDED, int(terms.loc[terms["regime"] == ROUNDED, "arrondi"].max() or 5)
    if regimes == {EXACT}:
        return EXACT, 0
    return SUPPRESSED, 0


def rate_cells(num: pd.DataFrame, den: pd.DataFrame, rounded: bool) -> pd.DataFrame:
    """num / den × 100 by code: published only where both terms are, the denominator is
    positive and, from rounded counts, at least MIN_ROUNDED_DENOMINATOR; else hidden.

    Why that floor: counts rounded to 5 are each off by at most 2.5, so a share r = n / d is
    off by at most (2.5 + 2.5 r) / d: 5 points (plus r × 5 points) at d = 50, one point at
    d = 250. Under 50 the error could exceed the value of most shares; above it the note
    (« ≈ ») says the value is approximate."""
    both = num.merge(den, on="code", how="outer", suffixes=("_n", "_d"))
    both[["statut_n", "statut_d"]] = both[["statut_n", "statut_d"]].fillna(MISSING)
    ok = (both["statut_n"] == PUBLISHED) & (both["statut_d"] == PUBLISHED)
    den_v = both["valeur_d"].astype(float)
    small = den_v < (MIN_ROUNDED_DENOMINATOR if rounded else 1)
    hidden = (both["statut_n"] == SECRET) | (both["statut_d"] == SECRET) | (ok & small)
    published = ok & ~small
    value = np.where(
        published, both["valeur_n"].astype(float) / den_v.where(published) * 100, np.nan
    )
    status = np.where(published, PUBLISHED, np.where(hidden, SECRET, MISSING))
    return pd.DataFrame({"code": both["code"], "valeur": value, "statut": status})


def derived_rates(
    rows: pd.DataFrame, provenance: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Curated rates whose two terms the store publishes at a level and period where the
    portal does not publish the rate."""
    have = _published_keys(rows)
    prov = provenance.set_index(KEY)
    terms = {t for i in CURATED.indicators for t in (i.computed_from or ())}
    # Only the terms' series are split (a synced store holds millions of other cells).
    series = dict(tuple(_strings(rows[rows["indicateur"].isin(terms)], TEXT).groupby(KEY)))
    out_rows, out_prov = [], []
    for ind in CURATED.indicators:
        if not ind.computed_from:
            continue
        num, den = ind.computed_from
        for level, period in sorted({(lv, p) for i, lv, p in have if i == num}):
            if (ind.id, level, period) in have or (den, level, period) not in have:
                continue
            keys = [(num, level, period), (den, level, period)]
            if not all(k in prov.index for k in keys):
                continue  # a term of unknown provenance: its regime is unknown
            found = prov.loc[keys]
            regime, step = _rate_regime(found)
            cells = rate_cells(
                series[keys[0]][["code", "valeur", "statut"]],
                series[keys[1]][["code", "valeur", "statut"]],
                regime == ROUNDED,
            )
            out_rows.append(cells.assign(indicateur=ind.id, niveau=level, periode=period))
            out_prov.append(
                {
                    "indicateur": ind.id,
                    "niveau": level,
                    "periode": period,
                    "jeu": "+".join(dict.fromkeys(found["jeu"].astype(str))),
                    "champ": f"{DERIVED}{num} / {den} × 100",
                    "mis_a_jour": max(found["mis_a_jour"].astype(str)),
                    "regime": regime,
                    "arrondi": step,
                }
            )
    if not out_rows:
        return pd.DataFrame(columns=list(COLUMNS)), _empty()
    return pd.concat(out_rows, ignore_index=True)[list(COLUMNS)], pd.DataFrame(out_prov)
