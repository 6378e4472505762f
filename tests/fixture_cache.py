"""Build a small build cache following the `cafcarto build` contract, for tests and benches.

This is a stand-in for geodata's real build (no COG harmonisation, Caf = département): it only
reproduces the file layout and columns the serving side reads:

    geo/<level>.parquet          GeoParquet EPSG:4326, one row per territory
    web/<level>.geojson(.gz)     simplified, same row order, integer `id` = row index
    web/index.json               {"levels": {level: {file, sha256, features, bbox}}}
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

EQUAL_AREA = "EPSG:6933"
LEVELS_FROM_COMMUNES = ("region", "departement", "caf", "epci")


def _read_communes(sources: Path, departements: list[str] | None) -> gpd.GeoDataFrame:
    folder = sources / "geo" / "communes-2018"
    files = sorted(folder.glob("communes-*.geojson"))
    if departements is not None:
        wanted = {f"communes-{d}-" for d in departements}
        files = [f for f in files if any(f.name.startswith(w) for w in wanted)]
    frames = [gpd.read_file(f)[["code", "nom", "geometry"]] for f in files]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")


def _dep_of(code: str) -> str:
    return code[:3] if code.startswith("97") else code[:2]


def _communes_table(sources: Path, seed: int) -> gpd.GeoDataFrame:
    terr = sources / "territoires"
    table = pd.DataFrame(json.loads((terr / "communes.json").read_text(encoding="utf-8")))
    table = table[table["type"] == "commune-actuelle"].set_index("code")
    return table, json.loads((terr / "epci.json").read_text(encoding="utf-8"))


def _finish(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    gdf = gdf.sort_values("code").reset_index(drop=True)
    gdf["area_km2"] = gdf.geometry.to_crs(EQUAL_AREA).area / 1e6
    points = gdf.geometry.representative_point()
    gdf["label_lon"] = points.x
    gdf["label_lat"] = points.y
    return gdf


def communes_layer(sources: Path, departements: list[str] | None, seed: int = 0):
    """Commune polygons with codes of their departement, region, EPCI, Caf and a population."""
    gdf = _read_communes(sources, departements)
    table, epcis = _communes_table(sources, seed)
    epci_of = {m["code"]: e["code"] for e in epcis for m in e["membres"]}
    deps = json.loads((sources / "territoires" / "departements.json").read_text(encoding="utf-8"))
    region_of_dep = {d["code"]: d["region"] for d in deps}
    rng = np.random.default_rng(seed)
    gdf["departement"] = gdf["code"].map(_dep_of)
    gdf["region"] = gdf["departement"].map(region_of_dep)
    gdf["epci"] = gdf["code"].map(epci_of).fillna("ZZZZZZZZZ")
    gdf["caf"] = gdf["departement"]
    pop = gdf["code"].map(table["population"])
    fallback = pd.Series(rng.integers(50, 3000, len(gdf)), index=gdf.index)
    gdf["population"] = pop.fillna(fallback).astype("Int64")
    gdf["geometry"] = shapely.make_valid(gdf.geometry.values)
    return _finish(gdf), deps, epcis


def _aggregate(communes: gpd.GeoDataFrame, key: str, names: dict[str, str]) -> gpd.GeoDataFrame:
    parts = communes[[key, "population", "geometry"]].rename(columns={key: "code"})
    out = parts.dissolve(by="code", aggfunc={"population": "sum"}, method="coverage")
    out = out.reset_index()
    out["nom"] = out["code"].map(names).fillna(out["code"])
    return _finish(gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326"))


def _qpv(sources: Path) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(sources / "qpv" / "qp-2015-occitanie.geojson")
    ind = pd.read_csv(
        sources / "qpv" / "qp-2015-occitanie-indicateurs-insee.csv", encoding="utf-8-sig"
    )
    gdf = gdf.rename(columns={"code_qp": "code", "nom_qp": "nom"})[["code", "nom", "geometry"]]
    gdf["population"] = gdf["code"].map(ind.set_index("code_qp")["pop_mun"]).astype("Int64")
    return _finish(gdf.to_crs("EPSG:4326"))


def _iris(sources: Path) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(sources / "iris" / "iris-lyon-metropole.geojson")
    gdf = gdf.rename(columns={"id": "code", "libiris": "nom"})
    gdf["population"] = pd.to_numeric(gdf["p12_pop"], errors="coerce").round().astype("Int64")
    return _finish(gdf[["code", "nom", "population", "geometry"]].to_crs("EPSG:4326"))


def _round(geoms: np.ndarray, decimals: int) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.round(xy, decimals))


def write_web(gdf: gpd.GeoDataFrame, web: Path, level: str, tolerance: float) -> dict:
    """Write web/<level>.geojson(.gz) in row order and return its index.json entry."""
    geoms = gdf.geometry.values
    if tolerance > 0:
        geoms = shapely.coverage_simplify(geoms, tolerance)
    geoms = _round(np.asarray(geoms), 5)
    features = []
    for i, (code, nom, geom) in enumerate(zip(gdf["code"], gdf["nom"], geoms, strict=True)):
        features.append(
            {
                "type": "Feature",
                "id": i,
                "properties": {"code": code, "nom": nom},
                "geometry": json.loads(shapely.to_geojson(geom)),
            }
        )
    text = json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))
    raw = text.encode("utf-8")
    (web / f"{level}.geojson").write_bytes(raw)
    (web / f"{level}.geojson.gz").write_bytes(gzip.compress(raw, 9))
    return {
        "file": f"{level}.geojson",
        "sha256": hashlib.sha256(raw).hexdigest(),
        "features": len(features),
        "bbox": [round(float(v), 5) for v in gdf.total_bounds],
    }


def build_cache(
    dest: Path,
    sources: Path,
    departements: list[str] | None = None,
    *,
    tolerance: float = 0.003,
    seed: int = 0,
) -> Path:
    """Build a cache in `dest` from the raw sources (all of France when departements is None)."""
    dest = Path(dest)
    geo, web = dest / "geo", dest / "web"
    geo.mkdir(parents=True, exist_ok=True)
    web.mkdir(parents=True, exist_ok=True)
    communes, deps, epcis = communes_layer(sources, departements, seed)
    regions = json.loads((sources / "territoires" / "regions.json").read_text(encoding="utf-8"))
    dep_names = {d["code"]: d["nom"] for d in deps}
    names = {
        "region": {r["code"]: r["nom"] for r in regions},
        "departement": dep_names,
        "caf": {k: f"Caf {v}" for k, v in dep_names.items()},
        "epci": {e["code"]: e["nom"] for e in epcis},
    }
    layers = {"commune": communes}
    for level in LEVELS_FROM_COMMUNES:
        layers[level] = _aggregate(communes, level, names[level])
    layers["qpv"] = _qpv(sources)
    layers["iris"] = _iris(sources)
    index = {}
    for level, gdf in layers.items():
        gdf.to_parquet(geo / f"{level}.parquet")
        index[level] = write_web(gdf, web, level, 0.0 if level in ("qpv", "iris") else tolerance)
    (web / "index.json").write_text(json.dumps({"levels": index}, indent=1), encoding="utf-8")
    (dest / "manifest.json").write_text(json.dumps({"builder": "tests/fixture_cache.py"}))
    return dest


if __name__ == "__main__":
    import sys

    from dashboard.config import Settings

    target = Path(sys.argv[1])
    deps_arg = sys.argv[2].split(",") if len(sys.argv) > 2 else None
    build_cache(target, Settings.from_env().sources, deps_arg)
    print(json.dumps(json.loads((target / "web" / "index.json").read_text()), indent=1))
