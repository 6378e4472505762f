"""Which QPV and IRIS files the build reads, and what it could not place.

The national files (`qpv/qpv-2015-france/`, `iris/iris-2020-metropole.geojson.gz`) are read when
present; otherwise the samples (105 QPV of Occitanie, 358 IRIS around Lyon), and the log says so.
A cut build (some départements) filters the national files while reading them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import geopandas as gpd

from geodata.arm import build_arm, build_commune_arm
from geodata.cog import Cog
from geodata.infra import load_iris, load_qpv
from geodata.qpv2024 import with_qpv2024
from geodata.qpv_national import departement_of_qpv, load_national_qpv
from layers.progress import weighing

QPV_NATIONAL = Path("qpv") / "qpv-2015-france"
QPV_SAMPLE = Path("qpv") / "qp-2015-occitanie.geojson"
QPV_INDICATORS = Path("qpv") / "qp-2015-occitanie-indicateurs-insee.csv"
IRIS_NATIONAL = Path("iris") / "iris-2020-metropole.geojson.gz"
IRIS_SAMPLE = Path("iris") / "iris-lyon-metropole.geojson"


def iris_where(departements: Iterable[str] | None) -> str | None:
    """OGR SQL filter of the national IRIS file on some départements (read only those)."""
    if departements is None:
        return None
    deps = sorted(set(departements))
    if not all(re.fullmatch(r"[0-9AB]{2,3}", d) for d in deps):
        raise ValueError(f"codes de département invalides : {', '.join(deps)}")
    return " OR ".join(f"INSEE_COM LIKE '{d}%'" for d in deps)


def _qpv(sources: Path, cog: Cog, communes: gpd.GeoDataFrame, deps, log) -> gpd.GeoDataFrame:
    indicators = sources / QPV_INDICATORS
    if (sources / QPV_NATIONAL).is_dir():
        return load_national_qpv(sources / QPV_NATIONAL, cog, communes, deps, indicators)
    sample = sources / QPV_SAMPLE
    if not sample.exists():
        log(f"  QPV absents ({sources / QPV_NATIONAL}, {sample}) : niveau QPV non construit.")
        return gpd.GeoDataFrame()
    log(f"  QPV nationaux absents ({sources / QPV_NATIONAL}) : échantillon {sample.name}.")
    zones = load_qpv(sample, cog, indicators)
    return zones[zones["commune"].isin(cog.communes["code"])].reset_index(drop=True)


def _iris(sources: Path, cog: Cog, deps, log) -> gpd.GeoDataFrame:
    national = sources / IRIS_NATIONAL
    if national.exists():
        return load_iris(national, cog, where=iris_where(deps))
    sample = sources / IRIS_SAMPLE
    if not sample.exists():
        log(f"  IRIS absents ({national}, {sample}) : niveau IRIS non construit.")
        return gpd.GeoDataFrame()
    log(f"  IRIS nationaux absents ({national}) : échantillon {sample.name}.")
    zones = load_iris(sample, cog)
    return zones[zones["commune"].isin(cog.communes["code"])].reset_index(drop=True)


# CPU seconds of each part on the national sources (2026-11-29): the bar's weights, the IRIS
# file (48,592 contours) holding most of the step.
PARTS_S = {"qpv": 0.6, "iris": 6.2, "arm": 2.0, "commune_arm": 1.7}


def infra_levels(
    sources: Path,
    cog: Cog,
    communes: gpd.GeoDataFrame,
    departements: list[str] | None,
    log: Callable[[str], None],
) -> dict[str, gpd.GeoDataFrame]:
    """QPV, IRIS, municipal arrondissements and the communes-and-arrondissements view."""
    label = "QPV, IRIS et arrondissements"
    with weighing(label, list(PARTS_S.values()), sys.stderr, unit="niveaux") as done:
        out = {"qpv": _qpv(sources, cog, communes, departements, log)}
        out["qpv"] = with_qpv2024(out["qpv"], sources, cog, communes, departements, log)
        done(PARTS_S["qpv"])
        out["iris"] = _iris(sources, cog, departements, log)
        done(PARTS_S["iris"])
        if len(out["iris"]):
            out["arm"] = build_arm(out["iris"], communes, cog)
        done(PARTS_S["arm"])
        if len(out.get("arm", ())):
            out["commune_arm"] = build_commune_arm(communes, out["arm"])
        done(PARTS_S["commune_arm"])
    return {k: v for k, v in out.items() if len(v)}


def unplaced(levels: dict[str, gpd.GeoDataFrame]) -> dict[str, list[dict]]:
    """QPV and IRIS with no commune (outside every commune polygon, or an unknown code)."""
    out = {}
    for name, extra in (("qpv", "communes_qp"), ("iris", "commune_source")):
        if name in levels:
            lost = levels[name][levels[name]["commune"].isna()]
            cols = ["code", "nom", *([extra] if extra in lost else [])]
            out[f"{name}_non_places"] = lost[cols].astype(str).to_dict("records")
    return out


def unplaced_summary(records: list[dict]) -> str:
    """« 78 (987 : 76, 978 : 2) »: how many, by the territory their code names."""
    groups: dict[str, int] = {}
    for rec in records:
        code = rec["code"]
        key = departement_of_qpv(code) if code.startswith("QP") else code[:2]
        groups[key] = groups.get(key, 0) + 1
    detail = ", ".join(f"{k} : {n}" for k, n in sorted(groups.items()))
    return f"{len(records)} ({detail})" if records else "0"
