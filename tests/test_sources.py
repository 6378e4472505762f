"""Manifest, verification, sha cache, fingerprint and French errors of geodata.sources."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from geodata import sources
from geodata.sources import (
    DECOUPAGE_TGZ,
    FRANCE_GEOJSON_RAW,
    SHA_CACHE_NAME,
    SourceError,
    SourceFile,
    build_manifest,
    fingerprint,
    load_manifest,
    locate_sources,
    require_sources,
    verify_sources,
    write_manifest,
)

SHARED = Path("/work/shared/data")
needs_shared = pytest.mark.skipif(
    not (SHARED / "territoires" / "regions.json").is_file(), reason="no shared raw sources"
)


def _entry(path: str, data: bytes, *, required: bool = True, level: str = "test") -> SourceFile:
    return SourceFile(
        path=path,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        required=required,
        level=level,
        url=f"https://example.invalid/{path}",
    )


@pytest.fixture
def mini(tmp_path: Path) -> tuple[Path, list[SourceFile]]:
    """A 3-file sources dir (2 required, 1 optional) and its manifest entries."""
    root = tmp_path / "src"
    contents = {
        "geo/a.geojson": b'{"type":"FeatureCollection","features":[]}' * 20,
        "territoires/b.json": b'[{"code":"01"}]' * 30,
        "iris/c.geojson": b"optional" * 10,
    }
    files = []
    for rel, data in contents.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        files.append(_entry(rel, data, required=not rel.startswith("iris")))
    return root, files


def test_manifest_describes_the_whole_layout() -> None:
    files = load_manifest()
    by_path = {f.path: f for f in files}
    assert len(by_path) == len(files) == 119  # 101 commune files, 12 others, 6 national QPV, IRIS
    communes = [f for f in files if f.level == "communes"]
    assert len(communes) == 101
    assert all(f.required and f.url and f.url.startswith(FRANCE_GEOJSON_RAW) for f in communes)
    corse = by_path["geo/communes-2018/communes-2A-corse-du-sud.geojson"]
    assert corse.url == (
        f"{FRANCE_GEOJSON_RAW}/departements/2A-corse-du-sud/communes-2A-corse-du-sud.geojson"
    )
    deps = by_path["geo/departements-regions/departements-avec-outre-mer.geojson"]
    assert deps.required and deps.url == f"{FRANCE_GEOJSON_RAW}/departements-avec-outre-mer.geojson"
    for name in ("communes", "epci", "departements", "regions", "arrondissements", "ept"):
        f = by_path[f"territoires/{name}.json"]
        assert f.required and f.url == DECOUPAGE_TGZ and f.member == f"package/data/{name}.json"
        assert f.archive_size and f.archive_sha256 and len(f.archive_sha256) == 64
    iris = by_path["iris/iris-lyon-metropole.geojson"]
    assert not iris.required and iris.url is None and "CONTOURS-IRIS" in iris.origin
    assert not by_path["qpv/qp-2015-occitanie.geojson"].required
    assert all(len(f.sha256) == 64 and f.size > 0 for f in files)


def test_manifest_gives_the_official_addresses_of_the_national_files() -> None:
    by_path = {f.path: f for f in load_manifest()}
    shapefile = [p for p in by_path if p.startswith("qpv/qpv-2015-france/")]
    assert {Path(p).suffix for p in shapefile} >= {".shp", ".dbf", ".shx", ".prj"}
    iris = by_path["iris/iris-2020-metropole.geojson.gz"]
    assert iris.official.startswith("https://data.geopf.fr/") and "CONTOURS-IRIS" in iris.official
    assert "2020" in iris.official and "geoservices.ign.fr/contoursiris" in iris.origin
    for f in [iris, *(by_path[p] for p in shapefile)]:
        # Local copies are not the producers' bytes: never fetched and checked against them.
        assert f.url is None and not f.required and f.licence.startswith("Licence Ouverte")
        assert f.official in f.where_to_download()
    qpv = by_path["qpv/qpv-2015-france/QP_METROPOLEOUTREMER_WGS84_EPSG4326.shp"]
    assert "data.gouv.fr" in qpv.official and "sig.ville.gouv.fr" in qpv.origin
    assert "2024" in qpv.origin


@needs_shared
def test_shipped_manifest_is_up_to_date_with_shared_data() -> None:
    fresh = build_manifest(SHARED)["files"]
    shipped = json.loads(sources.MANIFEST_PATH.read_text(encoding="utf-8"))["files"]
    assert fresh == shipped


@needs_shared
def test_warm_deep_verify_uses_sha_cache_and_is_fast(tmp_path: Path, monkeypatch) -> None:
    assert verify_sources(SHARED, deep=True, cache_dir=tmp_path) == []
    assert (tmp_path / SHA_CACHE_NAME).is_file()

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"sha256 recomputed for {path}")

    monkeypatch.setattr(sources, "sha256_file", no_hashing)
    start = time.perf_counter()
    assert verify_sources(SHARED, deep=True, cache_dir=tmp_path) == []
    assert time.perf_counter() - start < 0.5


def test_verify_detects_missing_wrong_size_and_corruption(mini, tmp_path: Path) -> None:
    root, files = mini
    assert verify_sources(root, files=files) == []
    assert verify_sources(root, deep=True, files=files, cache_dir=tmp_path) == []

    (root / "geo/a.geojson").unlink()
    b = root / "territoires/b.json"
    data = bytearray(b.read_bytes())
    data[3] ^= 0x01  # same size, different content
    b.write_bytes(bytes(data))
    (root / "iris/c.geojson").write_bytes(b"too short")

    shallow = {p.file.path: p.kind for p in verify_sources(root, files=files)}
    assert shallow == {"geo/a.geojson": "missing", "iris/c.geojson": "size"}
    deep = {
        p.file.path: p for p in verify_sources(root, deep=True, files=files, cache_dir=tmp_path)
    }
    assert {k: p.kind for k, p in deep.items()} == {
        "geo/a.geojson": "missing",
        "territoires/b.json": "checksum",
        "iris/c.geojson": "size",
    }
    assert deep["territoires/b.json"].target == root / "territoires/b.json"
    assert "corrompu" in deep["territoires/b.json"].describe()


def test_sha_cache_is_keyed_by_size_and_mtime(mini, tmp_path: Path, monkeypatch) -> None:
    root, files = mini
    verify_sources(root, deep=True, files=files, cache_dir=tmp_path)
    cache = json.loads((tmp_path / SHA_CACHE_NAME).read_text())
    assert str((root / "geo/a.geojson").resolve()) in cache

    calls: list[Path] = []
    real = sources.sha256_file
    monkeypatch.setattr(sources, "sha256_file", lambda p: calls.append(p) or real(p))
    verify_sources(root, deep=True, files=files, cache_dir=tmp_path)
    assert calls == []  # warm: only stat

    target = root / "geo/a.geojson"
    data = bytearray(target.read_bytes())
    data[0] ^= 0x01
    stat = target.stat()
    target.write_bytes(bytes(data))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    problems = verify_sources(root, deep=True, files=files, cache_dir=tmp_path)
    assert [(p.file.path, p.kind) for p in problems] == [("geo/a.geojson", "checksum")]
    assert calls == [target]


def test_missing_sources_dir_error_names_urls_and_targets(tmp_path: Path) -> None:
    absent = tmp_path / "nowhere" / "sources"
    with pytest.raises(SourceError) as err:
        locate_sources(absent)
    message = str(err.value)
    assert f"{absent} n'existe pas" in message
    assert "`cafcarto build --download`" in message
    assert f"{FRANCE_GEOJSON_RAW}/departements/" in message
    assert DECOUPAGE_TGZ in message
    assert str(absent / "geo" / "communes-2018") in message
    assert str(absent / "territoires") in message
    assert "CONTOURS-IRIS" in message  # the file without URL says where the official one is
    assert len(err.value.problems) == len(load_manifest())
    assert locate_sources(absent, allow_missing=True) == absent


def test_locate_sources_env_and_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CAFCARTO_SOURCES", str(tmp_path))
    assert locate_sources(None) == tmp_path.resolve()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(SourceError, match="est un fichier"):
        locate_sources(a_file)


def test_error_for_bad_files_names_url_and_full_path(tmp_path: Path) -> None:
    manifest = {f.path: f for f in load_manifest()}
    wanted = [
        manifest["territoires/regions.json"],
        manifest["geo/communes-2018/communes-75-paris.geojson"],
    ]
    problems = verify_sources(tmp_path, files=wanted)
    message = str(SourceError.from_problems(tmp_path, problems))
    assert "2 fichiers obligatoires manquants ou corrompus" in message
    assert "territoires/regions.json : manquant" in message
    assert f"{DECOUPAGE_TGZ} (membre package/data/regions.json)" in message
    assert str(tmp_path / "territoires" / "regions.json") in message
    assert f"{FRANCE_GEOJSON_RAW}/departements/75-paris/communes-75-paris.geojson" in message
    assert str(tmp_path / "geo" / "communes-2018" / "communes-75-paris.geojson") in message
    assert "cafcarto build --download" in message

    many = verify_sources(tmp_path)  # everything missing: the list is cut short
    long_message = str(SourceError.from_problems(tmp_path, many))
    assert "… et " in long_message and "--check" in long_message
    assert len(long_message.splitlines()) < 40


def test_require_sources_raises_for_required_and_notices_optional(mini, monkeypatch) -> None:
    root, files = mini
    monkeypatch.setattr(sources, "load_manifest", lambda path=None: files)
    (root / "iris/c.geojson").unlink()
    notices = require_sources(root)
    assert len(notices) == 1 and "iris/c.geojson" in notices[0] and "ignoré" in notices[0]
    (root / "geo/a.geojson").unlink()
    with pytest.raises(SourceError, match="geo/a.geojson"):
        require_sources(root)


def test_fingerprint_follows_content_not_mtime(mini, tmp_path: Path) -> None:
    root, files = mini
    cache = tmp_path / "cache"
    first = fingerprint(root, files=files, cache_dir=cache)
    assert first == fingerprint(root, files=files, cache_dir=cache)
    target = root / "territoires/b.json"
    os.utime(target, ns=(0, 1_000_000_000))  # touched only
    assert fingerprint(root, files=files, cache_dir=cache) == first
    target.write_bytes(target.read_bytes() + b" ")
    changed = fingerprint(root, files=files, cache_dir=cache)
    assert changed != first
    (root / "iris/c.geojson").unlink()
    assert fingerprint(root, files=files, cache_dir=cache) not in (first, changed)
    assert fingerprint(root, files=files) == fingerprint(root, files=files, cache_dir=cache)


def test_build_and_write_manifest_on_a_small_layout(tmp_path: Path) -> None:
    root = tmp_path / "src"
    payload = {
        "geo/communes-2018/communes-2A-corse-du-sud.geojson": b"{}",
        "territoires/epci.json": b"[]",
        "iris/iris-lyon-metropole.geojson": b"{ }",
        "SOURCES.md": b"not part of the layout",
    }
    for rel, data in payload.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    out = write_manifest(root, tmp_path / "manifest.json")
    files = {f.path: f for f in load_manifest(out)}
    assert set(files) == set(payload) - {"SOURCES.md"}
    epci = files["territoires/epci.json"]
    assert epci.member == "package/data/epci.json" and epci.archive_sha256
    assert epci.sha256 == hashlib.sha256(b"[]").hexdigest() and epci.size == 2
    assert files["iris/iris-lyon-metropole.geojson"].url is None
    assert verify_sources(root, deep=True, files=list(files.values())) == []
    # The helper dataclass stays hashable/immutable for callers that key on it.
    assert replace(epci, size=3) != epci
