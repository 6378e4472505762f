"""The additive relations of a table of real rows, for the secrecy pass (`layers.real_secrecy`).

A table is one series group (a field and its breakdown values `<field>.<dimension>_<value>`)
at one period. Its relations, as the store will publish them:

- breakdown: the values of one dimension add up to the field, per territory;
- geography: départements add up to their région and to France, régions to France, the
  municipal arrondissements of Paris, Lyon and Marseille to their city.

A relation is kept only when the values verify it and no cell of it is rounded (rounded cells
are not additive): an exact sum is an equality; parts adding up to less than the total (a part
missing from the file, or left blank by the portal: its value is unknown) give "parts within
the total"; anything else (the parts exceed the total) is ignored and counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geodata.cog import Cog
from layers.audit import TOL, Relations
from layers.ingest.places import FRANCE, city_of
from layers.model import LEVEL, parent_levels
from layers.secrecy import build_relations

FRANCE_LEVEL = "france"
CHILD_LEVELS = ("departement", "region")  # the levels of the national files that add up
ARM_LEVEL, CITY_LEVEL = LEVEL["commune_arm"].composite[::-1]  # arrondissements, their city

Relation = tuple[tuple[str, ...], int, np.ndarray]  # (family, total row, part rows)


@dataclass
class Table:
    """Rows of one table (indicateur, niveau, code, raw, hidden, rounded, dimension), its
    candidate relations, and which rows are cells of the secondary suppression (`known`: value
    known, not rounded). `deduced`: secret cells the portal left blank whose value the other
    cells of a sum give back, taken as known (never published) so that they are protected."""

    rows: pd.DataFrame
    raw: np.ndarray
    known: np.ndarray
    relations: list[Relation]
    deduced: int = 0

    @classmethod
    def of(cls, rows: pd.DataFrame, regions: Mapping[str, str]) -> Table:
        raw = rows["raw"].to_numpy(dtype=float).copy()
        rounded = rows["rounded"].to_numpy(dtype=bool)
        known = ~np.isnan(raw) & (np.nan_to_num(raw, nan=-1.0) >= 0) & ~rounded
        relations = [*_breakdowns(rows), *_geography(rows, regions), *_cities(rows)]
        table = cls(rows, raw, known, relations)
        table.deduce(rows["hidden"].to_numpy(dtype=bool) & np.isnan(raw) & ~rounded)
        return table

    def deduce(self, blank: np.ndarray) -> None:
        """Give a blank secret cell the value a sum gives back (its only unknown member), until
        no sum gives more: an attacker would do the same."""
        changed = True
        while changed:
            changed = False
            for _, total, parts in self.relations:
                members = np.r_[total, parts]
                open_ = members[~self.known[members]]
                if open_.size != 1 or not blank[open_[0]]:
                    continue
                others = self.raw[parts[self.known[parts]]].sum()
                value = others if open_[0] == total else self.raw[total] - others
                if value >= 0:
                    self.raw[open_[0]], self.known[open_[0]] = value, True
                    self.deduced += 1
                    changed = True

    @property
    def index(self) -> pd.Index:
        """The original row labels of the cells."""
        return self.rows.index[self.known]

    @property
    def values(self) -> np.ndarray:
        return self.raw[self.known]

    @property
    def hidden(self) -> np.ndarray:
        hidden = self.rows["hidden"].to_numpy(dtype=bool)
        return hidden[self.known]


def regions_of(cog: Cog) -> dict[str, str]:
    """Département code -> région code."""
    return dict(zip(cog.departements["code"], cog.departements["region"], strict=True))


def _split(family: tuple[str, ...], parent: np.ndarray, child: np.ndarray) -> Iterator[Relation]:
    """One relation per parent row from (parent, child) row pairs; a parent of -1 is none."""
    keep = parent >= 0
    if not keep.any():
        return
    parent, child = parent[keep], child[keep]
    order = np.lexsort((child, parent))
    parent, child = parent[order], child[order]
    starts = np.flatnonzero(np.r_[True, parent[1:] != parent[:-1]])
    for total, parts in zip(parent[starts], np.split(child, starts[1:]), strict=True):
        yield family, int(total), parts


def _positions(keys: list[tuple], wanted: list[tuple]) -> np.ndarray:
    """Row of each wanted key among `keys` (the first one), -1 when absent."""
    where: dict[tuple, int] = {}
    for i, key in enumerate(keys):
        where.setdefault(key, i)
    return np.array([where.get(k, -1) for k in wanted], dtype=int)


def _breakdowns(rows: pd.DataFrame) -> Iterator[Relation]:
    """Per territory and dimension: the breakdown values add up to the field."""
    ids = rows["indicateur"].astype(str).to_numpy()
    part = np.char.find(ids.astype(str), ".") >= 0
    if not part.any() or part.all():
        return
    places = list(zip(rows["niveau"], rows["code"], strict=True))
    totals = np.flatnonzero(~part)
    children = np.flatnonzero(part)
    found = _positions([places[i] for i in totals], [places[i] for i in children])
    parent = np.where(found >= 0, totals[np.maximum(found, 0)], -1)
    dims = rows["dimension"].astype(str).to_numpy()[part]
    for dim in sorted(set(dims)):
        mine = dims == dim
        yield from _split(("dimension", dim), parent[mine], children[mine])


def _geography(rows: pd.DataFrame, regions: Mapping[str, str]) -> Iterator[Relation]:
    """Départements into their région and France, régions into France, per indicator."""
    ind = rows["indicateur"].astype(str).to_numpy()
    level = rows["niveau"].astype(str).to_numpy()
    code = rows["code"].astype(str).to_numpy()
    keys = list(zip(ind, level, code, strict=True))
    for child in CHILD_LEVELS:
        kids = np.flatnonzero(level == child)
        if not kids.size:
            continue
        for parent in parent_levels(child):
            if parent == FRANCE_LEVEL:
                owner = [FRANCE] * kids.size
            else:
                owner = [regions.get(c, "") for c in code[kids]]
            wanted = list(zip(ind[kids], [parent] * kids.size, owner, strict=True))
            yield from _split((child, parent), _positions(keys, wanted), kids)


def _cities(rows: pd.DataFrame) -> Iterator[Relation]:
    """Municipal arrondissements into their city, per indicator: a hidden arrondissement is
    then never the difference between its city and the others."""
    level = rows["niveau"].astype(str).to_numpy()
    kids = np.flatnonzero(level == ARM_LEVEL)
    if not kids.size:
        return
    ind = rows["indicateur"].astype(str).to_numpy()
    code = rows["code"].astype(str).to_numpy()
    keys = list(zip(ind, level, code, strict=True))
    owner = [city_of(c) or "" for c in code[kids]]
    wanted = list(zip(ind[kids], [CITY_LEVEL] * kids.size, owner, strict=True))
    yield from _split((ARM_LEVEL, CITY_LEVEL), _positions(keys, wanted), kids)


def _kind(total: int, parts: np.ndarray, raw: np.ndarray, known: np.ndarray) -> str | None:
    """ "eq", "le" or None (not verified by the values) for one relation of known cells."""
    if not known[total]:
        return None
    seen = parts[known[parts]]
    if not seen.size:
        return None
    gap = raw[seen].sum() - raw[total]
    if abs(gap) <= TOL / 2 and seen.size == parts.size:
        return "eq"
    return "le" if gap <= TOL / 2 else None


def table_relations(table: Table) -> tuple[Relations, int, int]:
    """The table's relations over its cells, and how many were kept and ignored."""
    rounded = table.rows["rounded"].to_numpy(dtype=bool)
    cell_of = np.cumsum(table.known) - 1
    maps: dict[tuple[str, tuple[str, ...]], dict[int, np.ndarray]] = {}
    used = skipped = 0
    for family, total, parts in table.relations:
        kind = None
        if not (rounded[total] or rounded[parts].any()):
            kind = _kind(total, parts, table.raw, table.known)
        if kind is None:
            skipped += 1
            continue
        used += 1
        cells = cell_of[parts[table.known[parts]]]
        maps.setdefault((kind, family), {})[int(cell_of[total])] = cells
    n = int(table.known.sum())
    eq = [m for (kind, _), m in maps.items() if kind == "eq"]
    le = [m for (kind, _), m in maps.items() if kind == "le"]
    return build_relations(n, eq, le), used, skipped
