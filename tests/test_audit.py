"""Secrecy audit (layers/audit.py): the attacker's LP bounds, from published information only."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from layers.audit import Relations, audit, hidden_components
from layers.secrecy import build_relations, primary_mask, protect

# Households by age band x "oui" / "non" with margins (the Caf's example), flattened row-wise.
CAF = np.array([[12, 2, 14], [30, 25, 55], [18, 20, 38], [9, 11, 20], [69, 58, 127]])


def caf_relations():
    idx = np.arange(15).reshape(5, 3)
    rows = {int(idx[i, 2]): idx[i, :2].tolist() for i in range(5)}
    cols = {int(idx[4, j]): idx[:4, j].tolist() for j in range(3)}
    return build_relations(15, [rows, cols]), idx


def brute_force(values, rel, hidden):
    """Min and max of each hidden cell by one LP over the whole table (no components)."""
    n = values.size
    bounds = [(0, None) if h else (v, v) for v, h in zip(values, hidden, strict=True)]
    out = {}
    for j in np.flatnonzero(hidden):
        c = np.zeros(n)
        c[j] = 1
        kw = {"A_eq": rel.eq, "b_eq": np.zeros(rel.eq.shape[0]), "bounds": bounds}
        if rel.le.shape[0]:
            kw |= {"A_ub": rel.le, "b_ub": np.zeros(rel.le.shape[0])}
        lo = linprog(c, **kw, method="highs")
        hi = linprog(-c, **kw, method="highs")
        out[int(j)] = (lo.fun, np.inf if hi.status == 3 else -hi.fun)
    return out


def test_caf_weak_mask_fails_with_pinned_cell():
    rel, idx = caf_relations()
    values = CAF.ravel()
    hidden = np.zeros(15, dtype=bool)
    hidden[idx[0, 1]] = True
    rep = audit(np.where(hidden, np.nan, values), rel, hidden)
    assert not rep.ok
    assert rep.failures == [(int(idx[0, 1]), pytest.approx(2), pytest.approx(2))]
    assert rep.hidden == 1 and rep.cells == 15 and rep.components == 1
    assert "ÉCHEC" in rep.summary()


def test_audit_does_not_read_hidden_values():
    rel, idx = caf_relations()
    values = CAF.ravel().astype(float)
    hidden = np.zeros(15, dtype=bool)
    hidden[[idx[0, 0], idx[0, 1], idx[1, 0], idx[1, 1]]] = True
    a = audit(np.where(hidden, np.nan, values), rel, hidden, exact=True)
    garbage = np.where(hidden, 1e6, values)
    b = audit(garbage, rel, hidden, exact=True)
    assert a.narrowest == b.narrowest and a.ok == b.ok


def test_rectangle_ranges_match_brute_force():
    rel, idx = caf_relations()
    values = CAF.ravel()
    hidden = np.zeros(15, dtype=bool)
    hidden[[idx[0, 0], idx[0, 1], idx[3, 0], idx[3, 1]]] = True
    rep = audit(np.where(hidden, np.nan, values), rel, hidden, exact=True)
    # 2 ranges over [0, 11], 9 over [0, 9] ... every cell moves by as much as the rectangle allows.
    assert rep.ok
    ref = brute_force(values, rel, hidden)
    width = min(hi - lo for lo, hi in ref.values())
    assert rep.narrowest[2] - rep.narrowest[1] == pytest.approx(width)


@pytest.mark.parametrize("seed", range(8))
def test_random_masks_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    rel, _ = caf_relations()
    values = CAF.ravel()
    hidden = rng.random(15) < 0.4
    rep = audit(np.where(hidden, np.nan, values), rel, hidden, exact=True)
    ref = brute_force(values, rel, hidden)
    failing = {j for j, (lo, hi) in ref.items() if hi - lo < 5 - 1e-6}
    assert {f[0] for f in rep.failures} == failing
    if ref:
        width = min(hi - lo for lo, hi in ref.values())
        assert rep.narrowest[2] - rep.narrowest[1] == pytest.approx(width)


def test_witness_mode_agrees_with_exact_verdict():
    rel, _ = caf_relations()
    values = CAF.ravel()
    for seed in range(8):
        hidden = np.random.default_rng(seed).random(15) < 0.5
        pub = np.where(hidden, np.nan, values)
        fast, exact = audit(pub, rel, hidden), audit(pub, rel, hidden, exact=True)
        assert fast.ok == exact.ok
        assert {f[0] for f in fast.failures} == {f[0] for f in exact.failures}


def test_rounding_widens_ranges():
    # Total 13 = a + b + c, a hidden alone: pinned when exact, a range when rounded to 5.
    values = np.array([3, 5, 5, 13])
    rel = build_relations(4, [{3: [0, 1, 2]}])
    hidden = np.array([True, False, False, False])
    assert not audit(np.where(hidden, 0, values), rel, hidden).ok
    rounded = np.array([0, 5, 5, 15])
    rep = audit(rounded, rel, hidden, rounding=5, exact=True)
    lo, hi = rep.narrowest[1:]
    assert lo == pytest.approx(0) and hi == pytest.approx(12.5)  # 17.5 - 2.5 - 2.5
    assert rep.ok


def test_rounding_per_cell_keeps_exact_cells_exact():
    # A département (exact, 13) = three communes rounded to 5; commune a hidden. The exact total
    # is a constant, the rounded communes intervals: a ranges over [0, 8], not [0, 12.5].
    rel = build_relations(4, [{3: [0, 1, 2]}])
    hidden = np.array([True, False, False, False])
    published = np.array([0, 5, 5, 13])
    steps = np.array([0, 5, 5, 0])
    rep = audit(published, rel, hidden, rounding=steps, exact=True)
    assert rep.narrowest[1:] == (pytest.approx(0), pytest.approx(8))
    # published exact everywhere, the same cell is pinned
    assert not audit(published, rel, hidden, rounding=np.zeros(4)).ok


def test_inequality_relations():
    values = np.array([100, 3, 37, 40])
    rel = build_relations(4, within=[{0: [1, 2, 3]}])
    hidden = np.array([False, True, False, False])
    rep = audit(np.where(hidden, 0, values), rel, hidden, exact=True)
    assert rep.ok and rep.narrowest[1:] == (pytest.approx(0), pytest.approx(23))


def test_nothing_published_is_free():
    rel, _ = caf_relations()
    hidden = np.ones(15, dtype=bool)
    rep = audit(None, rel, hidden)
    assert rep.ok


def test_components_split_on_published_cells():
    rel, idx = caf_relations()
    hidden = np.zeros(15, dtype=bool)
    hidden[[idx[0, 0], idx[0, 1], idx[3, 0], idx[3, 1]]] = True
    labels, n = hidden_components(rel, hidden)
    assert n == 1
    hidden2 = np.zeros(15, dtype=bool)
    hidden2[[idx[0, 0], idx[0, 1], idx[2, 2], idx[3, 2]]] = True
    labels, n = hidden_components(rel, hidden2)
    assert n == 2 and labels[idx[0, 0]] == labels[idx[0, 1]] != labels[idx[2, 2]]


def test_protected_mask_passes_and_reports():
    rel, _ = caf_relations()
    values = CAF.ravel()
    res = protect(values, rel, primary_mask(values))
    rep = audit(np.where(res.hidden, np.nan, values), rel, res.hidden)
    assert rep.ok and rep.failures == []
    assert rep.hidden == int(res.hidden.sum()) and rep.seconds >= 0
    assert "conforme" in rep.summary()


def test_relation_among_rounded_cells_alone_narrows_a_secret():
    # h = T - a - b with T exact (40), a and b rounded (10 and 14, so +/- 2.5): h spans
    # [11, 21], protected. A second relation a = b touches no secret cell but pins a and b to
    # [11.5, 12.5], so h to [15, 17]: the attacker must use that relation too.
    rel = build_relations(4, [{3: [0, 1, 2]}])
    hidden = np.array([True, False, False, False])
    published = np.array([0, 10, 14, 40])
    steps = np.array([0, 5, 5, 0])
    assert audit(published, rel, hidden, rounding=steps).ok
    a_is_b = sp.csr_matrix(([1.0, -1.0], ([0, 0], [1, 2])), shape=(1, 4))
    linked = Relations(sp.vstack([rel.eq, a_is_b]).tocsr(), rel.le)
    rep = audit(published, linked, hidden, rounding=steps, exact=True)
    assert not rep.ok
    assert rep.failures[0][1:] == (pytest.approx(15), pytest.approx(17))


def test_stored_zeros_do_not_hide_a_relation_among_rounded_cells():
    # The same a = b relation, stored with explicit zeros on three exact cells: it still lies
    # among the variables (h, a, b) and still narrows h to [15, 17].
    rel = build_relations(6, [{3: [0, 1, 2]}])
    hidden = np.array([True, False, False, False, False, False])
    published = np.array([0, 10, 14, 40, 7, 9])
    steps = np.array([0, 5, 5, 0, 0, 0])
    a_is_b = sp.csr_matrix(([1.0, -1.0, 0.0, 0.0, 0.0], ([0] * 5, [1, 2, 3, 4, 5])), shape=(1, 6))
    assert a_is_b.nnz == 5  # the zeros are stored
    linked = Relations(sp.vstack([rel.eq, a_is_b]).tocsr(), rel.le)
    rep = audit(published, linked, hidden, rounding=steps)
    assert not rep.ok
    assert rep.failures[0][1:] == (pytest.approx(15), pytest.approx(17))


def test_two_secrets_in_one_relation_pinned_by_another():
    # T = h1 + h2 with both hidden looks safe alone, but h1 = h2 (another relation) pins both.
    rel = build_relations(3, [{2: [0, 1]}])
    hidden = np.array([True, True, False])
    published = np.array([0, 0, 12])
    assert audit(published, rel, hidden).ok
    same = sp.csr_matrix(([1.0, -1.0], ([0, 0], [0, 1])), shape=(1, 3))
    pinned = Relations(sp.vstack([rel.eq, same]).tocsr(), rel.le)
    rep = audit(published, pinned, hidden)
    assert sorted(cell for cell, _, _ in rep.failures) == [0, 1]


def many_pairs(n_pairs: int):
    """`n_pairs` relations total = a + b (cells 3k, 3k+1, 3k+2; a, b hidden, totals of 20),
    then three planted leaks: pair 0's `a` also in a relation a + d = s with d and s published
    (pinned, and b with it), pair 1's total 3 (range [0, 3], narrower than 5), and pair 2's
    `a` tied to a + d = s with d > s (no feasible value)."""
    n = 3 * n_pairs + 4
    rows, cols, vals = [], [], []

    def relation(r, parts, total):
        for c in parts:
            rows.append(r), cols.append(c), vals.append(1.0)
        rows.append(r), cols.append(total), vals.append(-1.0)

    for k in range(n_pairs):
        relation(k, [3 * k, 3 * k + 1], 3 * k + 2)
    d0, s0, d2, s2 = range(3 * n_pairs, n)
    relation(n_pairs, [0, d0], s0)
    relation(n_pairs + 1, [6, d2], s2)
    eq = sp.csr_matrix((vals, (rows, cols)), shape=(n_pairs + 2, n))
    values = np.zeros(n)
    values[2::3][:n_pairs] = 20
    values[[3 * 1 + 2, d0, s0, d2, s2]] = [3, 4, 10, 9, 2]
    hidden = np.zeros(n, dtype=bool)
    hidden[: 3 * n_pairs : 3] = hidden[1 : 3 * n_pairs : 3] = True
    return Relations(eq, sp.csr_matrix((0, n))), np.where(hidden, np.nan, values), hidden


@pytest.mark.parametrize("batch", [1, 400])
def test_batched_components_still_find_each_leak(batch, monkeypatch):
    """Test of the audit: small components solved together in one LP (or one by one) still
    find a pinned cell, a range narrower than the protection and an infeasible component,
    and only those."""
    import layers.audit as audit_module

    monkeypatch.setattr(audit_module, "BATCH_CELLS", batch)
    rel, published, hidden = many_pairs(120)
    report = audit(published, rel, hidden, protection=5)
    assert report.components == 120 and not report.ok
    failed = {cell: (lo, hi) for cell, lo, hi in report.failures}
    assert set(failed) == {0, 1, 3, 4}  # pair 0 pinned, pair 1 within [0, 3]
    assert failed[0] == pytest.approx((6, 6)) and failed[1] == pytest.approx((14, 14))
    assert failed[3] == pytest.approx((0, 3)) and failed[4] == pytest.approx((0, 3))
    assert report.infeasible_components == 1  # pair 2 alone, not its whole batch


def test_single_equation_pinned_cell_fails():
    # T = a + b with only a hidden: the closed-form path must find a pinned at T - b.
    rel = build_relations(3, [{2: [0, 1]}])
    hidden = np.array([True, False, False])
    rep = audit(np.array([0, 4, 11]), rel, hidden)
    assert not rep.ok and rep.lp_solves == 0
    assert rep.failures == [(0, pytest.approx(7), pytest.approx(7))]


def test_single_equation_narrow_total_fails():
    # T = a + b + c with a and b hidden and T - c = 3 < protection 5: both span only [0, 3].
    rel = build_relations(4, [{3: [0, 1, 2]}])
    hidden = np.array([True, True, False, False])
    rep = audit(np.array([0, 0, 9, 12]), rel, hidden)
    assert rep.lp_solves == 0
    assert sorted(rep.failures) == [(0, 0, pytest.approx(3)), (1, 0, pytest.approx(3))]
    assert audit(np.array([0, 0, 2, 12]), rel, hidden).ok


def test_single_equation_inconsistent_is_infeasible():
    # Published parts exceed the published total: no attacker point exists, the audit says so.
    rel = build_relations(4, [{3: [0, 1, 2]}])
    hidden = np.array([True, True, False, False])
    rep = audit(np.array([0, 0, 20, 12]), rel, hidden)
    assert not rep.ok and rep.infeasible_components == 1


@pytest.mark.parametrize("seed", range(6))
def test_single_equation_closed_form_matches_brute_force(seed):
    # One relation, random hidden sets on both sides (the total too): exact closed-form ranges
    # equal the LP's, cell by cell.
    rng = np.random.default_rng(seed)
    parts = rng.integers(0, 9, 6)
    values = np.r_[parts, parts.sum()].astype(float)
    rel = build_relations(7, [{6: list(range(6))}])
    hidden = rng.random(7) < 0.5
    hidden[rng.integers(7)] = True
    rep = audit(np.where(hidden, np.nan, values), rel, hidden, exact=True, protection=1e9)
    assert rep.lp_solves == 0
    got = {cell: (lo, hi) for cell, lo, hi in rep.failures}
    want = brute_force(values, rel, hidden)
    for cell, (lo, hi) in want.items():
        if np.isinf(hi):
            assert cell not in got  # unbounded: safe whatever the protection
        else:
            assert got[cell] == (pytest.approx(lo, abs=1e-6), pytest.approx(hi, abs=1e-6))


def test_solver_prints_nothing_on_stdout() -> None:
    """HiGHS's constructor prints a banner once per process; a build's progress bar and a
    command's output must not show it (a fresh process, where the banner would come)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    code = (
        "import numpy as np, scipy.sparse as sp\n"
        "from layers.audit import _highs_model\n"
        "a = sp.csc_matrix(np.ones((1, 2)))\n"
        "_highs_model(a, np.zeros(1), np.ones(1), np.zeros(2), np.ones(2))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=root,
        env=env,
    )
    assert done.stdout == ""


def coupled_rounded_components():
    """Four one-cell components next to rounded cells: h1 + a = 20, h2 + c = 20, h4 + S + f =
    30 (totals exact; a, c, f rounded to 10, S to 2) and a relation a + c = S among rounded
    cells only, which no single component's LP holds (it is no one's ring) but their union's
    does: there a and c fall to [5, 6], so h1 and h2 to [14, 15]. And a real leak: h3 + d = 20
    with d rounded to 2, so h3 within [9, 11]."""
    # cells: 0 h1, 1 a, 2 T1, 3 h2, 4 c, 5 T2, 6 S, 7 h3, 8 d, 9 T3, 10 h4, 11 f, 12 T4
    rel = build_relations(13, [{2: [0, 1], 5: [3, 4], 9: [7, 8], 12: [10, 6, 11]}, {6: [1, 4]}])
    published = np.array([0, 10, 20, 0, 10, 20, 10, 0, 10, 20, 0, 10, 30], dtype=float)
    steps = np.zeros(13)
    steps[[1, 4, 11]], steps[[6, 8]] = 10, 2
    hidden = np.zeros(13, dtype=bool)
    hidden[[0, 3, 7, 10]] = True
    return rel, published, hidden, steps


@pytest.mark.parametrize("batch", [1, 400])
def test_rounded_components_certified_together_keep_their_own_verdicts(batch, monkeypatch):
    """Test of the audit: rounded components first certified in one union LP get the verdicts
    of each component's own LP: a cell the union's extra relations narrow is solved again
    alone (h1 and h2 stay protected, as one by one), and the real leak is found with its
    exact range."""
    import layers.audit as audit_module

    monkeypatch.setattr(audit_module, "ROUNDED_BATCH_CELLS", batch)
    rel, published, hidden, steps = coupled_rounded_components()
    report = audit(published, rel, hidden, rounding=steps, protection=5)
    assert report.components == 4
    assert report.failures == [(7, pytest.approx(9), pytest.approx(11))]
    exact = audit(published, rel, hidden, rounding=steps, exact=True)
    assert [cell for cell, _, _ in exact.failures] == [7]
