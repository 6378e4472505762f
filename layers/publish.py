"""From raw demonstration values to publishable cells: secrecy applied table by table.

A *table* is one period and a set of linked indicators (a total and its breakdowns, or a single
count) over every territory where they exist: communes, their aggregates (EPCI, département,
région, Caf, France) and the infra-communal zones (IRIS, QPV). Its relations are the geographic
sums (communes -> EPCI, -> département -> région -> France, -> Caf; zones within their commune)
and the breakdown sums (total = sum of parts, per territory). `layers.secrecy.protect` chooses
the hidden cells; only published values leave this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from layers.audit import Relations
from layers.catalogue import BREAKDOWNS
from layers.config import DEFAULT_INFRA_MIN_HOUSEHOLDS
from layers.demo import DemoData
from layers.household_links import link_groups, mirrored_pairs
from layers.model import INFRA, LEVELS, levels_of_tier, parent_levels
from layers.secrecy import primary_mask, protect

# Where the communes' values sum: EPCI, Caf, département, région, France.
AGGREGATE_LEVELS = parent_levels("commune")
# Zones within a commune: the municipal arrondissements (their city is exactly their sum), then
# the infra-communal zones (within their commune, some households left out).
EXACT_ZONES = tuple(lv.composite[1] for lv in LEVELS if lv.composite)
ZONE_LEVELS = (*EXACT_ZONES, *levels_of_tier(INFRA))
# Runs per group of "protect, then hide the mirrored cells" before giving up (1 or 2 suffice).
MAX_LINK_ROUNDS = 8


def linked_tables(counts: list[str]) -> list[tuple[str, ...]]:
    """Secrecy tables of `counts` (in order): a total with all its breakdowns (the catalogue's
    `[breakdowns]`) and the counts describing the same households (persons covered) form one
    table; every other count is a table of its own."""
    tables = [
        (total.split("@")[0], *parts)
        for total, parts in BREAKDOWNS.items()
        if all(c in counts for c in (total.split("@")[0], *parts))
    ]
    return link_groups([*tables, *((c,) for c in counts)])


@dataclass
class Territories:
    """Every territory of a period, in one index space, and who sums into whom."""

    level: np.ndarray  # per territory
    code: np.ndarray
    commune_row: np.ndarray  # row in DemoData.communes (communes and zones), else -1
    parents: dict[str, np.ndarray]  # per commune: territory index of its EPCI / dep / ... or -1
    zone_rows: dict[str, np.ndarray]  # infra level -> territory indices of its zones
    zone_parent: dict[str, np.ndarray]  # infra level -> territory index of each zone's commune
    # infra level -> per zone: the zones of its commune partition it (IRIS of a split commune)
    zone_exact: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.code)


def territories(data: DemoData, *, local: bool, infra: Iterable[str] = ()) -> Territories:
    """National levels always; communes, EPCI and the given infra levels when `local`."""
    com = data.communes
    n_c = len(com)
    levels: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    parents: dict[str, np.ndarray] = {}
    start = 0

    def add(level: str, values: np.ndarray) -> int:
        nonlocal start
        first = start
        levels.append(np.full(len(values), level, dtype=object))
        codes.append(values.astype(object))
        start += len(values)
        return first

    if local:
        add("commune", com["code"].to_numpy())
    columns = {"epci": "epci", "departement": "departement", "region": "region", "caf": "caf"}
    for level, column in columns.items():
        if level == "epci" and not local:
            continue
        keys = com[column].fillna("").to_numpy(dtype=str)
        uniq = np.unique(keys[keys != ""])
        first = add(level, uniq)
        pos = np.searchsorted(uniq, keys)
        parent = np.where(keys != "", first + np.minimum(pos, len(uniq) - 1), -1)
        parents[level] = parent
    first = add("france", np.array(["FR"]))
    parents["france"] = np.full(n_c, first)

    commune_row = np.full(start, -1)
    if local:
        commune_row[:n_c] = np.arange(n_c)
    zone_rows: dict[str, np.ndarray] = {}
    zone_parent: dict[str, np.ndarray] = {}
    zone_exact: dict[str, np.ndarray] = {}
    row_of = pd.Series(np.arange(n_c), index=com["code"].to_numpy())
    for name in infra if local else ():
        if name not in data.infra:
            continue
        zones, _ = data.infra[name]
        first = add(name, zones["code"].to_numpy())
        rows = zones["commune"].map(row_of).to_numpy()
        zone_rows[name] = np.arange(first, first + len(zones))
        zone_parent[name] = rows.astype(int)  # commune territory index == commune row
        exact = zones["partition"] if "partition" in zones else pd.Series(False, zones.index)
        # Arrondissements make up their city; the IRIS of a split commune make it up too.
        zone_exact[name] = exact.to_numpy(dtype=bool) | (name in EXACT_ZONES)
        commune_row = np.r_[commune_row, rows.astype(int)]
    return Territories(
        np.concatenate(levels),
        np.concatenate(codes),
        commune_row,
        parents,
        zone_rows,
        zone_parent,
        zone_exact,
    )


def _aggregate(terr: Territories, commune_values: np.ndarray, local: bool) -> np.ndarray:
    """Values of every territory: communes summed into each aggregate level."""
    out = np.zeros(len(terr), dtype=np.int64)
    if not commune_values.any():  # the audit's structure: ~4 s of its workers' CPU for zeros
        return out
    n_c = len(commune_values)
    if local:
        out[:n_c] = commune_values
    for level, parent in terr.parents.items():
        if level == "epci" and not local:
            continue
        has = parent >= 0
        np.add.at(out, parent[has], commune_values[has])
    return out


@dataclass
class Table:
    """One period's linked indicators as cells (territory, column) with their relations."""

    columns: tuple[str, ...]
    cell_terr: np.ndarray  # per cell
    cell_col: np.ndarray
    values: np.ndarray
    relations: Relations
    zone_kind: np.ndarray  # per cell: level name
    allocataires: np.ndarray  # per cell: allocataires of its territory (commune/zone rules)


def build_table(
    data: DemoData,
    terr: Territories,
    columns: tuple[str, ...],
    period: int,
    local: bool,
    *,
    relations_cache: dict | None = None,
) -> Table:
    """Cells and relations of `columns` at period index `period`.

    `relations_cache` (one per `data` and `terr`) keeps the relations of each table: they
    depend only on which cells exist, the same every month, and building them is most of the
    time of a national table."""
    annual = {int(p): i for i, p in enumerate(data.annual_index)}
    values, present = _cell_values(data, terr, columns, period, local, annual)
    index = np.full(present.shape, -1)
    index[present] = np.arange(int(present.sum()))
    cell_terr, cell_col = np.nonzero(present)
    cached = (relations_cache or {}).get((columns, local))
    if cached is not None and np.array_equal(cached[0], present):
        relations = cached[1]
    else:
        relations = _relations(data, terr, columns, index, local)
        if relations_cache is not None:
            relations_cache[(columns, local)] = (present, relations)
    alloc = _aggregate(terr, data.counts["allocataires"][:, period].astype(np.int64), local)
    for name, rows in terr.zone_rows.items():
        zones_vals = _zone_values(data, name, "allocataires", period, annual)
        if zones_vals is not None:
            alloc[rows] = zones_vals
    return Table(
        columns,
        cell_terr,
        cell_col,
        values[present],
        relations,
        terr.level[cell_terr],
        alloc[cell_terr],
    )


def _zone_values(
    data: DemoData, name: str, ind: str, period: int, annual: dict[int, int]
) -> np.ndarray | None:
    """Values of `ind` in the zones of infra level `name`, None when the zones do not carry it
    or `period` is not a published (December) one."""
    zones_vals = data.infra[name][1].get(ind)
    if zones_vals is None or period not in annual:
        return None
    return zones_vals[:, annual[period]]


def _cell_values(
    data: DemoData,
    terr: Territories,
    columns: tuple[str, ...],
    period: int,
    local: bool,
    annual: dict[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Values (territories x columns) and where a cell exists."""
    n_t = len(terr)
    present = np.zeros((n_t, len(columns)), dtype=bool)
    values = np.zeros((n_t, len(columns)), dtype=np.int64)
    for k, ind in enumerate(columns):
        values[:, k] = _aggregate(terr, data.counts[ind][:, period].astype(np.int64), local)
        present[:, k] = terr.commune_row >= 0
        present[:, k] |= np.isin(terr.level, AGGREGATE_LEVELS)
        for name, rows in terr.zone_rows.items():
            zones_vals = _zone_values(data, name, ind, period, annual)
            present[rows, k] = zones_vals is not None
            if zones_vals is not None:
                values[rows, k] = zones_vals
    return values, present


Pairs = list[tuple[np.ndarray, np.ndarray]]


def _relations(
    data: DemoData, terr: Territories, columns: tuple[str, ...], index: np.ndarray, local: bool
) -> Relations:
    """Geographic sums of each column, then the breakdowns of each territory. `index` is the
    cell of each (territory, column), -1 where none."""
    cols = [index[:, k] for k in range(len(columns))]
    general_rows: Pairs = []  # sum(left) = sum(right)
    if local:
        eq_rows = [pair for col in cols for pair in _commune_sums(terr, col, len(data.communes))]
    else:
        eq_rows, general_rows = _departement_sums(data, terr, cols)
    le_rows = [pair for col in cols for pair in _zone_sums(terr, col, exact=False)]
    eq_rows += [pair for col in cols for pair in _zone_sums(terr, col, exact=True)]
    eq_rows += _breakdown_sums(columns, index)
    n_cells = int((index >= 0).sum())
    eq = sp.vstack([_matrix(eq_rows, n_cells), _balance(general_rows, n_cells)], format="csr")
    return Relations(eq, _matrix(le_rows, n_cells))


def _commune_sums(terr: Territories, col: np.ndarray, n_c: int) -> Pairs:
    """(total cells, part cells): communes into each aggregate level."""
    pairs = []
    for parent in terr.parents.values():
        has = parent >= 0
        pairs.append((col[parent[has]], col[np.arange(n_c)[has]]))
    return pairs


def _departement_sums(
    data: DemoData, terr: Territories, cols: list[np.ndarray]
) -> tuple[Pairs, Pairs]:
    """Without communes: départements add up to régions and France (equalities), and the Caf
    of a group of départements add up to them (Landes + Pyrénées-Atlantiques = 3 Caf)."""
    deps = np.flatnonzero(terr.level == "departement")
    dep_of = _dep_parents(data, terr)
    groups = _caf_groups(data, terr)
    eq_rows = [(col[dep_of[level]], col[deps]) for col in cols for level in ("region", "france")]
    general_rows = [(col[cafs], col[dep_cells]) for col in cols for cafs, dep_cells in groups]
    return eq_rows, general_rows


def _zone_sums(terr: Territories, col: np.ndarray, *, exact: bool) -> Pairs:
    """(commune cells, zone cells) for the levels carrying `col`: the IRIS of a split commune
    add up to it (`exact`), other zones (QPV, IRIS of a partial sample) lie within it."""
    pairs = []
    for name, rows in terr.zone_rows.items():
        if not len(rows) or col[rows[0]] < 0:
            continue
        keep = terr.zone_exact.get(name, np.zeros(len(rows), bool)) == exact
        if keep.any():
            pairs.append((col[terr.zone_parent[name][keep]], col[rows[keep]]))
    return pairs


def _breakdown_sums(columns: tuple[str, ...], index: np.ndarray) -> Pairs:
    """(total cells, part cells) of each breakdown in each territory having all its cells: per
    breakdown, the totals (one per territory) and the parts (a row per territory)."""
    pairs = []
    for total, *parts in _breakdowns(columns):
        cells = index[:, [total, *parts]]
        cells = cells[(cells >= 0).all(axis=1)]
        if len(cells):
            pairs.append((cells[:, 0], cells[:, 1:]))
    return pairs


def _dep_parents(data: DemoData, terr: Territories) -> dict[str, np.ndarray]:
    deps = terr.code[terr.level == "departement"]
    com = data.communes.drop_duplicates("departement").set_index("departement")
    reg_index = {c: i for i, c in enumerate(terr.code) if terr.level[i] == "region"}
    fr = int(np.flatnonzero(terr.level == "france")[0])
    return {
        "region": np.array([reg_index[com.loc[d, "region"]] for d in deps]),
        "france": np.full(len(deps), fr),
    }


def _breakdowns(columns: tuple[str, ...]) -> list[list[int]]:
    out = []
    for total, parts in BREAKDOWNS.items():
        name = total.split("@")[0]
        if name in columns and all(p in columns for p in parts):
            out.append([columns.index(name), *(columns.index(p) for p in parts)])
    return out


def _caf_groups(data: DemoData, terr: Territories) -> list[tuple[np.ndarray, np.ndarray]]:
    """(Caf territory indices, département indices) covering the same communes."""
    pairs = data.communes[["caf", "departement"]].drop_duplicates()
    index = {
        (lvl, code): i for i, (lvl, code) in enumerate(zip(terr.level, terr.code, strict=True))
    }
    groups: list[tuple[set, set]] = []
    for caf, dep in pairs.itertuples(index=False):
        hit = [g for g in groups if caf in g[0] or dep in g[1]]
        merged = ({caf}, {dep})
        for g in hit:
            merged[0].update(g[0])
            merged[1].update(g[1])
            groups.remove(g)
        groups.append(merged)
    return [
        (
            np.array([index[("caf", c)] for c in sorted(cafs)]),
            np.array([index[("departement", d)] for d in sorted(deps)]),
        )
        for cafs, deps in groups
    ]


def _balance(pairs: list[tuple[np.ndarray, np.ndarray]], n_cells: int) -> sp.csr_matrix:
    """One row per pair: +1 on the left cells, -1 on the right cells."""
    rows, cols, vals = [], [], []
    for r, (left, right) in enumerate(pairs):
        rows.append(np.full(len(left) + len(right), r))
        cols.append(np.r_[left, right])
        vals.append(np.r_[np.ones(len(left)), -np.ones(len(right))])
    if not rows:
        return sp.csr_matrix((0, n_cells))
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(pairs), n_cells),
    )


def _matrix(pairs: list[tuple[np.ndarray, np.ndarray]], n_cells: int) -> sp.csr_matrix:
    """Rows "parts - total" from (total cells, part cells) pairs: either totals with a 2-D array
    of parts (breakdowns: row i of the parts adds up to total i), or aligned arrays where part k
    belongs to total k (a hierarchy)."""
    rows, cols, vals = [], [], []
    next_row = 0
    for totals, parts in pairs:
        totals = np.asarray(totals)
        parts = np.asarray(parts)
        if parts.ndim == 2:
            # breakdowns: one relation per row of parts, its parts then its total
            n, k = parts.shape
            rows.append(np.repeat(np.arange(next_row, next_row + n), k + 1))
            cols.append(np.c_[parts, totals].ravel())
            vals.append(np.tile(np.r_[np.ones(k), -1.0], n))
            next_row += n
            continue
        uniq, inverse = np.unique(totals, return_inverse=True)
        keep = uniq >= 0
        rel_of = np.cumsum(keep) - 1 + next_row
        ok = (totals >= 0) & (parts >= 0)
        rows.append(rel_of[inverse[ok]])
        cols.append(parts[ok])
        vals.append(np.ones(int(ok.sum())))
        rows.append(rel_of[np.flatnonzero(keep)])
        cols.append(uniq[keep])
        vals.append(-np.ones(int(keep.sum())))
        next_row += int(keep.sum())
    if not rows:
        return sp.csr_matrix((0, n_cells))
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(next_row, n_cells),
    )


def protect_table(
    table: Table,
    threshold: int = 5,
    protection: float = 5,
    *,
    min_households: int = DEFAULT_INFRA_MIN_HOUSEHOLDS,
) -> tuple[np.ndarray, dict]:
    """Hidden mask of a table (primary + secondary) and the run's statistics.

    Columns describing the same households (allocataires and persons covered) are hidden
    together, territory by territory. The table splits into groups of columns no relation
    joins (a total with its breakdowns; the persons covered), each protected alone in turn;
    the cells mirrored from a group's mask join the hidden cells of the others, and a group
    that gained some runs again, until the masks agree."""
    primary = primary_mask(
        table.values,
        threshold,
        zone_kind=table.zone_kind,
        allocataires=table.allocataires,
        min_allocataires=min_households,
    )
    groups = _column_groups(table)
    forced = primary | mirror_mask(table, primary)
    hidden = forced.copy()
    todo = list(range(len(groups)))  # the total's group first, then its mirrors
    runs = 0
    while todo and runs < MAX_LINK_ROUNDS * len(groups):
        runs += 1
        cells, relations = groups[todo.pop(0)]
        result = protect(
            table.values[cells],
            relations,
            forced[cells],
            threshold=threshold,
            protection=protection,
        )
        hidden[cells] = result.hidden
        gained = mirror_mask(table, hidden) & ~hidden
        forced |= hidden | gained
        hidden |= gained
        todo += [g for g, (c, _) in enumerate(groups) if gained[c].any() and g not in todo]
    stats = {
        "cells": int(table.values.size),
        "primary": int(primary.sum()),
        "secondary": int((hidden & ~primary).sum()),
        "protect_runs": runs,
        "share_cells_hidden": float(hidden.mean()) if hidden.size else 0.0,
    }
    return hidden, stats


def _column_groups(table: Table) -> list[tuple[np.ndarray, Relations]]:
    """(cells, relations) of each group of columns joined by relations, in column order."""
    a = sp.vstack([table.relations.eq, table.relations.le], format="coo")
    n_cols = len(table.columns)
    links = sp.coo_matrix(
        (np.ones(a.nnz), (a.row, table.cell_col[a.col])), shape=(a.shape[0], n_cols)
    ).tocsc()
    graph = (links.T @ links).tocsr()
    _, label = connected_components(graph, directed=False)
    out = []
    for g in dict.fromkeys(label.tolist()):
        cells = np.flatnonzero(np.isin(table.cell_col, np.flatnonzero(label == g)))
        eq, le = table.relations.eq[:, cells], table.relations.le[:, cells]
        eq = eq[np.flatnonzero(np.diff(eq.indptr))]
        le = le[np.flatnonzero(np.diff(le.indptr))]
        out.append((cells, Relations(eq.tocsr(), le.tocsr())))
    return out


def mirror_mask(table: Table, hidden: np.ndarray) -> np.ndarray:
    """Cells to hide because the cell of the same territory in a mirrored column is hidden."""
    out = np.zeros_like(hidden)
    n_terr = int(table.cell_terr.max()) + 1 if table.cell_terr.size else 0
    for a, b in mirrored_pairs(table.columns):
        ca, cb = table.columns.index(a), table.columns.index(b)
        cell_a = np.full(n_terr, -1)
        cell_b = np.full(n_terr, -1)
        cell_a[table.cell_terr[table.cell_col == ca]] = np.flatnonzero(table.cell_col == ca)
        cell_b[table.cell_terr[table.cell_col == cb]] = np.flatnonzero(table.cell_col == cb)
        both = (cell_a >= 0) & (cell_b >= 0)
        either = hidden[cell_a[both]] | hidden[cell_b[both]]
        out[cell_a[both][either]] = True
        out[cell_b[both][either]] = True
    return out
