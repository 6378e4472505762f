"""The audit's cells found by position (`layers/audit_cells.py`) are those a lookup by key
(indicator, level, code) finds: published cells with their values, every other cell hidden."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from geodata.cache import active_dir
from layers.audit import Relations
from layers.audit_cells import (
    AuditTables,
    PeriodRows,
    job_weight,
    longest_first,
    period_cells,
    published_cells,
)
from layers.build_store import demo_data_structure, load_territories
from layers.demo import DemoData, generate
from layers.publish import Table, Territories
from layers.store import PUBLISHED, SECRET


def small_table() -> tuple[Territories, Table]:
    """Two levels sharing a code ("01" is both a commune and a département) and a zone."""
    level = np.array(["commune", "commune", "commune", "departement", "iris"], dtype=object)
    code = np.array(["01", "02", "03", "01", "0100A"], dtype=object)
    terr = Territories(level, code, np.array([0, 1, 2, -1, 0]), {}, {}, {})
    columns = ("a", "b")
    cell_terr = np.array([0, 0, 1, 1, 2, 3, 3, 4])  # the zone has only column "a"
    cell_col = np.array([0, 1, 0, 1, 1, 0, 1, 0])
    n = cell_terr.size
    none = sp.csr_matrix((0, n))
    rel = Relations(none, none)
    kinds = level[cell_terr]
    return terr, Table(columns, cell_terr, cell_col, np.zeros(n), rel, kinds, np.zeros(n))


def stored_rows() -> pa.Table:
    """Published, secret and missing rows, a code no territory has, another indicator, a
    null value, and a zone row whose commune is secret; in no particular order."""
    rows = [
        ("b", "departement", "01", 40.0, PUBLISHED),
        ("a", "commune", "01", 7.0, PUBLISHED),
        ("a", "commune", "02", None, SECRET),
        ("b", "commune", "01", 3.0, PUBLISHED),
        ("c", "commune", "03", 9.0, PUBLISHED),  # not a column of this table
        ("a", "commune", "99", 5.0, PUBLISHED),  # unknown code
        ("a", "departement", "01", None, PUBLISHED),  # published without a value
        ("a", "iris", "0100A", 2.0, PUBLISHED),
        ("b", "commune", "02", 0.0, "manquant"),
    ]
    names = ["indicateur", "niveau", "code", "valeur", "statut"]
    return pa.table({k: [r[i] for r in rows] for i, k in enumerate(names)})


def by_key(rows: pa.Table, terr: Territories, table: Table) -> tuple[np.ndarray, np.ndarray]:
    """The reference: each cell's stored row looked up by its key."""
    stored = {
        (r["indicateur"], r["niveau"], r["code"]): (r["valeur"], r["statut"])
        for r in rows.to_pylist()
    }
    published, hidden = [], []
    for t, c in zip(table.cell_terr, table.cell_col, strict=True):
        value, status = stored.get((table.columns[c], terr.level[t], terr.code[t]), (0, SECRET))
        hidden.append(status != PUBLISHED)
        published.append(np.nan if status != PUBLISHED or value is None else value)
    return np.array(published, dtype=float), np.array(hidden)


def test_cells_by_position_match_a_lookup_by_key():
    terr, table = small_table()
    rows = stored_rows()
    published, hidden = published_cells(period_cells(rows, terr), len(terr), table)
    ref_published, ref_hidden = by_key(rows, terr, table)
    assert np.array_equal(hidden, ref_hidden)
    assert np.array_equal(published, ref_published, equal_nan=True)
    assert hidden.any() and not hidden.all()


def test_dictionary_encoded_rows_and_shuffled_order_give_the_same_cells():
    terr, table = small_table()
    rows = stored_rows()
    order = np.random.default_rng(3).permutation(len(rows))
    shuffled = rows.take(pa.array(order))
    encoded = shuffled.set_column(
        1, "niveau", shuffled["niveau"].combine_chunks().dictionary_encode()
    )
    got = published_cells(period_cells(encoded, terr), len(terr), table)
    ref = by_key(rows, terr, table)
    assert np.array_equal(got[1], ref[1])
    assert np.array_equal(got[0], ref[0], equal_nan=True)


def test_a_period_without_stored_rows_is_all_hidden():
    terr, table = small_table()
    tables = AuditTables(None, (), {"2020-12": stored_rows()})
    tables._terr[True] = terr
    assert tables.cells("2019-12", True) is None
    published, hidden = published_cells(tables.cells("2019-12", True), len(terr), table)
    assert hidden.all() and np.isnan(published).all()
    kept = tables.cells("2020-12", True)
    assert tables.cells("2020-12", True) is kept  # the next job of the period reuses it


def test_period_rows_are_each_period_s_rows_in_stored_order():
    """Rows of several periods interleaved, in two chunks: each wanted period gets exactly its
    rows, in their stored order; an unwanted or absent period is not there."""
    rows = stored_rows()
    n = rows.num_rows
    periods = np.array(["2019-12", "2020-12", "2019-12", "2021-12"] * n)[:n]
    names = ["2021-12", "2019-12", "2020-12", "2018-12"]
    code = np.array([names.index(p) for p in periods], dtype=np.int16)
    chunked = pa.concat_tables([rows.slice(0, 4), rows.slice(4)])
    got = PeriodRows(chunked, code, names, {"2019-12", "2020-12", "2018-12"})
    assert sorted(got) == ["2019-12", "2020-12"]
    for period in got:
        assert got[period].equals(rows.filter(pa.array(periods == period)))
    assert got.get("2021-12") is None and got.get("2018-12") is None


def _square(x: int) -> int:
    return x * x


def test_longest_first_returns_results_in_the_jobs_order():
    jobs = [3, 1, 4, 1, 5, 9, 2, 6]
    got = longest_first(_square, jobs, [float(j % 4) for j in jobs], workers=2)
    assert got == [_square(j) for j in jobs]


def test_the_heaviest_tables_weigh_most():
    class Structure:
        periods = ["2019-09", "2019-12", "2024-12"]

    s = Structure()
    household, single = ("a",) * 10, ("b",)
    local = job_weight(s, 1, household, {"2024-12"})
    assert local > job_weight(s, 1, ("a",) * 4, {"2024-12"}) > job_weight(s, 1, single, set())
    assert local > job_weight(s, 2, household, {"2024-12"}) > job_weight(s, 0, household, set())


def _drawn_structure(geo: Path) -> DemoData:
    """The reference: the whole demonstration drawn, then every value zeroed."""
    communes, infra = load_territories(geo)
    data = generate(communes.assign(population=0), infra=infra)
    return replace(
        data,
        counts={k: np.zeros_like(v) for k, v in data.counts.items()},
        infra={
            n: (z, {k: np.zeros_like(v) for k, v in vals.items()})
            for n, (z, vals) in data.infra.items()
        },
    )


def _same_arrays(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for k in a:
        assert a[k].shape == b[k].shape and a[k].dtype == b[k].dtype, k
        assert np.array_equal(a[k], b[k]), k


def test_audit_structure_is_the_drawn_demonstration_zeroed(small_cache: Path) -> None:
    """The audit's structure, built without the draws, has the demonstration's periods,
    communes, zones (arrondissements included) and indicators, every value zero."""
    geo = active_dir(small_cache)
    ref, got = _drawn_structure(geo), demo_data_structure(geo)
    assert got.periods == ref.periods and got.seed == ref.seed
    pd.testing.assert_frame_equal(got.communes, ref.communes)
    for name in ("counts", "amounts", "denominators", "not_applicable"):
        _same_arrays(getattr(got, name), getattr(ref, name))
    assert list(got.infra) == list(ref.infra) and "arm" in got.infra
    for name, (zones, values) in ref.infra.items():
        pd.testing.assert_frame_equal(got.infra[name][0], zones)
        _same_arrays(got.infra[name][1], values)
    assert not any(np.any(v) for v in got.counts.values())
