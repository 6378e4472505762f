"""`cafcarto audit` on a real store: a clean store passes, each planted inconsistency fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from real_store_support import real_settings

from dashboard.cli import main
from geodata.cache import active_dir
from layers.catalogue import activate
from layers.real_audit import audit_real_store
from layers.real_derived import TEXT, derived_values, geography_of, split_derived, sum_conflicts
from layers.real_store import compact
from layers.store import VALUES_FILE


@pytest.fixture(scope="module")
def real(settings, tmp_path_factory):
    yield real_settings(settings, tmp_path_factory.mktemp("reel-audit"))
    activate(None)


@pytest.fixture(scope="module")
def geography(real):
    return geography_of(active_dir(real.cache))


def _planted(real, tmp_path: Path, change) -> Path:
    """A copy of the real store with one change to its values."""
    folder = tmp_path / "store"
    shutil.copytree(active_dir(real.store_import), folder)
    rows = pd.read_parquet(folder / VALUES_FILE)
    for col in ("indicateur", "niveau", "code", "periode", "statut"):
        rows[col] = rows[col].astype(str)
    change(rows)
    rows.to_parquet(folder / VALUES_FILE, index=False)
    return folder


def _cell(rows: pd.DataFrame, ind: str, level: str, period: str, status: str = "publie"):
    hit = (
        (rows["indicateur"] == ind)
        & (rows["niveau"] == level)
        & (rows["periode"] == period)
        & (rows["statut"] == status)
    )
    return rows.index[hit][0]


def test_clean_real_store_passes(real, geography) -> None:
    report = audit_real_store(active_dir(real.store_import), geography)
    assert report.ok, report.failures
    assert report.derived > 0 and report.rounded > 0 and report.rates > 0
    # France: the portal's total differs from the sum of the cut's four départements.
    assert any("allocataires france FR" in line for line in report.conflicts)


def test_derived_values_are_idempotent(real, geography) -> None:
    folder = active_dir(real.store_import)
    rows = pd.read_parquet(folder / VALUES_FILE)
    prov = pd.read_parquet(folder / "provenance.parquet")
    again, again_prov = derived_values(rows, prov, geography)
    assert len(again) == len(rows) and len(again_prov) == len(prov)


def test_a_changed_derived_cell_fails(real, geography, tmp_path) -> None:
    def change(rows):
        rows.loc[_cell(rows, "part_rsa", "commune", "2024-12"), "valeur"] += 1.0

    report = audit_real_store(_planted(real, tmp_path, change), geography)
    assert not report.ok and "non reproductible" in report.failures[0]


def test_a_rounded_count_off_its_step_fails(real, geography, tmp_path) -> None:
    def change(rows):
        rows.loc[_cell(rows, "indnbp_ndural", "commune", "2024-12"), "valeur"] = 7.0

    report = audit_real_store(_planted(real, tmp_path, change), geography)
    assert any("hors du pas d'arrondi 5" in f for f in report.failures)


def test_a_rate_over_a_small_denominator_fails(real, geography, tmp_path) -> None:
    def change(rows):
        i = _cell(rows, "part_rsa", "commune", "2024-12", "secret")
        rows.loc[i, ["valeur", "statut"]] = [25.0, "publie"]

    report = audit_real_store(_planted(real, tmp_path, change), geography)
    assert any("dénominateur trop petit" in f for f in report.failures)


def test_cli_audit_runs_on_the_real_store(real, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CAFCARTO_CACHE", str(real.cache))
    assert main(["audit"]) == 0
    out = capsys.readouterr().out
    assert "Audit de l'entrepôt réel" in out and "0 échec(s)" in out


def test_derived_values_the_same_from_text_and_categories(real, geography) -> None:
    # a sync hands its rows over with their text as categories; the audit reads text back
    folder = active_dir(real.store_import)
    prov = pd.read_parquet(folder / "provenance.parquet")
    text = pd.read_parquet(folder / VALUES_FILE).astype(dict.fromkeys(TEXT, str))
    held = compact(text)
    base, base_prov, derived, _ = split_derived(text, prov)
    assert len(derived) and len(base) + len(derived) == len(text)
    base_c, base_prov_c, derived_c, _ = split_derived(held, prov)
    assert isinstance(base_c["code"].dtype, pd.CategoricalDtype)
    for a, b in ((base, base_c), (derived, derived_c)):
        pd.testing.assert_frame_equal(
            a.astype(dict.fromkeys(TEXT, str)), b.astype(dict.fromkeys(TEXT, str))
        )
    pd.testing.assert_frame_equal(base_prov, base_prov_c)
    again, again_prov = derived_values(base, base_prov, geography)
    again_c, again_prov_c = derived_values(base_c, base_prov_c, geography)
    assert len(again) > len(base)
    pd.testing.assert_frame_equal(
        again.astype(dict.fromkeys(TEXT, str)), again_c.astype(dict.fromkeys(TEXT, str))
    )
    pd.testing.assert_frame_equal(again_prov, again_prov_c)
    # the recomputed cells are those of the store, in value and status
    cells = text.merge(
        again.astype(dict.fromkeys(TEXT, str)), on=["indicateur", "niveau", "code", "periode"]
    )
    assert len(cells) == len(text)
    assert (cells["statut_x"] == cells["statut_y"]).all()
    assert np.allclose(cells["valeur_x"], cells["valeur_y"], equal_nan=True)
    conflicts = sum_conflicts(base, base_prov, geography)
    assert conflicts and conflicts == sum_conflicts(base_c, base_prov_c, geography)
