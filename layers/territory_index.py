"""Every territory of a geometry build, without geometry: names, parents, neighbours, search.

Read once from `geo/<level>.parquet` and `geo/voisins.parquet`; row order is the feature order of
the level's web geometry and vector tiles (feature id = row number), which the map relies on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from layers.catalogue import fold
from layers.model import LEVEL, LEVEL_CODES, MAP_LEVELS

# « 1er », « 2e », « 15ème », « 3 ème »: one spelling of an ordinal (names of arrondissements).
_ORDINAL = re.compile(r"\b(\d+)\s*(?:ere|er|eme|e)\b")
# Levels searched: the map's, but not the composite views (their territories are those of their
# parts, found once at their own level).
SEARCH_LEVELS = tuple(lv for lv in MAP_LEVELS if not LEVEL[lv].composite)

T = TypeVar("T")
_ATTRS = (
    "code",
    "nom",
    "population",
    "area_km2",
    "label_lon",
    "label_lat",
    "codes_postaux",
    "type_iris",
)


@dataclass(frozen=True)
class Territory:
    level: str
    code: str
    name: str
    parents: dict[str, str]  # level -> code (France implicit)
    population: float | None
    area_km2: float | None
    label: tuple[float, float] | None  # lon, lat inside the territory
    postal_codes: tuple[str, ...] = ()


class TerritoryIndex:
    """Attribute tables of every level of one geometry build, loaded lazily."""

    def __init__(self, build_dir: Path) -> None:
        self.build_dir = Path(build_dir)
        self._tables: dict[str, pd.DataFrame] = {}
        self._levels: list[str] | None = None
        self._derived: dict[str, object] = {}

    def levels(self) -> list[str]:
        # A build folder never changes once published: look at its files once, not at every
        # name lookup (an evolution chart asked ~50 times).
        if self._levels is None:
            geo = self.build_dir / "geo"
            self._levels = [lvl for lvl in LEVEL_CODES if (geo / f"{lvl}.parquet").is_file()]
        return list(self._levels)

    def warm(self) -> None:
        """Load every level's table, positions, names, neighbours and the search table now (in the
        gunicorn master before the fork: the workers then share them instead of each loading
        its own copy on its first requests)."""
        for level in self.levels():
            self._positions(level)
            self._names(level)
        _ = self._neighbour_groups, self._search_table

    def derived(self, key: str, make: Callable[[], T]) -> T:
        """`make()` computed once for this build (a build never changes once published): answers
        derived from the tables alone, such as the map filter's options, asked by every page."""
        if key not in self._derived:
            self._derived[key] = make()
        return self._derived[key]  # type: ignore[return-value]

    def table(self, level: str) -> pd.DataFrame:
        """code, nom, parents..., population, area_km2, label point; row order = feature ids."""
        if level not in LEVEL:
            raise KeyError(level)
        if level not in self._tables:
            path = self.build_dir / "geo" / f"{level}.parquet"
            import pyarrow.parquet as pq

            names = set(pq.read_schema(path).names)
            cols = [c for c in (*_ATTRS, *LEVEL[level].parents) if c in names]
            df = pd.read_parquet(path, columns=cols)
            for col in ("code", *LEVEL[level].parents):
                if col in df.columns:
                    df[col] = df[col].astype("string").fillna("").astype(str)
            self._tables[level] = df
        return self._tables[level]

    def _row(self, level: str, code: str) -> pd.Series | None:
        table = self.table(level)
        pos = self._positions(level).get(code)
        return None if pos is None else table.iloc[pos]

    def _positions(self, level: str) -> dict[str, int]:
        key = f"_pos_{level}"
        if key not in self.__dict__:
            codes = self.table(level)["code"].tolist()
            self.__dict__[key] = {c: i for i, c in enumerate(codes)}
        return self.__dict__[key]

    def position(self, level: str, code: str) -> int | None:
        """Feature id of a territory in its level (None when unknown)."""
        return self._positions(level).get(code) if level in LEVEL else None

    def positions(self, level: str, codes: Iterable[str]) -> np.ndarray:
        """Feature ids of some codes of a level, -1 for an unknown code."""
        get = self._positions(level).get
        return np.fromiter((get(c, -1) for c in codes), dtype=np.intp)

    def placed(self, level: str, codes: np.ndarray) -> np.ndarray:
        """`positions(level, codes)` kept for one array per level (a store's codes of the
        level, read-only): once per process instead of once per layer."""
        key = f"_placed_{level}"
        kept = self.__dict__.get(key)
        if kept is None or kept[0] is not codes:
            kept = self.__dict__[key] = (codes, self.positions(level, codes))
        return kept[1]

    def source_level(self, level: str, code: str) -> str:
        """The level a territory of a composite view comes from (« Lyon 3e » of the communes
        and arrondissements: `arm`); the level itself otherwise."""
        for part in reversed(LEVEL[level].composite if level in LEVEL else ()):
            if part in self.levels() and self.position(part, code) is not None:
                return part
        return level

    def get(self, level: str, code: str) -> Territory | None:
        if level not in self.levels():
            return None
        row = self._row(level, code)
        if row is None:
            return None
        parents = {p: str(row[p]) for p in LEVEL[level].parents if p in row.index and row[p]}
        if level != "france":
            parents["france"] = "FR"
        lon, lat = row.get("label_lon"), row.get("label_lat")
        label = None if lon is None or pd.isna(lon) else (float(lon), float(lat))
        postal = str(row.get("codes_postaux") or "")
        return Territory(
            level=level,
            code=code,
            name=str(row["nom"]),
            parents=parents,
            population=_num(row.get("population")),
            area_km2=_num(row.get("area_km2")),
            label=label,
            postal_codes=tuple(p for p in postal.replace(",", " ").split() if p),
        )

    def name(self, level: str, code: str) -> str | None:
        # One cell, not the row: a row Series (or a column) cost ~0.15 ms, ~10 times a profile.
        pos = self._positions(level).get(code) if level in self.levels() else None
        return None if pos is None else str(self._names(level)[pos])

    def _names(self, level: str) -> np.ndarray:
        key = f"_names_{level}"
        if key not in self.__dict__:
            self.__dict__[key] = self.table(level)["nom"].to_numpy(dtype=object)
        return self.__dict__[key]

    def names(self, level: str, codes: Iterable[str]) -> dict[str, str]:
        """code -> name of some territories of a level (unknown codes left out): a lookup by
        position, not a 35,000-row index built per request."""
        positions = self._positions(level)
        found = {c: positions[c] for c in set(codes) if c in positions}
        names = self.table(level)["nom"].take(list(found.values())).astype(str).tolist()
        return dict(zip(found, names, strict=True))

    def bounds(self, territory: tuple[str, str]) -> list[float] | None:
        """[west, south, east, north] of a territory (from its full-resolution polygon)."""
        level, code = territory
        pos = self.position(level, code)
        if pos is None:
            return None
        key = f"_bounds_{level}"
        if key not in self.__dict__:
            import geopandas as gpd

            path = self.build_dir / "geo" / f"{level}.parquet"
            geo = gpd.read_parquet(path, columns=["geometry"])
            self.__dict__[key] = geo.geometry.bounds.to_numpy()
        return [round(float(v), 5) for v in self.__dict__[key][pos]]

    @cached_property
    def _neighbour_groups(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        # Per level: its codes sorted, where each one's rows start, and the row positions
        # grouped by code in file order (a stable sort). A lookup instead of a scan of every
        # border per page (~40 ms on all France). Read with pyarrow into plain numpy arrays,
        # without keeping a frame: the pandas frame of 651,942 borders held ~47 MB of Arrow
        # strings per worker and its reading left ~90 MB of heap behind.
        path = self.build_dir / "geo" / "voisins.parquet"
        self._border_km = np.zeros(0)
        self._border_to = np.zeros(0, dtype="S1")
        if not path.is_file():
            return {}
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=["code", "voisin", "frontiere_km", "niveau"])
        self._border_km = table["frontiere_km"].to_numpy().astype(float)
        self._border_to = _bytes(table["voisin"])
        every, levels = _bytes(table["code"]), _bytes(table["niveau"])
        del table
        out = {}
        for level in np.unique(levels):
            rows = np.flatnonzero(levels == level)
            codes = every[rows]
            order = np.argsort(codes, kind="stable")
            keys, starts = np.unique(codes[order], return_index=True)
            bounds = np.append(starts, len(order)).astype(np.int32)
            out[level.decode()] = (keys, bounds, rows[order].astype(np.int32))
        pa.default_memory_pool().release_unused()
        return out

    def neighbours(self, level: str, code: str) -> list[str]:
        """Codes sharing a border with the territory, longest border first."""
        found = self._neighbour_groups.get(level)
        if found is None:
            return []
        keys, bounds, positions = found
        key = code.encode()
        i = int(np.searchsorted(keys, key))
        if i == len(keys) or keys[i] != key:
            return []
        pos = positions[bounds[i] : bounds[i + 1]]
        # The same pandas sort on the same rows in the same order: ties keep their order.
        order = pd.Series(self._border_km[pos]).sort_values(ascending=False).index.to_numpy()
        return [c.decode() for c in self._border_to[pos[order]]]

    def children(self, level: str, parent_level: str, parent_code: str) -> pd.Series:
        """Boolean mask over `table(level)`: the territories inside a parent."""
        table = self.table(level)
        if parent_level == "france":
            return pd.Series(True, index=table.index)
        if parent_level == level:
            return table["code"] == parent_code
        if parent_level not in table.columns:
            return pd.Series(False, index=table.index)
        return table[parent_level] == parent_code

    @cached_property
    def _search_table(self) -> pd.DataFrame:
        parts = []
        for level in SEARCH_LEVELS:
            if level not in self.levels():
                continue
            t = self.table(level)
            parts.append(
                pd.DataFrame(
                    {
                        "level": level,
                        "code": t["code"],
                        "nom": t["nom"],
                        "folded": [_fold(n) for n in t["nom"]],
                        "postal": t.get("codes_postaux", ""),
                        "population": t.get("population", np.nan),
                    }
                )
            )
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def search(self, query: str, limit: int = 10) -> list[Territory]:
        """By name (accents and case optional), INSEE code, SIREN or postal code.

        Exact name or code first, then names starting with the query, then containing it;
        bigger territories first within each group.
        """
        q = _fold(query or "")
        df = self._search_table
        if not q or df.empty or len(q) > 100:
            return []
        if q.replace(" ", "").isdigit() or q.upper().startswith(("QP", "2A", "2B")):
            code = "".join(ch for ch in q.upper() if ch.isalnum())  # "2A004(" -> "2A004"
            postal = df["postal"].astype(str).str.split()
            hits = df[(df["code"] == code) | postal.map(lambda codes: code in codes)]
            # A postal code of an arrondissement (75015) names it before its city.
            rank = np.where(hits["code"] == code, 0, np.where(hits["level"] == "arm", 1, 2))
        else:
            starts = df["folded"].str.startswith(q)
            contains = df["folded"].str.contains(q, regex=False)
            hits = df[contains]
            rank = np.where(hits["folded"] == q, 0, np.where(starts[contains], 1, 2))
        hits = hits.assign(_rank=rank, _pop=-hits["population"].fillna(0))
        hits = hits.sort_values(["_rank", "_pop", "nom"]).head(limit)
        found = [self.get(r.level, r.code) for r in hits.itertuples()]
        return [t for t in found if t is not None]


def _fold(text: str) -> str:
    """Lower case without accents, hyphens or apostrophes, one spelling of ordinals."""
    folded = fold(text).replace("-", " ").replace("'", " ")
    return " ".join(_ORDINAL.sub(r"\1e", folded).split())


def _num(value: object) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if np.isnan(v) else v


def _bytes(column: object) -> np.ndarray:
    """An Arrow string column as fixed-width bytes, padded with NULs by Arrow (numpy strips
    them): codes are short ASCII, and no Python string is made (652k of them left ~40 MB of
    heap behind)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    col = col.cast(pa.large_string())
    width = max(int(pc.max(pc.binary_length(col)).as_py() or 0), 1)
    padded = pc.utf8_rpad(col, width=width, padding="\x00")
    offsets = np.frombuffer(padded.buffers()[1], dtype=np.int64, count=len(padded) + 1)
    data = np.frombuffer(
        padded.buffers()[2], dtype=f"S{width}", count=len(padded), offset=int(offsets[0])
    )
    return data.copy()
