"""Statistical secrecy for additive tables: primary cells, secondary suppression, derived values.

Generic (no geography): cells with non-negative integer values and linear relations between them
(`Relations`, built with `build_relations` from parent -> children mappings). The method follows
SECRECY.md:

1. primary cells (`primary_mask`): counts 1..threshold-1, small infra-communal zones and
   communes;
2. quick pass, until stable: no relation with a single hidden cell, hidden cells of a relation
   adding up to at least the threshold, a single-contributor cell protected by two others;
3. exact recovery check: a hidden cell is recoverable when its unit vector lies in the row space
   of the relations restricted to the hidden cells (`recoverable`);
4. interval check and repair, per component of hidden cells: each hidden cell must range over at
   least `protection` values given everything published; when not, a small min-cost LP around
   the cell finds the cheapest published cells whose hiding lets the cell move by `protection`.

The reason of a hidden cell (primary or secondary) is internal: only `hidden` may be published.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from layers.audit import (
    TOL,
    ComponentLP,
    Relations,
    as_relations,
    column_classes,
    entries,
    gather,
    hidden_components,
    iter_components,
    push_witnesses,
    relation_blocks,
    widen,
)
from layers.config import DEFAULT_INFRA_MIN_HOUSEHOLDS
from layers.model import INFRA, levels_of_tier

__all__ = [
    "Relations",
    "SecrecyResult",
    "build_relations",
    "mask_rate",
    "primary_mask",
    "protect",
    "recoverable",
    "relation_matrix",
]

# The zones under the Caf rule (SECRECY.md rules 3-4): the infra-communal levels of the model.
INFRA_KINDS = frozenset(levels_of_tier(INFRA))
# Why every cell of a small zone is hidden (internal reports only; publicly just "secret").
SMALL_ZONE_REASON = "moins de {n} allocataires dans la zone"


# --- relations ------------------------------------------------------------------------------


def relation_matrix(groups: Mapping[int, Sequence[int]], n_cells: int) -> sp.csr_matrix:
    """One row per parent: +1 on each child cell, -1 on the parent (total) cell."""
    rows, cols, vals = [], [], []
    for r, (parent, children) in enumerate(groups.items()):
        rows.extend([r] * (len(children) + 1))
        cols.extend([*children, parent])
        vals.extend([1.0] * len(children) + [-1.0])
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(groups), n_cells))


def build_relations(
    n_cells: int,
    equalities: Iterable[Mapping[int, Sequence[int]]] = (),
    within: Iterable[Mapping[int, Sequence[int]]] = (),
) -> Relations:
    """Relations from parent -> children mappings (cell indices), one mapping per hierarchy or
    breakdown. `equalities`: the children add up to the parent (communes -> EPCI, total -> family
    types). `within`: the children add up to at most the parent (IRIS that do not cover their
    commune). Parents without children are skipped.
    """

    def stack(maps: Iterable[Mapping[int, Sequence[int]]]) -> sp.csr_matrix:
        mats = [relation_matrix({p: c for p, c in m.items() if len(c)}, n_cells) for m in maps]
        return sp.vstack(mats, format="csr") if mats else sp.csr_matrix((0, n_cells))

    return Relations(stack(equalities), stack(within))


# --- primary secrecy and derived values -----------------------------------------------------


def primary_mask(
    values: np.ndarray,
    threshold: int = 5,
    *,
    zone_kind: np.ndarray | None = None,
    allocataires: np.ndarray | None = None,
    min_allocataires: int = DEFAULT_INFRA_MIN_HOUSEHOLDS,
    min_commune_allocataires: int = 5,
) -> np.ndarray:
    """Primary secret cells (rules 1, 3 and 4 of SECRECY.md).

    - a count from 1 to threshold - 1 is hidden; a true 0 is not;
    - `zone_kind` (per cell, e.g. "iris", "qpv", "commune") with `allocataires` (per cell, the
      number of allocataires of the cell's zone): every cell of an IRIS or QPV zone with fewer
      than `min_allocataires` allocataires is hidden, and every cell of a commune with fewer
      than `min_commune_allocataires`.
    """
    v = np.asarray(values)
    hidden = (v > 0) & (v < threshold)
    if zone_kind is not None and allocataires is not None:
        kind = np.char.lower(np.asarray(zone_kind, dtype=str))
        alloc = np.asarray(allocataires, dtype=float)
        infra = np.isin(kind, list(INFRA_KINDS)) & (alloc < min_allocataires)
        commune = (kind == "commune") & (alloc < min_commune_allocataires)
        hidden |= infra | commune
    return hidden


def mask_rate(numerator_hidden: np.ndarray, denominator_hidden: np.ndarray) -> np.ndarray:
    """Rule 5: a rate or share is hidden when its numerator or its denominator is hidden.

    An aggregate rebuilt from hidden cells is never the sum of the published ones: compute it
    from the raw values, then put it through `primary_mask` and `protect` like any cell.
    """
    return np.asarray(numerator_hidden, dtype=bool) | np.asarray(denominator_hidden, dtype=bool)


# --- quick pass -----------------------------------------------------------------------------


def default_costs(values: np.ndarray) -> np.ndarray:
    """Information lost by hiding a cell: small cells are cheap, but a total is not ruinous."""
    return 1.0 + np.log1p(np.asarray(values, dtype=float))


def _quick_pass(
    eq: sp.csr_matrix,
    values: np.ndarray,
    hidden: np.ndarray,
    costs: np.ndarray,
    need: float,
    single: np.ndarray,
) -> int:
    """Hide cells until no relation has one lone hidden cell, hidden cells of a relation add up
    to at least `need`, and a hidden single contributor has two hidden companions. In place;
    returns the number of cells hidden. Zero cells are never chosen (cost inf)."""
    pat = sp.csr_matrix((np.ones(eq.nnz), eq.indices, eq.indptr), shape=eq.shape)
    pat.sum_duplicates()
    pat.sort_indices()
    by_cell = pat.tocsc()
    ind, ptr = pat.indices, pat.indptr
    cind, cptr = by_cell.indices, by_cell.indptr
    h = hidden.astype(float)
    count = pat @ h
    hsum = pat @ (h * values)
    nsingle = pat @ (h * single)
    # Per cell: how many of its relations have no hidden cell (hiding it would create a lone
    # hidden cell there) or exactly one (hiding it would settle that relation too).
    zero_rel = by_cell.T @ (count == 0).astype(float)
    one_rel = by_cell.T @ (count == 1).astype(float)

    def bad(r: int) -> bool:
        k = count[r]
        return k > 0 and (k == 1 or hsum[r] < need or (nsingle[r] > 0 and k < 3))

    heap = [int(r) for r in np.flatnonzero(count > 0) if bad(r)]
    heapq.heapify(heap)
    added = 0
    while heap:
        r = heapq.heappop(heap)
        while bad(r):
            cells = ind[ptr[r] : ptr[r + 1]]
            cand = cells[~hidden[cells] & np.isfinite(costs[cells])]
            if cand.size == 0:
                break  # nothing left to hide here; the interval check will report it
            score = costs[cand] + zero_rel[cand] - one_rel[cand]
            deficit = need - hsum[r]
            if deficit > 0:
                score = score + (values[cand] < deficit)
            c = int(cand[np.argmin(score)])  # argmin keeps the lowest index on ties
            hidden[c] = True
            added += 1
            for r2 in cind[cptr[c] : cptr[c + 1]]:
                # Only a relation going from 0 to 1 or 1 to 2 hidden cells changes the counts of
                # its members: skipping the others keeps big relations (France) out of the loop.
                if count[r2] <= 1:
                    members = ind[ptr[r2] : ptr[r2 + 1]]
                    if count[r2] == 0:
                        zero_rel[members] -= 1
                        one_rel[members] += 1
                    else:
                        one_rel[members] -= 1
                count[r2] += 1
                hsum[r2] += values[c]
                nsingle[r2] += single[c]
                if r2 != r and bad(int(r2)):
                    heapq.heappush(heap, int(r2))
    return added


# --- exact recovery -------------------------------------------------------------------------


def recoverable(
    relations: Relations | sp.spmatrix, hidden: np.ndarray, *, seed: int = 0
) -> np.ndarray:
    """Hidden cells an attacker can solve for exactly from the equalities (GaussSuppression).

    Cell j is recoverable iff its unit vector lies in the row space of the equalities restricted
    to the hidden cells, i.e. iff every null-space vector is 0 at j. Per component, two random
    vectors are projected on the null space (LSQR); a coordinate that vanishes in both marks a
    recoverable cell (a free cell vanishes with probability 0).
    """
    from scipy.sparse.linalg import lsqr

    rel = as_relations(relations)
    hidden = np.asarray(hidden, dtype=bool)
    out = np.zeros(hidden.size, dtype=bool)
    labels, n = hidden_components(Relations(rel.eq, sp.csr_matrix((0, rel.n_cells))), hidden)
    rng = np.random.default_rng(seed)
    for comp in iter_components(labels, n):
        a = rel.eq[:, comp]
        a = a[np.flatnonzero(a.getnnz(axis=1))]
        if a.shape[0] == 0:
            continue
        pinned = np.ones(comp.size, dtype=bool)
        for _ in range(2):
            r = rng.standard_normal(comp.size)
            y = lsqr(a.T, r, atol=1e-14, btol=1e-14, iter_lim=50 * comp.size + 1000)[0]
            pinned &= np.abs(r - a.T @ y) < 1e-6
        out[comp[pinned]] = True
    return out


# --- interval check and repair --------------------------------------------------------------


def _class_witnesses(
    a: sp.csc_matrix,
    values: np.ndarray,
    hidden: np.ndarray,
    protection: float,
    wlo: np.ndarray,
    whi: np.ndarray,
) -> None:
    """Hidden cells with exactly the same relations (same rows, same signs) form a class: moving
    +t on one and -t on another keeps every relation, so each member ranges over [0, S], S the
    class's hidden sum. Free, and proves most cells of a single-column table. In place."""
    cells = np.flatnonzero(hidden)
    if not cells.size:
        return
    label = column_classes(a, cells)
    size = np.bincount(label)
    total = np.bincount(label, weights=values[cells])
    ok = (size[label] >= 2) & (total[label] >= protection - TOL)
    members = cells[ok]
    wlo[members] = np.minimum(wlo[members], 0.0)
    whi[members] = np.maximum(whi[members], total[label[ok]])


def _block_witnesses(
    rel: Relations,
    values: np.ndarray,
    hidden: np.ndarray,
    todo: np.ndarray,
    protection: float,
    wlo: np.ndarray,
    whi: np.ndarray,
    *,
    cap: int = 2000,
    group: int = 1500,
    seed: int = 0,
    exact: bool = True,
) -> int:
    """Ranges of the `todo` hidden cells within their block, every hidden cell outside the block
    held at its true value. That restriction only shrinks the attacker's feasible set, so each
    point found is a valid witness and a block range is a lower bound of the true range; a cell
    proven here needs no LP over its whole (often France-wide) component. Blocks are solved in
    block-diagonal groups of about `group` cells: a few objectives pushing the open cells down
    and up, then (`exact`) each still-open cell's exact block minimum and maximum. In place;
    returns the number of LP solves."""
    idx = np.flatnonzero(hidden)
    if not todo[idx].any():
        return 0
    a = sp.vstack([rel.eq, rel.le], format="csr")
    n_eq = rel.eq.shape[0]
    m = a[:, idx].tocsr()
    m.eliminate_zeros()
    blk = relation_blocks(m, cap)
    keep_blk = np.unique(blk[todo[idx]])
    keep = np.isin(blk, keep_blk)
    idx, blk = idx[keep], np.searchsorted(keep_blk, blk[keep])
    n_blk = keep_blk.size
    # One copy of each relation per block meeting it; the block's own cells move, the rest of
    # the relation is a constant (b = the block's part of the relation at the true values).
    coo = m[:, np.flatnonzero(keep)].tocoo()
    key = coo.row.astype(np.int64) * n_blk + blk[coo.col]
    uniq, row = np.unique(key, return_inverse=True)
    src = uniq // n_blk
    copy = sp.csr_matrix((coo.data, (row, coo.col)), shape=(uniq.size, idx.size))
    b = copy @ values[idx]
    le = src >= n_eq
    b[le] -= rel.le[src[le] - n_eq] @ values if le.any() else 0.0
    row_blk = uniq % n_blk
    # Consecutive blocks fill groups of about `group` cells.
    sizes = np.bincount(blk, minlength=n_blk)
    grp_of = np.zeros(n_blk, dtype=int)
    g = acc = 0
    for k in range(n_blk):
        if acc and acc + sizes[k] > group:
            g, acc = g + 1, 0
        grp_of[k] = g
        acc += sizes[k]
    rng = np.random.default_rng(seed)
    solves = 0
    cell_grp, row_grp = grp_of[blk], grp_of[row_blk]
    for gi in range(g + 1):
        cols = np.flatnonzero(cell_grp == gi)
        rows = np.flatnonzero(row_grp == gi)
        sub = copy[rows][:, cols]
        eq_r = ~le[rows]
        lp = ComponentLP(
            sub[eq_r],
            b[rows][eq_r],
            sub[~eq_r],
            b[rows][~eq_r],
            np.zeros(cols.size),
            np.full(cols.size, np.inf),
        )
        cells = idx[cols]
        lo, hi = wlo[cells].copy(), whi[cells].copy()
        solves += _group_ranges(lp, blk[cols], todo[cells], protection, lo, hi, rng, exact)
        wlo[cells], whi[cells] = lo, hi
    return solves


def _group_ranges(
    lp: ComponentLP,
    blk: np.ndarray,
    mine: np.ndarray,
    protection: float,
    lo: np.ndarray,
    hi: np.ndarray,
    rng: np.random.Generator,
    exact: bool = True,
    max_rounds: int = 8,
) -> int:
    """Block ranges of the `mine` variables of a block-diagonal LP, widening lo / hi in place.

    Random objectives push the open variables down and up (witnesses); then (`exact`) the exact
    block minimum and maximum of the rest, one variable per block in each solve: blocks share
    no relation, so a sum objective is optimised block by block. Returns the number of solves."""

    def narrow() -> np.ndarray:
        return mine & (hi - lo < protection - TOL)

    # An infeasible LP cannot happen (the true values are feasible): its cells stay unproven.
    pushed = push_witnesses(
        lp, lo, hi, narrow, rng, max_rounds=max_rounds, settled=0, min_gain=0.05
    )
    if pushed and exact:
        # Exact minima (a minimum at 0 needs no solve), then exact maxima of the still narrow.
        _block_extremes(lp, blk, 1.0, narrow() & (lo > TOL), narrow, lo, hi)
        _block_extremes(lp, blk, -1.0, narrow(), narrow, lo, hi)
    return lp.solves


def _block_extremes(
    lp: ComponentLP,
    blk: np.ndarray,
    sign: float,
    want: np.ndarray,
    narrow: Callable[[], np.ndarray],
    lo: np.ndarray,
    hi: np.ndarray,
) -> None:
    """Exact block minima (`sign` 1) or maxima (-1) of the `want` variables while they stay
    narrow, the first wanted variable of each block in each solve; widens lo / hi in place."""
    while want.any():
        pick = np.flatnonzero(want)
        pick = pick[np.unique(blk[pick], return_index=True)[1]]  # first of each block
        c = np.zeros(lp.n)
        c[pick] = sign
        _, x = lp.minimize(c)
        if x is not None:
            widen(lo, hi, x)
        else:  # an unbounded maximum somewhere: one variable at a time
            _one_at_a_time(lp, pick, sign, lo, hi)
        want[pick] = False
        want &= narrow()


def _one_at_a_time(
    lp: ComponentLP, pick: np.ndarray, sign: float, lo: np.ndarray, hi: np.ndarray
) -> None:
    c = np.zeros(lp.n)
    for j in pick:
        c[:] = 0.0
        c[j] = sign
        _, x = lp.minimize(c)
        if x is not None:
            widen(lo, hi, x)
        elif sign < 0:
            hi[j] = np.inf


def _members(n: int, picked: np.ndarray) -> np.ndarray:
    """Sorted distinct values of `picked` (all in 0..n-1): a mark is much cheaper than a sort
    when a national relation brings tens of thousands of cells."""
    mark = np.zeros(n, dtype=bool)
    mark[picked] = True
    return np.flatnonzero(mark)


class _Neighbourhood:
    """Cells within `radius` relations of a cell, and the min-cost LP that moves it."""

    def __init__(self, rel: Relations, values: np.ndarray, costs: np.ndarray) -> None:
        self.rel = rel
        self.a = sp.vstack([rel.eq, rel.le], format="csr")
        self.n_eq = rel.eq.shape[0]
        self.by_cell = self.a.tocsc()
        self.values = values
        self.slack = -(rel.le @ values)  # room left in each "parts within total" relation
        self.costs = costs
        self.members = np.diff(self.a.indptr)

    def rows_of(self, cells: np.ndarray) -> np.ndarray:
        """Relations naming any of `cells`, sorted."""
        return _members(self.a.shape[0], gather(self.by_cell, cells))

    def cells(self, j: int, radius: int, max_members: float = np.inf) -> np.ndarray:
        """Cells within `radius` relations of j, through relations of at most `max_members`
        cells: a national total would otherwise pull the whole table into a local repair."""
        cells = np.array([j])
        for _ in range(radius):
            rows = self.rows_of(cells)
            rows = rows[self.members[rows] <= max_members]
            found = gather(self.a, rows)
            cells = _members(self.a.shape[1], np.r_[cells, found])
        return cells

    def _columns(self, cols: np.ndarray, pub: np.ndarray, rows: np.ndarray) -> sp.csc_matrix:
        """[A, -A_pub] in CSC over the sorted `rows`, which hold every entry of `cols` (so no
        row slicing): the relations' own columns, their rows renumbered."""
        picked = np.r_[cols, pub]
        pos, owner = entries(self.by_cell, picked)
        sign = np.r_[np.ones(cols.size), -np.ones(pub.size)]
        indptr = np.r_[0, np.cumsum(np.bincount(owner, minlength=picked.size))]
        return sp.csc_matrix(
            (
                self.by_cell.data[pos] * sign[owner],
                np.searchsorted(rows, self.by_cell.indices[pos]),
                indptr,
            ),
            shape=(rows.size, picked.size),
        )

    def move(
        self,
        j: int,
        target: float,
        hidden: np.ndarray,
        radius: int,
        max_members: float = np.inf,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Cheapest change delta (published cells pay their cost per unit, hidden cells are free)
        with delta_j >= target, keeping every relation and x >= 0, the cells beyond `radius`
        unchanged. Returns (cells, delta) or None when infeasible."""
        cells = self.cells(j, radius, max_members)
        v = self.values
        hid = cells[hidden[cells]]
        pub = cells[~hidden[cells] & np.isfinite(self.costs[cells]) & (v[cells] > 0)]
        cols = np.r_[hid, pub]
        rows = self.rows_of(cols)
        n_eq = int(np.searchsorted(rows, self.n_eq))  # rows are sorted: equalities first
        lower = np.r_[-v[hid], np.zeros(2 * pub.size)]
        lower[np.searchsorted(hid, j)] = target
        upper = np.r_[np.full(hid.size, np.inf), np.full(pub.size, np.inf), v[pub]]
        cost = np.r_[np.full(hid.size, 1e-4), self.costs[pub], self.costs[pub]]
        lp = ComponentLP.stacked(
            self._columns(cols, pub, rows),
            n_eq,
            np.zeros(n_eq),
            self.slack[rows[n_eq:] - self.n_eq],
            lower,
            upper,
        )
        status, x = lp.minimize(cost)
        if x is None:
            return None
        delta = x[: cols.size]
        delta[hid.size :] -= x[cols.size :]
        return cols, delta


@dataclass
class SecrecyResult:
    """The mask to publish (`hidden`) and, internal only, the reason of each hidden cell."""

    hidden: np.ndarray
    primary: np.ndarray
    secondary: np.ndarray
    stats: dict = field(default_factory=dict)
    unprotected: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))


def _check_values(rel: Relations, values: np.ndarray) -> None:
    if np.any(values < 0):
        raise ValueError("secret statistique : les valeurs doivent être positives ou nulles")
    bad = np.abs(rel.eq @ values) > TOL
    if rel.le.shape[0]:
        bad = np.r_[bad, rel.le @ values > TOL]
    if bad.any():
        raise ValueError(
            f"secret statistique : {int(bad.sum())} relation(s) non vérifiée(s) par les valeurs "
            "brutes (les totaux doivent être calculés à partir des valeurs brutes)"
        )


class _IntervalRepair:
    """The interval check and repair rounds of `protect`: witness spans of the hidden cells,
    widened by class and block witnesses, then LP repairs of the cells still narrow. `hidden`
    is updated in place; cells no repair can protect end up in `stuck`."""

    def __init__(
        self,
        rel: Relations,
        values: np.ndarray,
        hidden: np.ndarray,
        costs: np.ndarray,
        protection: float,
        *,
        radius: int,
        block_cells: int,
        repair_members: int,
    ) -> None:
        self.rel, self.v, self.hidden, self.protection = rel, values, hidden, protection
        # Witness span of every hidden cell: v itself is feasible, every other feasible point
        # found widens it. Hiding more cells only relaxes the attacker's LP, so spans stay valid.
        self.wlo, self.whi = values.copy(), values.copy()
        self.a_by_cell = sp.vstack([rel.eq, rel.le], format="csc")
        self.hood = _Neighbourhood(rel, values, costs)
        # Small blocks (an EPCI) prove most cells cheaply, larger ones (a département) the rest.
        self.block_caps = (max(2, block_cells // 10), block_cells)
        # Local first (national totals are constants there), the whole table last. No step at
        # `radius` with the larger relations: on the national tables it failed 9 times in 10
        # (a département's communes move, their EPCI totals cannot), for nothing. One ring
        # further through small relations before the large ones: on the national household
        # table (2019-12) it settles 135 of the 234 cells that failed at `radius`, in ~3 ms
        # each instead of ~70 ms for an LP over ~16,800 columns (repairs 19 s -> 9 s).
        self.repair_scopes = (
            (radius, repair_members // 10),
            (radius + 1, repair_members // 10),
            (radius + 2, repair_members),
            (radius + 2, np.inf),
        )
        self.stuck: list[int] = []
        self.rounds = self.solves = self.repairs = 0
        self.first_failures = -1
        self.t_check = self.t_repair = 0.0

    def narrow(self) -> np.ndarray:
        return self.whi - self.wlo < self.protection - TOL

    def run(self, max_rounds: int) -> None:
        """Check, then repair what fails, until nothing fails or no repair succeeds."""
        for rounds in range(1, max_rounds + 1):
            self.rounds = rounds
            failing = self.check()
            if not failing.size:
                break
            new_stuck = self.repair(failing)
            if new_stuck and len(new_stuck) == failing.size:
                break

    def check(self) -> np.ndarray:
        """Widen the spans with witnesses; the hidden cells still narrow (stuck ones aside)."""
        t = time.perf_counter()
        todo = self.hidden & self.narrow()
        todo[self.stuck] = False
        _class_witnesses(self.a_by_cell, self.v, self.hidden, self.protection, self.wlo, self.whi)
        todo &= self.narrow()
        # Exact block extremes only in the largest blocks: a cell the small blocks' witnesses
        # leave narrow gets them there anyway (2019-12's household table: 13 % less CPU, the
        # same mask).
        for cap in self.block_caps:
            todo &= self.narrow()
            self.solves += _block_witnesses(
                self.rel,
                self.v,
                self.hidden,
                todo,
                self.protection,
                self.wlo,
                self.whi,
                cap=cap,
                exact=cap == self.block_caps[-1],
            )
        failing = np.flatnonzero(todo & self.narrow())
        self.t_check += time.perf_counter() - t
        if self.first_failures < 0:
            self.first_failures = int(failing.size)
        return failing

    def repair(self, failing: np.ndarray) -> list[int]:
        """Repair the failing cells, narrowest first; returns the ones no repair could move."""
        t = time.perf_counter()
        new_stuck = []
        width = self.whi - self.wlo
        for _, j in sorted(zip(width[failing], failing.tolist(), strict=True)):
            if self.whi[j] - self.wlo[j] >= self.protection - TOL:
                continue  # settled by an earlier repair of this round
            if not self._repair_cell(j):
                new_stuck.append(j)
        self.stuck.extend(new_stuck)
        self.t_repair += time.perf_counter() - t
        return new_stuck

    def _repair_cell(self, j: int) -> bool:
        """Hide the cheapest cells that let cell j move by `protection`; False when none do."""
        target = self.wlo[j] + self.protection - self.v[j]
        moved = None
        for rad, cap in self.repair_scopes:
            moved = self.hood.move(j, target, self.hidden, rad, cap)
            if moved is not None:
                break
        if moved is None:
            return False
        cells, delta = moved
        self.hidden[cells[np.abs(delta) > 1e-7]] = True
        self.wlo[cells] = np.minimum(self.wlo[cells], self.v[cells] + delta)
        self.whi[cells] = np.maximum(self.whi[cells], self.v[cells] + delta)
        self.repairs += 1
        return True


def _hiding_costs(v: np.ndarray, costs: np.ndarray | None) -> np.ndarray:
    """The given costs (default 1 + log(1 + value)); a zero cell is never hidden (inf)."""
    costs = default_costs(v) if costs is None else np.asarray(costs, dtype=float)
    return np.where(v > 0, costs, np.inf)


def _stats(
    v: np.ndarray,
    rel: Relations,
    primary: np.ndarray,
    hidden: np.ndarray,
    quick: int,
    n_pinned: int,
    check: _IntervalRepair,
) -> dict:
    """The run's report (`seconds` and `timings` are added by the caller)."""
    total = v.sum()
    return {
        "cells": int(v.size),
        "relations": rel.n_relations,
        "primary": int(primary.sum()),
        "secondary": int((hidden & ~primary).sum()),
        "secondary_quick_pass": quick,
        "recoverable_after_quick_pass": n_pinned,
        "narrow_after_quick_pass": check.first_failures,
        "repairs": check.repairs,
        "rounds": check.rounds,
        "lp_solves": check.solves,
        "share_cells_hidden": float(hidden.mean()) if v.size else 0.0,
        "share_value_hidden": float(v[hidden].sum() / total) if total else 0.0,
    }


def protect(
    values: np.ndarray,
    relations: Relations | sp.spmatrix,
    primary: np.ndarray,
    *,
    threshold: int = 5,
    protection: float = 5,
    costs: np.ndarray | None = None,
    single: np.ndarray | None = None,
    radius: int = 2,
    max_rounds: int = 30,
    exact_recovery: bool = False,
    block_cells: int = 2000,
    repair_members: int = 1000,
) -> SecrecyResult:
    """Secondary suppression: hide more cells until every hidden cell ranges over at least
    `protection` values given the published cells and the relations (x >= 0).

    `costs` (per cell, default 1 + log(1 + value)) is the information lost by hiding a cell;
    inf forbids it. Zero cells are never hidden to protect another. `single` flags cells with a
    single contributor. Deterministic: the same input gives the same mask.
    """
    t0 = time.perf_counter()
    rel = as_relations(relations)
    v = np.asarray(values, dtype=float)
    _check_values(rel, v)
    primary = np.asarray(primary, dtype=bool)
    costs = _hiding_costs(v, costs)
    single = np.zeros(v.size) if single is None else np.asarray(single, dtype=float)
    hidden = primary.copy()
    timings: dict[str, float] = {}

    need = max(threshold, protection)
    quick = _quick_pass(rel.eq, v, hidden, costs, need, single)
    timings["quick_pass"] = time.perf_counter() - t0

    # Exact recovery (GaussSuppression) is subsumed by the interval check below, which finds
    # every recoverable cell pinned; on request it is still counted for the report.
    n_pinned = -1
    if exact_recovery:
        t = time.perf_counter()
        n_pinned = int(recoverable(rel, hidden).sum())
        timings["recovery"] = time.perf_counter() - t

    check = _IntervalRepair(
        rel,
        v,
        hidden,
        costs,
        protection,
        radius=radius,
        block_cells=block_cells,
        repair_members=repair_members,
    )
    check.run(max_rounds)
    timings["interval_check"] = check.t_check
    timings["repair"] = check.t_repair
    stats = _stats(v, rel, primary, hidden, quick, n_pinned, check)
    stats["seconds"] = time.perf_counter() - t0
    stats["timings"] = {k: round(x, 2) for k, x in timings.items()}
    unprotected = np.array(sorted(check.stuck), dtype=int)
    return SecrecyResult(hidden, primary, hidden & ~primary, stats, unprotected)
