"""Secrecy of real rows (`python -m bench.real_secrecy_bench`): `layers.real_secrecy.protect_real`
on exact national-shaped tables.

1. the AAH file by complement and age band (`aah_s_complaah_age_5_dep` shape, 10 years of
   months, made by `bench.ingest_bench.breakdown_file` with about 2% of its counts from 1 to 4),
   read by the importer, its départements summed into régions and France;
2. households, persons covered and amounts of 12 benefits (`s_ben_dep` shape) per département,
   région and France over 24 months, about 1% of household counts from 1 to 4.

For each: rows, seconds, cells hidden per level (primary, linked, secondary).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.ingest_bench import breakdown_file
from geodata.cog import Cog, load_cog
from geodata.sources import locate_sources
from layers.ingest import parse_file
from layers.provenance import EXACT, PROVENANCE_COLUMNS
from layers.real_secrecy import protect_real
from layers.store import PUBLISHED

BENEFITS = ("rsa", "ppa", "aah", "af", "cf", "asf", "ars", "apl", "als", "alf", "aeeh", "cmg")
KEYS = ["indicateur", "niveau", "code", "periode"]


def _with_totals(rows: pd.DataFrame, cog: Cog) -> pd.DataFrame:
    """Départements summed into their région and France (exact files give both)."""
    deps = rows[rows["niveau"] == "departement"]
    region = dict(zip(cog.departements["code"], cog.departements["region"], strict=True))
    regs = deps.assign(code=deps["code"].map(region), niveau="region")
    france = deps.assign(code="FR", niveau="france")
    sums = [
        f.groupby(KEYS, as_index=False)["valeur"].sum().assign(statut=PUBLISHED)
        for f in (regs, france)
    ]
    return pd.concat([deps, *sums], ignore_index=True)


def _provenance(rows: pd.DataFrame, champ: pd.Series | None = None) -> pd.DataFrame:
    cells = rows[["indicateur", "niveau", "periode"]].drop_duplicates()
    fields = cells["indicateur"] if champ is None else cells["indicateur"].map(champ)
    return cells.assign(jeu="bench", champ=fields, mis_a_jour="", regime=EXACT, arrondi=0)[
        list(PROVENANCE_COLUMNS)
    ]


def aah_rows(cog: Cog, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    result = parse_file(breakdown_file(cog, folder), cog, dataset_id="aah_s_complaah_age_5_dep")
    rows = result.rows.copy()
    rng = np.random.default_rng(5)
    small = rng.random(len(rows)) < 0.02
    rows.loc[small, "valeur"] = rng.integers(1, 5, int(small.sum())).astype(float)
    base = rows["indicateur"].str.contains(".", regex=False)
    parts = rows[base]
    totals = parts.groupby(["niveau", "code", "periode"], as_index=False)["valeur"].sum()
    # the breakdown by complement sums to the field; one dimension is enough for the bench
    parts = parts[parts["indicateur"].str.contains("complaah")]
    rows = pd.concat(
        [parts, totals.assign(indicateur="indben_aah", statut=PUBLISHED)], ignore_index=True
    )
    rows = _with_totals(rows, cog)
    champ = result.provenance.drop_duplicates("indicateur").set_index("indicateur")["champ"]
    return rows, _provenance(rows, champ.reindex(rows["indicateur"].unique()).fillna("indben_aah"))


def benefit_rows(cog: Cog) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(9)
    deps = cog.departements["code"].to_numpy()
    months = [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)]
    frames = []
    for month in months:
        for b in BENEFITS:
            foy = rng.integers(20, 20000, len(deps)).astype(float)
            small = rng.random(len(deps)) < 0.01
            foy[small] = rng.integers(1, 5, int(small.sum()))
            nbp = foy * 2 + rng.integers(0, 3, len(deps))
            mtt = foy * 500 + rng.integers(0, 400, len(deps))
            for field, values in ((f"indfoy_{b}", foy), (f"indnbp_{b}", nbp), (f"indmtt_{b}", mtt)):
                frames.append(
                    pd.DataFrame(
                        {
                            "indicateur": field,
                            "niveau": "departement",
                            "code": deps,
                            "periode": month,
                            "valeur": values,
                            "statut": PUBLISHED,
                        }
                    )
                )
    rows = _with_totals(pd.concat(frames, ignore_index=True), cog)
    return rows, _provenance(rows)


def measure(name: str, rows: pd.DataFrame, provenance: pd.DataFrame, cog: Cog) -> None:
    start = time.perf_counter()
    _, report = protect_real(rows, provenance, cog)
    seconds = time.perf_counter() - start
    print(
        f"  {name} : {len(rows)} cellules, {seconds:.1f} s ; masquées {report.masquees} "
        f"(primaires {report.primaire}, liées {report.lies}, secondaires {report.secondaire}), "
        f"relations {report.relations}, non protégées {report.non_proteges}"
    )


def main() -> int:
    cog = load_cog(locate_sources() / "territoires")
    print("Secret statistique des données réelles exactes (protect_real)")
    with tempfile.TemporaryDirectory() as tmp:
        measure("AAH par complément, 10 ans de mois", *aah_rows(cog, Path(tmp)), cog)
    measure("12 prestations (foyers, personnes, montants), 24 mois", *benefit_rows(cog), cog)
    return 0


if __name__ == "__main__":
    sys.exit(main())
