"""Duplicates, older communes and municipal arrondissements brought to current codes; long format.

Works on a "wide block": one row per (source code, period) with one column per indicator, `values`
(float) and `secret` (1 hidden, 0 published, NaN absent from the file for that period).

Rules, for rows that land on the same current territory and period:
- counts and amounts are summed when every part is published; one hidden part hides the sum;
- rates are never summed: a rate survives only when exactly one source row maps to the
  territory; otherwise it becomes secret (NaN) and the report says so;
- Paris, Lyon and Marseille by municipal arrondissement: same rules, plus every arrondissement
  must be present (a missing one hides the total) and rates are always hidden; when the file
  also holds the city's own row, that row wins for the commune. Either way each arrondissement
  row is also kept as it is at the level `arm` (`arrondissement_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from layers.ingest.places import ARRONDISSEMENT_PREFIX
from layers.ingest.report import PUBLISHED, ROW_COLUMNS, SECRET, ImportReport
from layers.model import RATE

KEY = ["niveau", "target", "periode"]
ARM = "arm"  # the level of the municipal arrondissements (layers/model.py)


@dataclass
class WideBlock:
    keys: pd.DataFrame  # source, target, niveau, periode, line (placed rows only)
    values: pd.DataFrame  # float, one column per indicator
    secret: pd.DataFrame  # 1.0 hidden, 0.0 published, NaN absent
    natures: dict[str, str]

    def plus(self, other: WideBlock) -> WideBlock:
        """This block's rows, then `other`'s."""
        return WideBlock(
            pd.concat([self.keys, other.keys], ignore_index=True),
            pd.concat([self.values, other.values], ignore_index=True),
            pd.concat([self.secret, other.secret], ignore_index=True),
            self.natures,
        )

    def take(self, mask: np.ndarray) -> WideBlock:
        return WideBlock(
            self.keys[mask].reset_index(drop=True),
            self.values[mask].reset_index(drop=True),
            self.secret[mask].reset_index(drop=True),
            self.natures,
        )


def _arrondissement_mask(keys: pd.DataFrame) -> np.ndarray:
    mask = np.zeros(len(keys), dtype=bool)
    for city, prefix in ARRONDISSEMENT_PREFIX.items():
        mask |= (
            (keys["niveau"] == "commune")
            & (keys["target"] == city)
            & keys["source"].str.startswith(prefix)
        ).to_numpy()
    return mask


def arrondissement_rows(block: WideBlock) -> WideBlock:
    """The rows of municipal arrondissements, placed at the level `arm` under their own code
    (their values and secrets as the file gives them): the city's total is made apart."""
    arms = block.take(_arrondissement_mask(block.keys))
    arms.keys["niveau"] = ARM
    arms.keys["target"] = arms.keys["source"]
    return arms


def prefer_city_rows(block: WideBlock, report: ImportReport) -> WideBlock:
    """When a file has both Paris (75056) and its arrondissements, keep the city's own row."""
    arr = _arrondissement_mask(block.keys)
    if not arr.any():
        return block
    keys = block.keys
    own = keys[(keys["niveau"] == "commune") & (keys["source"] == keys["target"])]
    own = own[own["target"].isin(list(ARRONDISSEMENT_PREFIX))]
    if own.empty:
        return block
    has_own = pd.MultiIndex.from_frame(keys[["target", "periode"]]).isin(
        pd.MultiIndex.from_frame(own[["target", "periode"]])
    )
    drop = arr & has_own
    if drop.any():
        cities = ", ".join(sorted(keys.loc[drop, "target"].unique()))
        report.avertissements.append(
            f"le fichier donne à la fois la commune ({cities}) et ses arrondissements : "
            f"la ligne de la commune est retenue, {int(drop.sum())} ligne(s) d'arrondissement "
            "écartée(s)"
        )
    return block.take(~drop)


@dataclass
class _Groups:
    """The rows that land with others on one (niveau, current code, period), or are municipal
    arrondissements: their keys and group, and per group (in group order) its first keys."""

    keys: pd.DataFrame
    gid: np.ndarray
    first: pd.DataFrame  # niveau, target, periode, line (the smallest)
    n_arr: np.ndarray  # arrondissements among the group's rows
    incomplete: np.ndarray  # Paris, Lyon or Marseille with arrondissements missing

    @property
    def is_plm(self) -> np.ndarray:
        return self.n_arr > 0


def merge_to_current(
    block: WideBlock, report: ImportReport, expected_arr: dict[str, int]
) -> WideBlock:
    """One row per (niveau, current code, period), with the summing / secrecy rules above."""
    keys = block.keys
    gid = keys.groupby(KEY, sort=False).ngroup().to_numpy()
    sizes = np.bincount(gid)
    arr = _arrondissement_mask(keys)
    arr_count = np.bincount(gid, weights=arr.astype(float), minlength=len(sizes))
    merge_group = (sizes > 1) | (arr_count > 0)
    in_merge = merge_group[gid]

    renamed = ~in_merge & (keys["source"] != keys["target"]).to_numpy()
    for source, target in zip(
        keys.loc[renamed, "source"], keys.loc[renamed, "target"], strict=True
    ):
        report.codes_convertis[source] = target
    if not in_merge.any():
        out = block.take(np.ones(len(keys), dtype=bool))
        return out

    groups = _groups(keys[in_merge], gid[in_merge], arr_count, expected_arr)
    values, secret, masked_rates = _merged_cells(block.take(in_merge), groups)
    _report_merges(report, groups, expected_arr, masked_rates)
    merged_keys = groups.first.reset_index(drop=True).assign(
        source=groups.first["target"].to_numpy()
    )
    kept = block.take(~in_merge)
    return WideBlock(
        pd.concat([kept.keys, merged_keys[kept.keys.columns]], ignore_index=True),
        pd.concat([kept.values, values.reset_index(drop=True)], ignore_index=True),
        pd.concat([kept.secret, secret.reset_index(drop=True)], ignore_index=True),
        block.natures,
    )


def _groups(
    m_keys: pd.DataFrame, m_gid: np.ndarray, arr_count: np.ndarray, expected_arr: dict[str, int]
) -> _Groups:
    first = m_keys.groupby(m_gid).agg(
        niveau=("niveau", "first"),
        target=("target", "first"),
        periode=("periode", "first"),
        line=("line", "min"),
    )
    n_arr = arr_count[first.index.to_numpy()]
    expected = np.array([expected_arr.get(t, 0) for t in first["target"]])
    incomplete = (n_arr > 0) & (n_arr < expected)
    return _Groups(m_keys, m_gid, first, n_arr, incomplete)


def _merged_cells(merging: WideBlock, groups: _Groups) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Values and secret flags of each group, and how many rates were hidden (a rate is never
    summed: several rows, or arrondissements, hide it)."""
    gid = groups.gid
    any_secret = (merging.secret == 1).groupby(gid).any()
    present = merging.secret.notna().groupby(gid).sum()
    out_values = merging.values.groupby(gid).sum(min_count=1)
    out_secret = any_secret.astype(float)
    masked_rates = 0
    for column, nature in merging.natures.items():
        if column not in out_values:
            continue
        hide = any_secret[column].to_numpy() | groups.incomplete
        n_present = present[column].to_numpy()
        if nature == RATE:
            rate_hidden = (n_present > 1) | groups.is_plm
            masked_rates += int((rate_hidden & (n_present > 0)).sum())
            hide = hide | rate_hidden
        out_secret[column] = np.where(hide, 1.0, 0.0)
        out_values[column] = np.where(hide, np.nan, out_values[column].to_numpy())
        absent = n_present == 0
        out_secret.loc[absent, column] = np.nan
        out_values.loc[absent, column] = np.nan
    return out_values, out_secret, masked_rates


def _report_merges(
    report: ImportReport, groups: _Groups, expected_arr: dict[str, int], masked_rates: int
) -> None:
    """What was merged (over every period), and the totals and rates hidden by merging."""
    sources = groups.keys.assign(g=groups.gid).groupby("g")["source"].agg(lambda s: sorted(set(s)))
    first = groups.first
    for g, target, n_arr in zip(first.index.to_numpy(), first["target"], groups.n_arr, strict=True):
        if n_arr > 0:
            report.arrondissements_sommes[target] = max(
                report.arrondissements_sommes.get(target, 0), int(n_arr)
            )
        else:
            merged = set(report.communes_fusionnees.get(target, [])) | set(sources[g])
            report.communes_fusionnees[target] = sorted(merged)
    incomplete = groups.incomplete
    for city, n in zip(first.loc[incomplete, "target"], groups.n_arr[incomplete], strict=True):
        report.avertissements.append(
            f"{city} : {int(n)} arrondissement(s) sur {expected_arr[city]} dans le fichier, "
            "total masqué (secret)"
        )
    if masked_rates:
        report.avertissements.append(
            f"{masked_rates} taux de communes fusionnées ou d'arrondissements masqués (secret) : "
            "un taux ne s'additionne pas"
        )


def _strings(values: np.ndarray | list, positions: np.ndarray) -> pd.Series:
    """`values[positions]` as a pyarrow-backed str column, without Python-level loops."""
    table = pa.array(list(values), type=pa.string())
    return pd.Series(table.take(pa.array(positions)), dtype="str")


def to_long(block: WideBlock) -> pd.DataFrame:
    """The project's long format, sorted by indicateur, niveau, code, periode."""
    order = block.keys.sort_values(["niveau", "target", "periode"]).index.to_numpy()
    keys = block.keys.loc[order]
    names, positions, indicator_ids, values, hidden = [], [], [], [], []
    for column in sorted(block.values.columns):
        secret = block.secret[column].to_numpy()[order]
        present = ~np.isnan(secret)
        if not present.any():
            continue
        indicator_ids.append(np.full(int(present.sum()), len(names), dtype=np.int64))
        names.append(column)
        positions.append(np.flatnonzero(present))
        hidden.append(secret[present] == 1)
        values.append(block.values[column].to_numpy()[order][present])
    if not names:
        empty = {c: pd.Series([], dtype="str") for c in ROW_COLUMNS}
        empty["valeur"] = pd.Series([], dtype="float64")
        return pd.DataFrame(empty)[ROW_COLUMNS]
    at = np.concatenate(positions)
    secret = np.concatenate(hidden)
    return pd.DataFrame(
        {
            "indicateur": _strings(names, np.concatenate(indicator_ids)),
            "niveau": _strings(keys["niveau"].to_numpy(), at),
            "code": _strings(keys["target"].to_numpy(), at),
            "periode": _strings(keys["periode"].to_numpy(), at),
            "valeur": np.where(secret, np.nan, np.concatenate(values)).astype("float64"),
            "statut": _strings([PUBLISHED, SECRET], secret.astype(np.int64)),
        }
    )
