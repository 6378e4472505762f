"""Build the published demonstration cells: demo values -> secrecy -> rows for the store."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.catalogue import INDICATORS
from layers.demo import DEMO_NOTICE, DemoData
from layers.periods import decembers
from layers.publish import LINKED_TABLES, Territories, build_table, protect_table, territories
from layers.secrecy import mask_rate
from layers.store import MISSING, NOT_APPLICABLE, PUBLISHED, SECRET

# Counts that describe households go through secrecy; places in crèches do not (facilities are
# public, and a place is not a household).
NOT_SECRET = {"places_eaje"}
AMOUNT_OF = {"rsa_montant": "rsa", "ppa_montant": "ppa"}

_DATA: DemoData | None = None  # shared with forked workers (copy-on-write)


@dataclass
class Job:
    period: int
    columns: tuple[str, ...]


def secret_tables() -> list[tuple[str, ...]]:
    linked = {c for table in LINKED_TABLES for c in table}
    singles = [
        (i.id,)
        for i in INDICATORS
        if i.nature == "effectif" and i.id not in linked and i.id not in NOT_SECRET
    ]
    return [*LINKED_TABLES, *singles]


def _local(data: DemoData, period: int) -> bool:
    return data.periods[period] in set(decembers())


def _territories(data: DemoData, period: int) -> Territories:
    return territories(data, local=_local(data, period), infra=("iris", "qpv"))


def _run(job: Job) -> tuple[Job, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
    data = _DATA
    terr = _territories(data, job.period)
    table = build_table(data, terr, job.columns, job.period, _local(data, job.period))
    hidden, stats = protect_table(table)
    return job, table.cell_terr, table.cell_col, table.values, hidden, stats


def publish_demo(
    data: DemoData,
    *,
    periods: list[str] | None = None,
    workers: int | None = None,
    log: Callable[[str], None] = print,
) -> tuple[pd.DataFrame, dict]:
    """Rows (indicateur, niveau, code, periode, valeur, statut) of every published cell."""
    global _DATA
    _DATA = data
    wanted = [i for i, p in enumerate(data.periods) if periods is None or p in periods]
    jobs = [Job(p, cols) for p in wanted for cols in secret_tables()]
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    frames: list[pd.DataFrame] = []
    masks: dict[tuple[int, str], pd.Series] = {}
    stats_all = {"cells": 0, "primary": 0, "secondary": 0, "seconds": 0.0, "tables": 0}
    t0 = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_run, jobs, chunksize=1))
    else:
        results = [_run(job) for job in jobs]
    for job, cell_terr, cell_col, values, hidden, stats in results:
        terr = _territories(data, job.period)
        period = data.periods[job.period]
        for k, ind in enumerate(job.columns):
            sel = cell_col == k
            rows = pd.DataFrame(
                {
                    "indicateur": ind,
                    "niveau": terr.level[cell_terr[sel]],
                    "code": terr.code[cell_terr[sel]],
                    "periode": period,
                    "valeur": np.where(hidden[sel], np.nan, values[sel]).astype(float),
                    "statut": np.where(hidden[sel], SECRET, PUBLISHED),
                }
            )
            frames.append(rows)
            masks[(job.period, ind)] = pd.Series(
                hidden[sel], index=pd.MultiIndex.from_arrays([rows["niveau"], rows["code"]])
            )
        for key in ("cells", "primary", "secondary"):
            stats_all[key] += stats[key]
        stats_all["tables"] += 1
    stats_all["seconds"] = round(time.perf_counter() - t0, 1)
    frames.extend(_derived(data, wanted, masks))
    rows = pd.concat(frames, ignore_index=True)
    rows = _not_applicable(data, rows)
    log(
        f"  secret statistique : {stats_all['tables']} tableaux, {stats_all['cells']} cellules, "
        f"{stats_all['primary'] + stats_all['secondary']} masquées ({stats_all['seconds']} s)"
    )
    meta = {
        "mode": "demonstration",
        "avertissement": DEMO_NOTICE,
        "graine": data.seed,
        "secret": stats_all,
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


def _derived(data: DemoData, wanted: list[int], masks) -> list[pd.DataFrame]:
    """Amounts, rates and unprotected counts, masked from the counts they derive from."""
    frames: list[pd.DataFrame] = []
    for p in wanted:
        frames.extend(_derived_period(data, p, masks))
    return frames


def _derived_period(data: DemoData, p: int, masks) -> list[pd.DataFrame]:
    terr = _territories(data, p)
    period = data.periods[p]
    national_or_local = ~np.isin(terr.level, ("iris", "qpv"))
    index = pd.MultiIndex.from_arrays([terr.level, terr.code])
    nothing = np.zeros(len(terr), dtype=bool)
    frames = []

    def hidden_of(ind: str) -> np.ndarray:
        mask = masks.get((p, ind))
        if mask is None or ind in NOT_SECRET:
            return nothing
        # A cell the secrecy tables did not cover (a zone without that count) stays hidden.
        return mask.reindex(index, fill_value=True).to_numpy(dtype=bool)

    def raw(name: str) -> np.ndarray:
        source = data.counts.get(name, data.denominators.get(name))
        if source is None:
            source = data.amounts[name]
        return _aggregates(data, terr, source[:, p].astype(float))

    def emit(ind: str, value: np.ndarray, hide: np.ndarray) -> None:
        where = national_or_local
        status = np.where(hide, SECRET, np.where(np.isnan(value), MISSING, PUBLISHED))
        frames.append(
            pd.DataFrame(
                {
                    "indicateur": ind,
                    "niveau": terr.level[where],
                    "code": terr.code[where],
                    "periode": period,
                    "valeur": np.where(status == PUBLISHED, value, np.nan)[where],
                    "statut": status[where],
                }
            )
        )

    for amount, count in AMOUNT_OF.items():
        emit(amount, np.round(raw(amount) / 100) * 100, hidden_of(count))
    emit("places_eaje", raw("places_eaje"), nothing)
    for ind in INDICATORS:
        if ind.nature != "taux" or not ind.computed_from:
            continue
        num, den = ind.computed_from
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.round(100 * raw(num) / raw(den), 1)
        rate[~np.isfinite(rate)] = np.nan
        # Hidden even where the rate is undefined: "no data" would reveal a zero denominator.
        emit(ind.id, rate, mask_rate(hidden_of(num), hidden_of(den)))
    return frames


def _not_applicable(data: DemoData, rows: pd.DataFrame) -> pd.DataFrame:
    """Cells of a benefit that did not exist yet (prime d'activité before 2016)."""
    for ind, mask in data.not_applicable.items():
        periods = [p for p, m in zip(data.periods, mask, strict=True) if m]
        sel = rows["indicateur"].eq(ind) & rows["periode"].isin(periods)
        rows.loc[sel, "statut"] = NOT_APPLICABLE
        rows.loc[sel, "valeur"] = np.nan
    return rows
