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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from layers.audit import (
    TOL,
    ComponentLP,
    Relations,
    as_relations,
    component_lp,
    component_ranges,
    hidden_components,
    iter_components,
)

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

INFRA_KINDS = frozenset({"iris", "qpv"})


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
    min_allocataires: int = 100,
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
                members = ind[ptr[r2] : ptr[r2 + 1]]
                zero_rel[members] -= count[r2] == 0
                one_rel[members] -= count[r2] == 1
                count[r2] += 1
                hsum[r2] += values[c]
                nsingle[r2] += single[c]
                zero_rel[members] += count[r2] == 0
                one_rel[members] += count[r2] == 1
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

    def cells(self, j: int, radius: int) -> np.ndarray:
        cells = np.array([j])
        for _ in range(radius):
            rows = np.unique(self.by_cell[:, cells].indices)
            cells = np.union1d(cells, self.a[rows].indices)
        return cells

    def move(self, j: int, target: float, hidden: np.ndarray, radius: int):
        """Cheapest change delta (published cells pay their cost per unit, hidden cells are free)
        with delta_j >= target, keeping every relation and x >= 0, the cells beyond `radius`
        unchanged. Returns (cells, delta) or None when infeasible."""
        cells = self.cells(j, radius)
        v = self.values
        hid = cells[hidden[cells]]
        pub = cells[~hidden[cells] & np.isfinite(self.costs[cells]) & (v[cells] > 0)]
        cols = np.r_[hid, pub]
        rows = np.unique(self.by_cell[:, cols].indices)
        sub = self.a[rows][:, cols]
        m = sp.hstack([sub, -sub[:, hid.size :]], format="csr")
        is_eq = rows < self.n_eq
        lower = np.r_[-v[hid], np.zeros(2 * pub.size)]
        lower[np.searchsorted(hid, j)] = target
        upper = np.r_[np.full(hid.size, np.inf), np.full(pub.size, np.inf), v[pub]]
        cost = np.r_[np.full(hid.size, 1e-4), self.costs[pub], self.costs[pub]]
        lp = ComponentLP(
            m[is_eq],
            np.zeros(int(is_eq.sum())),
            m[~is_eq],
            self.slack[rows[~is_eq] - self.n_eq],
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
    exact_recovery: bool = True,
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
    costs = default_costs(v) if costs is None else np.asarray(costs, dtype=float)
    costs = np.where(v > 0, costs, np.inf)
    single = np.zeros(v.size) if single is None else np.asarray(single, dtype=float)
    hidden = primary.copy()
    timings: dict[str, float] = {}

    need = max(threshold, protection)
    quick = _quick_pass(rel.eq, v, hidden, costs, need, single)
    timings["quick_pass"] = time.perf_counter() - t0

    # Exact recovery first: those cells are repaired before anything else.
    pinned = np.zeros(v.size, dtype=bool)
    if exact_recovery:
        t = time.perf_counter()
        pinned = recoverable(rel, hidden)
        timings["recovery"] = time.perf_counter() - t
    n_pinned = int(pinned.sum())

    # Witness span of every hidden cell: v itself is feasible, every LP point is another.
    wlo, whi = v.copy(), v.copy()
    hood = _Neighbourhood(rel, v, costs)
    t_check = t_repair = 0.0
    rounds = solves = repairs = 0
    stuck: list[int] = []
    first_failures = -1
    for rounds in range(1, max_rounds + 1):  # noqa: B007 - the count is reported
        t = time.perf_counter()
        # cell -> (width, exact minimum); recoverable cells are pinned at their value
        failing: dict[int, tuple[float, float]] = {
            int(c): (0.0, v[c]) for c in np.flatnonzero(pinned & hidden)
        }
        pinned[:] = False
        labels, n_comp = hidden_components(rel, hidden)
        for comp in iter_components(labels, n_comp):
            if np.all(whi[comp] - wlo[comp] >= protection - TOL):
                continue
            lp, _ = component_lp(rel, comp, np.where(hidden, 0.0, v))
            rg = component_ranges(lp, protection, lo=wlo[comp], hi=whi[comp])
            solves += lp.solves
            wlo[comp], whi[comp] = rg.lo, rg.hi
            for k in np.flatnonzero(rg.hi - rg.lo < protection - TOL):
                failing[int(comp[k])] = (rg.hi[k] - rg.lo[k], rg.lo[k])
        t_check += time.perf_counter() - t
        if first_failures < 0:
            first_failures = len(failing)
        if not failing:
            break
        t = time.perf_counter()
        stuck = []
        for (_, lo_j), j in sorted((w, j) for j, w in failing.items()):
            if whi[j] - wlo[j] >= protection - TOL:
                continue  # settled by an earlier repair of this round
            moved = None
            for rad in (radius, radius + 2, radius + 6):
                moved = hood.move(j, lo_j + protection - v[j], hidden, rad)
                if moved is not None:
                    break
            if moved is None:
                stuck.append(j)
                continue
            cells, delta = moved
            hidden[cells[np.abs(delta) > 1e-7]] = True
            wlo[cells] = np.minimum(wlo[cells], v[cells] + delta)
            whi[cells] = np.maximum(whi[cells], v[cells] + delta)
            repairs += 1
        t_repair += time.perf_counter() - t
        if stuck and len(stuck) == len(failing):
            break
    timings["interval_check"] = t_check
    timings["repair"] = t_repair
    secondary = hidden & ~primary
    total = v.sum()
    stats = {
        "cells": int(v.size),
        "relations": rel.n_relations,
        "primary": int(primary.sum()),
        "secondary": int(secondary.sum()),
        "secondary_quick_pass": quick,
        "recoverable_after_quick_pass": n_pinned,
        "narrow_after_quick_pass": first_failures,
        "repairs": repairs,
        "rounds": rounds,
        "lp_solves": solves,
        "share_cells_hidden": float(hidden.mean()) if v.size else 0.0,
        "share_value_hidden": float(v[hidden].sum() / total) if total else 0.0,
        "seconds": time.perf_counter() - t0,
        "timings": {k: round(x, 2) for k, x in timings.items()},
    }
    return SecrecyResult(hidden, primary, secondary, stats, np.array(sorted(stuck), dtype=int))
