"""The indicator store: written atomically with statuses, never a value behind a secret."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from layers.store import (
    PUBLISHED,
    SECRET,
    SERIES_FILE,
    VALUES_FILE,
    Store,
    StoreError,
    check_rows,
    write_store,
)


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "indicateur": ["rsa"] * 4 + ["aah"] * 2,
            "niveau": ["commune", "commune", "epci", "france", "commune", "commune"],
            "code": ["51649", "51001", "200000000", "FR", "51649", "51001"],
            "periode": ["2024-12"] * 6,
            "valeur": [120.0, np.nan, 124.0, 2000.0, 40.0, 3.0],
            "statut": [PUBLISHED, SECRET, PUBLISHED, PUBLISHED, PUBLISHED, PUBLISHED],
        }
    )


def test_round_trip_and_queries(tmp_path: Path) -> None:
    meta = write_store(_rows(), tmp_path / "s", {"mode": "demonstration"})
    assert meta["cellules"] == 6 and meta["statuts"][SECRET] == 1
    store = Store(tmp_path / "s")
    layer = store.layer("rsa", "commune", "2024-12")
    assert layer["code"].tolist() == ["51001", "51649"]
    assert np.isnan(layer.loc[0, "valeur"]) and layer.loc[0, "statut"] == SECRET
    series = store.series_many("rsa", [("commune", "51649"), ("france", "FR")])
    assert set(series["code"]) == {"51649", "FR"}
    assert store.periods("aah", "commune") == ["2024-12"]


def test_writing_counts_every_row_of_both_files_and_the_cell_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar of `cafcarto build` and `sync`: each cell written three times (by indicator, by
    territory, the cell tables), row group by row group, into files the same as without it."""
    import io

    from layers import store as store_module

    plain = tmp_path / "plain"
    write_store(_rows(), plain, {})
    monkeypatch.setattr(store_module, "ROW_GROUP", 2)
    monkeypatch.setattr(store_module, "SERIES_ROW_GROUP", 4)
    out = io.StringIO()
    write_store(_rows(), tmp_path / "s", {}, bars=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("écriture de l'entrepôt [") and "0/18 lignes" in lines[0]
    assert "18/18 lignes (100 %)" in lines[-1]
    assert len(lines) >= 4  # quarters on the way, not only the start and the end
    assert pq.ParquetFile(tmp_path / "s" / VALUES_FILE).num_row_groups == 3
    for name in (VALUES_FILE, SERIES_FILE):
        assert pq.read_table(tmp_path / "s" / name).equals(pq.read_table(plain / name))


def test_a_value_behind_a_secret_is_refused(tmp_path: Path) -> None:
    rows = _rows()
    rows.loc[1, "valeur"] = 3.0  # the raw value of a hidden cell
    with pytest.raises(StoreError, match="non publiée porte une valeur"):
        write_store(rows, tmp_path / "s", {})
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [("statut", "primaire", "statut inconnu"), ("valeur", np.nan, "publiée n'a pas de valeur")],
)
def test_bad_rows_are_refused(tmp_path: Path, column: str, value, message: str) -> None:
    rows = _rows()
    rows.loc[0, column] = value
    with pytest.raises(StoreError, match=message):
        write_store(rows, tmp_path / "s", {})


def test_duplicates_and_missing_store(tmp_path: Path) -> None:
    rows = pd.concat([_rows(), _rows().iloc[:1]])
    with pytest.raises(StoreError, match="double"):
        write_store(rows, tmp_path / "s", {})
    assert not (tmp_path / "s").exists()  # refused before anything is written
    with pytest.raises(StoreError, match="double"):
        check_rows(rows)
    nameless = _rows()
    nameless.loc[2, "code"] = None
    with pytest.raises(StoreError, match="sans indicateur, niveau, code ou période"):
        write_store(nameless, tmp_path / "s", {})
    with pytest.raises(StoreError, match="cafcarto build"):
        Store(tmp_path / "absent")


def test_both_files_are_sorted_by_their_keys_whatever_the_input_order(tmp_path: Path) -> None:
    rows = _rows().iloc[::-1]
    # categories in a non-alphabetical order: the files are still in text order
    rows["indicateur"] = pd.Categorical(rows["indicateur"], categories=["rsa", "aah"])
    write_store(rows, tmp_path / "s", {})
    keys = {
        VALUES_FILE: ["indicateur", "niveau", "periode", "code"],
        SERIES_FILE: ["niveau", "code", "indicateur", "periode"],
    }
    for name, order in keys.items():
        got = pq.read_table(tmp_path / "s" / name).to_pandas()[order].astype(str)
        tuples = list(got.itertuples(index=False))
        assert tuples == sorted(tuples) and len(tuples) == len(rows)


def test_text_held_as_categories_writes_the_same_files(tmp_path: Path) -> None:
    # a synced store holds its text as categories (unsorted, some unused): the files must be
    # those of the same text, byte for byte (dictionaries in order of first appearance)
    text = _rows()
    held = text.copy()
    for col, extra in (("indicateur", "zzz"), ("niveau", "iris"), ("statut", "manquant")):
        values = list(dict.fromkeys(text[col]))[::-1] + [extra]
        held[col] = pd.Categorical(text[col], categories=values)
    held["code"] = held["code"].astype("category")
    metas = [write_store(r, tmp_path / n, {}) for n, r in (("a", text), ("b", held))]
    assert metas[0]["statuts"] == metas[1]["statuts"] == {PUBLISHED: 5, SECRET: 1}
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.[np]*"))
    assert len([f for f in files if f.suffix == ".npy"]) >= 4
    for name in [f for f in files if f.suffix in (".parquet", ".npy")]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
