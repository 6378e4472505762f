"""Statistical secrecy of real rows before they reach the store (SECRECY.md).

The portal's exact files (national, départemental, AAH by age band...) publish counts of 1 to 4,
which the importer flags but keeps. `protect_real` hides them, and what would give them back:

1. primary: a published count (nature `effectif`: the catalogue's for a curated id, else the
   importer's reading of the field name, `layers.ingest.columns.infer_nature`) from 1 to
   threshold - 1;
2. linked: the other cells of the same households (`layers.household_links.benefit_stem`):
   for one benefit stem `<b>`, a hidden `indfoy_<b>`, `indnbp_<b>` or `indben_<b>` cell hides
   the `indfoy_/indnbp_/indben_/indmtt_<b>` cells of the same territory, period and breakdown
   value (households and the persons they cover mirror each other); a curated rate is hidden
   with its `computed_from` numerator or denominator;
3. secondary: `layers.secrecy.protect` on each table of one series (a field and its breakdown
   values, see `layers.real_relations`) and period, so that no hidden cell comes back by
   difference; a cell the portal left blank that a sum gives back is protected the same way
   (its value, deduced, is never written); links and secondary cells alternate until stable.

Rounded cells (regime `arrondi`) are never touched; a blank is never filled; a secret cell
stays secret. Idempotent: a second pass hides nothing more.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

import numpy as np
import pandas as pd

from geodata.cog import Cog
from layers.catalogue import CURATED
from layers.config import DEFAULT_INFRA_MIN_HOUSEHOLDS
from layers.household_links import HEAD_KINDS, benefit_stem
from layers.ingest.columns import infer_nature, series_id
from layers.model import AMOUNT, COUNT
from layers.progress import track
from layers.provenance import ROUNDED
from layers.real_relations import Table, regions_of, table_relations
from layers.secrecy import INFRA_KINDS, SMALL_ZONE_REASON, primary_mask, protect
from layers.store import PUBLISHED, SECRET

KEYS = ["indicateur", "niveau", "code", "periode"]
INFRA_LEVELS = sorted(INFRA_KINDS)
# The series counting a zone's allocataires: the curated id and the portal's field.
ALLOCATAIRES_IDS = frozenset({"allocataires", "indfoy_ndur"})
Bar = tuple[str, TextIO]  # a progress bar's label and stream


@dataclass
class SecrecyReport:
    """What the secrecy pass hid, per level of the rule (counts of cells)."""

    primaire: int = 0
    lies: int = 0
    secondaire: int = 0
    relations: int = 0
    relations_ignorees: int = 0
    non_proteges: int = 0
    deja_secrets: int = 0
    deduites: int = 0
    zones: int = 0  # cells of IRIS / QPV of fewer allocataires than the Caf rule
    seuil_zones: int = DEFAULT_INFRA_MIN_HOUSEHOLDS

    @property
    def masquees(self) -> int:
        return self.primaire + self.lies + self.secondaire + self.zones

    def resume(self) -> str:
        """A short French summary for the sync and import reports."""
        out = [
            f"Secret statistique : {self.masquees} cellule(s) masquée(s) "
            f"({self.primaire} primaire(s), {self.lies} liée(s) aux mêmes foyers, "
            f"{self.secondaire} secondaire(s)) ; {self.deja_secrets} déjà secrète(s)",
            f"Relations additives protégées : {self.relations} ; ignorées (non vérifiées par "
            f"les valeurs ou avec une cellule arrondie) : {self.relations_ignorees}",
        ]
        if self.zones:
            out.append(
                f"Zones infra-communales masquées ({SMALL_ZONE_REASON.format(n=self.seuil_zones)}) "
                f": {self.zones} cellule(s)"
            )
        if self.deduites:
            out.append(
                f"Cellules laissées vides par le portail mais déductibles par différence, "
                f"protégées : {self.deduites}"
            )
        if self.non_proteges:
            out.append(
                f"Attention : {self.non_proteges} cellule(s) masquée(s) sans protection "
                "suffisante par les relations (aucune cellule à masquer ne l'élargit)"
            )
        return "\n".join(out)


def nature_of(indicator: str) -> str:
    """The catalogue's nature of a curated id, else the importer's reading of the field name
    (a count unless the name says rate or amount: an unknown field is protected as a count)."""
    if indicator in CURATED.by_id:
        return CURATED.by_id[indicator].nature
    return infer_nature(indicator.split(".")[0])


def _frame(rows: pd.DataFrame, provenance: pd.DataFrame) -> pd.DataFrame:
    """The rows with their raw value, nature, regime and breakdown dimension."""
    df = rows[KEYS].copy()
    df["raw"] = pd.to_numeric(rows["valeur"], errors="coerce").astype(float)
    # only published cells may be hidden; a missing or not-applicable cell is left as it is
    df["published"] = _is(rows["statut"], PUBLISHED)
    df["hidden"] = _is(rows["statut"], SECRET)
    df.loc[~df["published"], "raw"] = np.nan
    df["nature"] = per_value(df["indicateur"], nature_of)
    # regime and dimension per series (a few thousand), then placed on the rows
    prov = provenance.drop_duplicates(["indicateur", "niveau", "periode"])
    prov = prov.set_index(["indicateur", "niveau", "periode"])
    index = pd.MultiIndex.from_frame(df[["indicateur", "niveau", "periode"]])
    at = prov.index.get_indexer(index)
    known = at >= 0
    rounded = (prov["regime"] == ROUNDED).to_numpy()
    dims = np.array(
        [str(c).partition("|")[2].partition("=")[0] if pd.notna(c) else "" for c in prov["champ"]]
        + [""],
        dtype=object,
    )
    df["rounded"] = known & rounded[np.where(known, at, 0)] if len(prov) else False
    names, codes = np.unique(dims, return_inverse=True)  # as categories: 5 million rows
    df["dimension"] = pd.Categorical.from_codes(codes[np.where(known, at, len(prov))], names)
    return df


def _is(status: pd.Series, value: str) -> np.ndarray:
    """`status == value` as booleans, without turning millions of categories into text."""
    return (status == value).to_numpy(dtype=bool, na_value=False)


def _linked(df: pd.DataFrame) -> np.ndarray:
    """Cells to hide with a hidden household count: same stems, and rates of hidden parts."""
    place = ["niveau", "code", "periode"]
    stems = {i: benefit_stem(i) for i in pd.Categorical(df["indicateur"]).categories}
    key = per_value(df["indicateur"], lambda i: "|".join(stems[i][1:]) if stems[i] else None)
    kind = per_value(df["indicateur"], lambda i: stems[i][0] if stems[i] else None)
    heads = df[df["hidden"] & kind.isin(HEAD_KINDS).to_numpy()]
    hit = pd.Series(False, index=df.index)
    if not heads.empty:
        hidden_keys = pd.MultiIndex.from_arrays([key[heads.index], *(heads[c] for c in place)])
        # only rows of a hidden head's stem are looked up (all rows took 250 MB more)
        near = (kind.notna() & key.isin(set(key[heads.index].dropna()))).to_numpy(dtype=bool)
        mine = pd.MultiIndex.from_arrays([key[near], *(df.loc[near, c] for c in place)])
        hit[near] = mine.isin(hidden_keys)
    hidden_at = set(zip(*(df.loc[df["hidden"] | hit, c] for c in KEYS), strict=True))
    for rate in df["indicateur"].unique():
        parts = CURATED.by_id[rate].computed_from if rate in CURATED.by_id else None
        if not parts:
            continue
        mine = df["indicateur"] == rate
        hit[mine] = [
            any((p, *k) in hidden_at for p in parts)
            for k in zip(*(df.loc[mine, c] for c in place), strict=True)
        ]
    return (hit & df["published"] & ~df["hidden"] & ~df["rounded"]).to_numpy()


def small_zones(df: pd.DataFrame, min_households: int) -> np.ndarray:
    """Every cell of an IRIS or QPV (any series, rounded or not) in a period where the zone's
    allocataires (`ALLOCATAIRES_IDS`, no breakdown) number fewer than `min_households`, or
    are secret: the Caf publish nothing for such a zone (SECRECY.md, rule 3). A zone whose
    file gives no allocataires count is left to the portal's own masking."""
    # categories compared as they are: as text, millions of rows took 400 MB more
    zone = df["niveau"].isin(INFRA_LEVELS).to_numpy(dtype=bool)
    if not zone.any():
        return zone
    place = ["niveau", "code", "periode"]
    heads = df[zone & df["indicateur"].isin(ALLOCATAIRES_IDS).to_numpy(dtype=bool)]
    small = heads[heads["hidden"] | (heads["raw"] < min_households)]
    if small.empty:
        return np.zeros(len(df), dtype=bool)
    keys = pd.MultiIndex.from_frame(small[place].astype(str))
    found = zone.copy()
    found[zone] = pd.MultiIndex.from_frame(df.loc[zone, place].astype(str)).isin(keys)
    return found


def _hide(df: pd.DataFrame, mask: np.ndarray) -> int:
    new = mask & df["published"].to_numpy() & ~df["hidden"].to_numpy()
    df.loc[new, "hidden"] = True
    return int(new.sum())


def per_value(column: pd.Series, of: Callable[[str], str | None]) -> pd.Series:
    """`of` each row's value, worked out once per distinct value, as categories in sorted
    order (None: missing): a synced store holds millions of rows, and as text each such
    column took ~100 MB (a groupby sorts these categories as it sorted the text)."""
    cat = pd.Categorical(column)
    found = [of(str(value)) for value in cat.categories]
    names = sorted({f for f in found if f is not None})
    at = {name: n for n, name in enumerate(names)}
    codes = np.array([*(at.get(f, -1) for f in found), -1], dtype=np.int32)[cat.codes]
    return pd.Series(pd.Categorical.from_codes(codes, names), index=column.index)


def _series_groups(indicators: pd.Series) -> pd.Series:
    """The series group of each row's indicator (`indfoy_rsa.rsa_type_x`: its stem's group)."""
    return per_value(indicators, lambda name: series_id(name.partition(".")[0]))


def _tables(rows: pd.DataFrame, group: pd.Series) -> tuple[int, Iterator[pd.DataFrame]]:
    """How many tables (series group, period) and the rows of each, in the order of a sorted
    groupby, taken one at a time (iterating the groupby sorted a copy of every row at once:
    300 MB more for a synced store)."""
    number = rows.groupby([group, rows["periode"]], sort=True).ngroup()
    codes = number.fillna(-1).to_numpy(dtype=np.int64)  # -1: no series group, no table
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes[codes >= 0])
    bounds = int((codes < 0).sum()) + np.concatenate([[0], np.cumsum(counts)])

    def each() -> Iterator[pd.DataFrame]:
        for start, end in itertools.pairwise(bounds):
            yield rows.iloc[order[start:end]]

    return len(counts), each()


def _secondary(
    df: pd.DataFrame, cog: Cog, threshold: int, protection: float, bar: Bar | None = None
) -> SecrecyReport:
    """Secondary suppression on each table (series group, period); hides cells of `df`;
    `bar`: (label, stream) of a progress bar over the tables."""
    report = SecrecyReport()
    additive = df[df["nature"].isin([COUNT, AMOUNT])]
    regions = regions_of(cog)
    count, tables = _tables(additive, _series_groups(additive["indicateur"]))
    shown = tables
    if bar is not None:
        shown = track(tables, bar[0], count, unit="tableaux", stream=bar[1])
    for sub in shown:
        table = Table.of(sub, regions)
        report.deduites += table.deduced
        if not table.hidden.any():
            continue
        rel, used, skipped = table_relations(table)
        report.relations += used
        report.relations_ignorees += skipped
        if not used:
            continue
        result = protect(
            table.values, rel, table.hidden, threshold=threshold, protection=protection
        )
        report.secondaire += _hide(df, df.index.isin(table.index[result.secondary]))
        report.non_proteges += int(result.unprotected.size)
    return report


def protect_real(
    rows: pd.DataFrame,
    provenance: pd.DataFrame,
    cog: Cog,
    *,
    threshold: int = 5,
    protection: float | None = None,
    min_households: int = DEFAULT_INFRA_MIN_HOUSEHOLDS,
    bars: TextIO | None = None,
) -> tuple[pd.DataFrame, SecrecyReport]:
    """The rows (store columns, statuses `publie` / `secret`) with every count from 1 to
    `threshold` - 1 of a non-rounded file hidden, the cells of the same households with it, and
    the cells that would give them back by difference; `protection` (default `threshold`) is
    the narrowest range a hidden cell may be bounded to. `provenance` gives each series' regime
    and breakdown dimension; `cog` the région of each département. `bars`: where a progress
    bar per pass over the tables goes (none without)."""
    protection = float(threshold if protection is None else protection)
    df = _frame(rows.reset_index(drop=True), provenance)
    already = int(df["hidden"].sum())
    counts = (df["nature"] == COUNT) & ~df["rounded"] & df["published"]
    primary = counts.to_numpy() & primary_mask(df["raw"].fillna(0).to_numpy(), threshold)
    report = SecrecyReport(primaire=_hide(df, primary), deja_secrets=already)
    report.zones = _hide(df, small_zones(df, min_households))
    report.seuil_zones = min_households
    # Links and secondary cells in turn until stable: a household count hidden to protect
    # another hides its persons too (and the reverse), so a second pass hides nothing more.
    for n in itertools.count(1):
        report.lies += _hide(df, _linked(df))
        bar = (f"secret statistique (passe {n})", bars) if bars is not None else None
        step = _secondary(df, cog, threshold, protection, bar)
        report.secondaire += step.secondaire
        report.non_proteges = step.non_proteges
        report.relations = max(report.relations, step.relations)
        report.relations_ignorees = max(report.relations_ignorees, step.relations_ignorees)
        report.deduites = max(report.deduites, step.deduites)
        if not step.secondaire:
            break
    out = rows.reset_index(drop=True).copy()
    if isinstance(out["statut"].dtype, pd.CategoricalDtype):  # a merged store is compacted
        known = set(out["statut"].cat.categories)
        out["statut"] = out["statut"].cat.add_categories([SECRET] if SECRET not in known else [])
    hide = df["hidden"].to_numpy() & _is(out["statut"], PUBLISHED)
    out.loc[hide, "statut"] = SECRET
    out.loc[hide, "valeur"] = np.nan
    return out, report
