"""A real-shaped store for tests: portal ids, provenance and `portail.json`, on the real cut.

The values are made up by the test (deterministic, from the territories' codes) but shaped as
the portal publishes them: communal counts rounded to 5 (`_f` datasets, regime `arrondi`),
départemental and national counts exact, an older communal year with blanks (regime
`supprime`), childcare places and rates. Ids come from `layers.ingest.columns.series_id`.
Published the way `publish_real` does: `derived_values` first, then an atomic build.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from geodata.cache import active_dir, finish_build, new_build
from layers.config import Settings
from layers.ingest.columns import series_id
from layers.provenance import EXACT, ROUNDED, SUPPRESSED
from layers.real_derived import derived_values, geography_of
from layers.store import COLUMNS, PUBLISHED, SECRET, write_store
from layers.territory_index import TerritoryIndex

UPDATED = "2026-01-16"
PORTAL = {
    "portail": "https://data.caf.fr",
    "jeux": {
        "s_ben_com_f": {
            "titre": "Toutes prestations - Répartition des allocataires selon la prestation "
            "[Communal]",
            "description": "Foyers allocataires et personnes couvertes par prestation, au titre "
            "de décembre, depuis 2020. Les nombres de foyers et de personnes sont arrondis à 5.",
            "mis_a_jour": UPDATED,
            "champs": {
                "indfoy_rsa": {"libelle": "Nombre foyers RSA", "type": "double"},
                "indnbp_ndural": {"libelle": "Nombre personnes NDURAL", "type": "double"},
                "indmtt_als": {"libelle": "Montant total ALS", "type": "double"},
                "indfoy_xyz": {"libelle": "Nombre foyers XYZ", "type": "double"},
            },
        },
        "s_ben_dep": {"titre": "Toutes prestations [Départemental]", "mis_a_jour": UPDATED},
        "rsa_s_type_com_f": {"titre": "RSA - Répartition selon le type de RSA [Communal]"},
        "nbpla_pe_com": {"titre": "Nombre de places offertes [Communal]"},
        "txcouv_pe_com": {"titre": "Taux de couverture [Communal]"},
    },
}


def _values(codes: pd.Series, salt: str, low: int, high: int) -> np.ndarray:
    """Deterministic made-up values per territory code (test data, not Cafdata figures)."""
    seeds = np.array([zlib.crc32(f"{salt}:{c}".encode()) for c in codes], dtype=np.int64)
    return (low + seeds % (high - low + 1)).astype(float)


def _series(codes, field, level, period, values, jeu, regime, step=0, dim=None, value=None):
    ind = series_id(field, dim, value)
    statut = np.where(np.isnan(values), SECRET, PUBLISHED)
    rows = pd.DataFrame(
        {
            "indicateur": ind,
            "niveau": level,
            "code": list(codes),
            "periode": period,
            "valeur": values,
            "statut": statut,
        }
    )
    champ = field if dim is None else f"{field}|{dim}={value}"
    prov = {
        "indicateur": ind,
        "niveau": level,
        "periode": period,
        "jeu": jeu,
        "champ": champ,
        "mis_a_jour": UPDATED,
        "regime": regime,
        "arrondi": step,
    }
    return rows, prov


def _round(values: np.ndarray, step: int) -> np.ndarray:
    return np.round(values / step) * step


def communal(index: TerritoryIndex) -> list[tuple[pd.DataFrame, dict]]:
    """Commune series: rounded `_f` files for 2024-12, blanked older file for 2019-12."""
    codes = index.table("commune")["code"]
    alloc = _round(_values(codes, "alloc", 0, 3000), 5)
    alloc[:20] = 20  # small communes: rates from rounded counts are not computed there
    rsa = _round(alloc * 0.08, 5)
    out = [
        _series(codes, "indfoy_ndur", "commune", "2024-12", alloc, "s_ben_com_f", ROUNDED, 5),
        _series(codes, "indfoy_rsa", "commune", "2024-12", rsa, "s_ben_com_f", ROUNDED, 5),
        _series(
            codes,
            "indnbp_ndural",
            "commune",
            "2024-12",
            _round(alloc * 1.3, 5),
            "s_ben_com_f",
            ROUNDED,
            5,
        ),
        _series(
            codes,
            "indmtt_als",
            "commune",
            "2024-12",
            _round(alloc * 47, 100),
            "s_ben_com_f",
            ROUNDED,
            100,
        ),
        _series(
            codes,
            "indfoy_xyz",
            "commune",
            "2024-12",
            _round(alloc * 0.01, 5),
            "s_ben_com_f",
            ROUNDED,
            5,
        ),
        _series(
            codes,
            "indfoy_rsa",
            "commune",
            "2024-12",
            _round(rsa * 0.3, 5),
            "rsa_s_type_com_f",
            ROUNDED,
            5,
            "rsa_type",
            "RSA majoré",
        ),
    ]
    old_alloc = _values(codes, "old", 0, 3000)
    old_rsa = np.floor(old_alloc * 0.07)
    old_rsa[old_rsa < 5] = np.nan  # older portal: secret cells left blank
    out += [
        _series(codes, "indfoy_ndur", "commune", "2019-12", old_alloc, "s_ben_com", SUPPRESSED),
        _series(codes, "indfoy_rsa", "commune", "2019-12", old_rsa, "s_ben_com", SUPPRESSED),
    ]
    places = _values(codes, "pl", 0, 120)
    out += [
        _series(codes, "pl_psu_col_com", "commune", "2023-12", places, "nbpla_pe_com", EXACT),
        _series(
            codes, "txcouv_am_ind_com", "commune", "2023-12", places / 3, "txcouv_pe_com", EXACT
        ),
    ]
    return out


def departmental(index: TerritoryIndex) -> list[tuple[pd.DataFrame, dict]]:
    """Exact département series (and a national one the portal publishes itself)."""
    codes = index.table("departement")["code"]
    alloc = _values(codes, "dalloc", 20000, 200000)
    aah = _values(codes, "daah", 1000, 9000)
    aah[list(codes).index("2A")] = np.nan  # a blank département: no sum to its région
    out = [
        _series(codes, "indfoy_ndur", "departement", "2024-12", alloc, "s_ben_dep", EXACT),
        _series(codes, "indfoy_rsa", "departement", "2024-12", alloc * 0.07, "s_ben_dep", EXACT),
        _series(codes, "indben_aah", "departement", "2024-12", aah, "s_ben_dep", EXACT),
        _series(
            ["FR"], "indfoy_ndur", "france", "2024-12", np.array([13_500_000.0]), "s_ben_nat", EXACT
        ),
    ]
    return out


def real_tables(index: TerritoryIndex, build: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows and provenance of the test's real store, with the derived series added."""
    parts = communal(index) + departmental(index)
    rows = pd.concat([r for r, _ in parts], ignore_index=True)[list(COLUMNS)]
    prov = pd.DataFrame([p for _, p in parts])
    return derived_values(rows, prov, geography_of(build))


def write_real_store(
    root: Path, rows: pd.DataFrame, prov: pd.DataFrame, portal: dict | None = None
) -> Path:
    """Publish rows + provenance + portail.json as the real store under `root`."""
    build = new_build(root)
    build.parent.mkdir(parents=True, exist_ok=True)
    write_store(rows, build, {"mode": "reel", "sources": ["test"]}, prov)
    (build / "portail.json").write_text(json.dumps(portal or PORTAL, ensure_ascii=False))
    return finish_build(root, build)


def real_settings(settings: Settings, tmp: Path) -> Settings:
    """Settings whose cache serves the small build and a real store (no demonstration)."""
    cache = tmp / "cache-reel"
    cache.mkdir()
    build = active_dir(settings.cache)
    (cache / "current").symlink_to(build)
    index = TerritoryIndex(build)
    rows, prov = real_tables(index, build)
    real = replace(settings, cache=cache, rate_limit=None, export_rate_limit=None)
    write_real_store(real.store_import, rows, prov)
    return real
