"""Rows that repeat a key: identical ones kept once, conflicting cells reported and set aside.

Two real cases: technical duplicates of the portal's exports (the same row twice, or an EPCI
repeated), and the older portal's multi-level rows, where every commune's row repeats its
département's and EPCI's values. Cells are compared one by one: a value that differs between
rows of one key (a number against another, or against a blank) is not imported, and the report
names the code, the period, the series, the values and their lines; the row's other cells stay.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.ingest.harmonise import WideBlock
from layers.ingest.report import ImportReport
from layers.model import level_name

# How many conflicts the report spells out (the count is always given).
SHOWN = 5


def _signatures(block: WideBlock, rows: np.ndarray) -> pd.DataFrame:
    """One number per cell that differs exactly when the cells differ: the value, -inf for a
    blank (hidden) cell, +inf for a cell absent from the file."""
    values = block.values.to_numpy(dtype=float)[rows]
    secret = block.secret.to_numpy(dtype=float)[rows]
    sig = np.where(secret == 1, -np.inf, np.where(np.isnan(secret), np.inf, values))
    return pd.DataFrame(sig, columns=block.values.columns)


def _cell_text(value: float, secret: float) -> str:
    return "vide" if secret == 1 else f"{value:g}".replace(".", ",")


def _describe(block: WideBlock, gid: np.ndarray, group: int, column: str) -> str:
    keys = block.keys
    rows = np.flatnonzero(gid == group)
    j = block.values.columns.get_loc(column)
    seen = []
    for r in rows:
        text = _cell_text(block.values.iat[r, j], block.secret.iat[r, j])
        if text not in [t for t, _ in seen]:
            seen.append((text, int(keys["line"].iat[r])))
    first = keys.iloc[rows[0]]
    values = " / ".join(f"{t} (ligne {line})" for t, line in seen)
    return f"code {first['source']} ({first['niveau']}), {first['periode']}, {column} : {values}"


def collapse_repeats(
    block: WideBlock, report: ImportReport, key: list[str], *, repeated_level: str | None = None
) -> WideBlock:
    """One row per `key`; `repeated_level` names the coarser level whose values the rows are
    expected to repeat (then the repetition itself is not a warning)."""
    gid = block.keys.groupby(key, sort=False, dropna=False).ngroup().to_numpy()
    if not len(gid) or gid.max() + 1 == len(gid):
        return block
    sizes = np.bincount(gid)
    repeated = np.flatnonzero(sizes[gid] > 1)
    sig = _signatures(block, repeated)
    grouped = sig.groupby(gid[repeated], sort=True)
    conflict = grouped.min() != grouped.max()  # index: group id, one column per series
    first = np.unique(gid, return_index=True)[1]
    # ngroup(sort=False) numbers groups by first appearance: group g is row g of `out`.
    out = block.take(np.isin(np.arange(len(gid)), first))
    bad = [(int(g), c) for g, c in zip(*np.nonzero(conflict.to_numpy()), strict=True)]
    for g_pos, c_pos in bad:
        group, column = int(conflict.index[g_pos]), conflict.columns[c_pos]
        row = group
        out.values.iat[row, out.values.columns.get_loc(column)] = np.nan
        out.secret.iat[row, out.secret.columns.get_loc(column)] = np.nan
    clean = ~conflict.any(axis=1)
    identical = int((sizes[conflict.index[clean]] - 1).sum())
    _report(block, report, gid, conflict, bad, identical, repeated_level)
    return out


def _report(
    block: WideBlock,
    report: ImportReport,
    gid: np.ndarray,
    conflict: pd.DataFrame,
    bad: list[tuple[int, str]],
    identical: int,
    repeated_level: str | None,
) -> None:
    if repeated_level is None and identical:
        report.doublons_identiques += identical
        report.avertissements.append(f"{identical} ligne(s) répétée(s) à l'identique ignorée(s)")
    elif repeated_level is not None:
        n = int((np.bincount(gid) > 1).sum())
        report.avertissements.append(
            f"valeurs de niveau {level_name(repeated_level)} répétées sur plusieurs lignes : "
            f"{n} territoire(s)-période(s) vérifiés, chacun placé une fois"
        )
    if not bad:
        return
    shown = [
        _describe(block, gid, int(conflict.index[g]), conflict.columns[c]) for g, c in bad[:SHOWN]
    ]
    report.conflits += len(bad)
    more = " ..." if len(bad) > SHOWN else ""
    report.avertissements.append(
        f"{len(bad)} valeur(s) en conflit entre lignes d'un même territoire, non importée(s) : "
        + " ; ".join(shown)
        + more
    )
