"""QPV and IRIS loaders: the samples and the national files' column spellings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geodata.cog import Cog, load_cog
from geodata.infra import load_iris, load_qpv
from geodata.sources import default_sources_dir

SOURCES = default_sources_dir()
pytestmark = pytest.mark.skipif(
    not (SOURCES / "territoires").is_dir(), reason=f"sources absentes : {SOURCES}"
)
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[4.83, 45.76], [4.84, 45.76], [4.84, 45.77], [4.83, 45.77], [4.83, 45.76]]],
}


@pytest.fixture(scope="module")
def cog() -> Cog:
    return load_cog(SOURCES / "territoires")


def _write(path: Path, props: list[dict]) -> Path:
    feats = [{"type": "Feature", "properties": p, "geometry": SQUARE} for p in props]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def test_samples_load_with_parents(cog: Cog) -> None:
    qpv = load_qpv(
        SOURCES / "qpv" / "qp-2015-occitanie.geojson",
        cog,
        SOURCES / "qpv" / "qp-2015-occitanie-indicateurs-insee.csv",
    )
    assert len(qpv) == 105
    assert qpv["commune"].notna().all() and (qpv["region"] == "76").all()
    assert qpv["population"].notna().all()
    iris = load_iris(SOURCES / "iris" / "iris-lyon-metropole.geojson", cog)
    assert len(iris) == 358
    lyon = iris[iris["commune_source"].str.startswith("6938")]
    assert (lyon["commune"] == "69123").all()  # arrondissement kept, commune is Lyon


def test_national_file_spellings(cog: Cog, tmp_path: Path) -> None:
    qpv = load_qpv(
        _write(
            tmp_path / "qpv2024.geojson",
            [
                {"code_qp": "QN06901M", "lib_qp": "Quartier test", "insee_com": "69381"},
            ],
        ),
        cog,
    )
    assert qpv.loc[0, "nom"] == "Quartier test" and qpv.loc[0, "commune"] == "69123"
    iris = load_iris(
        _write(
            tmp_path / "contours-iris.geojson",
            [
                {
                    "CODE_IRIS": "693810101",
                    "NOM_IRIS": "Test",
                    "INSEE_COM": "69381",
                    "TYP_IRIS": "H",
                },
            ],
        ),
        cog,
    )
    assert iris.loc[0, "code"] == "693810101" and iris.loc[0, "departement"] == "69"


def test_unknown_layout_is_refused_in_french(cog: Cog, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="colonne « code » introuvable"):
        load_qpv(_write(tmp_path / "bad.geojson", [{"identifiant": "x"}]), cog)
