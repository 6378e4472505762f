"""The indicator store: published cells in Parquet, queried through DuckDB.

One long table `valeurs.parquet`: indicateur, niveau, code, periode, valeur, statut, sorted by
(indicateur, niveau, periode, code) so that DuckDB reads only the row groups a query needs.
`statut` is "publie", "secret", "manquant" or "non_concerne"; `valeur` is null unless published:
the store never holds the value of a hidden cell (checked again when writing).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geodata.cog import PLM
from layers.cell_tables import CellTables, write_cell_tables
from layers.memory import release
from layers.model import LEVELS
from layers.progress import counting
from layers.provenance import PROVENANCE_FILE, Provenance, check_provenance, lookup

PUBLISHED, SECRET, MISSING, NOT_APPLICABLE = "publie", "secret", "manquant", "non_concerne"
STATUSES = (PUBLISHED, SECRET, MISSING, NOT_APPLICABLE)
COLUMNS = ("indicateur", "niveau", "code", "periode", "valeur", "statut")
VALUES_FILE = "valeurs.parquet"
# The same cells sorted by territory, in small row groups: a territory's series (a profile, an
# atlas) then reads a few row groups instead of scanning every one of its level (~8x faster).
SERIES_FILE = "series.parquet"
META_FILE = "manifest.json"
ROW_GROUP = 200_000
SERIES_ROW_GROUP = 16_384
KEY_COLUMNS = ("indicateur", "niveau", "code", "periode")
VALUES_ORDER = ["indicateur", "niveau", "periode", "code"]
SERIES_ORDER = ["niveau", "code", "indicateur", "periode"]


# Views made of other levels' cells (« communes et arrondissements »): level -> (whole level,
# its split part, codes of the whole level the part replaces). Read at query time, never stored:
# their secrecy is exactly that of their source cells.
COMPOSITES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    lv.code: (lv.composite[0], lv.composite[1], tuple(sorted(PLM.values())))
    for lv in LEVELS
    if lv.composite
}


def _with_composites(table: str) -> str:
    """SQL of the stored cells of `table` plus the cells of every composite level."""
    parts = [f"SELECT * FROM {table}"]
    for level, (whole, part, split) in COMPOSITES.items():
        replaced = ", ".join(f"'{c}'" for c in split)
        parts.append(
            f"SELECT indicateur, '{level}' AS niveau, code, periode, valeur, statut FROM {table} "
            f"WHERE (niveau = '{whole}' AND code NOT IN ({replaced})) OR niveau = '{part}'"
        )
    return " UNION ALL ".join(parts)


DUPLICATES = "cellules en double (même indicateur, niveau, code et période)"


class StoreError(RuntimeError):
    """The store is missing or inconsistent; the message (French) says what to run."""


def check_rows(rows: pd.DataFrame, duplicates: bool = True) -> pd.DataFrame:
    """Normalise and validate rows before they are written (never a value behind a secret);
    `duplicates=False` leaves the check of repeated cells to the caller (write_store does it on
    its sort keys)."""
    missing = [c for c in COLUMNS if c not in rows.columns]
    if missing:
        raise StoreError(f"colonnes manquantes dans les données à écrire : {', '.join(missing)}")
    # the columns themselves, not a consolidated copy (seconds for millions of string cells)
    rows = pd.DataFrame({c: rows[c] for c in COLUMNS}, copy=False)
    bad = ~rows["statut"].isin(STATUSES)
    if bad.any():
        raise StoreError(f"statut inconnu : {sorted(set(rows.loc[bad, 'statut']))}")
    if rows[list(KEY_COLUMNS)].isna().any().any():
        raise StoreError("cellules sans indicateur, niveau, code ou période : écriture refusée")
    rows["valeur"] = pd.to_numeric(rows["valeur"], errors="coerce").astype("float64")
    hidden = rows["statut"] != PUBLISHED
    if rows.loc[hidden, "valeur"].notna().any():
        raise StoreError("une cellule non publiée porte une valeur : écriture refusée")
    if rows.loc[~hidden, "valeur"].isna().any():
        raise StoreError("une cellule publiée n'a pas de valeur")
    if duplicates and _has_duplicates(rows, list(KEY_COLUMNS)):
        raise StoreError(DUPLICATES)
    return rows


def _has_duplicates(rows: pd.DataFrame, key: list[str]) -> bool:
    """Whether two rows share `key` (`DataFrame.duplicated` hashes every row: 400 MB more for a
    6-million-row real store); a missing value is a value of its own."""
    keys = {}
    for col in key:
        codes, uniques = pd.factorize(rows[col], use_na_sentinel=True)
        keys[col] = (codes.astype(np.int64) + 1, len(uniques) + 1)
    folded = np.sort(_fold(keys, key))
    return bool((folded[1:] == folded[:-1]).any())


SCHEMA = pa.schema(
    [
        ("indicateur", pa.dictionary(pa.int16(), pa.string())),
        ("niveau", pa.dictionary(pa.int8(), pa.string())),
        ("code", pa.string()),
        ("periode", pa.dictionary(pa.int16(), pa.string())),
        ("valeur", pa.float64()),
        ("statut", pa.dictionary(pa.int8(), pa.string())),
    ]
)


def _seen_first(col: pd.Series) -> pa.DictionaryArray:
    """A categorical column as Arrow would encode the same text: its dictionary in order of
    first appearance, without unused categories (the store's bytes do not depend on how the
    caller held its text, and text would cost a synced store hundreds of MB)."""
    codes = col.cat.codes.to_numpy()
    seen = pd.unique(codes[codes >= 0])
    remap = np.zeros(len(col.cat.categories), dtype=np.int32)
    remap[seen] = np.arange(len(seen), dtype=np.int32)
    words = pa.array(np.asarray(col.cat.categories, dtype=object)[seen], pa.string())
    indices = pa.array(remap[np.maximum(codes, 0)], mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, words)


def _arrow(rows: pd.DataFrame) -> pa.Table:
    """The checked rows as a table of SCHEMA, column by column."""
    columns = []
    for field in SCHEMA:
        col = rows[field.name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            array = pa.chunked_array([_seen_first(col)])
        else:
            array = pa.Table.from_pandas(rows[[field.name]], preserve_index=False).column(0)
        columns.append(array.cast(field.type))
    return pa.Table.from_arrays(columns, schema=SCHEMA)


def _sort_keys(table: pa.Table) -> dict[str, tuple[np.ndarray, int]]:
    """Each key column as integer ranks in sorted order, with its number of distinct values:
    sorting by them is an integer sort (a sort of the strings took ~15 s a file nationally).
    Text is ranked through its dictionary (as Python strings, 5 million codes took 350 MB)."""
    keys = {}
    for name in KEY_COLUMNS:
        col = table.column(name).combine_chunks()
        if not pa.types.is_dictionary(col.type):
            col = col.dictionary_encode()
        words = col.dictionary.to_numpy(zero_copy_only=False)
        rank = np.empty(len(words), dtype=np.int32)  # folded into int64 by `_fold`
        rank[np.argsort(words, kind="stable")] = np.arange(len(words), dtype=np.int32)
        keys[name] = (rank[col.indices.to_numpy(zero_copy_only=False)], len(words))
    return keys


def _fold(keys: dict[str, tuple[np.ndarray, int]], order: list[str]) -> np.ndarray:
    """Each row's key columns (integer codes, with their number of values) folded into one
    int64, in the order of `order`: equal rows fold equal, and ranks sort as the columns do."""
    combined = np.zeros(len(next(iter(keys.values()))[0]), dtype=np.int64)
    for name in order:
        codes, count = keys[name]
        combined *= count
        combined += codes
    return combined


def _sorted_index(keys: dict[str, tuple[np.ndarray, int]], order: list[str]) -> np.ndarray:
    """The rows' order sorted by `order`; repeated cells refused."""
    combined = _fold(keys, order)
    index = np.argsort(combined)
    folded = combined[index]
    if (folded[1:] == folded[:-1]).any():
        raise StoreError(DUPLICATES)
    return index


def _write(
    table: pa.Table, index: np.ndarray, path: Path, group: int, advance: Callable[[int], None]
) -> None:
    """`table` in the order of `index` into `path`, row group by row group (each counted),
    each taken on its own (a sorted copy of the whole table, twice at once, was 260 MB more
    for a synced store)."""
    with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
        for start in range(0, len(index), group):
            part = table.take(pa.array(index[start : start + group]))
            writer.write_table(part, row_group_size=group)
            advance(part.num_rows)


def _write_sorted(
    rows: pd.DataFrame, folder: Path, provenance: pd.DataFrame | None, advance: Callable
) -> None:
    """The two Parquet files (and the provenance) into `folder`, made here; the table, its
    sort keys and orders (~600 MB for a synced store) are freed on return, before the cell
    tables are written."""
    table = _arrow(rows)
    keys = _sort_keys(table)
    if np.prod([float(count) for _, count in keys.values()]) >= 2**62:
        raise StoreError("trop de valeurs distinctes pour trier l'entrepôt")
    by_indicator = _sorted_index(keys, VALUES_ORDER)  # refuses repeated cells first
    folder.mkdir(parents=True)
    if provenance is not None:
        check_provenance(provenance).to_parquet(folder / PROVENANCE_FILE, index=False)
    by_territory = _sorted_index(keys, SERIES_ORDER)
    del keys
    # both files at once: Arrow's take and Parquet's writer release the GIL
    with ThreadPoolExecutor(2) as pool:
        done = [
            pool.submit(_write, table, by_indicator, folder / VALUES_FILE, ROW_GROUP, advance),
            pool.submit(
                _write, table, by_territory, folder / SERIES_FILE, SERIES_ROW_GROUP, advance
            ),
        ]
        for future in done:
            future.result()


def write_store(
    rows: pd.DataFrame,
    folder: Path,
    meta: dict,
    provenance: pd.DataFrame | None = None,
    *,
    bars: TextIO | None = None,
) -> dict:
    """Write `valeurs.parquet` (by indicator), `series.parquet` (by territory), the provenance
    of each series (when known) and the manifest into `folder` (which must be new);
    `bars`: where a progress bar goes (`cafcarto build` and `sync`: stderr)."""
    # each cell written three times: by indicator, by territory, the cell tables
    with counting("écriture de l'entrepôt", 3 * len(rows), bars, unit="lignes") as advance:
        rows = check_rows(rows, duplicates=False)
        _write_sorted(rows, folder, provenance, advance)
        release()  # the table and sort keys' pages back before the cell tables' DuckDB
        counts = rows["statut"].value_counts().to_dict()
        meta = {
            **meta,
            "cellules": int(len(rows)),
            "statuts": {k: int(v) for k, v in counts.items() if v},  # no unused category
            "octets": (folder / VALUES_FILE).stat().st_size,
        }
        (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1))
        # series.parquet is in SERIES_ORDER
        write_cell_tables(folder, presorted=True, advance=advance)
    return meta


# Layers of at most this many territories (EPCI: ~1,250) are kept per process, this many.
KEPT_LAYER_ROWS = 2_000
KEPT_LAYERS = 256


class Store:
    """Read-only queries over a written store (one DuckDB connection per thread)."""

    def __init__(self, folder: Path, cell_tables: bool = True) -> None:
        self.folder = Path(folder)
        path = self.folder / VALUES_FILE
        if not path.is_file():
            raise StoreError(f"Entrepôt d'indicateurs absent ({path}) : lancez « cafcarto build ».")
        self.meta = json.loads((self.folder / META_FILE).read_text(encoding="utf-8"))
        self._path = str(path).replace("'", "''")
        series = self.folder / SERIES_FILE  # absent from stores written before it existed
        self._series_path = str(series if series.is_file() else path).replace("'", "''")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._availability: dict[tuple[str, str], list[str]] | None = None
        self._provenance: dict[tuple[str, str, str], Provenance] | None = None
        self._layers: dict[tuple[str, str, str], dict[str, np.ndarray]] = {}
        # Cells by territory, memory-mapped (written with the store): lookups instead of scans.
        self._tables = CellTables.open(self.folder) if cell_tables else None

    def _con(self) -> duckdb.DuckDBPyConnection:
        con = getattr(self._local, "con", None)
        if con is None:
            # No progress bar: it would print into the logs of the server, the audit and the bench.
            con = duckdb.connect(config={"threads": 1})
            con.execute("SET enable_progress_bar = false")
            con.execute(f"CREATE VIEW v AS SELECT * FROM read_parquet('{self._path}')")
            con.execute(f"CREATE VIEW s AS SELECT * FROM read_parquet('{self._series_path}')")
            # `v` and `s` are the stored cells (copied by the real store); `vc` and `sc` add the
            # composite levels for every reader.
            con.execute(f"CREATE VIEW vc AS {_with_composites('v')}")
            con.execute(f"CREATE VIEW sc AS {_with_composites('s')}")
            self._local.con = con
        return con

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self._con().execute(sql, params or []).df()

    def warm_layers(self) -> None:
        """Decode every stored level's codes for `layer` now (in the gunicorn master: shared)."""
        if self._tables is not None:
            self._tables.warm()

    def layer(self, indicator: str, level: str, period: str) -> pd.DataFrame:
        """Every territory of a level for one indicator and period: code, valeur, statut."""
        cells = self.layer_columns(indicator, level, period)
        return pd.DataFrame({c: cells[c] for c in ("code", "valeur", "statut")})

    def layer_columns(self, indicator: str, level: str, period: str) -> dict[str, np.ndarray]:
        """`layer` as arrays (strings as objects, `valeur` as floats), sorted by code. From the
        cell tables when there are (a stored level: 0.2 ms for the régions, 16 ms for the
        communes, against 15–35 ms for a DuckDB scan), with each code's `position` in
        `level_codes(level)`; a small level's (régions to EPCI) is also kept, read-only."""
        key = (indicator, level, period)
        with self._lock:
            kept = self._layers.get(key)
        if kept is not None:
            return kept
        if self._tables is not None and level not in COMPOSITES:
            cells = self._tables.layer(indicator, level, period)
        else:
            cells = _as_columns(
                self.query(
                    "SELECT code, valeur, statut FROM vc WHERE indicateur = ? AND niveau = ? "
                    "AND periode = ? ORDER BY code",
                    [indicator, level, period],
                )
            )
        if len(cells["code"]) <= KEPT_LAYER_ROWS:
            for array in cells.values():
                array.flags.writeable = False
            with self._lock:
                self._layers[key] = cells
                while len(self._layers) > KEPT_LAYERS:  # oldest first
                    self._layers.pop(next(iter(self._layers)))
        return cells

    def level_codes(self, level: str) -> np.ndarray | None:
        """Every code of a level the cell tables hold (the same array on each call), which
        `layer_columns`' positions index; None when a DuckDB scan answers the level."""
        if self._tables is None or level in COMPOSITES:
            return None
        return self._tables.level_codes(level)

    def series(self, indicator: str, level: str, code: str) -> pd.DataFrame:
        """One territory's series: periode, valeur, statut (secrets stay gaps)."""
        if self._tables is not None:
            cells = self._tables.cells([indicator], [(level, code)])
            return cells[["periode", "valeur", "statut"]]
        return self.query(
            "SELECT periode, valeur, statut FROM vc WHERE indicateur = ? AND niveau = ? "
            "AND code = ? ORDER BY periode",
            [indicator, level, code],
        )

    def series_columns(
        self, indicator: str | Sequence[str], territories: list[tuple[str, str]]
    ) -> dict:
        """`series_many(indicator, territories)` as arrays (strings as objects, `valeur` as
        floats), in the same order: from the cell tables without a frame."""
        if self._tables is not None and territories:
            wanted = [indicator] if isinstance(indicator, str) else list(indicator)
            return self._tables.columns(wanted, territories)
        return _as_columns(self.series_many(indicator, territories))

    def series_many(
        self, indicator: str | Sequence[str], territories: list[tuple[str, str]]
    ) -> pd.DataFrame:
        """Several territories' series at once (a commune and its references), for one
        indicator or several (one scan: a profile reads some thirty indicators)."""
        columns = ["indicateur", "niveau", "code", "periode", "valeur", "statut"]
        wanted_ind = [indicator] if isinstance(indicator, str) else list(indicator)
        if not territories or not wanted_ind:
            return pd.DataFrame(columns=columns)
        if self._tables is not None:
            return self._tables.cells(wanted_ind, territories)
        keys = pd.DataFrame(territories, columns=["niveau", "code"])
        con = self._con()
        con.register("wanted", keys)
        levels, codes = sorted(set(keys["niveau"])), sorted(set(keys["code"]))
        try:
            # The IN lists reach the Parquet scan (row-group pruning); the join keeps exact pairs.
            marks = ", ".join("?" for _ in wanted_ind)
            # One or two indicators: the copy by indicator prunes best (15 ms against 26 ms for
            # a series and its references); a profile's thirty: the copy by territory (30 ms
            # against 360 ms).
            t = "vc" if len(wanted_ind) <= 2 else "sc"
            return con.execute(
                f"SELECT {', '.join(f'{t}.{c}' for c in columns)} FROM {t} "
                f"JOIN wanted w ON {t}.niveau = w.niveau AND {t}.code = w.code "
                f"WHERE {t}.code IN ({', '.join('?' for _ in codes)}) "
                f"AND {t}.niveau IN ({', '.join('?' for _ in levels)}) "
                f"AND indicateur IN ({marks}) "
                f"ORDER BY {t}.indicateur, {t}.niveau, {t}.code, periode",
                [*codes, *levels, *wanted_ind],
            ).df()
        finally:
            con.unregister("wanted")

    def page_columns(
        self,
        indicators: Sequence[str],
        own: tuple[str, str],
        others: list[tuple[str, str]],
        periods: Sequence[str],
    ) -> dict[str, np.ndarray]:
        """`page_cells()` as arrays (strings as objects, `valeur` as floats), in no set order:
        from the cell tables without a frame (a profile page reads them into dicts)."""
        if self._tables is not None:
            return self._tables.columns(
                list(indicators), [own, *others], list(periods) or [""], own
            )
        return _as_columns(self.page_cells(indicators, own, others, periods))

    def published_values(
        self, territories: list[tuple[str, str]], at: dict[str, str]
    ) -> dict[tuple[str, str], np.ndarray]:
        """The published values of `territories`, by (indicator, period), each indicator of `at`
        at its period there only (a commune's ranks in its EPCI); a hidden cell is left out."""
        if not territories or not at:
            return {}
        if self._tables is not None:
            return self._tables.published_values(territories, at)
        periods = sorted(set(at.values()))
        col = _as_columns(self.page_cells(list(at), territories[0], territories[1:], periods))
        keep = col["statut"] == PUBLISHED
        keep &= np.array(
            [at.get(i) == p for i, p in zip(col["indicateur"], col["periode"], strict=True)],
            dtype=bool,
        )
        groups: dict[tuple[str, str], list[float]] = {}
        for i in np.flatnonzero(keep):
            groups.setdefault((col["indicateur"][i], col["periode"][i]), []).append(
                col["valeur"][i]
            )
        return {k: np.asarray(v, dtype=float) for k, v in groups.items()}

    def page_cells(
        self,
        indicators: Sequence[str],
        own: tuple[str, str],
        others: list[tuple[str, str]],
        periods: Sequence[str],
    ) -> pd.DataFrame:
        """A profile page's cells in one scan: the whole series of `own`, and the `others`
        (references, neighbours, EPCI's communes) only at `periods` (the page's latest): a
        tenth of the rows of `series_many` on all of them."""
        columns = ["indicateur", "niveau", "code", "periode", "valeur", "statut"]
        keys = pd.DataFrame([own, *others], columns=["niveau", "code"])
        levels, codes = sorted(set(keys["niveau"])), sorted(set(keys["code"]))
        wanted, periods = list(indicators), list(periods) or [""]
        if self._tables is not None:
            return self._tables.cells(wanted, [own, *others], periods, own)
        con = self._con()
        con.register("wanted", keys)
        try:
            return con.execute(
                f"SELECT {', '.join(f'sc.{c}' for c in columns)} FROM sc "
                "JOIN wanted w ON sc.niveau = w.niveau AND sc.code = w.code "
                f"WHERE sc.code IN ({', '.join('?' for _ in codes)}) "
                f"AND sc.niveau IN ({', '.join('?' for _ in levels)}) "
                f"AND indicateur IN ({', '.join('?' for _ in wanted)}) "
                f"AND (periode IN ({', '.join('?' for _ in periods)}) "
                "OR (sc.niveau = ? AND sc.code = ?))",
                [*codes, *levels, *wanted, *periods, *own],
            ).df()
        finally:
            con.unregister("wanted")

    def availability(self) -> dict[tuple[str, str], list[str]]:
        """(indicator, level) -> periods with data, oldest first. One query per store: a store
        build never changes once written, and every page asks for periods."""
        with self._lock:
            if self._availability is None and self._tables is not None:
                self._availability = _composite_periods(self._tables.availability())
            if self._availability is None:
                df = self.query("SELECT DISTINCT indicateur, niveau, periode FROM v")
                found: dict[tuple[str, str], list[str]] = {}
                for ind, lvl, per in zip(
                    df["indicateur"].astype(str),
                    df["niveau"].astype(str),
                    df["periode"].astype(str),
                    strict=True,
                ):
                    found.setdefault((ind, lvl), []).append(per)
                self._availability = _composite_periods({k: sorted(v) for k, v in found.items()})
            return self._availability

    def provenance(self, indicator: str, level: str, period: str) -> Provenance | None:
        """Dataset, field, update date and disclosure regime of one series (None if unknown)."""
        with self._lock:
            if self._provenance is None:
                path = self.folder / PROVENANCE_FILE
                self._provenance = lookup(pd.read_parquet(path)) if path.is_file() else {}
            if level in COMPOSITES:  # read from its levels: their regime is the same file's
                level = COMPOSITES[level][0]
            return self._provenance.get((indicator, level, period))

    def periods(self, indicator: str, level: str) -> list[str]:
        return list(self.availability().get((indicator, level), []))

    def latest_periods(self, level: str) -> dict[str, str]:
        """Latest period of every indicator at a level."""
        return {ind: per[-1] for (ind, lvl), per in self.availability().items() if lvl == level}

    def indicators(self) -> pd.DataFrame:
        return self.query(
            "SELECT indicateur, niveau, count(DISTINCT periode) AS periodes, count(*) AS cellules "
            "FROM v GROUP BY 1, 2 ORDER BY 1, 2"
        )


def _as_columns(cells: pd.DataFrame) -> dict[str, np.ndarray]:
    """A frame of cells as the cell tables' arrays: strings as objects, `valeur` as floats."""
    cols = {c: cells[c].astype(str).to_numpy(dtype=object) for c in cells.columns}
    return {**cols, "valeur": cells["valeur"].to_numpy(dtype=np.float64)}


def _composite_periods(found: dict[tuple[str, str], list[str]]) -> dict:
    """A composite level has an indicator's periods where both its source levels have them."""
    out = dict(found)
    indicators = {ind for ind, _ in found}
    for level, (whole, part, _) in COMPOSITES.items():
        for ind in indicators:
            both = sorted(set(found.get((ind, whole), ())) & set(found.get((ind, part), ())))
            if both:
                out[(ind, level)] = both
    return out


def timed(fn: Callable[..., object], *args: object, repeat: int = 20) -> float:
    """Median wall time of a call, in milliseconds (for the bench)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))
