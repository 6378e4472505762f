"""The facilities of some communes read through the table's spans by code are the rows a
plain filter of the whole table selects, in the same order, with the same index; a new table
(an import) is read afresh, never through the spans of the one before."""

from __future__ import annotations

import pandas as pd
import pytest

from layers.appdata import AppData
from layers.facility_search import ARM, in_territory, rows_of


@pytest.fixture(scope="module")
def data(settings):
    app = AppData(settings)
    points = app.facilities()
    assert points is not None and len(points.table) > 100
    return points.table, app.index()


def _plain(table: pd.DataFrame, column: str, codes) -> pd.DataFrame:
    return table[table[column].astype(str).isin(list(codes))]


def test_rows_of_communes_equal_the_plain_filter(data) -> None:
    table, index = data
    communes = sorted(set(table["commune"].astype(str)))
    assert len(communes) > 10
    checked = 0
    for code in [*communes, "00000"]:
        codes = [code, *index.neighbours("commune", code), "inconnu"]
        expected = _plain(table, "commune", codes)
        pd.testing.assert_frame_equal(rows_of(table, "commune", codes), expected)
        checked += len(expected)
    assert checked > len(table)  # each point counted with its commune and its neighbours
    assert rows_of(table, "commune", []).empty
    communes = index.table("commune")
    for level in ("departement", "epci"):
        for code in sorted(index.table(level)["code"])[:5]:
            members = set(communes.loc[communes[level] == code, "code"])
            expected = _plain(table, "commune", members).sort_values(["commune", "type", "nom"])
            pd.testing.assert_frame_equal(in_territory(table, index, level, code), expected)
    if ARM in table.columns:
        arms = sorted(set(table[ARM].dropna().astype(str)) - {""})
        pd.testing.assert_frame_equal(rows_of(table, ARM, arms[:3]), _plain(table, ARM, arms[:3]))


def test_a_new_table_is_read_afresh(data) -> None:
    table, _ = data
    code = str(table["commune"].iloc[0])
    before = rows_of(table, "commune", [code])
    moved = table.copy()
    moved.loc[moved.index[0], "commune"] = "00000"
    assert len(rows_of(moved, "commune", [code])) == len(before) - 1
    assert len(rows_of(moved, "commune", ["00000"])) == 1
    pd.testing.assert_frame_equal(rows_of(table, "commune", [code]), before)
