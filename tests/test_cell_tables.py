"""The store's memory-mapped cell tables answer exactly what the DuckDB scans answer (values,
statuses, secrets, order, dtypes), for several territories of every level of the test cut; a
hidden cell has no value in them; tables of another write of the store are never read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geodata.cache import active_dir
from layers.cell_tables import TABLES_DIR, CellTables, write_cell_tables
from layers.store import COMPOSITES, PUBLISHED, Store

PER_LEVEL = 3
KEY = ["indicateur", "niveau", "code", "periode"]


@pytest.fixture(scope="module")
def stores(small_store: Path) -> tuple[Store, Store]:
    folder = active_dir(small_store)
    tables, scans = Store(folder), Store(folder, cell_tables=False)
    assert tables._tables is not None and scans._tables is None
    return tables, scans


def _cases(store: Store) -> list[tuple[str, str]]:
    """The first, middle and last code of every stored level, and of every composite level."""
    df = store.query("SELECT DISTINCT niveau, code FROM s ORDER BY niveau, code")
    cases = []
    for level, sel in df.groupby("niveau"):
        codes = sel["code"].tolist()
        cases += [(str(level), c) for c in sorted({codes[0], codes[len(codes) // 2], codes[-1]})]
    for composite, (whole, part, split) in COMPOSITES.items():
        cases += [(composite, c) for lv, c in cases if lv in (whole, part)]
        cases += [(composite, c) for c in split]  # replaced by the part: no cells
    return cases


def _same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))


def test_series_equal_the_scans(stores) -> None:
    tables, scans = stores
    indicators = sorted(scans.query("SELECT DISTINCT indicateur FROM s")["indicateur"])
    cases = _cases(scans)
    assert len({lv for lv, _ in cases}) >= 8
    rows = 0
    for i, terr in enumerate(cases):
        ind = indicators[i % len(indicators)]
        _same(tables.series(ind, *terr), scans.series(ind, *terr))
        together = [terr, *cases[i + 1 : i + 4], ("commune", "00000")]
        for asked in (ind, indicators[i % 5 : i % 5 + 3]):  # the chart's, the comparison's
            expected = scans.series_many(asked, together).astype({"statut": str})
            for store in (tables, scans):  # as arrays, in the same order
                got = pd.DataFrame(store.series_columns(asked, together)).astype({"statut": str})
                _same(got, expected)
        for wanted in (ind, indicators[:2], indicators):
            expected = scans.series_many(wanted, together)
            _same(tables.series_many(wanted, together), expected)
            rows += len(expected)
    assert rows > 1000


def test_page_cells_equal_the_scans(stores) -> None:
    tables, scans = stores
    indicators = sorted(scans.query("SELECT DISTINCT indicateur FROM s")["indicateur"])
    periods = sorted(scans.query("SELECT DISTINCT periode FROM s")["periode"])
    cases = _cases(scans)
    secrets = 0
    for i, own in enumerate(cases):
        others = [*cases[i + 1 : i + 6], own]  # `own` listed twice: read twice, as by the join
        for latest in ([periods[-1]], periods[-3:-1], []):
            got = tables.page_cells(indicators, own, others, latest)
            expected = scans.page_cells(indicators, own, others, latest)
            _same(got.sort_values(KEY, kind="stable"), expected.sort_values(KEY, kind="stable"))
            secrets += int((got["statut"] != PUBLISHED).sum())
            for store in (tables, scans):  # the profile's arrays: the same cells either way
                arrays = pd.DataFrame(store.page_columns(indicators, own, others, latest))
                assert arrays["valeur"].dtype == np.float64
                _same(
                    arrays.sort_values(KEY, kind="stable").astype({"statut": str}),
                    expected.sort_values(KEY, kind="stable").astype({"statut": str}),
                )
    assert secrets > 0


def test_published_values_equal_a_plain_selection(stores) -> None:
    """The ranks' values (a commune's EPCI): for each indicator at its period, the published
    values of the territories listed, read from each store as a filter of the level's layer
    finds them; a hidden cell is never among them."""
    tables, scans = stores
    codes = sorted(scans.query("SELECT DISTINCT code FROM s WHERE niveau = 'commune'")["code"])
    assert len(codes) > 20
    wanted = [("commune", c) for c in codes[::3]]
    available = scans.availability()
    indicators = sorted({i for i, lv in available if lv == "commune"})
    for periods in (-1, -2):
        at = {i: available[(i, "commune")][periods] for i in indicators}
        at = {i: p for i, p in at.items() if len(available[(i, "commune")]) >= -periods}
        expected = {}
        for ind, period in at.items():
            cells = scans.layer(ind, "commune", period)
            cells = cells[cells["code"].isin(codes[::3]) & (cells["statut"] == PUBLISHED)]
            if len(cells):
                expected[(ind, period)] = sorted(cells["valeur"].astype(float))
        assert len(expected) > 10
        hidden = 0
        for ind, period in at.items():
            cells = scans.layer(ind, "commune", period)
            hidden += int((cells["code"].isin(codes[::3]) & (cells["statut"] != PUBLISHED)).sum())
        assert hidden > 0  # secrets among them, left out below
        for store in (tables, scans):
            got = store.published_values(wanted, at)
            assert {k: sorted(v.tolist()) for k, v in got.items()} == expected
    assert tables.published_values([], {"allocataires": "2024-12"}) == {}
    assert tables.published_values([("commune", "00000")], {"allocataires": "2024-12"}) == {}


def test_availability_equals_the_scan(stores) -> None:
    tables, scans = stores
    expected = scans.availability()
    assert len(expected) > 20 and any(lv in COMPOSITES for _, lv in expected)
    assert tables.availability() == expected


def test_layers_equal_the_scans(stores) -> None:
    """Every (indicator, level, period) with cells, and absent ones, read from the tables as
    DuckDB scans them: codes in order, values, statuses, dtypes."""
    tables, scans = stores
    wanted = [(i, lv, p) for (i, lv), periods in scans.availability().items() for p in periods]
    stored = {lv for _, lv, _ in wanted} - set(COMPOSITES)
    assert len(stored) >= 6 and len(wanted) > 100
    wanted += [("allocataires", "region", "1900-12"), ("inconnu", "region", wanted[0][2])]
    wanted += [("allocataires", "inconnu", wanted[0][2])]
    sql = (
        "SELECT code, valeur, statut FROM vc WHERE indicateur = ? AND niveau = ? "
        "AND periode = ? ORDER BY code"
    )
    found = 0
    for ind, level, period in wanted:
        expected = scans.query(sql, [ind, level, period])
        found += len(expected)
        if level not in COMPOSITES:
            cells = tables._tables.layer(ind, level, period)
            _same(pd.DataFrame({c: cells[c] for c in expected.columns}), expected)
            every = tables.level_codes(level)
            assert every is tables.level_codes(level)  # one array: placed once per index
            assert every[cells["position"]].tolist() == cells["code"].tolist()
        _same(tables.layer(ind, level, period), expected)
        _same(tables.layer(ind, level, period), expected)  # a small level: kept, read-only
        _same(scans.layer(ind, level, period), expected)
    assert found > 1000


def test_no_value_behind_a_hidden_cell(stores) -> None:
    tables, _ = stores
    cells = tables._tables
    hidden = cells.stat_names[np.asarray(cells.stat)] != PUBLISHED
    assert hidden.any()
    assert np.isnan(np.asarray(cells.val)[hidden]).all()
    assert not np.isnan(np.asarray(cells.val)[~hidden]).any()


def test_tables_of_another_write_are_not_read(small_store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "store"
    shutil.copytree(active_dir(small_store), copy)
    assert CellTables.open(copy) is not None
    series = copy / "series.parquet"
    stat = series.stat()
    os.utime(series, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # rewritten
    assert CellTables.open(copy) is None and Store(copy)._tables is None
    shutil.rmtree(copy / TABLES_DIR)
    assert Store(copy).series_many("rsa", [("france", "FR")]).shape[0] > 0  # DuckDB again


def test_a_written_store_is_read_as_it_lies_into_the_same_tables(
    small_store: Path, tmp_path: Path
) -> None:
    """write_store's series.parquet is already in the tables' order: read without a sort, the
    tables are the bytes a sort gives."""
    copy = tmp_path / "store"
    shutil.copytree(active_dir(small_store), copy)
    files = sorted((copy / TABLES_DIR).iterdir())
    assert len(files) >= 8
    written = {p.name: p.read_bytes() for p in files}
    write_cell_tables(copy)  # sorted again
    assert {p.name: p.read_bytes() for p in files} == written


def test_warm_loads_the_index_and_periods_without_duckdb(settings) -> None:
    """What the gunicorn master loads before the fork: no DuckDB connection may cross it."""
    from layers.appdata import AppData

    data = AppData(settings)
    data.warm()
    index, info = data.index(), data.store()
    assert set(index._tables) == set(index.levels())
    assert "_neighbour_groups" in index.__dict__ and "_search_table" in index.__dict__
    assert info.store._availability is not None
    stored = {lv for (_, lv) in info.store._availability} - set(COMPOSITES)
    assert stored and set(info.store._tables._level_codes) == stored
    assert "_names_commune" in index.__dict__
    assert getattr(info.store._local, "con", None) is None


def test_prefork_warm_loads_the_shared_objects_without_duckdb(settings) -> None:
    """`cafcarto serve`'s master loads what every worker reads (provenance, facilities, the
    filter's options, the Dash check's component classes) and still opens no DuckDB."""
    from dashboard.app import create_app
    from dashboard.server.prefork import warm_before_fork
    from layers.appdata import EXTENSION

    app = create_app(settings)
    warm_before_fork(app)
    data = app.server.extensions[EXTENSION]
    info, index = data.store(), data.index()
    assert info.store._provenance and "filter_options" in index._derived
    assert data._facilities is not None
    assert "niveau" in app._cafcarto_classes and "evolution-indicateur" in app._cafcarto_classes
    assert getattr(info.store._local, "con", None) is None


def test_small_layers_kept_equal_the_scan_and_stay_private(small_store: Path) -> None:
    """A small level's layer is kept per process: the same frame as the scan each time, and a
    caller changing its copy (views.layer does) changes nobody else's."""
    folder = active_dir(small_store)
    store, scan = Store(folder), Store(folder)
    for (ind, level), periods in list(store.availability().items())[:40]:
        expected = scan.query(
            "SELECT code, valeur, statut FROM vc WHERE indicateur = ? AND niveau = ? "
            "AND periode = ? ORDER BY code",
            [ind, level, periods[-1]],
        )
        for _ in range(3):  # the scan, then the kept copy twice
            got = store.layer(ind, level, periods[-1])
            _same(got, expected)
            got["statut"] = "altéré"
    assert store._layers
