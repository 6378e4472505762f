"""Secrecy audit: what an attacker can infer about each hidden cell from what is published.

The table is generic: cells with values, linear relations between them (`Relations`), a hidden
mask. For every hidden cell the audit bounds the value by linear programming (x >= 0, relations,
published cells fixed or, when rounded, within their rounding interval) and fails when a hidden
cell is pinned or its range is narrower than the protection setting (SECRECY.md).

It only reads published information: published values, the hidden mask and the relations.

Speed: hidden cells are grouped into connected components (hidden cells sharing a relation), and
each component gets one warm-started LP. Feasible points found along the way ("witnesses") prove
most cells safe at once: a cell whose witnessed values already span `protection` needs no LP of
its own, the others get their exact minimum and maximum. The witnesses come from objectives that
prove many cells per solve (`CappedLP`: the sum of each unproven cell's gain, capped at
`protection`), and for large components first from small LPs over blocks of cells, the rest held
at a feasible point (`local_witnesses`). Secret cells with exactly the same relations are
pooled first (`pool_classes`): one variable per class, whose sum bounds every member. With
rounding, small components are first certified together (`_witnessed_first`), each one left
narrow then solved alone. Only a failing cell's range must be exact, and it is.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

try:  # warm-started HiGHS; scipy's linprog (same solver, cold starts) otherwise
    import highspy
except ImportError:  # pragma: no cover - exercised only without highspy
    highspy = None

TOL = 1e-6


@dataclass(frozen=True)
class Relations:
    """Linear relations between cells: `eq @ x == 0` and `le @ x <= 0`.

    Each row is one relation: +1 for the parts, -1 for the total. `le` rows say that the parts
    lie within the total (IRIS that do not cover their commune).
    """

    eq: sp.csr_matrix
    le: sp.csr_matrix

    @property
    def n_cells(self) -> int:
        return int(self.eq.shape[1])

    @property
    def n_relations(self) -> int:
        return int(self.eq.shape[0] + self.le.shape[0])


def as_relations(relations: Relations | sp.spmatrix | sp.sparray) -> Relations:
    """Accept a bare sparse matrix (equalities only) wherever `Relations` is expected."""
    if isinstance(relations, Relations):
        return relations
    eq = sp.csr_matrix(relations, dtype=float)
    return Relations(eq, sp.csr_matrix((0, eq.shape[1])))


def hidden_components(relations: Relations, hidden: np.ndarray) -> tuple[np.ndarray, int]:
    """Component label of each hidden cell (-1 for published cells) and the number of components.

    Two hidden cells are linked when they appear in the same relation; published cells are
    constants, so components can be solved independently.
    """
    hidden = np.asarray(hidden, dtype=bool)
    idx = np.flatnonzero(hidden)
    labels = np.full(hidden.size, -1)
    if idx.size == 0:
        return labels, 0
    m = sp.vstack([relations.eq, relations.le]).tocsc()[:, idx].tocsr()
    m = m[np.flatnonzero(np.diff(m.indptr))]
    graph = sp.bmat([[None, m.T], [m, None]], format="csr")
    n, lab = connected_components(graph, directed=False)
    # Relabel by first cell so the numbering does not depend on relation order.
    first = {}
    for lab_i in lab[: idx.size]:
        first.setdefault(int(lab_i), len(first))
    labels[idx] = [first[int(x)] for x in lab[: idx.size]]
    return labels, len(first)


def iter_components(labels: np.ndarray, n: int) -> Iterator[np.ndarray]:
    """Cell indices of each component, in label order."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(-1, n) + 0.5)
    for k in range(n):
        yield order[bounds[k] : bounds[k + 1]]


_BANNER_SHOWN = False


def _quiet_highs() -> highspy.Highs:
    """A silent HiGHS. Its constructor prints a copyright banner on C's stdout once per process,
    before any option can be set: in `cafcarto build` it cut into the progress bar."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    return h


# Models smaller than this are solved cold without presolve (see `_highs_model`).
PRESOLVE_MIN_COLS = 10_000


def _highs_model(
    a: sp.csc_matrix,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    presolve: bool = False,
):
    """A HiGHS model of `row_lower <= a x <= row_upper`, `col_lower <= x <= col_upper`, zero
    cost (each solve sets its own objective and keeps the last basis)."""
    h = _quiet_highs()
    # The audit's first solve is cold: presolve makes it ~25x faster on the national components
    # (45 s -> 1.9 s for 63,432 cells); the solves after it start from the last basis, without.
    # Not below PRESOLVE_MIN_COLS columns: on the blocks' models (~6,000) it cost more than it
    # saved. The secrecy engine's repair LPs are 7-30x slower with it, and its solutions (so
    # which cells get hidden) change: it never presolves.
    presolve = presolve and a.shape[1] >= PRESOLVE_MIN_COLS
    h.setOptionValue("presolve", "on" if presolve else "off")
    # The arrays straight to HiGHS: filling a `HighsLp`'s fields converts them element by
    # element (~27 ms for 17,000 columns, against 1.6 ms; a tenth of a household table's
    # secrecy CPU). Every column continuous: the same LP, the same solves.
    n = int(a.shape[1])
    status = h.passModel(
        n,
        int(a.shape[0]),
        int(a.nnz),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize),
        0.0,
        np.zeros(n),
        np.ascontiguousarray(col_lower, dtype=float),
        np.ascontiguousarray(col_upper, dtype=float),
        np.ascontiguousarray(row_lower, dtype=float),
        np.ascontiguousarray(row_upper, dtype=float),
        a.indptr.astype(np.int32),
        a.indices.astype(np.int32),
        a.data.astype(float),
        np.zeros(n, dtype=np.int32),
    )
    if status == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS a refusé le modèle")
    return h


# HiGHS's simplex_strategy: primal simplex. After a new objective on the same constraints the
# last basis stays feasible, and primal simplex goes on from it: on the national household
# table a single-cell maximum took 0.04 s instead of 0.6 s with HiGHS's default (dual, which
# must first repair the basis's dual feasibility). Not after new row bounds (the capped rounds):
# the basis is then infeasible, and primal simplex was much slower than dual.
PRIMAL = 4
# HiGHS's simplex_dual_edge_weight_strategy: Devex (`CappedLP`).
DEVEX = 1


def _solve(h, n: int, strategy: int | None = None) -> tuple[str, np.ndarray | None]:
    """Run `h` and return ('optimal', its first n columns), ('unbounded', None) or
    ('infeasible', None). Presolve only for the first (cold) solve of a model. `strategy`: the
    simplex for this solve (None: leave it as it is)."""
    if strategy is not None:
        h.setOptionValue("simplex_strategy", strategy)
    h.run()
    h.setOptionValue("presolve", "off")
    ms = highspy.HighsModelStatus
    if h.getModelStatus() not in (ms.kOptimal, ms.kUnbounded, ms.kInfeasible):
        h.clearSolver()  # numerical trouble after a warm start: retry once from scratch
        h.run()
    status = h.getModelStatus()
    if status == ms.kOptimal:
        return "optimal", np.asarray(h.getSolution().col_value)[:n]
    return ("unbounded" if status == ms.kUnbounded else "infeasible"), None


class ComponentLP:
    """min cost @ x subject to a_eq x = b_eq, a_ub x <= b_ub, lower <= x <= upper, re-solvable.

    With highspy the model is built once and each new objective starts from the last basis.
    """

    def __init__(
        self,
        a_eq: sp.spmatrix,
        b_eq: np.ndarray,
        a_ub: sp.spmatrix,
        b_ub: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        presolve: bool = False,
    ) -> None:
        self.n = int(a_eq.shape[1])
        self.presolve = presolve
        self._args = (sp.csr_matrix(a_eq), b_eq, sp.csr_matrix(a_ub), b_ub, lower, upper)
        self._stacked: tuple[sp.csc_matrix, int] | None = None
        self.lower = np.asarray(lower, dtype=float)
        self.solves = 0
        self.h = None  # built at the first solve: a component proven in closed form needs none

    @classmethod
    def stacked(
        cls,
        a: sp.csc_matrix,
        n_eq: int,
        b_eq: np.ndarray,
        b_ub: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
    ) -> ComponentLP:
        """The same LP from its rows already stacked in CSC, the n_eq equalities first (row
        indices sorted within each column, as `tocsc` leaves them): HiGHS gets the very same
        model without the CSR slices, stacking and conversion (a tenth of a household table's
        repairs)."""
        lp = cls.__new__(cls)
        lp.n, lp.presolve, lp.solves, lp.h = int(a.shape[1]), False, 0, None
        lp._args = (None, b_eq, None, b_ub, lower, upper)
        lp._stacked = (a, n_eq)
        lp.lower = np.asarray(lower, dtype=float)
        return lp

    @property
    def args(self) -> tuple:
        """(a_eq, b_eq, a_ub, b_ub, lower, upper), a_eq and a_ub in CSR."""
        if self._args[0] is None:
            a, n_eq = self._stacked
            a = a.tocsr()
            _, b_eq, _, b_ub, lower, upper = self._args
            self._args = (a[:n_eq], b_eq, a[n_eq:], b_ub, lower, upper)
        return self._args

    def _build_highs(self) -> None:
        _, b_eq, _, b_ub, lower, upper = self._args
        if self._stacked is None:
            a = sp.vstack([self._args[0], self._args[2]]).tocsc()
        else:
            a = self._stacked[0]
        inf = highspy.kHighsInf
        self.h = _highs_model(
            a,
            np.r_[b_eq, np.full(len(b_ub), -inf)],
            np.r_[b_eq, b_ub],
            np.asarray(lower, dtype=float),
            np.where(np.isfinite(upper), upper, inf),
            presolve=self.presolve,
        )
        self._idx = np.arange(self.n, dtype=np.int32)

    def minimize(self, cost: np.ndarray) -> tuple[str, np.ndarray | None]:
        """('optimal', x), ('unbounded', None) or ('infeasible', None)."""
        self.solves += 1
        warm = self.h is not None
        if not warm and highspy is not None:
            self._build_highs()
        if self.h is None:
            return self._linprog(cost)
        self.h.changeColsCost(self.n, self._idx, np.asarray(cost, dtype=float))
        # A new objective goes on from the last basis by primal simplex (the audit's models and
        # the secrecy engine's block ranges: a household table's interval check 16 -> 7.5 s CPU,
        # the same witnesses); the first solve by HiGHS's default (dual).
        return _solve(self.h, self.n, PRIMAL if warm else None)

    def _linprog(self, cost: np.ndarray) -> tuple[str, np.ndarray | None]:
        from scipy.optimize import linprog

        a_eq, b_eq, a_ub, b_ub, lower, upper = self.args
        upper = np.where(np.isfinite(upper), upper, None)
        res = linprog(
            cost,
            A_ub=a_ub if a_ub.shape[0] else None,
            b_ub=b_ub if a_ub.shape[0] else None,
            A_eq=a_eq if a_eq.shape[0] else None,
            b_eq=b_eq if a_eq.shape[0] else None,
            bounds=list(zip(lower, upper, strict=True)),
            method="highs",
        )
        if res.status == 0:
            return "optimal", res.x
        return ("unbounded" if res.status == 3 else "infeasible"), None


def _capped_matrix(a_eq: sp.csr_matrix, a_ub: sp.csr_matrix, cols: np.ndarray) -> sp.csc_matrix:
    """[[A, 0, 0], [P, -I, 0], [P, 0, I]] with A the rows `a_eq` then `a_ub` and P picking
    the columns `cols`, assembled in one pass (scipy's bmat costs ~5 ms a model, which
    mattered for the many small components of rounded periods)."""
    eq, ub = a_eq.tocoo(), a_ub.tocoo()
    n, k, m = a_eq.shape[1], cols.size, a_eq.shape[0] + a_ub.shape[0]
    i = np.arange(k)
    rows = np.r_[eq.row, ub.row + a_eq.shape[0], m + i, m + i, m + k + i, m + k + i]
    cells = np.r_[eq.col, ub.col, cols, n + i, cols, n + k + i]
    vals = np.r_[eq.data, ub.data, np.ones(k), -np.ones(k), np.ones(k), np.ones(k)]
    return sp.csc_matrix((vals, (rows, cells)), shape=(m + 2 * k, n + 2 * k))


class CappedLP:
    """The component's LP with, for each checked variable x_j, a capped gain: up to
    `protection` above its lowest witnessed value, or below its highest.

    Maximising the sum of the capped gains of the unproven variables spreads the slack of each
    relation over as many of them as it can prove (a plain sum hands it all to one): one
    solve proves every variable that it moves `protection` away from a witnessed value.
    Columns: x (n), then gains up y (k), then gains down z (k); rows: the component's, then
    x_j - y_j >= lo_j, then x_j + z_j <= hi_j (each switched off with an infinite bound).
    """

    def __init__(self, lp: ComponentLP, cols: np.ndarray, protection: float) -> None:
        a_eq, b_eq, a_ub, b_ub, lower, upper = lp.args
        n, k, m = lp.n, int(cols.size), a_eq.shape[0] + a_ub.shape[0]
        inf = highspy.kHighsInf
        self.h = _highs_model(
            _capped_matrix(a_eq, a_ub, cols),
            np.r_[b_eq, np.full(a_ub.shape[0] + 2 * k, -inf)],
            np.r_[b_eq, b_ub, np.full(2 * k, inf)],
            np.r_[lower, np.full(2 * k, -inf)],
            np.r_[np.where(np.isfinite(upper), upper, inf), np.full(2 * k, protection)],
            presolve=True,
        )
        # Devex pricing: its rounds change the row bounds and the objective, and dual simplex
        # goes on from the last basis; on the blocks' models Devex iterations are cheaper than
        # the default's (dual steepest edge). The optimum may be another vertex: any is a
        # witness, and the exact ranges do not depend on it.
        self.h.setOptionValue("simplex_dual_edge_weight_strategy", DEVEX)
        self.n, self.k, self.m = n, k, m
        self.lp, self.lower = lp, np.asarray(lower, dtype=float)

    @property
    def solves(self) -> int:
        return self.lp.solves

    def push(
        self, up: bool | np.ndarray, todo: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> tuple[str, np.ndarray | None]:
        """Maximise the capped gains of the `todo` variables (masks over the checked ones),
        upwards from `lo` where `up` (one direction for all, or one each), downwards from `hi`
        elsewhere; returns the status and the x part."""
        inf = highspy.kHighsInf
        k = self.k
        up = np.broadcast_to(np.asarray(up, dtype=bool), (k,))
        self._set(
            np.r_[np.where(todo & up, lo, -inf), np.full(k, -inf)],
            np.r_[np.full(k, inf), np.where(todo & ~up, hi, inf)],
            -np.r_[np.zeros(self.n), todo & up, todo & ~up].astype(float),
        )
        return _solve(self.h, self.n)

    def minimize(self, cost: np.ndarray) -> tuple[str, np.ndarray | None]:
        """`ComponentLP.minimize` on this model (capped rows off), from its last basis."""
        inf = highspy.kHighsInf
        k = self.k
        self._set(np.full(2 * k, -inf), np.full(2 * k, inf), np.r_[cost, np.zeros(2 * k)])
        return _solve(self.h, self.n)

    def _set(self, row_lo: np.ndarray, row_hi: np.ndarray, cost: np.ndarray) -> None:
        """Bounds of the capped rows and the whole objective, for the next solve."""
        rows = np.arange(self.m, self.m + 2 * self.k, dtype=np.int32)
        self.h.changeRowsBounds(rows.size, rows, row_lo, row_hi)
        cols = np.arange(cost.size, dtype=np.int32)
        self.h.changeColsCost(cost.size, cols, np.asarray(cost, dtype=float))
        self.lp.solves += 1


def _directions(rnd: int, only_up: np.ndarray) -> np.ndarray:
    """Which variables a capped round pushes up (the others down): every other one, swapped
    each round, except those that cannot fall `protection` below their highest witness (a small
    count at 0): always up. All up or all down, a relation whose total is published proves
    none of its cells (their gains add up to 0); half and half, they trade. On 2019-12's
    household table: 396 capped rounds instead of 813."""
    return only_up | ((np.arange(only_up.size) + rnd) % 2 == 0)


def certify(
    lp: ComponentLP,
    check: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    protection: float,
    *,
    max_rounds: int = 40,
) -> bool:
    """Widen [lo, hi] in place with witnesses until every checked variable spans `protection`
    or two rounds in a row prove none: a first solve pushing them all down, then capped gains
    (`CappedLP`), each round half the variables up and half down (`_directions`). False when
    the LP is infeasible. (The cells left are solved on the plain model: from the capped
    rounds' basis a single-cell objective took 2 s a solve on the national household table,
    against 0.5 s.)"""
    cols = np.flatnonzero(check)
    capped = CappedLP(lp, cols, protection)
    status, x = capped.minimize(check.astype(float))
    if x is None:
        return status != "infeasible"
    widen(lo, hi, x)
    idle = 0
    for rnd in range(max_rounds):
        todo = hi[cols] - lo[cols] < protection - TOL
        if not todo.any() or idle >= 2:
            break
        up = _directions(rnd, hi[cols] - protection < lp.lower[cols] - TOL)
        status, x = capped.push(up, todo, lo[cols], hi[cols])
        if status == "infeasible":
            return False
        if x is not None:
            widen(lo, hi, x)
        proven = int(todo.sum() - (hi[cols] - lo[cols] < protection - TOL).sum())
        idle = 0 if proven else idle + 1
    return True


@dataclass
class Ranges:
    """Bounds of the hidden cells of one component; `exact` marks LP-proven min and max."""

    lo: np.ndarray
    hi: np.ndarray
    exact: np.ndarray
    infeasible: bool = False


def widen(lo: np.ndarray, hi: np.ndarray, x: np.ndarray) -> None:
    """Widen the witnessed spans [lo, hi] to the feasible point `x`, in place."""
    np.minimum(lo, x, out=lo)
    np.maximum(hi, x, out=hi)


def push_witnesses(
    lp: ComponentLP,
    lo: np.ndarray,
    hi: np.ndarray,
    narrow: Callable[[], np.ndarray],
    rng: np.random.Generator,
    *,
    max_rounds: int,
    settled: int,
    min_gain: float,
) -> bool:
    """Objectives pushing the `narrow()` variables all down, then all up (random weights, and
    random signs every other round); each optimum widens [lo, hi] in place. Stops when at most
    `settled` variables stay narrow or a round settles fewer than `min_gain` of them. False when
    the LP is infeasible."""
    for rnd in range(max_rounds):
        todo = narrow()
        before = int(todo.sum())
        if before <= settled:
            break
        c = todo * rng.uniform(0.5, 1.5, lp.n)
        if rnd % 2:
            c = c * rng.choice([-1.0, 1.0], lp.n)
        for sign in (1.0, -1.0):
            status, x = lp.minimize(sign * c)
            if status == "infeasible":
                return False
            if x is not None:
                widen(lo, hi, x)
        if before - int(narrow().sum()) < min_gain * before:
            break
    return True


def _checked(n: int, n_check: int | None, only: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Mask of the variables to check, and how many bounds to return."""
    k = n if n_check is None else n_check
    check = np.zeros(n, dtype=bool)
    if only is None:
        check[:k] = True
        return check, k
    check[: only.size] = only
    return check, n


def _padded(known: np.ndarray | None, n: int, fill: float) -> np.ndarray:
    return np.full(n, fill) if known is None else np.r_[known, np.full(n - known.size, fill)]


def _maximum(
    lp: ComponentLP | CappedLP, j: int, cost: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> float:
    """Exact maximum of variable j (`cost` = -e_j), inf when unbounded; widens [lo, hi]."""
    _, x = lp.minimize(cost)
    if x is None:
        return np.inf
    widen(lo, hi, x)
    return x[j]


def _exact_ranges(
    lp: ComponentLP | CappedLP,
    check: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    done: np.ndarray,
    protection: float,
    exact: bool,
) -> bool:
    """Exact min of each checked variable not yet proven safe (all with `exact`), and its exact
    max when still narrow (`done` marks both exact). In place; False when infeasible."""
    e = np.zeros(lp.n)
    lower = lp.lower
    for j in np.flatnonzero(check):
        if not exact and hi[j] - lo[j] >= protection - TOL:
            continue
        e[j] = 1.0
        if exact or lo[j] > lower[j] + TOL:  # a witness at the lower bound is the minimum
            status, x = lp.minimize(e)
            if status == "infeasible":
                return False
            widen(lo, hi, x)
            lo[j] = x[j]
        if exact or hi[j] - lo[j] < protection - TOL:
            hi[j] = _maximum(lp, j, -e, lo, hi)
            done[j] = True
        e[j] = 0.0
    return True


def component_ranges(
    lp: ComponentLP,
    protection: float,
    *,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
    n_check: int | None = None,
    exact: bool = False,
    seed: int = 0,
    max_rounds: int = 12,
    only: np.ndarray | None = None,
    settle: bool = True,
) -> Ranges:
    """Range of the first `n_check` variables of `lp` (all by default), or of the variables
    flagged by the mask `only` (then every bound is returned, the others as witnessed).

    `lo` and `hi` may carry the span of feasible points already known. A variable whose
    witnessed values span `protection` is safe whatever its exact range, so it costs no LP of
    its own (unless `exact`). Objectives pushing the unproven variables all down, then all up
    (with random weights and signs) prove most of them in a few solves; the rest get their own
    min and max, which are exact. Without `settle`, witnesses only: the rest is left narrow.
    """
    n = lp.n
    check, k = _checked(n, n_check, only)
    lo = _padded(lo, n, np.inf)
    hi = _padded(hi, n, -np.inf)
    done = np.zeros(n, dtype=bool)

    def open_cells() -> np.ndarray:
        return check & ~(hi - lo >= protection - TOL)

    if exact:
        feasible = True
    elif highspy is None:
        rng = np.random.default_rng(seed)
        feasible = push_witnesses(
            lp, lo, hi, open_cells, rng, max_rounds=max_rounds, settled=2, min_gain=0.1
        )
    else:
        feasible = certify(lp, check, lo, hi, protection)
    if settle:
        feasible = feasible and _exact_ranges(lp, check, lo, hi, done, protection, exact)
    return Ranges(lo[:k], hi[:k], done[:k], infeasible=not feasible)


def column_classes(a: sp.csc_matrix, cols: np.ndarray) -> np.ndarray:
    """Class of each of `cols` (columns of `a`, canonical CSC): the same class for exactly the
    same stored rows and coefficients, compared column length by column length as rows of one
    array."""
    ptr = a.indptr
    nnz = ptr[cols + 1] - ptr[cols]
    label = np.zeros(cols.size, dtype=np.int64)
    next_label = 0
    for k in np.unique(nnz):
        sel = np.flatnonzero(nnz == k)
        at = ptr[cols[sel]][:, None] + np.arange(k)
        keys = np.c_[a.indices[at].astype(float), a.data[at]]
        if k == 0:  # cells in no relation: one class
            inverse = np.zeros(sel.size, dtype=np.int64)
        else:
            _, inverse = np.unique(keys, axis=0, return_inverse=True)
        label[sel] = next_label + inverse.ravel()
        next_label += int(inverse.max()) + 1
    return label


@dataclass(frozen=True)
class Pooled:
    """A component's LP with its interchangeable hidden cells pooled.

    Hidden cells in [0, inf) with exactly the same relations (same rows, same coefficients)
    form a class: moving t from one to another keeps every relation, so each member ranges
    over exactly [0, max S], S the class's sum. The LP over one variable per class (their sum)
    is the same polytope seen through S, and much smaller: a single-column table's 15,000
    secret communes and IRIS are ~1,200 classes. `lp`: the pooled LP, its first `n_check`
    variables the classes of the checked cells (`label`), then the other variables;
    `pooled`: the classes of at least two cells.
    """

    lp: ComponentLP
    label: np.ndarray
    pooled: np.ndarray
    n_check: int

    def start(self) -> tuple[np.ndarray, np.ndarray]:
        """Witnessed spans to start from: a pooled class's members reach 0 (its sum on another
        member) at any feasible point, so its span starts at 0 and it is proven once S reaches
        `protection`; the other variables start empty."""
        lo = np.where(self.pooled, 0.0, np.inf)
        return np.r_[lo, np.full(self.lp.n - lo.size, np.inf)], np.full(self.lp.n, -np.inf)

    def members(self, rg: Ranges) -> Ranges:
        """The checked cells' ranges from the classes' (a member: [0, the class's max])."""
        lab = self.label
        lo = np.where(self.pooled[lab], 0.0, rg.lo[lab])
        return Ranges(lo, rg.hi[lab], rg.exact[lab], infeasible=rg.infeasible)


def pool_classes(lp: ComponentLP, n_check: int) -> Pooled | None:
    """`Pooled` view of `lp` (its first `n_check` variables checked), None when no two
    checked variables in [0, inf) share their relations."""
    a_eq, b_eq, a_ub, b_ub, lower, upper = lp.args
    free = np.flatnonzero((lower[:n_check] == 0) & ~np.isfinite(upper[:n_check]))
    if free.size < 2:
        return None
    a = sp.vstack([a_eq, a_ub], format="csc")
    a.eliminate_zeros()
    a.sort_indices()
    cls = column_classes(a, free)
    if np.unique(cls).size == free.size:
        return None
    key = np.arange(n_check) + cls.size  # a variable outside the classes: its own key
    key[free] = cls
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    label = rank[inverse.ravel()]
    cols = np.r_[np.sort(first), np.arange(n_check, lp.n)]
    pooled_lp = ComponentLP(
        a_eq[:, cols], b_eq, a_ub[:, cols], b_ub, lower[cols], upper[cols], presolve=lp.presolve
    )
    return Pooled(pooled_lp, label, np.bincount(label) >= 2, int(first.size))


def single_equation_ranges(lp: ComponentLP) -> Ranges | None:
    """Exact ranges, without a solver, of a component held by one equation `a @ x == b` over
    nonnegative unbounded variables (no rounded neighbours); None for any other shape.

    Seen from a cell j (row scaled so that a_j > 0): another cell on the same side lets x_j
    fall to 0, a cell on the other side lets it grow without bound; alone on its side it sits
    at b / a_j at least (and exactly, with no cell on the other side: pinned)."""
    a_eq, b_eq, a_ub, _, lower, upper = lp.args
    if a_eq.shape[0] != 1 or a_ub.shape[0] or np.any(lower) or np.isfinite(upper).any():
        return None
    a = a_eq.toarray()[0]
    b = float(b_eq[0])
    pos, neg = int((a > 0).sum()), int((a < 0).sum())
    if not pos and not neg:
        return None
    s = np.sign(a)
    same = np.where(s > 0, pos, neg) - 1  # other cells on j's side
    other = np.where(s > 0, neg, pos)  # cells on the other side
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.where(a != 0, b * s / np.abs(a), 0.0)  # b / a_j, row scaled
    lo = np.where((a == 0) | (same > 0), 0.0, np.maximum(level, 0.0))
    hi = np.where((a == 0) | (other > 0), np.inf, level)
    infeasible = not (pos and neg) and b * (1 if pos else -1) < -TOL
    return Ranges(lo, hi, np.ones(a.size, dtype=bool), infeasible=infeasible)


def component_lp(
    relations: Relations,
    cells: np.ndarray,
    fixed: np.ndarray,
    *,
    rounding: float | np.ndarray | None = None,
    hidden: np.ndarray | None = None,
    by_column: Relations | None = None,
) -> tuple[ComponentLP, np.ndarray]:
    """The attacker's LP for the hidden `cells` of one component: variables and their cells.

    `fixed` holds the published value of every other cell. Without rounding they are constants.
    With rounding (one step, or one per cell, 0 for an exact cell), the published cells met by
    the component's relations become variables within [v - r, v + r] (r = rounding / 2), and so
    do the relations among them alone: a one-ring view of the whole system.
    `by_column`: the same relations in CSC (`columnwise`), so that finding the rows of a
    component costs its own size, not the whole matrix's. The relations hold no stored zeros
    (`audit` drops them).
    """
    eq, le = relations.eq, relations.le
    cols = by_column or columnwise(relations)
    eq_rows = _rows_of(cols.eq, cells)
    le_rows = _rows_of(cols.le, cells)
    var = np.asarray(cells)
    n_hidden = var.size
    lower = np.zeros(n_hidden)
    upper = np.full(n_hidden, np.inf)
    steps = None if rounding is None else np.asarray(rounding, dtype=float)
    if steps is not None and (steps.ndim or steps):
        touched = np.unique(np.r_[gather(eq, eq_rows), gather(le, le_rows)])
        extra = np.setdiff1d(touched, var)
        if hidden is not None:
            extra = extra[~hidden[extra]]
        r = np.broadcast_to(steps, (relations.n_cells,))[extra] / 2.0
        extra, r = extra[r > 0], r[r > 0]  # exact published cells stay constants
        var = np.r_[var, extra]
        lower = np.r_[lower, np.maximum(0.0, fixed[extra] - r)]
        upper = np.r_[upper, fixed[extra] + r]
        known = np.sort(var)
        eq_rows = _rows_within(eq, cols.eq, extra, eq_rows, known)
        le_rows = _rows_within(le, cols.le, extra, le_rows, known)
    a_eq, b_eq = _restricted(eq, eq_rows, var, fixed)
    a_ub, b_ub = _restricted(le, le_rows, var, fixed)
    lp = ComponentLP(a_eq, b_eq, a_ub, b_ub, lower, upper, presolve=True)
    return lp, var


def _restricted(
    m: sp.csr_matrix, rows: np.ndarray, var: np.ndarray, fixed: np.ndarray
) -> tuple[sp.csr_matrix, np.ndarray]:
    """The `rows` of `m` on the columns `var` only, and the right-hand side moving every other
    cell (a constant, `fixed`) across. Costs the rows' entries, not the table's width (scipy's
    column indexing of a wide matrix costs the width, once per component), read in place (a
    rounded period's ~900 small components each paid for scipy's row indexing and COO copy)."""
    pos, row = entries(m, rows)
    col, data = m.indices[pos], m.data[pos]
    order = np.argsort(var, kind="stable")
    inside, at = _member(var[order], col)
    out = ~inside
    rhs = -np.bincount(row[out], data[out] * fixed[col[out]], minlength=rows.size).astype(float)
    a = sp.csr_matrix((data[inside], (row[inside], order[at[inside]])), shape=(rows.size, var.size))
    return a, rhs


def _member(known: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each of `x` is in the sorted array `known`, and where."""
    if not known.size:
        return np.zeros(x.size, dtype=bool), np.zeros(x.size, dtype=np.int64)
    at = np.minimum(np.searchsorted(known, x), known.size - 1)
    return known[at] == x, at


def _zero_free(rel: Relations) -> Relations:
    """`rel` without stored zeros (a copy only when it has some)."""
    if not (np.any(rel.eq.data == 0) or np.any(rel.le.data == 0)):
        return rel
    eq, le = sp.csr_matrix(rel.eq, copy=True), sp.csr_matrix(rel.le, copy=True)
    eq.eliminate_zeros()
    le.eliminate_zeros()
    return Relations(eq, le)


def columnwise(relations: Relations) -> Relations:
    """The relations in CSC, built once per table for `component_lp`."""
    return Relations(sp.csc_matrix(relations.eq), sp.csc_matrix(relations.le))


def entries(m: sp.csr_matrix | sp.csc_matrix, major: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in `m.indices` and `m.data`) of the entries of the `major` rows (CSR) or
    columns (CSC), and the rank in `major` of the row or column of each."""
    major = np.asarray(major, dtype=np.int64)
    starts = m.indptr[major]
    lengths = m.indptr[major + 1] - starts
    owner = np.repeat(np.arange(major.size), lengths)
    first = np.cumsum(lengths) - lengths
    return starts[owner] + np.arange(owner.size) - first[owner], owner


def gather(m: sp.csr_matrix | sp.csc_matrix, major: np.ndarray) -> np.ndarray:
    """The minor indices of the `major` rows (CSR) or columns (CSC), concatenated, repeats
    kept: sparse fancy indexing would build a whole matrix (and, by column, cost the
    matrix's width) for what is only a list here."""
    return m.indices[entries(m, major)[0]]


def _rows_of(csc: sp.csc_matrix, cells: np.ndarray) -> np.ndarray:
    """Sorted rows with a stored entry in any of `cells` (columns of `csc`)."""
    return np.unique(gather(csc, cells))


def _rows_within(
    m: sp.csr_matrix, csc: sp.csc_matrix, extra: np.ndarray, rows: np.ndarray, known: np.ndarray
) -> np.ndarray:
    """Rows touching the component, plus every row whose cells all lie among the variables
    (`known`, sorted).

    Such a row has a nonzero on a variable: it touches the component (already in `rows`) or one
    of the `extra` published cells, so only those candidates are checked.
    """
    cand = np.setdiff1d(_rows_of(csc, extra), rows)
    # A row with more entries than there are variables has one outside (no stored zeros): a
    # rounded component's neighbours meet the France and région rows, ~20,000 entries a
    # component to read for nothing.
    cand = cand[m.indptr[cand + 1] - m.indptr[cand] <= known.size]
    pos, owner = entries(m, cand)
    outside = (m.data[pos] != 0) & ~_member(known, m.indices[pos])[0]
    sizes = np.bincount(owner, minlength=cand.size)
    n_out = np.bincount(owner, outside, minlength=cand.size)
    return np.union1d(rows, cand[(n_out == 0) & (sizes > 0)])


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def relation_blocks(m: sp.csr_matrix, cap: int) -> np.ndarray:
    """Block of each column of `m` (relations x hidden cells): relations are merged smallest
    first (a breakdown, an EPCI, then a département...) while a block stays within `cap` cells,
    so a block is a natural sub-table of the hierarchy. Deterministic."""
    n = m.shape[1]
    parent = list(range(n))  # Python lists: scalar access to numpy arrays is several times slower
    size = [1] * n
    nh = np.diff(m.indptr)
    order = np.lexsort((np.arange(m.shape[0]), nh))
    order = order[(nh[order] >= 2) & (nh[order] <= cap)]
    ptr, ind = m.indptr.tolist(), m.indices.tolist()
    for r in order.tolist():
        roots = sorted({_find(parent, x) for x in ind[ptr[r] : ptr[r + 1]]})
        total = sum(size[x] for x in roots)
        if len(roots) == 1 or total > cap:
            continue
        for x in roots[1:]:
            parent[x] = roots[0]
        size[roots[0]] = total
    roots = np.array(parent, dtype=int)
    while True:  # every cell to its root (the merges above kept roots at the top)
        up = roots[roots]
        if np.array_equal(up, roots):
            break
        roots = up
    return np.unique(roots, return_inverse=True)[1] if n else roots


# Components at least this large (without rounding) are first proven block by block: blocks of
# about this many cells made of whole relations (a commune's columns, an EPCI with its communes,
# a département...), the rest of the component held at one feasible point; then blocks
# LOCAL_WIDE times larger for the cells still narrow. On 2019-12's household table blocks of
# consecutive cells left 5,454 of 63,431 cells (the aggregates, pinned by their held communes)
# to capped rounds over the whole component; these leave 22, solved one by one when at most
# LOCAL_FEW_LEFT and a small share of the component (2 warm solves a cell against one cold).
LOCAL_MIN_CELLS = 4000
LOCAL_BLOCK = 2000
# LOCAL_WIDE 4 rather than 8: the wide blocks' models (~8,000 columns) take fewer, cheaper
# solves than 16,000-cell ones for the few cells they are for.
LOCAL_WIDE = 4
LOCAL_FEW_LEFT = 100
LOCAL_FEW_SHARE = 0.01


def local_witnesses(
    rel: Relations,
    cells: np.ndarray,
    fixed: np.ndarray,
    lp: ComponentLP,
    protection: float,
    by_column: Relations,
    block: int | None = None,
) -> tuple[bool, np.ndarray, np.ndarray]:
    """Witnessed spans of a large component's cells, found on small LPs: one solve of the whole
    gives a feasible point; then each block of cells is certified (`certify`) with every other
    cell held at that point. A block's solutions, the point elsewhere, are feasible points of
    the whole component, so what they prove holds; what the held cells stop them proving is
    left to the whole LP. False when the component is infeasible."""
    block = block or LOCAL_BLOCK
    status, x = lp.minimize(np.ones(lp.n))
    if x is None:
        return status != "infeasible", np.full(lp.n, np.inf), np.full(lp.n, -np.inf)
    lo, hi = x.copy(), x.copy()
    point = fixed.copy()
    point[cells] = x
    wide = LOCAL_WIDE * block
    for size in (block, wide) if wide < lp.n else (block,):  # not the whole component again
        narrow = hi - lo < protection - TOL
        for part in _local_parts(lp, size):
            if not narrow[part].any():
                continue
            sub, _ = component_lp(rel, cells[part], point, by_column=by_column)
            span = lo[part], hi[part]
            certify(sub, narrow[part], *span, protection)
            lo[part], hi[part] = span
            lp.solves += sub.solves
    return True, lo, hi


def _local_parts(lp: ComponentLP, block: int) -> list[np.ndarray]:
    """The variables of `lp` in parts of about `block`: its relations merged smallest first
    (`relation_blocks`), so that an EPCI or a département comes with its communes, then whole
    blocks packed in order up to `block` variables."""
    a_eq, _, a_ub, *_ = lp.args
    blk = relation_blocks(sp.vstack([a_eq, a_ub], format="csr"), block)
    order = np.argsort(blk, kind="stable")
    sizes = np.bincount(blk)
    parts, acc, start = [], 0, 0
    ends = np.cumsum(sizes)
    for k, size in enumerate(sizes.tolist()):
        if acc and acc + size > block:
            parts.append(order[start : ends[k - 1]])
            start, acc = ends[k - 1], 0
        acc += size
    if start < order.size:
        parts.append(order[start:])
    return parts


def _large_ranges(
    rel: Relations,
    cells: np.ndarray,
    fixed: np.ndarray,
    lp: ComponentLP,
    protection: float,
    by_column: Relations,
) -> Ranges:
    """`component_ranges` of a large component, after `local_witnesses`."""
    ok, lo, hi = local_witnesses(rel, cells, fixed, lp, protection, by_column)
    if not ok:
        return Ranges(lo, hi, np.zeros(lp.n, dtype=bool), infeasible=True)
    narrow = hi - lo < protection
    left = int(narrow.sum())
    if left > min(LOCAL_FEW_LEFT, LOCAL_FEW_SHARE * lp.n):
        return component_ranges(lp, protection, lo=lo, hi=hi, only=narrow)
    # A few cells left: their exact min and max from the whole LP's last basis cost less than
    # capped rounds over the whole component (a cold presolved model of ~65,000 columns).
    done = np.zeros(lp.n, dtype=bool)
    feasible = _exact_ranges(lp, narrow, lo, hi, done, protection, exact=False)
    return Ranges(lo, hi, done, infeasible=not feasible)


def _pooled_ranges(pool: Pooled, protection: float, exact: bool, settle: bool) -> Ranges:
    """`component_ranges` of a pooled LP's classes (closed form when one equation holds them),
    each pooled class's span starting at 0."""
    rg = single_equation_ranges(pool.lp)
    if rg is not None:
        return rg
    lo, hi = pool.start()
    return component_ranges(
        pool.lp, protection, lo=lo, hi=hi, n_check=pool.n_check, exact=exact, settle=settle
    )


def _ranges_of(
    lp: ComponentLP,
    rel: Relations,
    cells: np.ndarray,
    fixed: np.ndarray,
    protection: float,
    by_column: Relations,
    local: bool,
    exact: bool,
    settle: bool = True,
) -> tuple[Ranges, int]:
    """Ranges of a component's `cells` (the first variables of `lp`) by the cheapest path, and
    the LPs solved: its classes pooled, closed form, blocks first (`local`, large) or the whole
    LP. Without `settle`, witnessed spans only (`component_ranges`)."""
    pool = pool_classes(lp, cells.size)
    if pool is not None and not (local and pool.lp.n >= LOCAL_MIN_CELLS):
        return pool.members(_pooled_ranges(pool, protection, exact, settle)), pool.lp.solves
    rg = single_equation_ranges(lp)
    if rg is None and local and cells.size >= LOCAL_MIN_CELLS:
        rg = _large_ranges(rel, cells, fixed, lp, protection, by_column)
    elif rg is None:
        rg = component_ranges(lp, protection, n_check=cells.size, exact=exact, settle=settle)
    return rg, lp.solves


# Without rounding, independent components are solved together up to this many hidden cells:
# one LP model and one round of witnesses for many small components (the objectives of
# disjoint blocks do not interact, so each block's optimum is its own).
BATCH_CELLS = 400


def _solved(
    labels: np.ndarray, n: int, max_cells: int, ranges: Callable[[np.ndarray], Ranges]
) -> Iterator[tuple[np.ndarray, Ranges]]:
    """(cells, ranges) of unions of whole components of at most `max_cells` hidden cells (a
    larger component alone). An infeasible union is solved again component by component, so
    that each infeasible component is counted once."""
    batch: list[np.ndarray] = []
    size = 0
    for comp in [*iter_components(labels, n), None]:
        if batch and (comp is None or size + comp.size > max_cells):
            cells = np.concatenate(batch)
            rg = ranges(cells)
            if rg.infeasible and len(batch) > 1:
                yield from ((c, ranges(c)) for c in batch)
            else:
                yield cells, rg
            batch, size = [], 0
        if comp is not None:
            batch.append(comp)
            size += comp.size


# With rounding, each component's LP carries its rounded neighbours (`component_lp`), so
# components are not independent. Unions of them up to this many hidden cells are first
# certified together: a point of the union's LP is one of each component's (the union only
# adds relations), so what its witnesses prove holds; a component with a cell left narrow is
# then solved alone, exactly as without the union. On 2024-12 (~1,400 components of ~3 cells)
# the Python work of one model per component was most of the time, not the LPs.
ROUNDED_BATCH_CELLS = 400


def _witnessed_first(
    labels: np.ndarray,
    n: int,
    protection: float,
    witnesses: Callable[[np.ndarray], Ranges],
    ranges: Callable[[np.ndarray], Ranges],
) -> Iterator[tuple[np.ndarray, Ranges]]:
    """(cells, ranges) of every component: the cells proven by the witnesses of their union
    (`witnesses`, spans only), the components they leave narrow or infeasible by `ranges`."""
    for cells, rg in _solved(labels, n, ROUNDED_BATCH_CELLS, witnesses):
        redo = labels[cells[rg.hi - rg.lo < protection - TOL]]
        if rg.infeasible:
            redo = labels[cells]
        keep = ~np.isin(labels[cells], redo)
        if keep.any():
            yield cells[keep], Ranges(rg.lo[keep], rg.hi[keep], rg.exact[keep])
        for lab in np.unique(redo).tolist():
            comp = cells[labels[cells] == lab]
            yield comp, ranges(comp)


@dataclass
class AuditReport:
    """What the attacker can infer; `ok` is the verdict."""

    cells: int
    relations: int
    hidden: int
    protection: float
    components: int
    lp_solves: int
    narrowest: tuple[int, float, float] | None
    failures: list[tuple[int, float, float]] = field(default_factory=list)
    seconds: float = 0.0
    infeasible_components: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures and not self.infeasible_components

    def summary(self) -> str:
        """One French line for logs and the build report."""
        verdict = "conforme" if self.ok else f"ÉCHEC ({len(self.failures)} cellule(s) exposée(s))"
        narrow = ""
        if self.narrowest is not None:
            i, a, b = (round(x, 6) + 0.0 for x in self.narrowest)  # + 0.0: no "-0"
            narrow = f" ; intervalle le plus étroit : cellule {i:g} dans [{a:g}, {b:g}]"
        return (
            f"audit du secret {verdict} : {self.cells} cellules vérifiées, {self.hidden} "
            f"masquées, {self.components} composantes, {self.lp_solves} PL{narrow} "
            f"({self.seconds:.1f} s)"
        )


def audit(
    published: np.ndarray | None,
    relations: Relations | sp.spmatrix,
    hidden: np.ndarray,
    *,
    protection: float = 5,
    rounding: float | np.ndarray | None = None,
    exact: bool = False,
) -> AuditReport:
    """Bound every hidden cell from published information only and check it is protected.

    `published` holds the published value of every cell (anything, e.g. NaN, where hidden; None
    when nothing but the mask is known, which makes every relation free). `rounding`: published
    values are multiples of it (one step, or one per cell, 0 where exact), so each is known
    within +/- rounding / 2. With `exact`, every
    hidden cell gets its exact min and max; otherwise cells proven safe by witnesses are skipped
    and `narrowest` is the narrowest exact range computed.
    """
    t0 = time.perf_counter()
    rel = _zero_free(as_relations(relations))
    hidden = np.asarray(hidden, dtype=bool)
    n = rel.n_cells
    if published is None:
        fixed = np.zeros(n)
        rounding = rounding or np.inf
    else:
        fixed = np.where(hidden, 0.0, np.asarray(published, dtype=float))
    labels, n_comp = hidden_components(rel, hidden)
    failures: list[tuple[int, float, float]] = []
    narrowest: tuple[int, float, float] | None = None
    solves = infeasible = 0
    by_column = columnwise(rel)

    exact_published = rounding is None or not np.any(rounding)
    steps = None if exact_published else rounding
    local = exact_published and not exact and highspy is not None

    def ranges(cells: np.ndarray, settle: bool = True) -> Ranges:
        nonlocal solves
        lp, _ = component_lp(rel, cells, fixed, rounding=steps, hidden=hidden, by_column=by_column)
        rg, n_solves = _ranges_of(
            lp, rel, cells, fixed, protection, by_column, local, exact, settle
        )
        solves += n_solves
        return (
            rg if settle else Ranges(rg.lo, rg.hi, np.zeros(cells.size, dtype=bool), rg.infeasible)
        )

    if exact_published or exact:
        solved = _solved(labels, n_comp, BATCH_CELLS if exact_published else 1, ranges)
    else:
        witnesses = partial(ranges, settle=False)
        solved = _witnessed_first(labels, n_comp, protection, witnesses, ranges)
    for comp, rg in solved:
        if rg.infeasible:
            infeasible += 1
            continue
        for k, cell in enumerate(comp):
            lo_k, hi_k = float(rg.lo[k]), float(rg.hi[k])
            width = hi_k - lo_k
            if rg.exact[k] and (narrowest is None or width < narrowest[2] - narrowest[1]):
                narrowest = (int(cell), lo_k, hi_k)
            if width < protection - TOL:
                failures.append((int(cell), lo_k, hi_k))
    return AuditReport(
        cells=n,
        relations=rel.n_relations,
        hidden=int(hidden.sum()),
        protection=protection,
        components=n_comp,
        lp_solves=solves,
        narrowest=narrowest,
        failures=failures,
        seconds=time.perf_counter() - t0,
        infeasible_components=infeasible,
    )
