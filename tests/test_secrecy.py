"""Secondary suppression (layers/secrecy.py): rules of SECRECY.md on small, known tables."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from layers.audit import ComponentLP, audit
from layers.secrecy import (
    _block_witnesses,
    _class_witnesses,
    _Neighbourhood,
    build_relations,
    mask_rate,
    primary_mask,
    protect,
    recoverable,
    relation_matrix,
)


def load_bench():
    """bench/ is not an installed package: load the synthetic France generator by path."""
    path = Path(__file__).resolve().parents[1] / "bench" / "secrecy_bench.py"
    if "secrecy_bench" not in sys.modules:
        spec = importlib.util.spec_from_file_location("secrecy_bench", path)
        sys.modules["secrecy_bench"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["secrecy_bench"])
    return sys.modules["secrecy_bench"]


def two_way(table: np.ndarray):
    """Cells of a table with its margins (last row and column are totals) and its relations."""
    n_r, n_c = table.shape
    idx = np.arange(n_r * n_c).reshape(n_r, n_c)
    rows = {int(idx[i, -1]): idx[i, :-1].tolist() for i in range(n_r)}
    cols = {int(idx[-1, j]): idx[:-1, j].tolist() for j in range(n_c)}
    return table.ravel(), build_relations(n_r * n_c, [rows, cols]), idx


# The Caf's example: households by age band x "oui" / "non", with margins.
CAF = np.array(
    [
        [12, 2, 14],
        [30, 25, 55],
        [18, 20, 38],
        [9, 11, 20],
        [69, 58, 127],
    ]
)


def published(values: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    return np.where(hidden, np.nan, values)


def assert_protected(values, relations, hidden, protection=5):
    rep = audit(published(values, hidden), relations, hidden, protection=protection, exact=True)
    assert rep.ok, rep.failures
    assert rep.narrowest[2] - rep.narrowest[1] >= protection - 1e-6
    return rep


def test_relation_matrix_signs():
    m = relation_matrix({0: [1, 2]}, 3).toarray()
    assert m.tolist() == [[-1.0, 1.0, 1.0]]
    rel = build_relations(4, [{0: [1, 2]}], within=[{0: [3]}, {1: []}])
    assert rel.eq.shape == (1, 4) and rel.le.shape == (1, 4)


def test_primary_zero_published_small_hidden():
    v = np.array([0, 1, 2, 3, 4, 5, 6, 100])
    assert primary_mask(v).tolist() == [False, True, True, True, True, False, False, False]
    assert primary_mask(v, threshold=3).tolist()[:5] == [False, True, True, False, False]


def test_primary_infra_communal_and_commune_rules():
    v = np.array([40, 0, 50, 10, 3, 0])
    kind = np.array(["iris", "iris", "iris", "commune", "commune", "qpv"])
    alloc = np.array([90, 90, 150, 10, 3, 120])
    hidden = primary_mask(v, zone_kind=kind, allocataires=alloc)
    # IRIS under 100 allocataires: all cells (even 0); commune under 5: all cells.
    assert hidden.tolist() == [True, True, False, False, True, False]


def test_mask_rate():
    num = np.array([True, False, False])
    den = np.array([False, True, False])
    assert mask_rate(num, den).tolist() == [True, True, False]


def test_caf_example_primary_only_is_recoverable_then_protected():
    values, rel, idx = two_way(CAF)
    weak = primary_mask(values)
    assert weak.sum() == 1 and weak[idx[0, 1]]
    assert recoverable(rel, weak)[idx[0, 1]]
    rep = audit(published(values, weak), rel, weak)
    assert not rep.ok and rep.failures[0][0] == idx[0, 1]
    assert rep.failures[0][1] == pytest.approx(2) and rep.failures[0][2] == pytest.approx(2)

    res = protect(values, rel, weak)
    assert res.hidden[weak].all() and res.secondary.sum() >= 3  # a 2 x 2 rectangle at least
    assert not recoverable(rel, res.hidden).any()
    assert_protected(values, rel, res.hidden)
    assert res.stats["primary"] == 1 and res.stats["secondary"] == res.secondary.sum()


def hierarchy():
    """One département: EPCI A {3, 40, 25}, EPCI B {60, 2, 33}, and a commune without EPCI."""
    communes = np.array([3, 40, 25, 60, 2, 33, 4])
    epci_a, epci_b, dep = 7, 8, 9
    values = np.r_[communes, communes[:3].sum(), communes[3:6].sum(), communes.sum()]
    rel = build_relations(
        values.size,
        [{epci_a: [0, 1, 2], epci_b: [3, 4, 5]}, {dep: list(range(7))}],
    )
    return values, rel


def test_hierarchy_lone_commune_and_level_up():
    values, rel = hierarchy()
    prim = primary_mask(values)
    assert prim.tolist()[:7] == [True, False, False, False, True, False, True]
    res = protect(values, rel, prim)
    assert res.hidden[:3].sum() >= 2 and res.hidden[3:6].sum() >= 2
    # The commune without EPCI (4) would be the département minus the two EPCI: protected too.
    assert_protected(values, rel, res.hidden)


def test_level_up_recovery_is_caught():
    values, rel = hierarchy()
    # Each EPCI has two hidden communes, but the département gives away the lone commune 4.
    weak = np.zeros(values.size, dtype=bool)
    weak[[0, 2, 4, 5, 6]] = True
    assert recoverable(rel, weak)[6]
    assert not audit(published(values, weak), rel, weak).ok


def test_trap_two_small_cells_do_not_protect_each_other():
    values = np.array([1, 2, 50, 60, 113])
    rel = build_relations(5, [{4: [0, 1, 2, 3]}])
    prim = primary_mask(values)
    assert not audit(published(values, prim), rel, prim).ok  # 1 + 2 = 3: both in [0, 3]
    res = protect(values, rel, prim)
    assert res.hidden.sum() >= 3
    assert_protected(values, rel, res.hidden)


def test_single_contributor_needs_two_companions():
    values = np.array([7, 40, 50, 60, 157])
    rel = build_relations(5, [{4: [0, 1, 2, 3]}])
    prim = np.array([True, False, False, False, False])
    res = protect(values, rel, prim, single=prim)
    assert res.hidden[:4].sum() >= 3


def test_inequality_iris_within_commune():
    # Commune 100 with three IRIS covering part of it (80): parts within the total.
    values = np.array([100, 3, 37, 40])
    rel = build_relations(4, within=[{0: [1, 2, 3]}])
    prim = primary_mask(values)
    res = protect(values, rel, prim)
    assert_protected(values, rel, res.hidden)


def test_zero_never_hidden_to_protect():
    values = np.array([3, 0, 0, 40, 43])
    rel = build_relations(5, [{4: [0, 1, 2, 3]}])
    res = protect(values, rel, primary_mask(values))
    assert not res.hidden[[1, 2]].any()
    assert_protected(values, rel, res.hidden)


def test_forbidden_cells_by_cost_and_bare_matrix():
    values, rel, idx = two_way(CAF)
    costs = np.ones(values.size)
    costs[idx[-1]] = np.inf  # never hide the grand margins
    res = protect(values, rel.eq, primary_mask(values), costs=costs)
    assert not res.hidden[idx[-1]].any()
    assert_protected(values, rel, res.hidden)


def test_inconsistent_values_rejected():
    rel = build_relations(3, [{2: [0, 1]}])
    with pytest.raises(ValueError, match="relation"):
        protect(np.array([1, 2, 4]), rel, np.array([True, False, False]))


def random_table(rng: np.random.Generator):
    """Random two-level hierarchy of units, each split into 2 or 3 categories plus a total."""
    n_leaf = int(rng.integers(4, 12))
    n_mid = int(rng.integers(1, 4))
    k = int(rng.integers(2, 4))
    mid = np.sort(np.r_[np.arange(n_mid), rng.integers(0, n_mid, n_leaf - n_mid)])
    leaf = rng.integers(0, 9, (n_leaf, k)) * (rng.random((n_leaf, k)) < 0.8)
    leaf[rng.random((n_leaf, k)) < 0.3] += rng.integers(5, 60)
    units = np.r_[leaf, [leaf[mid == m].sum(0) for m in range(n_mid)], [leaf.sum(0)]]
    table = np.c_[units.sum(1), units]
    cols = k + 1
    n_units = table.shape[0]
    cell = np.arange(n_units * cols).reshape(n_units, cols)
    top = n_units - 1
    eqs = [{int(cell[u, 0]): cell[u, 1:].tolist() for u in range(n_units)}]
    for c in range(cols):
        eqs.append(
            {
                int(cell[n_leaf + m, c]): cell[np.flatnonzero(mid == m), c].tolist()
                for m in range(n_mid)
            }
        )
        eqs.append({int(cell[top, c]): cell[n_leaf : n_leaf + n_mid, c].tolist()})
    return table.ravel(), build_relations(n_units * cols, eqs)


@pytest.mark.parametrize("seed", range(12))
def test_random_hierarchies_pass_audit(seed):
    values, rel = random_table(np.random.default_rng(seed))
    res = protect(values, rel, primary_mask(values))
    assert res.unprotected.size == 0
    assert_protected(values, rel, res.hidden)


def test_deterministic_and_weak_mask_fails_on_multilevel_table():
    syn = load_bench().synthetic_france(600, 25, 3, 2, cross_epci=2, no_epci=3, seed=3)
    prim = primary_mask(syn.values)
    weak = audit(published(syn.values, prim), syn.relations, prim)
    assert not weak.ok and len(weak.failures) > 10
    first = protect(syn.values, syn.relations, prim)
    second = protect(syn.values, syn.relations, prim)
    assert np.array_equal(first.hidden, second.hidden)
    rep = audit(published(syn.values, first.hidden), syn.relations, first.hidden)
    assert rep.ok, rep.failures[:5]
    assert first.stats["share_cells_hidden"] < 0.5


@pytest.mark.slow
def test_synthetic_france_scale():
    bench = load_bench()
    out = bench.measure(35_000)
    assert out["audit"].ok
    assert out["result"].stats["seconds"] < 300


def test_sparse_relations_any_format():
    values, rel, _ = two_way(CAF)
    res = protect(values, sp.csc_matrix(rel.eq), primary_mask(values))
    assert_protected(values, rel, res.hidden)


def test_class_witnesses_span_the_class_sum():
    # Three communes of one EPCI (cells 0..2, total 3): 0 and 1 share every relation.
    values = np.array([2.0, 4.0, 10.0, 16.0])
    rel = build_relations(4, [{3: [0, 1, 2]}])
    hidden = np.array([True, True, False, False])
    lo, hi = values.copy(), values.copy()
    _class_witnesses(sp.vstack([rel.eq, rel.le], format="csc"), values, hidden, 5, lo, hi)
    assert lo[:2].tolist() == [0, 0] and hi[:2].tolist() == [6, 6]
    # Two small cells do not protect each other: their sum (3) stays below 5.
    lo, hi = values.copy(), values.copy()
    small = np.array([1.0, 2.0, 10.0, 13.0])
    _class_witnesses(sp.vstack([rel.eq, rel.le], format="csc"), small, hidden, 5, lo, hi)
    assert np.array_equal(lo, values) and np.array_equal(hi, values)


@pytest.mark.parametrize("small_exact", [True, False])
@pytest.mark.parametrize("seed", range(8))
def test_block_witnesses_are_sound_and_exact_on_one_block(seed, small_exact):
    """Block ranges are feasible points (inside the exact ranges); with one block they are
    the exact ranges of every narrow cell, whether the small blocks computed their exact
    extremes or only witnesses (as `protect` does)."""
    rng = np.random.default_rng(seed)
    values, rel = random_table(rng)
    hidden = primary_mask(values) | (rng.random(values.size) < 0.3)
    exact = audit(published(values, hidden), rel, hidden, protection=5, exact=True)
    ranges = {c: (lo, hi) for c, lo, hi in exact.failures}
    lo, hi = values.astype(float), values.astype(float)
    for cap in (3, 10**6):  # tiny blocks, then the whole table as one block
        exact = small_exact or cap > 3
        _block_witnesses(
            rel, values.astype(float), hidden, hidden.copy(), 5, lo, hi, cap=cap, exact=exact
        )
    for c in np.flatnonzero(hidden):
        if c in ranges:  # narrow for real: the witnesses stay inside and reach the bounds
            assert ranges[c][0] - 1e-6 <= lo[c] and hi[c] <= ranges[c][1] + 1e-6
            assert hi[c] - lo[c] == pytest.approx(ranges[c][1] - ranges[c][0], abs=1e-6)
        else:
            assert hi[c] - lo[c] >= 5 - 1e-6


@pytest.mark.parametrize("seed", range(4))
def test_repair_lp_columns_are_the_sliced_relations(seed):
    """A repair's matrix built from the relations' columns is [A, -A_pub] over the rows its
    cells touch, equalities first, with the "within" relations as inequality rows; the LP
    rebuilt from it has the same a_eq and a_ub as the sliced one."""
    rng = np.random.default_rng(seed)
    values, eq_rel = random_table(rng)
    n = values.size
    le = relation_matrix({int(rng.integers(n)): rng.choice(n, 3, replace=False).tolist()}, n)
    rel = type(eq_rel)(eq_rel.eq, le)
    hood = _Neighbourhood(rel, values.astype(float), np.ones(n))
    a = sp.vstack([rel.eq, rel.le], format="csr")
    hidden = rng.random(n) < 0.3
    cells = hood.cells(int(rng.integers(n)), 2)
    hid, pub = cells[hidden[cells]], cells[~hidden[cells]]
    cols = np.r_[hid, pub]
    rows = hood.rows_of(cols)
    sub = a[rows][:, cols]
    want = sp.hstack([sub, -sub[:, hid.size :]], format="csr")
    got = hood._columns(cols, pub, rows)
    assert got.has_sorted_indices and np.array_equal(got.toarray(), want.toarray())
    n_eq = int((rows < rel.eq.shape[0]).sum())
    lp = ComponentLP.stacked(got, n_eq, np.zeros(n_eq), np.zeros(rows.size - n_eq), 0, 0)
    assert np.array_equal(lp.args[0].toarray(), want[:n_eq].toarray())
    assert np.array_equal(lp.args[2].toarray(), want[n_eq:].toarray())


def test_breakdown_hierarchy_protected_with_few_secondary():
    """Communes x (total + 3 parts) under EPCI and a national total: the linked-table shape."""
    rng = np.random.default_rng(7)
    n_com, n_epci, k = 60, 6, 3
    epci = np.sort(np.r_[np.arange(n_epci), rng.integers(0, n_epci, n_com - n_epci)])
    parts = rng.integers(0, 6, (n_com, k)) + (rng.random((n_com, k)) < 0.5) * 20
    com = np.c_[parts.sum(1), parts]
    units = np.r_[com, [com[epci == e].sum(0) for e in range(n_epci)], [com.sum(0)]]
    cell = np.arange(units.size).reshape(units.shape)
    eqs = [{int(cell[u, 0]): cell[u, 1:].tolist() for u in range(len(units))}]
    for c in range(k + 1):
        eqs.append(
            {
                int(cell[n_com + e, c]): cell[np.flatnonzero(epci == e), c].tolist()
                for e in range(n_epci)
            }
        )
        eqs.append({int(cell[-1, c]): cell[:n_com, c].tolist()})
    values, rel = units.ravel(), build_relations(units.size, eqs)
    prim = primary_mask(values)
    res = protect(values, rel, prim)
    assert res.unprotected.size == 0
    assert_protected(values, rel, res.hidden)
    assert res.secondary.sum() <= prim.sum()
