"""Provenance of the series a file gives, and its disclosure regime inferred from the file.

Regime (see `layers/provenance.py`): evidence of rounding wins over blanks. Counts of a fine
level (commune, EPCI, IRIS, QPV) all multiples of 5, or a dataset id ending `_f` ("floutés") ->
`arrondi`, step 5 for counts and 100 for `indmtt_*` amounts, even when some cells are blank (the
blanks stay secret cells); else blanks among the file's values -> `supprime` (secret cells left
blank without rounding, as the older portal did; a blank rate hides counts too); otherwise
`exact` (national and départemental files).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from layers.model import AMOUNT, COUNT, INFRA, LOCAL, levels_of_tier
from layers.provenance import EXACT, PROVENANCE_COLUMNS, ROUNDED, SUPPRESSED, empty_provenance

if TYPE_CHECKING:
    from layers.ingest.assemble import LevelBlock

# Levels of the communal and infra-communal files (commune, EPCI, IRIS, QPV): rounded to 5.
FINE_LEVELS = frozenset(levels_of_tier(LOCAL, INFRA))
# Below this many non-zero counts, multiples of 5 may be chance: the file is not called rounded.
MIN_NONZERO = 3
COUNT_STEP, AMOUNT_STEP = 5, 100
# The portal's rounded ("floutés") datasets: `s_ben_com_f`, `rsa_s_type_iris_f`, `..._f_hist`.
ROUNDED_ID = re.compile(r"_f(?:_hist)?$")


@dataclass(frozen=True)
class Regime:
    name: str = EXACT

    @property
    def rounded(self) -> bool:
        return self.name == ROUNDED

    def step(self, nature: str, field: str) -> int:
        if not self.rounded:
            return 0
        if nature == COUNT:
            return COUNT_STEP
        return AMOUNT_STEP if nature == AMOUNT and field.startswith("indmtt") else 0


def _cells(
    blocks: list[LevelBlock], fine: bool, counts: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    values, secret = [], []
    for block in blocks:
        if fine and block.level not in FINE_LEVELS:
            continue
        for column, nature in block.natures.items():
            if nature == COUNT or not counts:
                values.append(block.values[column].to_numpy(dtype=float))
                secret.append(block.secret[column].to_numpy(dtype=float))
    if not values:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(values), np.concatenate(secret)


def infer_regime(blocks: list[LevelBlock], dataset: str) -> Regime:
    values, secret = _cells(blocks, fine=True)
    published = values[secret == 0]
    nonzero = published[published != 0]
    by_five = len(nonzero) >= MIN_NONZERO and bool((np.mod(published, COUNT_STEP) == 0).all())
    if by_five or ROUNDED_ID.search(dataset):
        return Regime(ROUNDED)
    _, secret = _cells(blocks, fine=False, counts=False)
    return Regime(SUPPRESSED) if (secret == 1).any() else Regime(EXACT)


def provenance_of(
    cells: pd.DataFrame,
    champs: dict[tuple[str, str | None], str],
    natures: dict[str, str],
    dataset: str,
    regime: Regime,
) -> pd.DataFrame:
    """One provenance row per (indicator, level, period) `cells`."""
    if cells.empty:
        return empty_provenance()
    fields = [
        champs.get((i, p)) or champs.get((i, None)) or i
        for i, p in zip(cells["indicateur"], cells["periode"], strict=True)
    ]
    steps = [
        regime.step(natures.get(i, COUNT), f)
        for i, f in zip(cells["indicateur"], fields, strict=True)
    ]
    # in a rounded file, a rate (or an amount other than `indmtt_*`) is as the portal wrote it
    regimes = [EXACT if regime.rounded and not step else regime.name for step in steps]
    out = cells.assign(jeu=dataset, champ=fields, mis_a_jour="", regime=regimes, arrondi=steps)
    out["arrondi"] = out["arrondi"].astype("int64")
    return out[list(PROVENANCE_COLUMNS)].reset_index(drop=True)
