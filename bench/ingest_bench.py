"""Importer speed on France-size files shaped like the real ones (`python -m bench.ingest_bench`).

Three generated files (written to a temporary folder, never kept): a communal export of the
current portal (`s_ben_com_f` shape: every commune, Paris / Lyon / Marseille by arrondissement,
empty codes, 5 Decembers, 16 count and amount fields rounded to 5 and 100), the older portal's
multi-level coverage file (`NUMCOM;...;TXCOUVGLO_COM_2014;TXCOUVGLO_DEP_2014;TXCOUVGLO_EPCI_2014`
for every commune) and a départemental breakdown by two dimensions (`aah_s_complaah_age_5_dep`
shape, 10 years of months). For each: median parse time of 3 runs, rows in and out, rows/s.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from geodata.cog import Cog, load_cog
from geodata.sources import locate_sources
from layers.ingest import parse_file

FIELDS = [f"indfoy_{b}" for b in ("ndur", "af", "cf", "asf", "ab", "cmg", "apl", "als")] + [
    f"indfoy_{b}" for b in ("alf", "rsa", "ppa", "ndural", "ndurpaje")
]
AMOUNTS = ["indmtt_rsa", "indmtt_ppa"]
AGES = ["Moins de 20 ans"] + [f"Entre {a} et {a + 4} ans" for a in range(20, 65, 5)]
AGES += ["65 ans ou plus", "Age indéterminé"]


def communal_file(cog: Cog, folder: Path) -> Path:
    codes = list(cog.communes["code"]) + [c for c, t in cog.to_current.items() if c != t][:45]
    codes += [""] * 3
    rng = np.random.default_rng(7)
    lines = ["dtreffre;numcomdo;nomcom;" + ";".join(["indnbp_ndur", *FIELDS, *AMOUNTS])]
    for year in range(2020, 2025):
        counts = rng.integers(0, 400, size=(len(codes), len(FIELDS) + 1)) * 5
        amounts = rng.integers(0, 2000, size=(len(codes), len(AMOUNTS))) * 100
        for code, c, a in zip(codes, counts.tolist(), amounts.tolist(), strict=True):
            lines.append(f"{year}-12;{code};X;" + ";".join(map(str, c + a)))
    path = folder / "s_ben_com_f.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def multi_level_file(cog: Cog, folder: Path) -> Path:
    com = cog.communes
    deps = {d: f"{50 + i % 30},{i % 10}" for i, d in enumerate(sorted(set(com["departement"])))}
    epcis = {e: f"{40 + i % 40},{i % 10}" for i, e in enumerate(sorted(set(com["epci"].dropna())))}
    lines = [
        "NUMCOM;NOMCOM;NUMDEP;NOMDEP;NUMEPCI;NOMEPCI;"
        "TXCOUVGLO_COM_2014;TXCOUVGLO_DEP_2014;TXCOUVGLO_EPCI_2014"
    ]
    for i, (code, dep, epci) in enumerate(
        zip(com["code"], com["departement"], com["epci"], strict=True)
    ):
        epci = epci if isinstance(epci, str) else ""
        lines.append(
            f"{code};N;{dep};D;{epci};E;{i % 90},{i % 10};{deps[dep]};{epcis.get(epci, '')}"
        )
    path = folder / "TXCOUV_2014.csv"
    path.write_text("\n".join(lines) + "\n", encoding="cp1252")
    return path


def breakdown_file(cog: Cog, folder: Path) -> Path:
    rng = np.random.default_rng(3)
    lines = ["dtreffre;numdep;nomdep;numregi;nomregi;aah_complaah;aah_age_5;indben_aah;lieures"]
    months = [f"{y}-{m:02d}" for y in range(2016, 2026) for m in range(1, 13)]
    for dep, region in zip(cog.departements["code"], cog.departements["region"], strict=True):
        for month in months:
            for kind in ("AAH sans complément", "AAH avec complément"):
                for age, n in zip(AGES, rng.integers(0, 3000, size=len(AGES)), strict=True):
                    lines.append(f"{month};{dep};D;{region};R;{kind};{age};{n};D/R")
    path = folder / "aah_s_complaah_age_5_dep.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def measure(path: Path, cog: Cog, dataset_id: str) -> dict:
    times, result = [], None
    for _ in range(3):
        start = time.perf_counter()
        result = parse_file(path, cog, dataset_id=dataset_id)
        times.append(time.perf_counter() - start)
    assert result is not None
    median = statistics.median(times)
    return {
        "fichier": path.name,
        "lignes": result.report.lignes_lues,
        "cellules": len(result.rows),
        "series": result.rows["indicateur"].nunique(),
        "secondes": round(median, 2),
        "lignes_par_s": int(result.report.lignes_lues / median),
        "Mo": round(path.stat().st_size / 1e6, 1),
    }


def main() -> int:
    cog = load_cog(locate_sources() / "territoires")
    print("Import de fichiers Cafdata (médiane de 3 lectures)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for make, dataset in (
            (communal_file, "s_ben_com_f"),
            (multi_level_file, "txcouv_2014"),
            (breakdown_file, "aah_s_complaah_age_5_dep"),
        ):
            m = measure(make(cog, folder), cog, dataset)
            print(
                f"  {m['fichier']} ({m['Mo']} Mo, {m['lignes']} lignes) : {m['secondes']} s, "
                f"{m['lignes_par_s']} lignes/s -> {m['cellules']} cellules, {m['series']} séries"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
