"""Where a published series comes from and how the portal disclosed it.

One row per (indicator, level, period) in the store's `provenance.parquet`: the portal dataset
and field it was read from, the portal's update date, and its disclosure regime. The regime
says what a reader may infer from a value: `exact` (national and départemental files), `arrondi`
(the current portal's communal, EPCI, IRIS and QPV files: counts rounded to 5, amounts to
100 EUR, no blank but the IRIS and QPV of fewer than 100 allocataires, wholly hidden),
`supprime` (older files and the demonstration: secret cells left blank).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from layers.config import DEFAULT_INFRA_MIN_HOUSEHOLDS
from layers.model import INFRA, levels_of_tier

EXACT, ROUNDED, SUPPRESSED = "exact", "arrondi", "supprime"
INFRA_LEVELS = frozenset(levels_of_tier(INFRA))
REGIMES = (EXACT, ROUNDED, SUPPRESSED)
PROVENANCE_FILE = "provenance.parquet"
PROVENANCE_COLUMNS = (
    "indicateur",
    "niveau",
    "periode",
    "jeu",  # portal dataset id ("s_ben_com_f"), a file name, or "demonstration"
    "champ",  # source field ("indfoy_rsa")
    "mis_a_jour",  # portal update date, ISO "YYYY-MM-DD" ("" when unknown)
    "regime",
    "arrondi",  # rounding step of a rounded series (5 for counts, 100 for euros), else 0
)
DEMO_DATASET = "demonstration"
# A rate computed from counts rounded to 5 moves by up to 2.5 / denominator: below this many
# units in the denominator the error exceeds 5 points of percentage, so the rate is not shown.
MIN_ROUNDED_DENOMINATOR = 50


@dataclass(frozen=True)
class Provenance:
    dataset: str
    field: str
    updated: str
    regime: str
    rounding: int = 0
    level: str = ""  # the level the series is published at (IRIS and QPV have their own rule)

    @property
    def is_demo(self) -> bool:
        return self.dataset == DEMO_DATASET

    def source_line(self) -> str:
        """« Source : Cnaf, data.caf.fr, jeu s_ben_com_f, mis à jour le 16/01/2026 »."""
        if self.is_demo:
            return "Source : données de démonstration (générées, pas des chiffres de la Cnaf)"
        text = f"Source : Cnaf, data.caf.fr, jeu {self.dataset}"
        if self.updated:
            y, m, d = (self.updated[:10].split("-") + ["", "", ""])[:3]
            text += f", mis à jour le {d}/{m}/{y}" if d else f", mis à jour en {m}/{y}"
        return text

    def regime_note(self, unit: str = "") -> str:
        """What the regime means for a reader, in French (legend, tooltips, exports, API)."""
        text = self._regime_text()
        if self.level in INFRA_LEVELS and self.regime != EXACT:
            text += (
                f" ; rien n'est publié pour une zone de moins de {DEFAULT_INFRA_MIN_HOUSEHOLDS} "
                "foyers allocataires (règle des Caf)"
            )
        return text

    def _regime_text(self) -> str:
        if self.regime == ROUNDED:
            step = self.rounding or 5
            zero = f"moins de {step // 2} €" if step >= 100 else f"de 0 à {step // 2}"
            what = f"{step} €" if step >= 100 else str(step)
            # generated values are rounded the way the portal rounds, not by the Cnaf
            who = "comme sur le portail de la Cnaf" if self.is_demo else "par la Cnaf"
            return (
                f"Valeurs arrondies à {what} {who} (secret statistique) : "
                f"un 0 signifie {zero} ; les taux calculés sur ces effectifs sont approximatifs"
            )
        if self.regime == SUPPRESSED:
            return "Secret statistique : une case vide cache moins de 5 foyers allocataires"
        return "Valeurs exactes"


def empty_provenance() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in PROVENANCE_COLUMNS}).astype(
        {"arrondi": "int64"}
    )


def check_provenance(table: pd.DataFrame) -> pd.DataFrame:
    """Columns in order, one row per (indicator, level, period), known regimes only."""
    missing = [c for c in PROVENANCE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"colonnes de provenance manquantes : {', '.join(missing)}")
    table = table[list(PROVENANCE_COLUMNS)].copy()
    bad = sorted(set(table["regime"]) - set(REGIMES))
    if bad:
        raise ValueError(f"régime de diffusion inconnu : {bad}")
    table["arrondi"] = table["arrondi"].fillna(0).astype("int64")
    return table.drop_duplicates(["indicateur", "niveau", "periode"], keep="last")


def lookup(table: pd.DataFrame) -> dict[tuple[str, str, str], Provenance]:
    """(indicator, level, period) -> Provenance, for a store's provenance table."""
    return {
        (i, n, p): Provenance(j, c, u, r, int(a), n)
        for i, n, p, j, c, u, r, a in table[list(PROVENANCE_COLUMNS)].itertuples(
            index=False, name=None
        )
    }
