"""Build the published demonstration cells: demo values -> regime (suppressed or rounded) ->
rows for the store (see `layers.demo_regimes` for which cells are rounded, suppressed or exact)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.catalogue import CURATED
from layers.config import DEFAULT_INFRA_MIN_HOUSEHOLDS
from layers.demo import DEMO_NOTICE, DemoData
from layers.demo_masks import HiddenMasks
from layers.demo_regimes import (
    ROUNDED_FROM,
    ROUNDED_LEVELS,
    is_rounded_period,
    is_rounded_rate,
    round_to,
    rounding_step,
)
from layers.household_links import DESCRIBES, under_secrecy
from layers.model import COUNT
from layers.periods import decembers
from layers.progress import WeightedBar, track
from layers.provenance import MIN_ROUNDED_DENOMINATOR
from layers.publish import (
    EXACT_ZONES,
    ZONE_LEVELS,
    Table,
    Territories,
    build_table,
    linked_tables,
    protect_table,
    territories,
)
from layers.secrecy import INFRA_KINDS, mask_rate
from layers.store import MISSING, NOT_APPLICABLE, PUBLISHED, SECRET
from layers.zone_secrecy import SMALL_ZONE_REASON, protect_zones

_DATA: DemoData | None = None  # shared with forked workers (copy-on-write)


@dataclass
class Job:
    period: int
    columns: tuple[str, ...]
    local: bool  # communes, EPCI and zones go through suppression with the national levels
    min_households: int = DEFAULT_INFRA_MIN_HOUSEHOLDS  # fewest allocataires of a zone


def secret_tables() -> list[tuple[str, ...]]:
    """The secrecy tables: every count of households or of the persons they cover, a total
    with its breakdowns and the persons covered by the same households in one table."""
    return linked_tables([i.id for i in CURATED.indicators if under_secrecy(i.id)])


def _local(data: DemoData, period: int) -> bool:
    """Whether local levels (communes, EPCI, zones) are published at this period."""
    return data.periods[period] in set(decembers())


def suppressed_local(data: DemoData, period: int, rounded_from: int | None) -> bool:
    """Whether the local cells of this period go through suppression (older portal years);
    from `rounded_from` on they are rounded instead, and only national cells are protected."""
    return _local(data, period) and not is_rounded_period(data.periods[period], rounded_from)


# Per process, for `_DATA`: the territories (the same every period) and the relations of each
# table, built once instead of once per job (most of a national job's time).
_STRUCTURE: dict[bool, tuple[Territories, dict]] = {}


def _territories(data: DemoData, period: int, local: bool | None = None) -> Territories:
    local = _local(data, period) if local is None else local
    if data is not _DATA:
        return territories(data, local=local, infra=ZONE_LEVELS)
    if local not in _STRUCTURE:
        _STRUCTURE[local] = (territories(data, local=local, infra=ZONE_LEVELS), {})
    return _STRUCTURE[local][0]


def _table(job: Job | ZoneJob, local: bool) -> tuple[Territories, Table]:
    """The job's territories and table, from this process's structure of `_DATA`."""
    terr = _territories(_DATA, job.period, local)
    cache = _STRUCTURE[local][1]
    return terr, build_table(_DATA, terr, job.columns, job.period, local, relations_cache=cache)


def _run(job: Job) -> tuple[Job, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
    t, cpu = time.perf_counter(), time.process_time()
    _, table = _table(job, job.local)
    hidden, stats = protect_table(table, min_households=job.min_households)
    stats["seconds"] = time.perf_counter() - t
    stats["cpu_seconds"] = time.process_time() - cpu  # on a shared machine, wall time is not
    return job, table.cell_terr, table.cell_col, table.values, hidden, stats


@dataclass
class ZoneJob:
    """The zones of a rounded period (the Caf rule on IRIS and QPV), every count in one table."""

    period: int
    columns: tuple[str, ...]
    min_households: int


def _run_zones(job: ZoneJob) -> tuple:
    t = time.perf_counter()
    terr, table = _table(job, True)
    hidden, stats = protect_zones(table, terr, min_households=job.min_households)
    stats["seconds"] = time.perf_counter() - t
    return job, table.cell_terr, table.cell_col, table.values, hidden, stats


def _call(job: Job | ZoneJob) -> tuple:
    return _run_zones(job) if isinstance(job, ZoneJob) else _run(job)


# Seconds of one local table on one core by its columns, measured on the national build
# (2026-11-29, `tableaux_cpu_s` of the store's manifest over its 5 Decembers): households 10
# columns, housing aid 4, one benefit 1.
LOCAL_TABLE_S = {10: 25.6, 4: 8.9, 1: 0.57}


def _weight(job: Job | ZoneJob) -> float:
    """Expected seconds of a job on one core (only their ratios matter: they order the jobs
    and fill the bar): a local table by its columns (others by their square), the zones of a
    rounded period 0.6 s, a national table a few milliseconds."""
    if isinstance(job, ZoneJob):
        return 0.63
    if not job.local:
        return 0.006
    n = len(job.columns)
    return LOCAL_TABLE_S.get(n, 0.26 * n * n)


def _execute(jobs: list, workers: int) -> list:
    """Results of `jobs` (Job or ZoneJob) in their order, computed longest first on `workers`
    processes so that the last big table does not run alone; a bar counts the tables done."""
    weights = [_weight(job) for job in jobs]
    order = sorted(range(len(jobs)), key=lambda i: (-weights[i], i))
    results: list = [None] * len(jobs)
    bar = WeightedBar("secret statistique", weights, unit="tableaux")
    try:
        if workers <= 1:
            for i in order:
                results[i] = _call(jobs[i])
                bar.add(weights[i])
            return results
        with ProcessPoolExecutor(workers) as pool:
            futures = {pool.submit(_call, jobs[i]): i for i in order}
            for done in as_completed(futures):
                results[futures[done]] = done.result()
                bar.add(weights[futures[done]])
    finally:
        bar.close()
    return results


def _protected_rows(
    data: DemoData, results: list, masks: HiddenMasks, stats_all: dict
) -> list[pd.DataFrame]:
    """Rows of the secrecy tables, and the hidden mask of each (period, indicator)."""
    frames = []
    for job, cell_terr, cell_col, values, hidden, stats in results:
        terr = _territories(data, job.period, job.local)
        frames.append(
            _cell_rows(
                job.columns, terr, data.periods[job.period], cell_terr, cell_col, values, hidden
            )
        )
        for k, ind in enumerate(job.columns):
            sel = cell_col == k
            masks.add((job.period, ind), terr, cell_terr[sel], hidden[sel])
        for key in ("cells", "primary", "secondary"):
            stats_all[key] += stats[key]
        stats_all["tables"] += 1
        # Seconds of each kind of table (summed over both processes): the bar's weights.
        kind = f"local_{len(job.columns)}_colonnes" if job.local else "national"
        for key, took in (("tableaux_s", "seconds"), ("tableaux_cpu_s", "cpu_seconds")):
            per_kind = stats_all.setdefault(key, {})
            per_kind[kind] = round(per_kind.get(kind, 0.0) + stats.get(took, 0.0), 1)
    return frames


def _cell_rows(
    columns: tuple[str, ...],
    terr: Territories,
    period: str,
    cell_terr: np.ndarray,
    cell_col: np.ndarray,
    values: np.ndarray,
    hidden: np.ndarray,
) -> pd.DataFrame:
    """Rows of a table's cells, column after column (a frame per table, not per column)."""
    order = np.argsort(cell_col, kind="stable")
    where, hide = cell_terr[order], hidden[order]
    return pd.DataFrame(
        {
            "indicateur": np.asarray(columns, dtype=object)[cell_col[order]],
            "niveau": terr.level[where],
            "code": terr.code[where],
            "periode": period,
            "valeur": np.where(hide, np.nan, np.asarray(values[order], dtype=float)),
            "statut": np.where(hide, SECRET, PUBLISHED),
        }
    )


def _rows(ind: str, terr: Territories, where: np.ndarray, period: str, values) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "indicateur": ind,
            "niveau": terr.level[where],
            "code": terr.code[where],
            "periode": period,
            "valeur": np.asarray(values, dtype=float),
            "statut": PUBLISHED,
        }
    )


def _rounded_rows(data: DemoData, result: tuple, masks: HiddenMasks, stats: dict) -> list:
    """Local cells of a rounded period: every count rounded to its step; nothing hidden but
    the zones of fewer than `min_households` allocataires (and the zones protecting them)."""
    job, cell_terr, cell_col, values, hidden, zone_stats = result
    p = job.period
    terr = _territories(data, p, True)
    local = np.isin(terr.level[cell_terr], ROUNDED_LEVELS)
    for key in ("primary", "secondary"):
        stats[key] += zone_stats[key]
    rounded = np.asarray(values, dtype=float)
    for k, ind in enumerate(job.columns):
        sel = (cell_col == k) & local
        rounded[sel] = round_to(rounded[sel], rounding_step(ind))
        masks.add((p, ind), terr, cell_terr[sel], hidden[sel])
    local = np.flatnonzero(local)
    return [
        _cell_rows(
            job.columns,
            terr,
            data.periods[p],
            cell_terr[local],
            cell_col[local],
            rounded[local],
            hidden[local],
        )
    ]


def publish_demo(
    data: DemoData,
    *,
    periods: list[str] | None = None,
    workers: int | None = None,
    rounded_from: int | None = ROUNDED_FROM,
    min_households: int = DEFAULT_INFRA_MIN_HOUSEHOLDS,
    log: Callable[[str], None] = print,
) -> tuple[pd.DataFrame, dict]:
    """Rows (indicateur, niveau, code, periode, valeur, statut) of every published cell.

    Local cells of the Decembers from `rounded_from` on are rounded (None: every period goes
    through suppression, the regime of the older portal). An IRIS or QPV of fewer than
    `min_households` allocataires has every value of the period hidden."""
    global _DATA
    _DATA = data
    _STRUCTURE.clear()
    for local in (False, True):  # built before the workers fork, which inherit them
        _territories(data, 0, local)
    wanted = [i for i, p in enumerate(data.periods) if periods is None or p in periods]
    jobs = [
        Job(p, cols, suppressed_local(data, p, rounded_from), min_households)
        for p in wanted
        for cols in secret_tables()
    ]
    counts = tuple(c for t in secret_tables() for c in t)
    rounded = [p for p in wanted if _local(data, p) and not suppressed_local(data, p, rounded_from)]
    zone_jobs = [ZoneJob(p, counts, min_households) for p in rounded]
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    masks = HiddenMasks()
    stats_all = {"cells": 0, "primary": 0, "secondary": 0, "seconds": 0.0, "tables": 0}
    t0 = time.perf_counter()
    results = _execute([*jobs, *zone_jobs], workers)
    frames = _protected_rows(data, results[: len(jobs)], masks, stats_all)
    stats_all["seconds"] = round(time.perf_counter() - t0, 1)
    zone_stats = {"primary": 0, "secondary": 0}
    for result in results[len(jobs) :]:
        frames.extend(_rounded_rows(data, result, masks, zone_stats))
    # The zones run in the same pool as the tables: their own time is the sum of their jobs.
    zone_stats["seconds"] = round(sum(r[5].get("seconds", 0.0) for r in results[len(jobs) :]), 1)
    stats_all["zones_arrondies"] = zone_stats
    t1 = time.perf_counter()
    frames.extend(_derived(data, wanted, masks, rounded))
    rows = _whole_zones(pd.concat(frames, ignore_index=True))
    rows = _not_applicable(data, rows)
    stats_all["derived_seconds"] = round(time.perf_counter() - t1, 1)
    log(
        f"  secret statistique : {stats_all['tables']} tableaux, {stats_all['cells']} cellules, "
        f"{stats_all['primary'] + stats_all['secondary']} masquées ({stats_all['seconds']} s) ; "
        f"{len(rounded)} période(s) arrondie(s) aux niveaux locaux, "
        f"{zone_stats['primary'] + zone_stats['secondary']} cellule(s) de zones masquée(s) "
        f"({SMALL_ZONE_REASON.format(n=min_households)}, et leur protection ; "
        f"{zone_stats['seconds']} s) ; valeurs dérivées {stats_all['derived_seconds']} s"
    )
    meta = {
        "mode": "demonstration",
        "seuil_infra": min_households,
        "avertissement": DEMO_NOTICE,
        "graine": data.seed,
        "secret": stats_all,
        "arrondi_depuis": rounded_from,
        "periodes_arrondies": [data.periods[p] for p in rounded],
    }
    return rows, meta


def _aggregates(data: DemoData, terr: Territories, per_commune: np.ndarray) -> np.ndarray:
    """Sum a per-commune vector into every territory of `terr` (zones: NaN)."""
    out = np.full(len(terr), np.nan)
    n_c = len(data.communes)
    if (terr.level == "commune").any():
        out[:n_c] = per_commune
    for level, parent in terr.parents.items():
        if level == "epci" and not (terr.level == "epci").any():
            continue
        has = parent >= 0
        sums = np.zeros(len(terr))
        np.add.at(sums, parent[has], per_commune[has])
        idx = np.unique(parent[has])
        out[idx] = sums[idx]
    return out


def _derived(
    data: DemoData, wanted: list[int], masks: HiddenMasks, rounded: list[int]
) -> list[pd.DataFrame]:
    """Amounts, rates and unprotected counts, masked from the counts they derive from."""
    frames: list[pd.DataFrame] = []
    for p in track(wanted, "valeurs dérivées", unit="périodes"):
        frames.extend(_derived_period(data, p, masks, p in rounded))
    return frames


class _PeriodCells:
    """What a reader sees of one period: the value of any count or denominator (rounded at the
    rounded levels of a rounded period, exact elsewhere) and the hidden mask of each count."""

    def __init__(self, data: DemoData, p: int, masks: HiddenMasks, rounded: bool) -> None:
        self.data, self.p, self.masks = data, p, masks
        self.terr = _territories(data, p)
        self.nothing = np.zeros(len(self.terr), dtype=bool)
        self.at_rounded = np.isin(self.terr.level, ROUNDED_LEVELS) & rounded
        self.frames: list[pd.DataFrame] = []
        # Read-only arrays, kept: a denominator (allocataires) serves a dozen rates.
        self._hidden: dict[str, np.ndarray] = {}
        self._values: dict[str, np.ndarray] = {}

    def hidden_of(self, ind: str) -> np.ndarray:
        if ind not in self._hidden:
            self._hidden[ind] = self._hidden_of(ind)
        return self._hidden[ind]

    def _hidden_of(self, ind: str) -> np.ndarray:
        mask = self.masks.over((self.p, ind), self.terr)
        if mask is None or not under_secrecy(ind):
            return self.nothing
        # A cell the secrecy tables did not cover (a zone without that count) stays hidden.
        return mask

    def value(self, name: str) -> np.ndarray:
        if name not in self._values:
            self._values[name] = self._value(name)
        return self._values[name]

    def _value(self, name: str) -> np.ndarray:
        data = self.data
        source = data.counts.get(name, data.denominators.get(name))
        if source is None:
            source = data.amounts[name]
        raw = _aggregates(data, self.terr, source[:, self.p].astype(float))
        raw = self._exact_zones(name, raw)
        return np.where(self.at_rounded, round_to(raw, rounding_step(name)), raw)

    def _exact_zones(self, name: str, raw: np.ndarray) -> np.ndarray:
        """The arrondissements' own values (they are zones of their city, not aggregates)."""
        annual = {int(q): i for i, q in enumerate(self.data.annual_index)}
        for zone in EXACT_ZONES:
            rows = self.terr.zone_rows.get(zone)
            values = self.data.infra.get(zone, (None, {}))[1].get(name)
            if rows is not None and values is not None and self.p in annual:
                raw[rows] = values[:, annual[self.p]]
        return raw

    def emit(self, ind: str, values: np.ndarray, hide: np.ndarray) -> None:
        """Rows of national and local territories, arrondissements included (no derived value
        for the infra-communal zones)."""
        where = ~np.isin(self.terr.level, list(INFRA_KINDS))
        status = np.where(hide, SECRET, np.where(np.isnan(values), MISSING, PUBLISHED))
        rows = _rows(
            ind, self.terr, np.flatnonzero(where), self.data.periods[self.p], values[where]
        )
        rows["statut"] = status[where]
        rows.loc[rows["statut"] != PUBLISHED, "valeur"] = np.nan
        self.frames.append(rows)


def _derived_period(
    data: DemoData, p: int, masks: HiddenMasks, rounded: bool
) -> list[pd.DataFrame]:
    """Amounts paid (hidden with their households), places (public) and rates."""
    cells = _PeriodCells(data, p, masks, rounded)
    for amount, count in DESCRIBES.items():
        if amount in data.amounts:  # amounts paid, hidden with their households
            cells.emit(amount, round_to(cells.value(amount), 100), cells.hidden_of(count))
    for ind in CURATED.indicators:
        if ind.nature == COUNT and not under_secrecy(ind.id) and ind.id in data.counts:
            cells.emit(ind.id, cells.value(ind.id), cells.nothing)  # places: no household
    for ind in CURATED.indicators:
        if ind.is_rate and ind.computed_from:
            _emit_rate(cells, ind.id, *ind.computed_from)
    return cells.frames


def _emit_rate(cells: _PeriodCells, ind: str, num: str, den: str) -> None:
    """A rate, hidden with a hidden numerator or denominator; at rounded levels computed from
    the rounded counts, and not computed below MIN_ROUNDED_DENOMINATOR."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.round(100 * cells.value(num) / cells.value(den), 1)
    rate[~np.isfinite(rate)] = np.nan
    # Hidden even where the rate is undefined: "no data" would reveal a zero denominator.
    hide = mask_rate(cells.hidden_of(num), cells.hidden_of(den))
    if is_rounded_rate(ind):
        hide |= cells.at_rounded & (cells.value(den) < MIN_ROUNDED_DENOMINATOR)
    cells.emit(ind, rate, hide)


def _whole_zones(rows: pd.DataFrame) -> pd.DataFrame:
    """An IRIS or QPV whose allocataires are secret has every value of the period secret: a
    value published beside them would tell that the zone has at least the threshold's
    allocataires, i.e. why they are hidden (each secrecy table is protected alone; hiding
    more cells only widens what an attacker can infer)."""
    zone = np.flatnonzero(rows["niveau"].isin(tuple(INFRA_KINDS)).to_numpy())
    if not zone.size:
        return rows
    # Only the zones' rows, each place folded into one integer (no index over every row).
    sub = rows.iloc[zone]
    place = np.zeros(zone.size, dtype=np.int64)
    for column in ("niveau", "code", "periode"):
        codes, uniques = pd.factorize(sub[column])
        place = place * len(uniques) + codes
    status = sub["statut"].to_numpy()
    alloc = (sub["indicateur"] == "allocataires").to_numpy() & (status == SECRET)
    hit = zone[np.isin(place, place[alloc]) & (status == PUBLISHED)]
    rows.loc[rows.index[hit], "statut"] = SECRET
    rows.loc[rows.index[hit], "valeur"] = np.nan
    return rows


def _not_applicable(data: DemoData, rows: pd.DataFrame) -> pd.DataFrame:
    """Cells of a benefit that did not exist yet (prime d'activité before 2016)."""
    sel = np.zeros(len(rows), dtype=bool)
    for ind, mask in data.not_applicable.items():
        periods = [p for p, m in zip(data.periods, mask, strict=True) if m]
        sel |= (rows["indicateur"].eq(ind) & rows["periode"].isin(periods)).to_numpy()
    # Set once: writing into a text column costs about the same for one row or a million.
    rows.loc[sel, "statut"] = NOT_APPLICABLE
    rows.loc[sel, "valeur"] = np.nan
    return rows
