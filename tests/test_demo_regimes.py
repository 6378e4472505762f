"""The demonstration follows the portal's disclosure regimes: rounded local cells from 2020
(counts to 5, amounts to 100 EUR, no blank), suppression before, exact national values; its
provenance says so, and the audit checks both regimes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geodata.cache import active_dir
from layers.build_store import audit_store, build_demo_store, demo_data, store_checks, summarise
from layers.demo_regimes import ROUNDED_LEVELS, round_to, rounding_violations
from layers.model import INFRA, levels_of_tier
from layers.provenance import EXACT, MIN_ROUNDED_DENOMINATOR, ROUNDED, SUPPRESSED
from layers.store import PUBLISHED, SECRET, Store

PERIODS = ["2019-12", "2024-12", "2025-03"]


@pytest.fixture(scope="module")
def geo(small_cache: Path) -> Path:
    return active_dir(small_cache)


@pytest.fixture(scope="module")
def store(geo: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("regimes")
    return Store(build_demo_store(geo, root / "demo", periods=PERIODS, log=lambda _: None))


@pytest.fixture(scope="module")
def cells(store: Store) -> pd.DataFrame:
    df = store.query("SELECT indicateur, niveau, code, periode, valeur, statut FROM v")
    return df.astype({"indicateur": str, "niveau": str, "periode": str, "statut": str})


def layer(cells: pd.DataFrame, indicator: str, level: str, period: str) -> pd.DataFrame:
    sel = (cells["indicateur"] == indicator) & (cells["niveau"] == level)
    return cells[sel & (cells["periode"] == period)].set_index("code")


def test_provenance_names_the_regime_of_every_series(store: Store) -> None:
    expected = {
        ("allocataires", "commune", "2024-12"): (ROUNDED, 5),
        ("personnes_couvertes", "iris", "2024-12"): (ROUNDED, 5),
        ("rsa_montant", "epci", "2024-12"): (ROUNDED, 100),
        ("part_rsa", "commune", "2024-12"): (ROUNDED, 0),  # approximate, not on a step
        ("places_eaje", "commune", "2024-12"): (EXACT, 0),  # places are no household
        ("allocataires", "departement", "2024-12"): (EXACT, 0),
        ("allocataires", "commune", "2019-12"): (SUPPRESSED, 0),
        ("rsa", "departement", "2019-12"): (SUPPRESSED, 0),
    }
    for key, (regime, step) in expected.items():
        prov = store.provenance(*key)
        assert prov is not None and prov.is_demo, key
        assert (prov.regime, prov.rounding, prov.field) == (regime, step, key[0]), key


def test_local_cells_are_rounded_without_blank_from_2020(cells: pd.DataFrame) -> None:
    recent = cells[(cells["periode"] == "2024-12") & cells["niveau"].isin(ROUNDED_LEVELS)]
    counts = recent[recent["indicateur"].isin(["allocataires", "rsa", "personnes_couvertes"])]
    infra = levels_of_tier(INFRA)
    assert {"commune", "epci", *infra} <= set(counts["niveau"])  # arm: their own test
    municipal = counts[~counts["niveau"].isin(infra)]
    assert (municipal["statut"] == PUBLISHED).all()  # no blank, no hatch
    shown = counts[counts["statut"] == PUBLISHED]
    assert (shown["valeur"] % 5 == 0).all() and (shown["valeur"] == 0).any()
    amounts = recent[recent["indicateur"] == "rsa_montant"]
    assert len(amounts) and (amounts["valeur"] % 100 == 0).all()
    older = layer(cells, "allocataires", "commune", "2019-12")
    assert (older["statut"] == SECRET).sum() >= 3  # the older portal's blanks
    assert (older.loc[older["statut"] == PUBLISHED, "valeur"] % 5 != 0).any()  # exact there


def test_small_zones_are_hidden_whole_and_the_others_rounded(
    cells: pd.DataFrame, geo: Path
) -> None:
    """The Caf rule at IRIS and QPV from 2020: a zone of fewer than 100 allocataires has every
    value hidden; a zone at or above it is published rounded (SECRECY.md, rule 3)."""
    data = demo_data(geo)
    year = list(data.periods[i] for i in data.annual_index).index("2024-12")
    for level in ("iris", "qpv"):
        zones, values = data.infra[level]
        raw = pd.Series(values["allocataires"][:, year], index=zones["code"].to_numpy())
        small = raw[raw < 100].index
        assert (raw >= 100).any() and (len(small) or level == "qpv"), level  # QPV: big here
        recent = cells[(cells["periode"] == "2024-12") & (cells["niveau"] == level)]
        status = recent.groupby("code")["statut"].agg(set)
        assert all(status[c] == {SECRET} for c in small), level
        published = recent[recent["statut"] == PUBLISHED]
        assert set(published["code"]).isdisjoint(small)
        alloc = published[published["indicateur"] == "allocataires"].set_index("code")["valeur"]
        assert (alloc == round_to(raw[alloc.index], 5)).all()


def test_national_totals_are_exact_never_sums_of_rounded_communes(
    cells: pd.DataFrame, geo: Path
) -> None:
    data = demo_data(geo)
    p = data.periods.index("2024-12")
    raw = pd.Series(data.counts["allocataires"][:, p], index=data.communes["code"].to_numpy())
    exact = raw.groupby(data.communes["departement"].to_numpy()).sum()
    deps = layer(cells, "allocataires", "departement", "2024-12")["valeur"]
    assert (deps.sort_index() == exact.sort_index().astype(float)).all()
    communes = layer(cells, "allocataires", "commune", "2024-12")["valeur"]
    assert (communes == pd.Series(round_to(raw, 5), raw.index)[communes.index]).all()
    rounded_sum = communes.groupby(data.communes.set_index("code")["departement"]).sum()
    assert (rounded_sum.sort_index() != deps.sort_index()).any()


def test_rates_come_from_the_rounded_counts_and_need_a_denominator(cells: pd.DataFrame) -> None:
    rate = layer(cells, "part_rsa", "commune", "2024-12")
    rsa = layer(cells, "rsa", "commune", "2024-12")["valeur"]
    alloc = layer(cells, "allocataires", "commune", "2024-12")["valeur"]
    small = alloc < MIN_ROUNDED_DENOMINATOR
    assert small.any() and (~small).any()
    assert (rate.loc[small[small].index, "statut"] == SECRET).all()
    shown = rate[rate["statut"] == PUBLISHED]
    assert len(shown) > 20
    expected = np.round(100 * rsa[shown.index] / alloc[shown.index], 1)
    assert np.allclose(shown["valeur"], expected)


def test_the_audit_checks_both_regimes(store: Store, geo: Path, cells: pd.DataFrame) -> None:
    checks = store_checks(store, geo)
    assert checks["cellules_liees"] == 0 and checks["ecarts_arrondi"].empty
    assert checks["arrondi_verifiees"] > 1000
    assert set(checks["liees"]["periode"]) == set(PERIODS)
    report = summarise(audit_store(store, geo, workers=1, log=lambda _: None))
    assert report["echecs"] == 0 and report["secretes"] > 100


def test_the_rounding_check_catches_an_exact_value(cells: pd.DataFrame, geo: Path) -> None:
    """Test of the check: a count off its step, or a share computed from an exact numerator."""
    from layers.build_store import _public_denominators

    public = _public_denominators(geo)
    bad = cells.copy()
    count = bad.index[
        (bad["indicateur"] == "rsa")
        & (bad["niveau"] == "commune")
        & (bad["periode"] == "2024-12")
        & (bad["valeur"] > 0)
    ][0]
    bad.loc[count, "valeur"] += 2
    share = bad.index[
        (bad["indicateur"] == "taux_personnes_couvertes")
        & (bad["niveau"] == "epci")
        & (bad["periode"] == "2024-12")
        & (bad["statut"] == PUBLISHED)
    ][0]
    bad.loc[share, "valeur"] += 0.3
    _, off = rounding_violations(bad, {"2024-12"}, public)
    found = set(zip(off["indicateur"], off["code"], strict=True))
    assert ("rsa", bad.loc[count, "code"]) in found
    assert ("taux_personnes_couvertes", bad.loc[share, "code"]) in found
    _, clean = rounding_violations(cells, {"2024-12"}, public)
    assert clean.empty


def test_the_store_audit_finds_a_period_with_one_secret_left(
    store: Store, geo: Path, cells: pd.DataFrame, tmp_path: Path
) -> None:
    """Test of the store audit: a period whose secrets are all published but one fails; the
    audit reads each period's cells from the store (in two forked processes) and the other
    period still passes."""
    from layers.store import write_store

    bad = cells.copy()
    secret = bad.index[(bad["periode"] == "2019-12") & (bad["statut"] == SECRET)]
    assert len(secret) >= 2
    target = bad.loc[secret[0]]
    # Every other secret of the period published (any value): the last one is pinned (or the
    # published values contradict each other).
    bad.loc[secret[1:], "valeur"] = 0.0
    bad.loc[secret[1:], "statut"] = PUBLISHED
    folder = tmp_path / "fuite"
    write_store(bad, folder, store.meta)
    reports = audit_store(
        Store(folder), geo, periods=["2019-12", "2024-12"], workers=2, log=lambda _: None
    )
    failed = {(p, c) for p, c, r in reports if not r.ok}
    assert failed and {p for p, _ in failed} == {"2019-12"}
    assert any(target["indicateur"] in c for _, c in failed)
