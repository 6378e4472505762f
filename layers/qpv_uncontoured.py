"""QPV of the 2024 geography kept in the store without a contour (codes `QN...`, or the commune
and name of a file without codes): listed, with their commune, in the data table and the
exports, and counted in the map legend, until a 2024 contour file draws them
(`geodata/qpv2024.py`). Their values follow the same secrecy as any cell (only published
values are shown)."""

from __future__ import annotations

import pandas as pd

from layers.ingest.places import is_qpv2024
from layers.store import PUBLISHED, Store
from layers.territory_index import TerritoryIndex

QPV = "qpv"
NAME_KEY = "QPV2024|"
LEGEND_LABEL = "QPV 2024 sans contour (listés dans le tableau)"
COLUMNS = ["code", "nom", "commune", "valeur", "statut"]


def describe(code: str) -> tuple[str, str]:
    """(name, commune code) of a 2024 QPV key: `QPV2024|94041|Gagarine` gives the file's name
    and commune; a QN code gives itself and no commune (the portal's QN files name none)."""
    if code.upper().startswith(NAME_KEY):
        _, commune, name = (code.split("|", 2) + ["", ""])[:3]
        return name or code, commune
    return code, ""


def _departement(code: str, commune: str) -> str:
    """The département of a 2024 QPV: its commune's, else the one in its QN code."""
    if commune:
        return commune[:3] if commune.startswith("97") else commune[:2]
    part = code[2:5]
    return part[1:] if part.startswith("0") else part


def uncontoured(
    store: Store,
    index: TerritoryIndex,
    indicator: str,
    level: str,
    period: str,
    parent: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """The store's QPV 2024 cells of `level` with no territory in the geometry (COLUMNS; a
    cell that is not published has no value), inside `parent` when given (by commune or
    département only: their other parents are not known without a contour)."""
    if level != QPV:
        return pd.DataFrame(columns=COLUMNS)
    cells = store.layer(indicator, level, period)
    known = set(index.table(level)["code"]) if level in index.levels() else set()
    cells = cells[cells["code"].map(is_qpv2024) & ~cells["code"].isin(known)].copy()
    described = cells["code"].map(describe)
    cells["nom"] = [name for name, _ in described]
    cells["commune"] = [commune for _, commune in described]
    cells["statut"] = cells["statut"].astype(str)
    cells.loc[cells["statut"] != PUBLISHED, "valeur"] = float("nan")
    if parent is not None:
        cells = cells[_inside(cells, *parent)]
    return cells[COLUMNS].reset_index(drop=True)


def _inside(cells: pd.DataFrame, parent_level: str, parent_code: str) -> pd.Series:
    if parent_level == "france":
        return pd.Series(True, index=cells.index)
    if parent_level == "commune":
        return cells["commune"] == parent_code
    if parent_level == "departement":
        deps = [_departement(c, m) for c, m in zip(cells["code"], cells["commune"], strict=True)]
        return pd.Series(deps, index=cells.index) == parent_code
    return pd.Series(False, index=cells.index)


def listed_name(nom: str, commune: str, index: TerritoryIndex) -> str:
    """« Gagarine Truillot (Ivry-sur-Seine, sans contour) »: the name shown in tables and
    exports, with the commune's name when the geometry knows it."""
    where = index.name("commune", commune) if commune else None
    where = where or commune or "commune non précisée"
    return f"{nom} ({where}, sans contour)"


def listed_cells(
    store: Store,
    index: TerritoryIndex,
    indicator: str,
    level: str,
    period: str,
    parent: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """`uncontoured` as rows of a table or an export: code, nom (with the commune), valeur,
    statut."""
    cells = uncontoured(store, index, indicator, level, period, parent)
    names = [listed_name(n, c, index) for n, c in zip(cells["nom"], cells["commune"], strict=True)]
    return cells.assign(nom=names)[["code", "nom", "valeur", "statut"]]
