"""`cafcarto build` end to end on a small real cut: cache layout, counts, staleness, atomicity."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import geopandas as gpd
import pytest
from pmtiles.reader import MmapSource, Reader

from dashboard.cli import main as cli
from geodata import cache, tiles
from geodata.build import build, write_all_tiles
from geodata.sources import default_sources_dir
from geodata.tiles import MAX_ZOOM, POINTS_LAYER, TILES_FORMAT

SOURCES = default_sources_dir()
CUT = ["14", "40", "64", "976"]  # re-created communes, the Caf split, an overseas département
pytestmark = pytest.mark.skipif(
    not (SOURCES / "geo" / "communes-2018").is_dir(), reason=f"sources absentes : {SOURCES}"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("cache")
    lines: list[str] = []
    result = build(SOURCES, root, departements=CUT, log=lines.append)
    return root, result, lines


def test_counts_and_report(built) -> None:
    _, result, lines = built
    counts = result.counts
    assert counts["departement"] == 4
    assert counts["caf"] == 5  # 14, 40, 641, 642 and Mayotte's CSSM
    assert counts["caf_organismes_caf"] == 4
    assert counts["region"] == 3
    report = result.report["report"]
    assert report["codes_2018_non_places"] == []
    assert "14666" in {r["code"] for r in report["communes_sans_polygone"]}
    assert counts["commune"] == report["communes_cog"] - len(report["communes_sans_polygone"])
    text = "\n".join(lines)
    assert "communes avec polygone" in text and "Sannerville (14666)" in text


def test_geoparquet_and_web_geometry_agree(built) -> None:
    root, _, _ = built
    current = cache.require_active(root)
    index = json.loads((current / "web" / "index.json").read_text())["levels"]
    for level in ("commune", "epci", "departement", "region", "caf"):
        table = gpd.read_parquet(current / "geo" / f"{level}.parquet")
        web = json.loads(gzip.decompress((current / "web" / f"{level}.geojson.gz").read_bytes()))
        feats = web["features"]
        assert len(feats) == len(table) == index[level]["features"]
        assert [f["id"] for f in feats] == list(range(len(table)))
        assert [f["properties"]["code"] for f in feats] == table["code"].tolist()
        assert table.crs.to_epsg() == 4326
    communes = gpd.read_parquet(current / "geo" / "commune.parquet").set_index("code")
    assert communes.loc["97611", "caf"] == "976"  # Mamoudzou, overseas, kept
    assert {"epci", "departement", "region", "caf"} <= set(communes.columns)
    nb = cache.load_neighbours(current, "commune")
    assert len(nb) > 0 and set(nb["code"]) <= set(communes.index)


def test_every_level_has_its_own_tiles_recorded(built) -> None:
    # Each level's archive complete, its own (no level overwrote another's) and recorded.
    root, _, _ = built
    current = cache.require_active(root)
    index = json.loads((current / "web" / "index.json").read_text())["levels"]
    assert set(index) >= {"commune", "epci", "departement", "region", "caf"}
    digests = set()
    for level, entry in index.items():
        tiles = entry["tuiles"]
        data = (current / "web" / tiles["file"]).read_bytes()
        assert tiles["file"] == f"{level}.pmtiles" and data[:7] == b"PMTiles"
        assert hashlib.sha256(data).hexdigest() == tiles["sha256"], level
        assert tiles["maxzoom"] == MAX_ZOOM[level]
        # Ids and geometry only (names come from /geo/<level>-noms.json), and every label
        # point in the `points` layer (the circles' source).
        assert tiles["format"] == TILES_FORMAT
        with (current / "web" / tiles["file"]).open("rb") as fh:
            meta = Reader(MmapSource(fh)).metadata()
        layers = {v["id"]: v["fields"] for v in meta["vector_layers"]}
        assert layers == {level: {}, POINTS_LAYER: {}}, level
        counts = {s["layer"]: s["count"] for s in meta["tilestats"]["layers"]}
        assert counts == {level: entry["features"], POINTS_LAYER: entry["features"]}, level
        digests.add(tiles["sha256"])
    assert len(digests) == len(index)
    assert not (current / "tuiles-entree").exists()  # the tiles' staging input removed


def test_second_build_is_skipped_and_force_rebuilds(built, tmp_path: Path) -> None:
    root, first, _ = built
    again = build(SOURCES, root, departements=CUT, log=lambda _: None)
    assert again.skipped and again.build_dir == first.build_dir


def test_interrupted_build_leaves_the_current_cache_serving(built) -> None:
    root, _, _ = built
    before = cache.require_active(root)
    # A build killed half-way leaves a .partial folder whose process is gone.
    dead = root / "builds" / f"20000101T000000-{2**22 + 12345}.partial"
    (dead / "geo").mkdir(parents=True)
    (dead / "geo" / "commune.parquet").write_bytes(b"half")
    assert cache.require_active(root) == before
    cache.drop_dead_partials(root)
    assert not dead.exists()
    assert cache.require_active(root) == before


def test_missing_cache_gives_a_french_message(tmp_path: Path) -> None:
    with pytest.raises(cache.CacheError, match="cafcarto build"):
        cache.require_active(tmp_path)


def test_cli_refuses_missing_sources_in_french(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CAFCARTO_SOURCES", str(tmp_path / "absent"))
    monkeypatch.setenv("CAFCARTO_CACHE", str(tmp_path / "cache"))
    assert cli(["build", "--no-download"]) == 2
    err = capsys.readouterr().err
    assert "Erreur" in err and "communes" in err
    assert not (tmp_path / "cache" / "current").exists()
    assert os.environ["CAFCARTO_SOURCES"].endswith("absent")


def test_a_failing_tile_job_fails_the_tiles_step_in_french(built, monkeypatch, tmp_path) -> None:
    # Levels are cut two at a time in threads: a tippecanoe failure must still reach the
    # caller, with the level named, and no level be recorded as tiled.
    root, _, _ = built
    current = cache.require_active(root)
    levels = {n: gpd.read_parquet(current / "geo" / f"{n}.parquet") for n in ("region", "caf")}
    monkeypatch.setattr(tiles, "tippecanoe_path", lambda: "false")
    web: dict[str, dict] = {name: {} for name in levels}
    (tmp_path / "web").mkdir()
    with pytest.raises(tiles.TilesError, match="tippecanoe a échoué pour (region|caf)"):
        write_all_tiles(levels, tmp_path, web)
    assert web == {"region": {}, "caf": {}}


def test_cli_ends_a_failing_tiles_step_with_a_french_error_and_publishes_nothing(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("CAFCARTO_CACHE", str(tmp_path))
    monkeypatch.setattr(tiles, "tippecanoe_path", lambda: "false")
    assert cli(["build", "--departements", "90", "--demo", "aucune", "--no-download"]) == 1
    err = capsys.readouterr().err
    assert "Erreur : tippecanoe a échoué" in err and "Traceback" not in err
    assert cache.active_dir(tmp_path) is None


def test_cli_ends_a_failing_geoparquet_child_in_french_and_publishes_nothing(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """The GeoParquet is written in a forked child beside the web geometry: its failure ends
    the build with the cause in one French line, no traceback, nothing published."""
    from geodata import build as build_module

    def disk_full(levels, folder) -> None:
        raise OSError(28, "plus de place sur le disque")

    monkeypatch.setenv("CAFCARTO_CACHE", str(tmp_path))
    monkeypatch.setattr(build_module, "_write_geo", disk_full)
    assert cli(["build", "--departements", "90", "--demo", "aucune", "--no-download"]) == 1
    err = capsys.readouterr().err
    assert "Erreur : l'écriture du GeoParquet a échoué" in err
    assert "plus de place sur le disque" in err and "Traceback" not in err
    assert cache.active_dir(tmp_path) is None
