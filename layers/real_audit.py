"""The audit of a real store (`cafcarto audit` when the store in service is real).

The demonstration's audit (`layers/build_store.py:audit_store`) attacks the secondary
suppression the app itself made; a real store's secrecy is the portal's, so what is checked
here is what the app adds to it (`layers/real_derived.py`) and the regime it claims:
- every derived cell is reproducible from the published cells (same status, same value);
- no count of a rounded series is published off its rounding step (5 foyers, 100 euros);
- no derived rate is published over a hidden, missing or (rounded) too small denominator;
- sums the portal also publishes are reported when they disagree (the portal's value wins);
- no IRIS or QPV cell is published where the zone's allocataires are secret or fewer than
  `min_households` (the Caf rule, `CAFCARTO_SEUIL_INFRA`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from layers.catalogue import CURATED
from layers.config import DEFAULT_INFRA_MIN_HOUSEHOLDS
from layers.provenance import MIN_ROUNDED_DENOMINATOR, PROVENANCE_FILE, ROUNDED
from layers.real_derived import (
    KEY,
    derived_values,
    geography_in_service,
    rate_series,
    split_derived,
    sum_conflicts,
)
from layers.real_secrecy import small_zones
from layers.secrecy import SMALL_ZONE_REASON
from layers.store import PUBLISHED, SECRET, VALUES_FILE

CELL = [*KEY, "code"]


@dataclass
class RealAudit:
    """Counts of what was checked and the French lines of what failed."""

    cells: int = 0
    derived: int = 0
    rounded: int = 0
    rates: int = 0
    zones: int = 0  # IRIS / QPV cells published under the Caf rule's threshold
    failures: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        return (
            f"Audit de l'entrepôt réel : {self.cells} cellules, {self.derived} cellules dérivées "
            f"recalculées, {self.rounded} effectifs arrondis vérifiés, {self.rates} taux dérivés "
            f"vérifiés, {len(self.conflicts)} écart(s) portail / somme des départements, "
            f"{self.zones} cellule(s) de zone IRIS ou QPV sous le seuil publiée(s), "
            f"{len(self.failures)} échec(s)"
        )


def read_store(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = pd.read_parquet(Path(folder) / VALUES_FILE)
    path = Path(folder) / PROVENANCE_FILE
    prov = pd.read_parquet(path) if path.is_file() else pd.DataFrame(columns=[*KEY])
    return rows, prov


def _reproducible(derived: pd.DataFrame, again: pd.DataFrame, report: RealAudit) -> None:
    """The store's derived cells against a recomputation from its published cells."""
    both = derived.merge(again, on=CELL, how="outer", suffixes=("", "_calc"), indicator=True)
    extra = both[both["_merge"] != "both"]
    for r in extra.head(10).itertuples(index=False):
        side = "absente du recalcul" if r._merge == "left_only" else "absente de l'entrepôt"
        report.failures.append(f"cellule dérivée {r.indicateur} {r.niveau} {r.code} {side}")
    same = both[both["_merge"] == "both"]
    status = same["statut"].astype(str) != same["statut_calc"].astype(str)
    value = ~np.isclose(
        same["valeur"].astype(float), same["valeur_calc"].astype(float), equal_nan=True
    )
    for r in same[status | value].head(10).itertuples(index=False):
        report.failures.append(
            f"cellule dérivée non reproductible : {r.indicateur} {r.niveau} {r.code} "
            f"{r.periode} ({r.valeur} {r.statut} ≠ {r.valeur_calc} {r.statut_calc})"
        )
    report.derived = int(len(same))


def _rounding(rows: pd.DataFrame, prov: pd.DataFrame, report: RealAudit) -> None:
    """Counts and amounts of a rounded series are multiples of its step."""
    steps = prov[(prov["regime"] == ROUNDED) & ~rate_series(prov)]
    cells = rows[rows["statut"] == PUBLISHED].merge(steps[[*KEY, "arrondi"]], on=KEY)
    step = cells["arrondi"].replace(0, 5).astype(float)
    off = cells[np.abs(np.remainder(cells["valeur"].astype(float), step)) > 1e-6]
    for r in off.head(10).itertuples(index=False):
        report.failures.append(
            f"valeur hors du pas d'arrondi {int(r.arrondi) or 5} : {r.indicateur} {r.niveau} "
            f"{r.code} {r.periode} = {r.valeur:g}"
        )
    report.rounded = int(len(cells))


def _denominators(rows: pd.DataFrame, prov: pd.DataFrame, report: RealAudit) -> None:
    """A published derived rate has published terms and a large enough denominator."""
    derived = prov[prov["champ"].astype(str).str.contains(" / ", regex=False)]
    rates = {i.id: i.computed_from for i in CURATED.indicators if i.computed_from}
    wanted = set(rates) | {t for pair in rates.values() for t in pair}
    pub = rows[(rows["statut"] == PUBLISHED) & rows["indicateur"].isin(wanted)]
    series = {k: g[["code", "valeur"]] for k, g in pub.groupby(KEY)}
    none = pd.DataFrame(columns=["code", "valeur"])
    for src in derived.itertuples(index=False):
        if src.indicateur not in rates:
            continue
        num, den = rates[src.indicateur]
        cells = series.get((src.indicateur, src.niveau, src.periode), none)[["code"]]
        for name, term in (("n", num), ("d", den)):
            part = series.get((term, src.niveau, src.periode), none)
            cells = cells.merge(part.rename(columns={"valeur": name}), on="code", how="left")
        floor = MIN_ROUNDED_DENOMINATOR if src.regime == ROUNDED else 1
        bad = cells[cells["n"].isna() | cells["d"].isna() | (cells["d"] < floor)]
        for r in bad.head(10).itertuples(index=False):
            report.failures.append(
                f"taux {src.indicateur} {src.niveau} {r.code} {src.periode} publié sur un "
                f"terme caché ou un dénominateur trop petit ({r.d})"
            )
        report.rates += int(len(cells))


def _small_zones(rows: pd.DataFrame, report: RealAudit, min_households: int) -> None:
    df = rows[["indicateur", "niveau", "code", "periode"]].astype(str)
    status = rows["statut"].astype(str).to_numpy()
    df = df.assign(
        raw=pd.to_numeric(rows["valeur"], errors="coerce").to_numpy(),
        hidden=status == SECRET,
        published=status == PUBLISHED,
    )
    exposed = df[small_zones(df, min_households) & df["published"].to_numpy()]
    report.zones = int(len(exposed))
    for r in exposed.head(10).itertuples(index=False):
        report.failures.append(
            f"{r.niveau} {r.code} {r.periode} {r.indicateur} publié : "
            f"{SMALL_ZONE_REASON.format(n=min_households)}"
        )


def audit_real_store(
    folder: Path,
    geography: pd.DataFrame | None = None,
    min_households: int = DEFAULT_INFRA_MIN_HOUSEHOLDS,
) -> RealAudit:
    """Check a real store folder (see the module's docstring)."""
    rows, prov = read_store(folder)
    report = RealAudit(cells=int(len(rows)))
    base, base_prov, derived, derived_prov = split_derived(rows, prov)
    if geography is None:
        geography = geography_in_service()
    again, again_prov = derived_values(base, base_prov, geography)
    again_derived = split_derived(again, again_prov)[2]
    _reproducible(derived, again_derived, report)
    all_prov = pd.concat([base_prov, derived_prov], ignore_index=True)
    all_rows = pd.concat([base, derived], ignore_index=True)
    _rounding(base, base_prov, report)
    _denominators(all_rows, all_prov, report)
    report.conflicts = sum_conflicts(base, base_prov, geography)
    _small_zones(all_rows, report, min_households)
    return report
