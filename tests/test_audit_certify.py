"""Secrecy audit: cells certified many per LP (capped gains, blocks of a large component) must
reach the same verdicts as one min and one max LP per cell, leaks included."""

from __future__ import annotations

import numpy as np
import pytest

import layers.audit as audit_module
from layers.audit import audit
from layers.secrecy import build_relations
from tests.test_audit import brute_force


def grid(n_rows: int, n_cols: int, rng: np.random.Generator, high: int = 30):
    """A table of `n_rows` x `n_cols` counts with row totals, column totals and the grand
    total, flattened row-wise (totals last in each row, the totals' row last)."""
    inner = rng.integers(0, high, (n_rows, n_cols))
    full = np.zeros((n_rows + 1, n_cols + 1))
    full[:n_rows, :n_cols] = inner
    full[:n_rows, n_cols] = inner.sum(axis=1)
    full[n_rows, :] = full[:n_rows, :].sum(axis=0)
    idx = np.arange(full.size).reshape(full.shape)
    rows = {int(idx[i, -1]): idx[i, :-1].tolist() for i in range(n_rows + 1)}
    cols = {int(idx[-1, j]): idx[:-1, j].tolist() for j in range(n_cols + 1)}
    return full.ravel(), build_relations(full.size, [rows, cols]), idx


@pytest.fixture(params=["whole", "blocks", "blocks_one_by_one"])
def path(request, monkeypatch):
    """The whole component's LP, or blocks of a few cells first (the national path, made to
    fire on small tables), the cells they leave then certified by capped rounds over the
    whole or (`blocks_one_by_one`, as when a national component leaves a few) solved one by
    one from the whole LP's basis."""
    if request.param != "whole":
        monkeypatch.setattr(audit_module, "LOCAL_MIN_CELLS", 20)
        monkeypatch.setattr(audit_module, "LOCAL_BLOCK", 30)
    if request.param == "blocks_one_by_one":
        monkeypatch.setattr(audit_module, "LOCAL_FEW_SHARE", 1.0)
    return request.param


def planted_table():
    """A 30 x 8 table, a third of its counts hidden, and two planted leaks: row 5's only
    secrets are 1 and 2 (each within [0, 3]) and row 7's only secret is pinned by its row."""
    rng = np.random.default_rng(7)
    values, rel, idx = grid(30, 8, rng)
    hidden = np.zeros(values.size, dtype=bool)
    hidden[idx[:30, :8].ravel()] = rng.random(240) < 0.35
    hidden[idx[5, :8]] = False
    hidden[idx[7, :8]] = False
    values[idx[5, :2]] = [1, 2]
    hidden[idx[5, :2]] = True
    hidden[idx[7, 3]] = True
    values[idx[:30, 8]] = values.reshape(idx.shape)[:30, :8].sum(axis=1)
    values[idx[30, :]] = values.reshape(idx.shape)[:30, :].sum(axis=0)
    return values, rel, idx, hidden


def test_certified_audit_finds_planted_leaks(path):
    values, rel, idx, hidden = planted_table()
    published = np.where(hidden, np.nan, values)
    fast = audit(published, rel, hidden)
    slow = audit(published, rel, hidden, exact=True)
    found = {cell: (lo, hi) for cell, lo, hi in fast.failures}
    assert int(idx[7, 3]) in found and found[int(idx[7, 3])] == pytest.approx(
        (values[idx[7, 3]],) * 2
    )
    assert found[int(idx[5, 0])] == pytest.approx((0, 3))
    assert found[int(idx[5, 1])] == pytest.approx((0, 3))
    assert set(found) == {cell for cell, _, _ in slow.failures}
    # the certification path did prove cells in bulk: far fewer LPs than two per secret cell
    # (one by one, the cells the blocks leave cost two each by design)
    assert fast.lp_solves < slow.lp_solves / (2 if path == "blocks_one_by_one" else 4)


@pytest.mark.parametrize("seed", range(5))
def test_certified_verdicts_match_per_cell_lps(seed, path):
    rng = np.random.default_rng(100 + seed)
    values, rel, idx = grid(12, 5, rng, high=12)
    hidden = rng.random(values.size) < 0.4
    published = np.where(hidden, np.nan, values)
    fast = audit(published, rel, hidden)
    ref = brute_force(values, rel, hidden)
    failing = {j for j, (lo, hi) in ref.items() if hi - lo < 5 - 1e-6}
    assert {cell for cell, _, _ in fast.failures} == failing
    assert fast.infeasible_components == 0
    for cell, lo, hi in fast.failures:  # a failure reports the exact range
        assert (lo, hi) == (pytest.approx(ref[cell][0]), pytest.approx(ref[cell][1]))


def test_certified_audit_reports_an_infeasible_table(path):
    values, rel, idx, hidden = planted_table()
    published = np.where(hidden, np.nan, values)
    published[idx[30, 8]] = values[idx[30, 8]] + 1000  # a grand total above every row's sum
    hidden[idx[30, 8]] = False
    published[idx[30, :8]] = np.nan  # column totals hidden: only the rows' totals bind it
    hidden[idx[30, :8]] = True
    report = audit(published, rel, hidden)
    assert report.infeasible_components >= 1 and not report.ok


@pytest.mark.parametrize("seed", range(4))
def test_block_witnesses_stay_within_the_true_ranges(seed):
    """Every value a block's LP witnesses is one the whole table allows (the rest of the
    component held at a feasible point), so the spans never leave the exact ranges."""
    rng = np.random.default_rng(200 + seed)
    values, rel, _ = grid(10, 6, rng, high=9)
    hidden = rng.random(values.size) < 0.5
    fixed = np.where(hidden, 0.0, values)
    cells = np.flatnonzero(hidden)
    lp, _ = audit_module.component_lp(rel, cells, fixed)
    by_column = audit_module.columnwise(rel)
    ok, lo, hi = audit_module.local_witnesses(rel, cells, fixed, lp, 5, by_column, block=30)
    assert ok
    ref = brute_force(values, rel, hidden)
    for k, cell in enumerate(cells):
        assert ref[cell][0] - 1e-6 <= lo[k] <= hi[k] <= ref[cell][1] + 1e-6
    assert np.any(hi - lo > 1e-6)  # the blocks did move cells


def one_column_table(rng: np.random.Generator):
    """One count per commune (60), EPCI (12, five consecutive communes each), département (4,
    sixteen consecutive communes each, the last twelve: some EPCI span two) and France.
    Communes of the same EPCI and département share every relation, so the audit pools them.
    Communes 0 and 1 count 1 and 2."""
    communes = rng.integers(0, 9, 60).astype(float)
    communes[:2] = [1, 2]
    epci = {60 + e: list(range(5 * e, 5 * e + 5)) for e in range(12)}
    dep = {72 + d: list(range(16 * d, min(16 * d + 16, 60))) for d in range(4)}
    values = np.r_[communes, np.zeros(17)]
    for total, parts in (epci | dep).items():
        values[total] = values[parts].sum()
    values[76] = values[72:76].sum()
    rel = build_relations(77, [epci, dep, {76: list(range(72, 76))}])
    return values, rel


@pytest.mark.parametrize("seed", range(6))
def test_pooled_classes_match_per_cell_lps(seed):
    """Interchangeable secret communes are audited through their classes' sums: the same
    verdicts as one min and one max LP per cell, and each failure's exact range."""
    rng = np.random.default_rng(300 + seed)
    values, rel = one_column_table(rng)
    hidden = rng.random(77) < 0.45
    hidden[:5] = [True, True, False, False, False]  # alone hidden in EPCI 60: [0, 3]
    hidden[60] = False
    published = np.where(hidden, np.nan, values)
    fixed = np.where(hidden, 0.0, values)
    cells = np.flatnonzero(hidden)
    lp, _ = audit_module.component_lp(rel, cells, fixed)
    assert audit_module.pool_classes(lp, cells.size) is not None  # the path under test
    ref = brute_force(values, rel, hidden)
    failing = {j for j, (lo, hi) in ref.items() if hi - lo < 5 - 1e-6}
    assert {0, 1} <= failing
    for exact in (False, True):
        report = audit(published, rel, hidden, exact=exact)
        assert {cell for cell, _, _ in report.failures} == failing
        for cell, lo, hi in report.failures:
            assert (lo, hi) == (pytest.approx(ref[cell][0]), pytest.approx(ref[cell][1]))
