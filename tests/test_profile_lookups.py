"""The profile read as lookups (one query turned into dictionaries, the index's neighbours by
key) answers what the per-query computation answers, for several territories of each level of
the test cut: every cell, reference, rank, evolution and neighbour, secrets included."""

from __future__ import annotations

import pandas as pd
import pytest
from test_profile import _cell  # a cell read straight from the store

from layers.appdata import AppData
from layers.catalogue import BY_ID
from layers.profile import evolution, neighbours, profile, rank_in

PER_LEVEL = 3


@pytest.fixture(scope="module")
def data(settings):
    app = AppData(settings)
    return app.index(), app.store()


def _cases(index) -> list[tuple[str, str]]:
    """A few territories of every level built: the first, the middle and the last code."""
    cases = []
    for level in index.levels():
        codes = sorted(index.table(level)["code"].astype(str))
        picked = {codes[0], codes[len(codes) // 2], codes[-1]} if codes else set()
        cases += [(level, c) for c in sorted(picked)[:PER_LEVEL]]
    return cases


def test_index_neighbours_equal_a_scan_of_the_borders(data) -> None:
    index, _ = data
    df = pd.read_parquet(index.build_dir / "geo" / "voisins.parquet")  # every border, scanned
    checked = 0
    for level, code in _cases(index):
        sel = df[(df["niveau"] == level) & (df["code"] == code)]
        expected = sel.sort_values("frontiere_km", ascending=False)["voisin"].tolist()
        assert index.neighbours(level, code) == expected
        checked += bool(expected)
    assert checked >= 3
    assert index.neighbours("commune", "00000") == []


def _check_row(info, index, level: str, code: str, row, siblings: set[str] | None) -> None:
    store, ind, period = info.store, BY_ID[row.cell.indicator], row.cell.period
    assert (row.cell.value, row.cell.status) == _cell(store, ind.id, level, code, period)
    for ref in row.references:
        got = (ref.cell.value, ref.cell.status)
        assert got == _cell(store, ind.id, ref.parent.level, ref.parent.code, period)
    assert row.evolution == evolution(ind, store.series(ind.id, level, code))
    if siblings is None:
        assert row.epci_rank is None
        return
    cells = store.layer(ind.id, "commune", period)
    expected = rank_in(code, cells[cells["code"].isin(siblings)])
    got = row.epci_rank
    assert (got is None) == (expected is None), (code, ind.id, got, expected)
    if got is not None:
        assert (got.rank, got.total, got.text) == (expected.rank, expected.total, expected.text)


def test_profile_lookups_equal_the_queries(data) -> None:
    index, info = data
    communes = index.table("commune")
    checked = 0
    for level, code in _cases(index):
        prof = profile(info.store, index, level, code, info.notice)
        level = prof.identity.level  # a part of a combined view reads as its own level
        siblings = None
        if level == "commune":
            epci = communes.loc[communes["code"] == code, "epci"]
            if len(epci) and not pd.isna(epci.iloc[0]):
                siblings = set(communes.loc[communes["epci"] == epci.iloc[0], "code"])
        for row in prof.indicator_rows():
            _check_row(info, index, level, code, row, siblings)
            checked += 1
        if prof.neighbours is not None:
            ind = BY_ID[prof.neighbours.indicator]
            queried = neighbours(info.store, index, ind, level, code, prof.neighbours.period)
            assert prof.neighbours == queried
    assert checked > 200


def test_filter_options_built_once_per_build_equal_the_tables(data) -> None:
    """The map filter's options, kept per build: every région, département, Caf and EPCI of
    the tables, sorted by code, and a caller changing its list changes nobody else's."""
    from layers.options import FILTER_LEVELS, filter_options
    from layers.territory_index import TerritoryIndex

    index, _ = data
    first = filter_options(index)
    expected = [
        f"{level}:{code}"
        for level in FILTER_LEVELS
        if level in index.levels()
        for code in sorted(index.table(level)["code"].astype(str))
    ]
    assert [o["value"] for o in first] == expected and len(expected) > 3
    assert all(o["label"].endswith(o["value"].split(":")[1] + ")") for o in first)
    first.clear()
    assert filter_options(index) == filter_options(TerritoryIndex(index.build_dir)) != []


def test_names_by_code_equal_the_table(data) -> None:
    """TerritoryIndex.names (the facilities' commune names): the table's name of each known
    code, repeated codes once, unknown codes left out."""
    index, _ = data
    table = index.table("commune")
    codes = table["code"].astype(str).tolist()
    picked = [codes[-1], codes[0], codes[-1], "00000"]
    expected = {c: str(n) for c, n in zip(codes, table["nom"], strict=True) if c in picked}
    assert index.names("commune", picked) == expected and len(expected) == 2
    assert index.names("commune", []) == {}
    for level in index.levels():
        table = index.table(level)
        for code, name in zip(table["code"][::97], table["nom"][::97], strict=True):
            assert index.name(level, str(code)) == str(name) == index.get(level, str(code)).name
        assert index.name(level, "00000") is None
    assert index.name("inconnu", codes[0]) is None
