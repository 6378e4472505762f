"""Integration tests of the HTTP routes (Flask test client) on a small real-data cache."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from dashboard.app import create_app
from dashboard.vendor import VENDOR_FILES, missing_files
from geodata.cache import require_active
from layers.config import Settings
from layers.geocache import build_dir, web_levels
from layers.map_spec import map_spec


@pytest.fixture(scope="module")
def client(settings: Settings):
    return create_app(settings).server.test_client()


def _index(cache: Path) -> dict:
    return json.loads((cache / "web" / "index.json").read_text())["levels"]


def test_geometry_is_served_precompressed_with_strong_etag(client, small_cache: Path) -> None:
    entry = _index(build_dir(small_cache))["commune"]
    version = entry["sha256"][:12]
    resp = client.get(f"/geo/commune.geojson?v={version}", headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert "max-age=31536000" in resp.headers["Cache-Control"]
    assert "Accept-Encoding" in resp.headers["Vary"]
    etag = resp.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    data = json.loads(gzip.decompress(resp.data))
    assert len(data["features"]) == entry["features"]
    assert [f["id"] for f in data["features"][:3]] == [0, 1, 2]

    again = client.get(
        f"/geo/commune.geojson?v={version}",
        headers={"Accept-Encoding": "gzip", "If-None-Match": etag},
    )
    assert again.status_code == 304 and again.data == b""


def test_geometry_plain_when_gzip_not_accepted(client, small_cache: Path) -> None:
    resp = client.get("/geo/departement.geojson", headers={"Accept-Encoding": "identity"})
    assert resp.status_code == 200
    assert "Content-Encoding" not in resp.headers
    assert resp.headers["Cache-Control"] == "no-cache"  # no version: revalidate
    data = json.loads(resp.data)
    assert data["type"] == "FeatureCollection"
    gz_etag = client.get("/geo/departement.geojson", headers={"Accept-Encoding": "gzip"}).headers
    assert gz_etag["ETag"] != resp.headers["ETag"]


def test_geometry_order_matches_parquet(small_cache: Path) -> None:
    geo = pd.read_parquet(build_dir(small_cache) / "geo" / "commune.parquet", columns=["code"])
    web = json.loads((build_dir(small_cache) / "web" / "commune.geojson").read_text())
    assert [f["properties"]["code"] for f in web["features"]] == geo["code"].tolist()


@pytest.mark.parametrize("level", ["inconnu", "commune.geojson", "COMMUNE"])
def test_geometry_unknown_level_is_a_french_404(client, level: str) -> None:
    resp = client.get(f"/geo/{level}.geojson")
    assert resp.status_code == 404
    assert "inconnu" in resp.get_json()["erreur"].lower()


def test_geometry_route_does_not_traverse(client) -> None:
    # An encoded slash leaves the /geo/<level> route (Dash then serves its page): no file leaks.
    for url in ("/geo/..%2Fweb%2Findex.geojson", "/geo/%2E%2E%2Fmanifest.geojson"):
        resp = client.get(url)
        assert b"FeatureCollection" not in resp.data and b'"levels"' not in resp.data


def test_api_population_is_aligned_to_geometry(client, small_cache: Path) -> None:
    resp = client.get("/api/carte/commune?indicateur=population")
    assert resp.status_code == 200
    body = resp.get_json()
    n = _index(build_dir(small_cache))["commune"]["features"]
    assert body["niveau"] == "commune" and body["indicateur"] == "population"
    assert body["libelle"] == "Population municipale" and body["unite"] == "habitants"
    assert len(body["valeurs"]) == len(body["classes"]) == n
    k = len(body["couleurs"])
    assert all(-1 <= c < k for c in body["classes"])
    pairs = zip(body["valeurs"], body["classes"], strict=True)
    assert all((v is None) == (c == -1) for v, c in pairs)
    legend = body["legende"]
    assert legend[-1]["libelle"] == "Pas de données"
    assert sum(row["effectif"] for row in legend) == n
    assert {"min", "max", "couleur", "libelle", "effectif"} <= set(legend[0])


def test_api_density_of_qpv_and_missing_values(client, settings: Settings) -> None:
    body = client.get("/api/carte/qpv?indicateur=densite").get_json()
    assert body["unite"] == "hab./km²"
    qpv = pd.read_parquet(require_active(settings.cache) / "geo" / "qpv.parquet")
    assert len(body["valeurs"]) == len(qpv)  # every QPV of the test build, one value each
    # INSEE's population covers only the Occitanie QPV: the others have no density.
    assert sum(v is None for v in body["valeurs"]) == int(qpv["population"].isna().sum()) > 0
    assert "\u2013" in body["legende"][0]["libelle"]


def test_api_gzip_and_etag(client) -> None:
    url = "/api/carte/commune?indicateur=densite"
    resp = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert resp.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(resp.data))
    assert body["indicateur"] == "densite"
    cached = client.get(
        url, headers={"Accept-Encoding": "gzip", "If-None-Match": resp.headers["ETag"]}
    )
    assert cached.status_code == 304


@pytest.mark.parametrize(
    ("url", "status", "word"),
    [
        ("/api/carte/pays?indicateur=population", 404, "niveau"),
        ("/api/carte/commune?indicateur=chomage", 400, "indicateur"),
        ("/api/carte/commune?indicateur=%3Cscript%3E", 400, "indicateur"),
    ],
)
def test_api_rejects_unknown_parameters_in_french(client, url: str, status: int, word: str) -> None:
    resp = client.get(url)
    assert resp.status_code == status
    body = resp.get_json()
    assert word in body["erreur"].lower()
    assert body["statut"] == status


def test_vendor_route_serves_only_whitelisted_files(tmp_path: Path, small_cache: Path) -> None:
    vendor = tmp_path / "vendor"
    for rel in VENDOR_FILES.values():
        (vendor / rel).parent.mkdir(parents=True, exist_ok=True)
        (vendor / rel).write_text("/* ok */")
    (vendor / "package.json").write_text('{"secret": true}')
    settings = Settings(sources=tmp_path, cache=small_cache, vendor=vendor)
    client = create_app(settings).server.test_client()
    resp = client.get("/vendor/maplibre-gl.mjs")
    assert resp.status_code == 200 and resp.mimetype == "text/javascript"
    assert client.get("/vendor/bootstrap.min.css").mimetype == "text/css"
    for bad in ("/vendor/package.json", "/vendor/..%2Fpackage.json", "/vendor/%2E%2E/package.json"):
        resp = client.get(bad)
        assert b"secret" not in resp.data


def test_app_starts_without_cache_nor_vendor_and_explains_in_french(tmp_path: Path) -> None:
    settings = Settings(sources=tmp_path, cache=tmp_path / "nocache", vendor=tmp_path / "novendor")
    assert missing_files(settings.vendor)
    client = create_app(settings).server.test_client()
    assert client.get("/").status_code == 200
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "cafcarto build" in layout and "make run" in layout
    assert client.get("/api/carte/commune").status_code == 404
    assert client.get("/geo/commune.geojson").status_code == 404


def test_map_spec_is_small_and_validated(settings: Settings) -> None:
    levels = web_levels(settings.cache)
    spec = map_spec(levels, "commune", "densite")
    assert spec is not None
    assert spec["geometrie"].startswith("/geo/commune.geojson?v=")
    assert spec["valeurs"].startswith("/api/carte/commune?indicateur=densite")
    assert spec["bordures"].startswith("/geo/departement.geojson")
    assert spec["titre"] == "Densité de population par commune"
    # The fixture spans Martinique to Corse: a national level frames métropole instead.
    assert spec["emprise"][0] > -10
    assert map_spec(levels, "iris", "population")["bordures"] is None
    assert map_spec(levels, "pays", "population") is None
    assert map_spec(levels, "commune", "chomage") is None
    assert len(json.dumps(spec)) < 2000
    # Codes and names by feature id, circles on the tiles' own points...
    assert spec["noms"] == f"/geo/commune-noms.json?v={levels['commune'].version}"
    assert spec["tuiles_points"] is True
    # ...but not on tiles cut before those points existed (a cache not rebuilt yet): the map
    # then loads the GeoJSON points, and reads codes and names from the tiles.
    older = replace(levels["commune"], tiles_format=1)
    assert map_spec({**levels, "commune": older}, "commune", "densite")["tuiles_points"] is False


def test_missing_level_in_cache_is_a_404(settings: Settings, tmp_path: Path) -> None:
    index = json.loads((build_dir(settings.cache) / "web" / "index.json").read_text())
    del index["levels"]["iris"]
    cache = tmp_path / "partial"
    build = cache / "builds" / "b1"
    (build / "web").mkdir(parents=True)
    (build / "web" / "index.json").write_text(json.dumps(index))
    (build / "manifest.json").write_text("{}")
    (cache / "current").symlink_to(build)
    client = create_app(replace(settings, cache=cache)).server.test_client()
    resp = client.get("/api/carte/iris?indicateur=population")
    assert resp.status_code == 404
    assert "cafcarto build" in resp.get_json()["erreur"]


def test_vector_tiles_are_served_from_the_pmtiles_archive(client) -> None:
    # z5 tile over Lyon (x=16, y=11) holds Rhône communes, as geometry and feature ids only:
    # no code nor name (the map takes them from /geo/commune-noms.json).
    resp = client.get("/tuiles/commune/5/16/11.pbf?v=x", headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert "immutable" in resp.headers["Cache-Control"]
    data = gzip.decompress(resp.data)
    assert b"commune" in data and len(data) > 1000  # the layer, with its polygons
    assert b"69123" not in data and b"Lyon" not in data and b"nom" not in data
    plain = client.get("/tuiles/commune/5/16/11.pbf")
    assert "Content-Encoding" not in plain.headers and plain.data == data
    assert client.get("/tuiles/commune/5/0/0.pbf").status_code == 204  # nothing there


def test_level_names_follow_the_feature_ids(client) -> None:
    resp = client.get("/geo/commune-noms.json?v=x", headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200 and resp.headers["Content-Encoding"] == "gzip"
    assert "immutable" in resp.headers["Cache-Control"] and resp.headers["ETag"]
    body = json.loads(gzip.decompress(resp.data))
    web = json.loads(client.get("/geo/commune.geojson").data)
    # Feature id i of the geometry (and of the tiles, cut from it) is row i of the names.
    assert len(body["codes"]) == len(body["noms"]) == len(web["features"])
    for f in web["features"]:
        assert body["codes"][f["id"]] == f["properties"]["code"]
        assert body["noms"][f["id"]] == f["properties"]["nom"]
    assert body["noms"][body["codes"].index("69123")] == "Lyon"
    assert client.get("/geo/commune-noms.json").headers["Cache-Control"] == "no-cache"
    for bad in ("/geo/pays-noms.json", "/geo/" + "x" * 300 + "-noms.json"):
        refused = client.get(bad)
        assert refused.status_code == 404 and "niveau" in refused.get_json()["erreur"].lower()


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/tuiles/commune/5/40/11.pbf", 400),
        ("/tuiles/commune/30/0/0.pbf", 400),
        ("/tuiles/pays/1/0/0.pbf", 404),
    ],
)
def test_bad_tile_requests_get_a_french_error(client, url: str, status: int) -> None:
    resp = client.get(url)
    assert resp.status_code == status
    assert resp.get_json()["erreur"]
