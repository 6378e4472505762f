"""The store's cells as memory-mapped columns sorted by territory, written once per build.

A profile page, its series chart, the comparison and the API's key figures read a few
territories' cells. Through DuckDB each read scans Parquet row groups (35–95 ms of CPU); here it
is a binary search over the territory keys and a slice of plain numpy arrays. The arrays are
opened with `mmap_mode="r"`: every gunicorn worker reads the same pages of the OS page cache, so
they add almost nothing to each worker's own memory.

Derived from the store's written cells only (`series.parquet`), never from raw data: a hidden
cell has no value here either. The folder lives inside the store's build folder, and its
`meta.json` names the source file's size and modification time: tables from another build or
another write of the store are never read (the store falls back to DuckDB).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TABLES_DIR = "cellules"
META = "meta.json"
FORMAT = 2  # 2: with the available (indicator, level, period)
BATCH = 1_000_000
SEP = b"\x00"  # below every character: "niveau SEP code" sorts like the pair (niveau, code)


def _key(level: str, code: str) -> bytes:
    return level.encode() + SEP + code.encode()


def _signature(source: Path) -> dict:
    stat = source.stat()
    return {
        "format": FORMAT,
        "source": source.name,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }


def _source(folder: Path) -> Path:
    from layers.store import SERIES_FILE, VALUES_FILE

    series = folder / SERIES_FILE
    return series if series.is_file() else folder / VALUES_FILE


def _names(con: duckdb.DuckDBPyConnection, column: str) -> list[str]:
    rows = con.execute(f"SELECT DISTINCT {column} FROM c").fetchall()
    return sorted(str(r[0]) for r in rows)


def _ids(column: pa.ChunkedArray | pa.Array, names: list[str]) -> np.ndarray:
    found = pc.index_in(column.cast(pa.string()), value_set=pa.array(names, pa.string()))
    if found.null_count:
        raise ValueError("valeur absente du dictionnaire des tables de cellules")
    return found.to_numpy(zero_copy_only=False).astype(np.int16)


# The order of the arrays; `Store.write_store` writes `series.parquet` in this same order.
ORDER = ["niveau", "code", "indicateur", "periode"]


def write_cell_tables(
    folder: Path, presorted: bool = False, advance: Callable[[int], None] | None = None
) -> Path:
    """Write `folder/cellules/` from the store written in `folder` (replacing an old one).
    `presorted`: the source file is already in ORDER (as `write_store` writes it), so it is
    read as it lies instead of sorted again (the sort was 8 of 14 s nationally); `advance`
    is told the rows as they are copied (the writing's progress bar)."""
    from layers.store import SERIES_ORDER, STATUSES

    if presorted and SERIES_ORDER != ORDER:
        raise ValueError("series.parquet n'est pas dans l'ordre des tables de cellules")

    folder = Path(folder)
    source = _source(folder)
    tmp = folder / f".{TABLES_DIR}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    # The sort spills to disk past the limit: a build step, not a 3 GB peak beside the server.
    con = duckdb.connect(config={"threads": 1, "memory_limit": "400MB"})
    try:
        con.execute("SET enable_progress_bar = false")
        path = str(source).replace("'", "''")
        con.execute(f"CREATE VIEW c AS SELECT * FROM read_parquet('{path}')")
        indicators, periods = _names(con, "indicateur"), _names(con, "periode")
        terr = con.execute(
            "SELECT niveau, code, count(*) AS n FROM c GROUP BY ALL ORDER BY niveau, code"
        ).df()
        total = int(terr["n"].sum())
        available = con.execute(
            "SELECT DISTINCT indicateur, niveau, periode FROM c ORDER BY ALL"
        ).fetchall()
        arrays = {
            "indicateur": np.lib.format.open_memmap(
                tmp / "indicateur.npy", "w+", np.int16, (total,)
            ),
            "periode": np.lib.format.open_memmap(tmp / "periode.npy", "w+", np.int16, (total,)),
            "statut": np.lib.format.open_memmap(tmp / "statut.npy", "w+", np.int8, (total,)),
            "valeur": np.lib.format.open_memmap(tmp / "valeur.npy", "w+", np.float64, (total,)),
        }
        reader = con.sql(  # streamed: `execute(...)` would copy every row first
            "SELECT indicateur, periode, statut, valeur FROM c"
            + ("" if presorted else f" ORDER BY {', '.join(ORDER)}")
        ).to_arrow_reader(BATCH)
        at = _copy_rows(reader, arrays, (indicators, periods, list(STATUSES)), advance)
        if at != total:
            raise ValueError(f"tables de cellules incomplètes : {at} lignes sur {total}")
        for arr in arrays.values():
            arr.flush()
        del arrays
        ends = np.cumsum(terr["n"].to_numpy(dtype=np.int64))
        starts = ends - terr["n"].to_numpy(dtype=np.int64)
        keys = np.array(
            [_key(lv, c) for lv, c in zip(terr["niveau"], terr["code"], strict=True)], dtype=bytes
        )
        order = np.argsort(keys, kind="stable")
        np.save(tmp / "cles.npy", keys[order])
        np.save(tmp / "debuts.npy", starts[order])
        np.save(tmp / "fins.npy", ends[order])
    finally:
        con.close()
    meta = {
        **_signature(source),
        "cellules": total,
        "indicateurs": indicators,
        "periodes": periods,
        "statuts": list(STATUSES),
        # (indicator, level, period) present: `Store.availability` without a scan per worker.
        "disponibles": [[str(i), str(lv), str(p)] for i, lv, p in available],
    }
    (tmp / META).write_text(json.dumps(meta, ensure_ascii=False))
    final = folder / TABLES_DIR
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final


def _copy_rows(
    reader: pa.RecordBatchReader,
    arrays: dict[str, np.ndarray],
    names: tuple[list[str], list[str], list[str]],
    advance: Callable[[int], None] | None,
) -> int:
    """Copy the (indicateur, periode, statut, valeur) batches into the arrays, names as their
    ids in `names`; the rows copied."""
    at = 0
    for batch in reader:
        n = batch.num_rows
        for k, column in enumerate(("indicateur", "periode", "statut")):
            arrays[column][at : at + n] = _ids(batch.column(k), names[k])
        values = batch.column(3).cast(pa.float64()).to_numpy(zero_copy_only=False)
        arrays["valeur"][at : at + n] = values  # nulls arrive as NaN
        at += n
        if advance is not None:
            advance(n)
    return at


class CellTables:
    """Read-only lookups of a store's cells by territory (see the module's docstring)."""

    def __init__(self, folder: Path, meta: dict) -> None:
        def load(name: str) -> np.ndarray:
            # A plain array over the mapped pages: indexing a `np.memmap` makes a memmap per
            # result (~3 µs each, some 200 per profile page); the pages stay shared.
            return np.load(folder / f"{name}.npy", mmap_mode="r").view(np.ndarray)

        self.keys, self.starts, self.ends = load("cles"), load("debuts"), load("fins")
        self.ind, self.per, self.stat, self.val = (
            load("indicateur"),
            load("periode"),
            load("statut"),
            load("valeur"),
        )
        self.ind_names = np.array(meta["indicateurs"], dtype=object)
        self.per_names = np.array(meta["periodes"], dtype=object)
        self.stat_names = np.array(meta["statuts"], dtype=object)
        self._ind_id = {name: i for i, name in enumerate(meta["indicateurs"])}
        self._per_id = {name: i for i, name in enumerate(meta["periodes"])}
        self._available: list[list[str]] = meta["disponibles"]
        self._level_codes: dict[str, np.ndarray] = {}

    @classmethod
    def open(cls, store_folder: Path) -> CellTables | None:
        """The tables of the store in `store_folder`, or None when absent or not this store's."""
        folder = Path(store_folder) / TABLES_DIR
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
            if {k: meta.get(k) for k in ("format", "source", "size", "mtime_ns")} != _signature(
                _source(Path(store_folder))
            ):
                return None
            return cls(folder, meta)
        except (OSError, ValueError, KeyError):
            return None

    def availability(self) -> dict[tuple[str, str], list[str]]:
        """(indicator, level) -> periods with cells, oldest first (stored levels only)."""
        found: dict[tuple[str, str], list[str]] = {}
        for ind, level, period in self._available:
            found.setdefault((ind, level), []).append(period)
        return {k: sorted(v) for k, v in found.items()}

    def layer(self, indicator: str, level: str, period: str) -> dict[str, np.ndarray]:
        """Every territory of a stored level for one indicator and period, by code: code,
        valeur, statut like `Store.layer`'s scan, as arrays (strings as objects). The level's
        cells are one slice of the arrays (sorted by level and code): two comparisons over
        it, no Parquet scan (DuckDB read ~15–25 ms even for the 18 régions)."""
        lo, hi = self._level_span(level)
        i, p = self._ind_id.get(indicator), self._per_id.get(period)
        if i is None or p is None or lo == hi:
            return {
                "code": np.array([], dtype=object),
                "valeur": np.array([], dtype=np.float64),
                "statut": np.array([], dtype=object),
                "position": np.array([], dtype=np.intp),
            }
        starts = self.starts[lo:hi]
        start, end = int(starts[0]), int(self.ends[hi - 1])
        rows = np.flatnonzero(self.ind[start:end] == i) + start
        rows = rows[self.per[rows] == p]
        territory = np.searchsorted(starts, rows, side="right") - 1
        return {
            "code": self._codes(level, lo, hi)[territory],
            "valeur": np.array(self.val[rows], dtype=np.float64),
            "statut": self.stat_names[self.stat[rows]],
            "position": territory,  # in `level_codes(level)`
        }

    def level_codes(self, level: str) -> np.ndarray:
        """Every code of a stored level, in key order (the same array on each call)."""
        return self._codes(level, *self._level_span(level))

    def warm(self) -> None:
        """Every stored level's codes decoded now (see `_codes`)."""
        for level in sorted({lv for _, lv, _ in self._available}):
            self.level_codes(level)

    def _level_span(self, level: str) -> tuple[int, int]:
        """Positions in `keys` of a level's territories (keys are "level NUL code")."""
        name = level.encode()
        lo = int(np.searchsorted(self.keys, name + SEP))
        return lo, int(np.searchsorted(self.keys, name + b"\x01"))

    def _codes(self, level: str, lo: int, hi: int) -> np.ndarray:
        """A level's codes in key order, decoded once per process."""
        codes = self._level_codes.get(level)
        if codes is None:
            cut = len(level) + 1
            codes = np.array([k[cut:].decode() for k in self.keys[lo:hi]], dtype=object)
            self._level_codes[level] = codes
        return codes

    def _range(self, level: str, code: str) -> tuple[int, int] | None:
        key = _key(level, code)
        i = int(np.searchsorted(self.keys, key))
        if i < len(self.keys) and self.keys[i] == key:
            return int(self.starts[i]), int(self.ends[i])
        return None

    def _ranges(self, level: str, code: str) -> list[tuple[int, int]]:
        """Row ranges of a territory; a composite level reads its two source levels."""
        from layers.store import COMPOSITES

        if level not in COMPOSITES:
            found = self._range(level, code)
            return [found] if found else []
        whole, part, split = COMPOSITES[level]
        found = [] if code in split else [self._range(whole, code)]
        found.append(self._range(part, code))
        return [r for r in found if r]

    def cells(
        self,
        indicators: Sequence[str],
        territories: Sequence[tuple[str, str]],
        periods: Sequence[str] | None = None,
        own: tuple[str, str] | None = None,
    ) -> pd.DataFrame:
        """The cells of `territories` (each as often as listed, like a join) for `indicators`,
        at `periods` only when given, except `own`'s, which are read at every period; ordered
        by indicator, level, code and period, with the columns of `Store.series_many`."""
        return pd.DataFrame(self.columns(indicators, territories, periods, own))

    def columns(
        self,
        indicators: Sequence[str],
        territories: Sequence[tuple[str, str]],
        periods: Sequence[str] | None = None,
        own: tuple[str, str] | None = None,
    ) -> dict[str, np.ndarray]:
        """`cells()` as plain arrays (strings as objects), without building a frame."""
        wanted = np.zeros(len(self.ind_names), dtype=bool)
        wanted[[self._ind_id[i] for i in indicators if i in self._ind_id]] = True
        at_period = None
        if periods is not None:
            at_period = np.zeros(len(self.per_names), dtype=bool)
            at_period[[self._per_id[p] for p in periods if p in self._per_id]] = True
        parts, labels = [], []
        for pos, (level, code) in enumerate(territories):
            for start, end in self._ranges(level, code):
                idx = np.arange(start, end)
                keep = wanted[self.ind[start:end]]
                if at_period is not None and (level, code) != own:
                    keep &= at_period[self.per[start:end]]
                idx = idx[keep]
                parts.append(idx)
                labels.append(np.full(len(idx), pos, dtype=np.int32))
        return self._columns(parts, labels, territories)

    def published_values(
        self, territories: Sequence[tuple[str, str]], at: dict[str, str]
    ) -> dict[tuple[str, str], np.ndarray]:
        """The published values of `territories` (stored levels), by (indicator, period), each
        indicator at its period of `at` only: the ranks of a commune among its EPCI's
        communes, with integer masks over the rows instead of a lookup per row."""
        from layers.store import PUBLISHED

        period_of = np.full(len(self.ind_names), -1, dtype=np.int32)
        for ind, per in at.items():
            if ind in self._ind_id and per in self._per_id:
                period_of[self._ind_id[ind]] = self._per_id[per]
        ranges = [r for level, code in territories for r in self._ranges(level, code)]
        if not ranges:
            return {}
        starts, ends = np.array(ranges, dtype=np.int64).T
        lengths = ends - starts
        # Every row of the ranges: each range's start repeated, plus 0..length-1.
        idx = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        ind = self.ind[idx]
        published = int(np.flatnonzero(self.stat_names == PUBLISHED)[0])
        keep = (self.per[idx] == period_of[ind]) & (self.stat[idx] == published)
        idx, ind = idx[keep], ind[keep]
        order = np.argsort(ind, kind="stable")
        idx, ind = idx[order], ind[order]
        found, cuts = np.unique(ind, return_index=True)
        values = np.array(self.val[idx], dtype=np.float64)
        return {
            (str(self.ind_names[i]), at[str(self.ind_names[i])]): part
            for i, part in zip(found.tolist(), np.split(values, cuts[1:]), strict=True)
        }

    def _columns(
        self, parts: list[np.ndarray], labels: list[np.ndarray], territories: Sequence
    ) -> dict[str, np.ndarray]:
        idx = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        pos = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int32)
        # Rank of each listed territory in (level, code) order, like DuckDB's ORDER BY.
        ranked = sorted(range(len(territories)), key=lambda i: tuple(territories[i]))
        rank = np.empty(len(territories), dtype=np.int32)
        rank[ranked] = np.arange(len(territories), dtype=np.int32)
        ind, per = self.ind[idx], self.per[idx]
        order = np.lexsort((per, rank[pos] if len(pos) else pos, ind))
        idx, pos, ind, per = idx[order], pos[order], ind[order], per[order]
        levels = np.array([t[0] for t in territories] or [""], dtype=object)
        codes = np.array([t[1] for t in territories] or [""], dtype=object)
        return {
            "indicateur": self.ind_names[ind],
            "niveau": levels[pos],
            "code": codes[pos],
            "periode": self.per_names[per],
            "valeur": np.array(self.val[idx], dtype=np.float64),
            "statut": self.stat_names[self.stat[idx]],
        }


def main(argv: list[str]) -> int:
    """`python -m layers.cell_tables STORE_FOLDER…`: add the tables to stores built before."""
    for arg in argv:
        print(write_cell_tables(Path(arg)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
