"""QPV and IRIS: the samples, the national files' column spellings, the national files cut by
the test build, the municipal arrondissements dissolved from the IRIS."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from conftest import FIXTURE_DEPARTEMENTS

from geodata import cache as cache_dir
from geodata.build import build
from geodata.cog import Cog, load_cog
from geodata.infra import load_iris, load_qpv
from geodata.infra_build import (
    IRIS_SAMPLE,
    QPV_INDICATORS,
    QPV_SAMPLE,
    unplaced,
    unplaced_summary,
)
from geodata.levels import read_commune_polygons
from geodata.neighbours import NEARBY
from geodata.qpv_national import DBF_ENCODING, SHAPEFILE, departement_of_qpv, load_national_qpv
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


# --- the national files, as the test build cuts them (conftest: 2A, 66, 69, 972) -------------

NATIONAL_QPV = SOURCES / "qpv" / "qpv-2015-france"
NATIONAL_IRIS = SOURCES / "iris" / "iris-2020-metropole.geojson.gz"
national = pytest.mark.skipif(
    not (NATIONAL_QPV.is_dir() and NATIONAL_IRIS.is_file()), reason="fichiers nationaux absents"
)


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _level(cache: Path, name: str) -> gpd.GeoDataFrame:
    return gpd.read_parquet(cache_dir.require_active(cache) / "geo" / f"{name}.parquet")


@national
def test_cut_build_keeps_every_national_iris_of_its_departements(small_cache: Path) -> None:
    raw = gpd.read_file(f"/vsigzip/{NATIONAL_IRIS}", columns=["CODE_IRIS", "INSEE_COM"])
    wanted = raw[raw["INSEE_COM"].str[:2].isin(FIXTURE_DEPARTEMENTS)]
    iris = _level(small_cache, "iris")
    assert sorted(iris["code"]) == sorted(wanted["CODE_IRIS"])
    assert iris["commune"].notna().all() and iris["region"].notna().all()
    lyon = iris[iris["arm"].notna()]
    assert set(lyon["arm"]) == {f"6938{i}" for i in range(1, 10)}
    assert (lyon["commune"] == "69123").all() and (lyon["epci"] == "200046977").all()
    assert set(iris["type_iris"]) <= {"H", "A", "D", "Z"}
    # Population only where the IRIS is its whole commune (the file has none): the commune's.
    alone = iris[iris["population"].notna()]
    assert len(alone) > 0 and (alone["type_iris"] == "Z").all()
    assert not alone["commune"].duplicated().any()
    communes = load_cog(SOURCES / "territoires").communes["population"]
    assert (alone["population"].to_numpy() == communes[alone["commune"]].to_numpy()).all()


@national
def test_cut_build_places_the_national_qpv_by_geometry(small_cache: Path) -> None:
    raw = gpd.read_file(NATIONAL_QPV / SHAPEFILE, encoding=DBF_ENCODING, ignore_geometry=True)
    wanted = raw[raw["CODE_QP"].map(departement_of_qpv).isin(FIXTURE_DEPARTEMENTS)]
    qpv = _level(small_cache, "qpv").set_index("code")
    assert sorted(qpv.index) == sorted(wanted["CODE_QP"])
    assert qpv["commune"].notna().all()
    assert not qpv["nom"].str.contains("Ã").any()  # cp1252 read as cp1252, not as UTF-8
    assert qpv["nom"].str.contains("é").any()
    # COMMUNE_QP names the communes (2015 names, accents sometimes dropped): the commune found
    # by geometry is one of them, or the commune nouvelle that absorbed it.
    names = load_cog(SOURCES / "territoires").communes["nom"].map(_plain)
    pairs = zip(qpv["commune"], qpv["communes_qp"], strict=True)
    found = [
        any(n in names[c] or names[c] in n for n in _plain(listed).split(", "))
        for c, listed in pairs
    ]
    assert sum(found) >= 0.95 * len(found)
    assert (qpv.loc[qpv.index.str.startswith("QP972"), "departement"] == "972").all()


def test_qpv_outside_every_commune_stay_with_empty_parents(cog: Cog) -> None:
    if not NATIONAL_QPV.is_dir():
        pytest.skip("fichier national des QPV absent")
    rhone = read_commune_polygons(SOURCES / "geo" / "communes-2018", ["69"])
    rhone = rhone.assign(code=rhone["code"].map(cog.current_code))
    qpv = load_national_qpv(NATIONAL_QPV, cog, rhone, departements=["69", "978"])
    lost = qpv[qpv["commune"].isna()]
    assert set(lost["code"]) == set(qpv.loc[qpv["code"].str.startswith("QP978"), "code"])
    assert len(lost) > 0 and lost["departement"].isna().all()
    listed = unplaced({"qpv": qpv})["qpv_non_places"]
    assert {r["code"] for r in listed} == set(lost["code"])
    assert unplaced_summary(listed) == f"{len(lost)} (978 : {len(lost)})"


@national
def test_arrondissements_are_dissolved_from_the_iris_and_fill_the_city(small_cache: Path) -> None:
    arm = _level(small_cache, "arm").set_index("code")
    cog = load_cog(SOURCES / "territoires")
    lyon = cog.municipal[cog.municipal["commune"] == "69123"].set_index("code")
    assert sorted(arm.index) == sorted(lyon.index)
    assert (arm["nom"] == lyon["nom"].reindex(arm.index)).all()
    assert (arm["population"] == lyon["population"].reindex(arm.index)).all()
    assert (arm["commune"] == "69123").all() and (arm["departement"] == "69").all()
    city = _level(small_cache, "commune").set_index("code").loc["69123"]
    union = shapely.union_all(arm.geometry.values)
    # Clipped to the city, and filling it (the slivers the IRIS miss go to the nearest one).
    outside = shapely.area(shapely.difference(union, city.geometry))
    assert outside < 1e-5 * shapely.area(city.geometry)  # a few m² of snapping, no more
    assert shapely.area(union) == pytest.approx(shapely.area(city.geometry), rel=1e-5)
    overlap = sum(shapely.area(arm.geometry.values)) - shapely.area(union)
    assert overlap < 1e-4 * shapely.area(union)


@national
def test_communes_and_arrondissements_view_splits_lyon_only(small_cache: Path) -> None:
    view = _level(small_cache, "commune_arm").set_index("code")
    communes = _level(small_cache, "commune").set_index("code")
    arm = _level(small_cache, "arm")
    assert "69123" not in view.index and set(arm["code"]) <= set(view.index)
    assert len(view) == len(communes) - 1 + len(arm)
    assert set(view.index) - set(arm["code"]) == set(communes.index) - {"69123"}
    assert view["epci"].notna().all() and view["caf"].notna().all()
    assert view["area_km2"].sum() == pytest.approx(communes["area_km2"].sum(), rel=1e-5)


@national
def test_build_report_lists_counts_and_unplaced(small_cache: Path) -> None:
    manifest = cache_dir.read_manifest(cache_dir.require_active(small_cache))
    counts, report = manifest["counts"], manifest["report"]
    assert counts["arm"] == 9 and counts["commune_arm"] == counts["commune"] + 8
    assert counts["iris"] == len(_level(small_cache, "iris"))
    assert report["qpv_non_places"] == [] and report["iris_non_places"] == []


@national
def test_neighbours_of_the_new_levels(small_cache: Path) -> None:
    current = cache_dir.require_active(small_cache)
    arm = cache_dir.load_neighbours(current, "arm")
    assert set(arm.loc[arm["code"] == "69381", "voisin"]) >= {"69384", "69382"}
    view = cache_dir.load_neighbours(current, "commune_arm")
    arm_codes = set(_level(small_cache, "arm")["code"])
    beside = view[view["code"].isin(arm_codes) & ~view["voisin"].isin(arm_codes)]
    assert len(beside) > 0 and "69123" not in set(view["voisin"])  # Lyon's neighbours, split
    iris = cache_dir.load_neighbours(current, "iris")
    assert len(iris) > len(_level(small_cache, "iris")) and (iris["frontiere_km"] > 0).all()
    qpv = cache_dir.load_neighbours(current, "qpv")
    zones = _level(small_cache, "qpv").set_index("code")
    near = qpv[qpv["frontiere_km"] == 0]
    assert len(near) > 0 and (near["distance_km"] <= NEARBY["qpv"][0]).all()
    epci = NEARBY["qpv"][1]
    assert (zones.loc[near["code"], epci].to_numpy() == zones.loc[near["voisin"], epci]).all()
    pairs = set(zip(qpv["code"], qpv["voisin"], strict=True))
    assert all((b, a) in pairs for a, b in pairs)


def test_build_falls_back_to_the_samples_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    sources = tmp_path / "sources"
    for folder in ("geo", "territoires"):
        (sources / folder).parent.mkdir(parents=True, exist_ok=True)
        (sources / folder).symlink_to(SOURCES / folder)
    for rel in (QPV_SAMPLE, QPV_INDICATORS, IRIS_SAMPLE):
        (sources / rel).parent.mkdir(parents=True, exist_ok=True)
        (sources / rel).symlink_to(SOURCES / rel)
    lines: list[str] = []
    result = build(sources, tmp_path / "cache", departements=["66", "69"], log=lines.append)
    text = "\n".join(lines)
    assert "QPV nationaux absents" in text and "IRIS nationaux absents" in text
    # the step's bar, its share by each level's expected time (the IRIS hold most of it)
    bars = capsys.readouterr().err
    assert "QPV, IRIS et arrondissements [####################] 4/4 niveaux (100 %)" in bars
    assert re.search(r"QPV, IRIS et arrondissements \[#+-+\] 2/4 niveaux \(6\d %\)", bars)
    # and the steps before it: the polygons read département by département, then the
    # communes and each level dissolved from them
    assert "communes 2018 [####################] 2/2 départements (100 %)" in bars
    assert "communes et niveaux supérieurs [####################] 6/6 niveaux (100 %)" in bars
    assert re.search(r"communes et niveaux supérieurs \[#+-+\] 1/6 niveaux \(3\d %\)", bars)
    sample_qpv = gpd.read_file(SOURCES / QPV_SAMPLE)
    in_66 = sample_qpv["code_qp"].str.startswith("QP066")
    assert result.counts["qpv"] == int(in_66.sum())
    sample_iris = gpd.read_file(SOURCES / IRIS_SAMPLE, ignore_geometry=True)
    assert result.counts["iris"] == len(sample_iris)  # all in the Rhône
    assert result.counts["arm"] == 9  # Lyon's arrondissements, from the sample's IRIS
