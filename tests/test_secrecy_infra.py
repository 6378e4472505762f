"""The Caf rule at IRIS and QPV, under attack (SECRECY.md, rule 3).

A zone of fewer than 100 allocataires has every value hidden, in both regimes: the older
portal's suppression (the test store) and the current portal's rounding (a store built here).
The attacker knows what an outsider knows: the published cells, and that the IRIS of a split
commune (INSEE type other than Z, read from the public IRIS geometry) add up to it; QPV lie
within their commune. No hidden zone may be pinned or bounded narrower than the protection
width; and the same attacker does pin a zone once its siblings leak.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from attacker import Cells, Relation, attack, recovered

from geodata.cache import active_dir
from layers.build_store import build_demo_store, demo_data
from layers.store import PUBLISHED, SECRET, Store

PROTECTION = 5
THRESHOLD = 100


@pytest.fixture(scope="module")
def geo(small_cache: Path) -> Path:
    return active_dir(small_cache)


@pytest.fixture(scope="module")
def rounded_store(geo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("infra") / "demo"
    return build_demo_store(geo, root, periods=["2024-12"], log=lambda _: None)


def store_cells(folder: Path, period: str) -> pd.DataFrame:
    df = Store(folder).query("SELECT indicateur, niveau, code, periode, valeur, statut FROM v")
    df = df.astype({"indicateur": str, "niveau": str, "periode": str, "statut": str})
    return df[df["periode"] == period]


def split_communes(geo: Path) -> pd.DataFrame:
    """IRIS (code, commune) of the communes INSEE splits, from the public geometry."""
    iris = pd.read_parquet(geo / "geo" / "iris.parquet", columns=["code", "commune", "type_iris"])
    return iris[iris["type_iris"] != "Z"].dropna(subset=["commune"])


def raw_zones(geo: Path, level: str, period: str) -> pd.Series:
    """Raw allocataires of each zone (the generator's, before secrecy): the test's oracle."""
    data = demo_data(geo)
    zones, values = data.infra[level]
    year = [data.periods[i] for i in data.annual_index].index(period)
    return pd.Series(values["allocataires"][:, year], index=zones["code"].to_numpy())


def attacker_view(cells: pd.DataFrame, geo: Path, indicator: str) -> tuple[Cells, list]:
    """The cells of one indicator at commune, IRIS and QPV levels, and the relations an
    outsider can write: each split commune = its IRIS; each commune >= its QPV."""
    sel = cells[(cells["indicateur"] == indicator) & cells["niveau"].isin(["commune", "iris"])]
    view = Cells()
    view.add(indicator, "commune", _rows(sel[sel["niveau"] == "commune"]))
    view.add(indicator, "iris", _rows(sel[sel["niveau"] == "iris"]))
    qpv = cells[(cells["indicateur"] == indicator) & (cells["niveau"] == "qpv")]
    view.add(indicator, "qpv", _rows(qpv))
    rels = []
    for commune, group in split_communes(geo).groupby("commune"):
        parts = [
            (indicator, "iris", c) for c in group["code"] if (indicator, "iris", c) in view.status
        ]
        if parts:
            rels.append(Relation((indicator, "commune", commune), parts, True))
    zones = pd.read_parquet(geo / "geo" / "qpv.parquet", columns=["code", "commune"]).dropna()
    for commune, group in zones.groupby("commune"):
        parts = [
            (indicator, "qpv", c) for c in group["code"] if (indicator, "qpv", c) in view.status
        ]
        if parts:
            rels.append(Relation((indicator, "commune", commune), parts, False))
    return view, rels


def _rows(df: pd.DataFrame) -> list[dict]:
    status = df["statut"].map({PUBLISHED: "published", SECRET: "secret"}).fillna("missing")
    return [
        {"code": c, "value": None if s != "published" else float(v), "status": s}
        for c, v, s in zip(df["code"], df["valeur"], status, strict=True)
    ]


@pytest.mark.parametrize("regime", ["suppression", "arrondi"])
def test_small_zones_are_hidden_whole(regime: str, small_store: Path, rounded_store, geo) -> None:
    folder, period = (
        (small_store, "2024-12") if regime == "suppression" else (rounded_store, "2024-12")
    )
    cells = store_cells(active_dir(folder) or folder, period)
    for level in ("iris", "qpv"):
        raw = raw_zones(geo, level, period)
        small = set(raw[raw < THRESHOLD].index)
        zone = cells[cells["niveau"] == level]
        assert len(zone), level
        exposed = zone[zone["code"].isin(small) & (zone["statut"] != SECRET)]
        assert exposed.empty, f"{level} : zone(s) de moins de {THRESHOLD} publiée(s)"
        if level == "iris":
            assert small, "the test cut should hold IRIS under the threshold"
            assert (zone["statut"] == PUBLISHED).mean() > 0.5  # the rule hides few IRIS


@pytest.mark.parametrize("regime", ["suppression", "arrondi"])
@pytest.mark.parametrize("indicator", ["allocataires", "rsa"])
def test_no_hidden_zone_is_pinned(
    regime: str, indicator: str, small_store: Path, rounded_store, geo: Path
) -> None:
    folder = small_store if regime == "suppression" else rounded_store
    cells = store_cells(active_dir(folder) or folder, "2024-12")
    view, rels = attacker_view(cells, geo, indicator)
    assert any(r.exact for r in rels) and any(not r.exact for r in rels)
    # The rounded store's local counts are known within +/- 2.5 only.
    rounding = {k: 5.0 for k in view.status} if regime == "arrondi" else None
    report, keys = attack(view, rels, PROTECTION, rounding=rounding)
    assert report.infeasible_components == 0, "relations fausses"
    hidden_iris = [k for k in view.secret() if k[1] == "iris"]
    assert hidden_iris
    found = recovered(view, report, keys)
    assert not found, "; ".join(f"{k[2]} dans [{lo:g}, {hi:g}]" for k, lo, hi in found[:5])


def test_the_attacker_pins_a_zone_whose_siblings_leak(small_store: Path, geo: Path) -> None:
    """Test of the test: publish the true values of every hidden IRIS of a split commune but
    one, and the attacker recovers that one from the commune."""
    cells = store_cells(active_dir(small_store) or small_store, "2024-12")
    view, rels = attacker_view(cells, geo, "allocataires")
    raw = raw_zones(geo, "iris", "2024-12")
    target = None
    for rel in rels:
        hidden = [p for p in rel.parts if view.status[p] == "secret"]
        if rel.exact and len(hidden) >= 2 and view.status[rel.total] == "published":
            target, leaked = hidden[0], hidden[1:]
            break
    assert target is not None, "no split commune with two hidden IRIS in the test cut"
    for key in leaked:
        view.status[key] = "published"
        view.value[key] = float(raw[key[2]])
    report, keys = attack(view, rels, PROTECTION)
    found = {k: (lo, hi) for k, lo, hi in recovered(view, report, keys)}
    assert target in found
    lo, hi = found[target]
    assert np.isclose(lo, hi) and np.isclose(lo, raw[target[2]])


def test_the_threshold_is_a_setting() -> None:
    from layers.config import ConfigError, Settings
    from layers.secrecy import primary_mask

    assert Settings.from_env({}).infra_min_households == THRESHOLD
    assert Settings.from_env({"CAFCARTO_SEUIL_INFRA": "250"}).infra_min_households == 250
    with pytest.raises(ConfigError, match="CAFCARTO_SEUIL_INFRA invalide"):
        Settings.from_env({"CAFCARTO_SEUIL_INFRA": "cent"})
    kind = np.array(["iris", "qpv", "commune"])
    alloc = np.array([150, 150, 150])
    values = np.array([40, 40, 40])
    assert not primary_mask(values, zone_kind=kind, allocataires=alloc).any()
    stricter = primary_mask(values, zone_kind=kind, allocataires=alloc, min_allocataires=250)
    assert stricter.tolist() == [True, True, False]
