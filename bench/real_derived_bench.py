"""Derived values and audit of a France-size real store (synthetic, real-shaped ids).

Run with `python -m bench.real_derived_bench` (add `--communes 5000` for a quicker cut).
Measures `derived_values` (sums and rates), `audit_real_store` and the portal catalogue of the
written store: the work `cafcarto sync` adds before publishing, and what serving it costs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from layers.portal_catalogue import store_catalogue
from layers.provenance import EXACT, ROUNDED
from layers.real_audit import audit_real_store
from layers.real_derived import derived_values
from layers.store import Store, write_store

# Portal fields of s_ben_com_f and their store ids (layers.ingest.columns.series_id).
FIELDS = {
    "indfoy_ndur": "allocataires",
    "indfoy_rsa": "rsa",
    "indfoy_ndural": "aides_logement",
    "indnbp_ndur": "personnes_couvertes",
    "indnbp_rsa": "indnbp_rsa",
    "indfoy_ppa": "ppa",
    "indmtt_ppa": "ppa_montant",
    "indfoy_apl": "apl",
    "indfoy_als": "als",
    "indfoy_alf": "alf",
}
PERIODS = ("2020-12", "2021-12", "2022-12", "2023-12", "2024-12")


def synthetic(n_communes: int, n_dep: int = 101, seed: int = 0) -> tuple[pd.DataFrame, ...]:
    """Rounded communes, exact départements, a geography of 18 régions (made-up values)."""
    rng = np.random.default_rng(seed)
    communes = [f"C{i:05d}" for i in range(n_communes)]
    deps = [f"D{i:03d}" for i in range(n_dep)]
    geography = pd.DataFrame(
        {"departement": deps, "region": [f"R{i % 18:02d}" for i in range(n_dep)], "caf": deps}
    )
    rows, prov = [], []
    for field, ind in FIELDS.items():
        step = 100 if field.startswith("indmtt") else 5
        for period in PERIODS:
            for level, codes, regime in (
                ("commune", communes, ROUNDED),
                ("departement", deps, EXACT),
            ):
                values = rng.lognormal(4 if level == "commune" else 10, 1.5, len(codes))
                if regime == ROUNDED:
                    values = np.round(values / step) * step
                rows.append(
                    pd.DataFrame(
                        {
                            "indicateur": ind,
                            "niveau": level,
                            "code": codes,
                            "periode": period,
                            "valeur": values,
                            "statut": "publie",
                        }
                    )
                )
                jeu = "s_ben_com_f" if level == "commune" else "s_ben_dep"
                prov.append(
                    (
                        ind,
                        level,
                        period,
                        jeu,
                        field,
                        "2026-01-16",
                        regime,
                        step if regime == ROUNDED else 0,
                    )
                )
    provenance = pd.DataFrame(
        prov,
        columns=[
            "indicateur",
            "niveau",
            "periode",
            "jeu",
            "champ",
            "mis_a_jour",
            "regime",
            "arrondi",
        ],
    )
    return pd.concat(rows, ignore_index=True), provenance, geography


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--communes", type=int, default=35_000)
    args = parser.parse_args(argv)
    rows, prov, geography = synthetic(args.communes)
    t0 = time.perf_counter()
    out, out_prov = derived_values(rows, prov, geography)
    t1 = time.perf_counter()
    print(
        f"derived_values : {len(rows)} cellules -> {len(out)} ({len(out) - len(rows)} dérivées), "
        f"{t1 - t0:.2f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "store"
        write_store(out, folder, {"mode": "reel"}, out_prov)
        t2 = time.perf_counter()
        report = audit_real_store(folder, geography)
        t3 = time.perf_counter()
        print(f"audit_real_store : {report.summary()} ; {t3 - t2:.2f} s")
        store = Store(folder)
        t4 = time.perf_counter()
        catalogue = store_catalogue(folder, store.availability())
        t5 = time.perf_counter()
        print(
            f"store_catalogue : {len(catalogue.indicators)} indicateurs, {(t5 - t4) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
