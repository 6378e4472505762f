"""Breakdown dimensions (`rsa_type`, `qf_400`, `aah_tx_inca`, `aah_age_5`...): one series per
(field, dimension value), named by `columns.series_id(field, dimension, value)`.

A file with two dimensions (AAH by complement and age band) gives one series per value of
each dimension, summed over the other: the portal's counts per combination add up to the
margin, so the sum is exact for an unrounded file (départemental, national); for a file rounded
to 5 the margin is a sum of rounded counts (the report says so). A margin with one hidden part
is hidden. Rates are never summed: with two dimensions they are not imported (reported).
The provenance field of a series is `field|dimension=value`, the value as written in the file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.ingest import columns as cols
from layers.ingest.harmonise import WideBlock
from layers.ingest.report import ImportReport
from layers.model import RATE

BLANK_VALUE = "non renseigné"
DIM_PREFIX = "dim:"


@dataclass(frozen=True)
class Field:
    """A value column of the block before the breakdown: its file name and field name."""

    source: str  # as written in the file ("indfoy_rsa")
    name: str  # canonical, without year suffix


def dimension_keys(dims: pd.DataFrame) -> pd.DataFrame:
    """The dimension columns as key columns of a block (blank values named)."""
    out = {}
    for column in dims.columns:
        text = dims[column].astype(str).str.strip()
        out[DIM_PREFIX + column] = text.where(text != "", BLANK_VALUE).to_numpy(dtype=object)
    return pd.DataFrame(out)


def _margins(
    gid: np.ndarray,
    n_groups: int,
    codes: np.ndarray,
    n_values: int,
    values: np.ndarray,
    secret: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(values, secret) of each group x dimension value: sums, hidden when one part is."""
    idx = gid * n_values + codes
    size = n_groups * n_values
    present = np.isfinite(secret)
    sums = np.bincount(idx, weights=np.where(present & (secret == 0), values, 0.0), minlength=size)
    hidden = np.bincount(idx, weights=(secret == 1).astype(float), minlength=size) > 0
    seen = np.bincount(idx, weights=present.astype(float), minlength=size) > 0
    out_secret = np.where(seen, hidden.astype(float), np.nan)
    out_values = np.where(seen & ~hidden, sums, np.nan)
    return out_values.reshape(n_groups, n_values), out_secret.reshape(n_groups, n_values)


def spread(
    block: WideBlock,
    fields: dict[str, Field],
    report: ImportReport,
    rounded: bool,
) -> tuple[WideBlock, dict[str, str]]:
    """One row per (level, code, period), one column per (field, dimension value); and the
    provenance field of each new column."""
    dims = [c[len(DIM_PREFIX) :] for c in block.keys.columns if c.startswith(DIM_PREFIX)]
    base = [c for c in block.keys.columns if not c.startswith(DIM_PREFIX)]
    group_key = ["niveau", "source", "target", "periode"]
    gid = block.keys.groupby(group_key, sort=False).ngroup().to_numpy()
    n_groups = int(gid.max()) + 1 if len(gid) else 0
    values, secret, natures, champs = {}, {}, {}, {}
    skipped = []
    for dim in dims:
        codes, labels = pd.factorize(block.keys[DIM_PREFIX + dim])
        report.dimensions[dim] = len(labels)
        for column, spec in fields.items():
            nature = block.natures[column]
            if nature == RATE and len(dims) > 1:
                skipped.append(spec.source)
                continue
            v, s = _margins(
                gid,
                n_groups,
                codes,
                len(labels),
                block.values[column].to_numpy(dtype=float),
                block.secret[column].to_numpy(dtype=float),
            )
            for j, label in enumerate(labels):
                sid = cols.series_id(spec.name, dim, label)
                values[sid], secret[sid], natures[sid] = v[:, j], s[:, j], nature
                champs[sid] = f"{spec.source}|{dim}={label}"
    first = np.unique(gid, return_index=True)[1]
    keys = block.keys.iloc[first][base].reset_index(drop=True)
    keys["line"] = block.keys.groupby(gid, sort=True)["line"].min().to_numpy()
    _note(report, dims, sorted(set(skipped)), rounded)
    out = WideBlock(keys, pd.DataFrame(values), pd.DataFrame(secret), natures)
    return out, champs


def _note(report: ImportReport, dims: list[str], skipped: list[str], rounded: bool) -> None:
    if len(dims) > 1:
        report.avertissements.append(
            f"{len(dims)} dimensions ({', '.join(dims)}) : une série par valeur de chaque "
            "dimension, sommée sur les autres"
            + (" (sommes de valeurs arrondies à 5 : approchées)" if rounded else "")
        )
    if skipped:
        report.avertissements.append(
            f"taux non importés ({', '.join(skipped)}) : un taux ne se somme pas sur une dimension"
        )
