"""The demonstration store's cells as the audit reads them: by position, not by key.

`audit_store` (`layers/build_store.py`) audits every secrecy table of every stored period:
616 jobs nationally. Finding each table's cells among the stored rows with a pandas
`MultiIndex` (indicator, level, code), and rebuilding the territories and relations per job,
took about 48 s of CPU, a fifth of the whole audit. Here the stored rows of a period are
turned once into (indicator, territory) positions, the territories are built once per process
and the relations once per table shape (`build_table`'s cache, checked against the cells).
The jobs run on two processes the heaviest first (`longest_first`): in period order, a
suppressed December's household table (a quarter of a minute) could start last.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from layers.demo import DemoData
from layers.demo_store import _local
from layers.publish import Table, Territories, territories
from layers.store import PUBLISHED

J = TypeVar("J")
R = TypeVar("R")


@dataclass(frozen=True)
class PeriodCells:
    """The stored rows of the secrecy tables at one period, one entry per row."""

    indicator: np.ndarray  # index into `indicators`
    indicators: pd.Index
    terr: np.ndarray  # territory index, -1 for a code the territories do not know
    value: np.ndarray  # float, NaN where not published
    published: np.ndarray  # bool


class PeriodRows(Mapping[str, pa.Table]):
    """The stored rows of each `wanted` period (its code in `period`, its name in `names`),
    taken from one table of all periods when a job asks.

    The store is not sorted by period: splitting its ~10 million rows into one table per
    period in the parent (a filter per period) cost ~1.3 s of serial CPU before the workers
    fork; a sort of the period codes (radix, int16) costs ~0.2 s, and each worker takes only
    the periods of its jobs (~10 ms each). Rows keep their stored order within a period."""

    def __init__(
        self, table: pa.Table, period: np.ndarray, names: list[str], wanted: set[str]
    ) -> None:
        self._order = np.argsort(period, kind="stable")
        bounds = np.searchsorted(period[self._order], np.arange(len(names) + 1))
        # One contiguous table: a take from the read's ~70 chunks cost ~0.25 s a period.
        self._table = table.combine_chunks()
        self._spans = {
            str(name): (int(bounds[k]), int(bounds[k + 1]))
            for k, name in enumerate(names)
            if bounds[k + 1] > bounds[k] and name in wanted
        }

    def __getitem__(self, period: str) -> pa.Table:
        start, end = self._spans[period]
        return self._table.take(self._order[start:end])

    def __iter__(self) -> Iterator[str]:
        return iter(self._spans)

    def __len__(self) -> int:
        return len(self._spans)


def period_cells(rows: pa.Table, terr: Territories) -> PeriodCells:
    """Positions of the stored rows `rows` (indicateur, niveau, code, valeur, statut)."""
    ind, indicators = _encoded(rows["indicateur"])
    level, levels = _encoded(rows["niveau"])
    code = rows["code"].cast(pa.string()).combine_chunks()
    at = np.full(len(rows), -1, dtype=np.int64)
    for k, name in enumerate(levels):
        slots = np.flatnonzero(terr.level == name)
        if not slots.size:
            continue
        mine = level == k
        known = pa.array(terr.code[slots].astype(str))
        pos = pc.index_in(code.filter(pa.array(mine)), value_set=known)
        pos = pos.fill_null(-1).to_numpy(zero_copy_only=False)
        at[mine] = np.where(pos >= 0, slots[pos], -1)
    published = pc.equal(rows["statut"].cast(pa.string()), PUBLISHED)
    published = published.fill_null(False).to_numpy(zero_copy_only=False)
    value = rows["valeur"].cast(pa.float64()).to_numpy(zero_copy_only=False)
    return PeriodCells(ind, pd.Index(indicators), at, np.where(published, value, np.nan), published)


def _encoded(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Code of each entry and the distinct strings (a hash, not a sort of the strings)."""
    enc = pc.dictionary_encode(column.cast(pa.string()).combine_chunks())
    return enc.indices.to_numpy(zero_copy_only=False), enc.dictionary.to_pylist()


def published_cells(
    cells: PeriodCells | None, n_terr: int, table: Table
) -> tuple[np.ndarray, np.ndarray]:
    """Published value (NaN where hidden) and hidden mask of each cell of `table`. A cell
    without a stored row (none at all: `cells` None), or stored but not published, is hidden."""
    n = table.cell_terr.size
    if cells is None:
        return np.full(n, np.nan), np.ones(n, dtype=bool)
    index = np.full((n_terr, len(table.columns)), -1, dtype=np.int64)
    index[table.cell_terr, table.cell_col] = np.arange(n)
    column = pd.Index(table.columns).get_indexer(cells.indicators)[cells.indicator]
    sel = np.flatnonzero((column >= 0) & (cells.terr >= 0))
    cell = index[cells.terr[sel], column[sel]]
    sel, cell = sel[cell >= 0], cell[cell >= 0]
    hidden = np.ones(n, dtype=bool)
    published = np.full(n, np.nan)
    hidden[cell] = ~cells.published[sel]
    published[cell] = cells.value[sel]
    return published, hidden


class AuditTables:
    """Per process: the territories (one set with local levels, one without), the relations
    of each table shape, and the positions of the last periods' stored rows (`rows`: one
    Arrow table per period, as `_secrecy_rows` reads them)."""

    def __init__(
        self,
        structure: DemoData,
        infra: tuple[str, ...],
        rows: Mapping[str, pa.Table],
        keep_periods: int = 6,
    ) -> None:
        self.structure, self.infra, self.rows, self.keep = structure, infra, rows, keep_periods
        self._terr: dict[bool, Territories] = {}
        self.relations: dict = {}  # build_table's relations_cache, for both sets
        self._cells: OrderedDict[str, PeriodCells | None] = OrderedDict()

    def territories(self, local: bool) -> Territories:
        if local not in self._terr:
            self._terr[local] = territories(self.structure, local=local, infra=self.infra)
        return self._terr[local]

    def cells(self, period: str, local: bool) -> PeriodCells | None:
        """`period_cells` of a period (None when nothing is stored at it), kept for the next
        jobs of the same period."""
        if period not in self._cells:
            rows = self.rows.get(period)
            terr = self.territories(local)
            self._cells[period] = None if rows is None else period_cells(rows, terr)
            while len(self._cells) > self.keep:
                self._cells.popitem(last=False)
        return self._cells[period]


def job_weight(structure: DemoData, p: int, columns: tuple[str, ...], rounded: set[str]) -> float:
    """Rough cost of auditing `columns` at period index `p`, for the order of the jobs. On the
    national store: a suppressed December's 10-column household table about 16 s, its 4-column
    housing table 5 s, a single count 0.1 s (its secret cells pooled: `audit.pool_classes`),
    which leaves them to fill the end; a rounded December's tables 0-3 s (few secret cells); a
    national-only period's next to nothing."""
    if not _local(structure, p):
        return 0.01 * len(columns)
    if structure.periods[p] in rounded:
        return 0.3 * len(columns)
    return float(len(columns)) ** 1.5


def longest_first(
    fn: Callable[[J], R], jobs: list[J], weights: list[float], workers: int
) -> list[R]:
    """`fn` of each job on `workers` forked processes, one job at a time, the heaviest first
    (so that no worker starts a long job when the other is nearly done); results in the jobs'
    order."""
    order = sorted(range(len(jobs)), key=lambda i: -weights[i])
    with ProcessPoolExecutor(workers) as pool:
        done = list(pool.map(fn, [jobs[i] for i in order], chunksize=1))
    results: list = [None] * len(jobs)
    for k, i in enumerate(order):
        results[i] = done[k]
    return results
