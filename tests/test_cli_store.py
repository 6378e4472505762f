"""`cafcarto build` with the demonstration store, `cafcarto audit` and `cafcarto import`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dashboard.cli import main as cli
from geodata.cache import active_dir
from geodata.sources import default_sources_dir
from layers.store import SECRET, Store

SOURCES = default_sources_dir()
FIXTURES = Path(__file__).parent / "fixtures" / "cafdata"
pytestmark = pytest.mark.skipif(
    not (SOURCES / "geo" / "communes-2018").is_dir(), reason=f"sources absentes : {SOURCES}"
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    mp = pytest.MonkeyPatch()
    mp.setenv("CAFCARTO_CACHE", str(root))
    # Territoire de Belfort: 101 communes, small enough for a full demonstration store.
    assert cli(["build", "--departements", "90"]) == 0
    yield root
    mp.undo()


def test_build_writes_a_demo_store_with_secrets(cache_dir: Path) -> None:
    store = Store(active_dir(cache_dir / "demo"))
    assert store.meta["mode"] == "demonstration"
    # Like the portal: secret cells blanked before 2020, rounded to 5 with no blank since.
    layer = store.layer("rsa", "commune", "2019-12")
    assert len(layer) > 90 and (layer["statut"] == SECRET).any()
    assert layer.loc[layer["statut"] == SECRET, "valeur"].isna().all()
    rounded = store.layer("rsa", "commune", "2024-12")
    assert len(rounded) > 90 and not (rounded["statut"] == SECRET).any()
    assert (rounded["valeur"] % 5 == 0).all() and (rounded["valeur"] > 0).any()
    assert len(store.periods("rsa", "departement")) == 44  # quarterly 2015 to 2025


def test_audit_passes_on_the_published_store(cache_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CAFCARTO_CACHE", str(cache_dir))
    assert cli(["audit", "--periodes", "2024-12"]) == 0
    out = capsys.readouterr().out
    assert "Audit du secret" in out and "0 échec" in out


def test_import_is_all_or_nothing(cache_dir: Path, monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setenv("CAFCARTO_CACHE", str(cache_dir))
    assert cli(["import", str(FIXTURES / "s_ben_com_f.csv")]) == 0
    first = active_dir(cache_dir / "import")
    store = Store(first)
    assert store.meta["mode"] == "reel" and store.meta["cellules"] > 0
    bad = tmp_path / "s_ben_com_f_bad.csv"
    text = (FIXTURES / "s_ben_com_f.csv").read_text(encoding="utf-8").splitlines()
    text[3] = text[3].rsplit(";", 1)[0] + ";abc"
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    assert cli(["import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "ligne 4" in err and "non importé" in err
    assert active_dir(cache_dir / "import") == first  # the store is as it was


def test_demo_facilities_lie_in_their_commune_and_make_its_places(cache_dir: Path) -> None:
    import geopandas as gpd
    import shapely

    folder = active_dir(cache_dir / "demo")
    facilities = pd.read_parquet(folder / "equipements.parquet")
    assert len(facilities) > 0 and facilities["adresse"].str.contains("démonstration").all()
    assert set(facilities["type"]) <= {
        "Crèche collective",
        "Micro-crèche",
        "Crèche familiale",
        "Crèche parentale",
        "Lieu d'accueil enfants-parents",
    }
    communes = gpd.read_parquet(active_dir(cache_dir) / "geo" / "commune.parquet")
    geoms = communes.set_index("code").geometry.reindex(facilities["commune"]).to_numpy()
    assert shapely.contains_xy(geoms, facilities["lon"], facilities["lat"]).mean() > 0.99
    opened = facilities[
        (facilities["type"] != "Lieu d'accueil enfants-parents")
        & (facilities["annee_ouverture"] <= 2024)
    ]
    places = Store(folder).layer("places_eaje", "commune", "2024-12").set_index("code")["valeur"]
    expected = opened.groupby("commune")["places"].sum()
    assert (places.reindex(expected.index) == expected).all()


def test_store_levels_match_the_catalogue(cache_dir: Path) -> None:
    from layers.catalogue import CURATED

    BY_ID = CURATED.by_id  # the demonstration's; the active catalogue follows the store served
    present = Store(active_dir(cache_dir / "demo")).indicators()
    assert set(present["indicateur"]) == set(BY_ID)
    for ind, level in zip(present["indicateur"], present["niveau"], strict=True):
        assert level in BY_ID[ind].levels, (ind, level)
