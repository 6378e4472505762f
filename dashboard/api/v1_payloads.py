"""JSON bodies of the API v1 (English keys), built from the store and the territory index.

Values come from `layers.views.layer()` or go through `published_value`, which blank any cell
that is not published.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache

import numpy as np
import pandas as pd

from dashboard.api.v1_params import DataQuery
from geodata.cache import active_dir
from layers.appdata import AppData, StoreInfo
from layers.catalogue import BY_ID, CATEGORIES, INDICATORS, in_subtheme
from layers.export_tables import ExportMeta, published_value, to_geojson
from layers.facilities import facility_places
from layers.model import EAJE, FACILITY_CATEGORY, Indicator, level_name
from layers.provenance import Provenance
from layers.series_notes import api_fields, source_line
from layers.store import Store
from layers.territory_index import Territory, TerritoryIndex
from layers.views import STATUS_API, ViewError

KEY_FIGURES = (
    "allocataires",
    "personnes_couvertes",
    "taux_personnes_couvertes",
    "monoparentales",
    "aides_logement",
    "rsa",
    "ppa",
    "aah",
    "af",
    "paje",
)


def clean(value: object) -> object:
    """A cell as JSON: None for NA and non-finite numbers, numpy scalars as Python ones."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def whole(value: float | None) -> float | int | None:
    """Populations are head counts: 519127, not 519127.0."""
    return int(value) if value is not None and float(value).is_integer() else value


def store_kind(info: StoreInfo | None) -> str | None:
    if info is None:
        return None
    return "demonstration" if info.demo else "reel"


# --------------------------------------------------------------------------------------------
# Catalogue


def indicator_entry(
    ind: Indicator, avail: dict[tuple[str, str], list[str]], built: list[str]
) -> dict:
    by_level = {
        lvl: avail[(ind.id, lvl)] for lvl in ind.levels if avail.get((ind.id, lvl)) and lvl in built
    }
    periods = sorted({p for ps in by_level.values() for p in ps})
    return {
        "id": ind.id,
        "title": ind.title,
        "kind": ind.api_kind,
        "unit": ind.unit,
        "decimals": ind.decimals,
        "levels": list(by_level),
        "periods": periods,
        "periods_by_level": by_level,
        "definition": ind.definition,
        "source": ind.source,
        "frequency": {lvl: ind.frequency(lvl) for lvl in by_level},
        "field": ind.scope,
        "granularity": ind.granularity,
        "observations": ind.observations,
        "last_update": ind.last_update,
        "keywords": list(ind.keywords),
        "labelled_series": ind.labelled_series,
        "computed_from": list(ind.computed_from) if ind.computed_from else None,
        "category": ind.category,
        "theme": ind.theme,
        "subtheme": ind.subtheme,
    }


def catalog_payload(info: StoreInfo, built: list[str]) -> dict:
    avail = info.store.availability()
    themes = [
        {
            "category": cat,
            "theme": theme,
            "subthemes": [
                {"subtheme": sub, "indicators": in_subtheme(cat, theme, sub)} for sub in subs
            ],
        }
        for cat, theme_map in CATEGORIES.items()
        for theme, subs in theme_map.items()
    ]
    return {
        "themes": themes,
        "indicators": [indicator_entry(i, avail, built) for i in INDICATORS],
        "demo": info.demo,
        "notice": info.notice,
    }


# --------------------------------------------------------------------------------------------
# Data


def series_provenance(prov: Provenance | None, ind: Indicator) -> dict:
    """`source` (its line, dataset, field, update date, portal page), `regime`, `arrondi`,
    `note` and `approximatif` of one series, as /api/v1/data and the territories say them."""
    fields = api_fields(prov)
    fields["source"] = {
        "text": source_line(prov, ind),
        **(fields["source"] or {"jeu": None, "champ": None, "mis_a_jour": None, "url": None}),
    }
    return fields


def data_json(
    query: DataQuery, info: StoreInfo, index: TerritoryIndex, rows: pd.DataFrame, total: int
) -> dict:
    """The JSON answer of /api/v1/data: one page (`rows`, export columns) of `total` rows."""
    parent_info = None
    if query.parent is not None:
        parent_info = {
            "level": query.parent[0],
            "code": query.parent[1],
            "name": index.name(*query.parent),
        }
    ind = query.ind
    return {
        "indicator": ind.id,
        "title": ind.title,
        "level": query.level,
        "period": query.period,
        "parent": parent_info,
        "unit": ind.unit,
        "kind": ind.api_kind,
        "decimals": ind.decimals,
        **series_provenance(info.store.provenance(ind.id, query.level, query.period), ind),
        "notice": info.notice,
        "total": total,
        "offset": query.offset,
        "limit": query.limit,
        "rows": [
            {"code": c, "name": n, "value": clean(v), "status": s}
            for c, n, v, s in zip(
                rows["code"], rows["nom"], rows["valeur"], rows["statut"], strict=True
            )
        ],
    }


def data_geojson(
    query: DataQuery,
    rows: pd.DataFrame,
    fids: list[int],
    features: tuple[dict, ...],
    total: int,
    meta: ExportMeta,
) -> str:
    """The GeoJSON answer of /api/v1/data: the page's features, with the paging fields."""
    doc = to_geojson(rows, fids, features, meta)
    doc["total"], doc["offset"], doc["limit"] = total, query.offset, query.limit
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@lru_cache(maxsize=4)
def _read_features(path: str, mtime_ns: int) -> tuple[dict, ...]:
    with open(path, encoding="utf-8") as fh:
        return tuple(json.load(fh)["features"])


def web_features(data: AppData, index: TerritoryIndex, level: str) -> tuple[dict, ...]:
    """Simplified web geometry of a level, feature i = row i of the level table."""
    build = active_dir(data.settings.cache)
    path = (build or data.settings.cache) / "web" / f"{level}.geojson"
    try:
        features = _read_features(str(path), path.stat().st_mtime_ns)
    except OSError as exc:
        raise ViewError(
            f"La géométrie web du niveau {level_name(level)} est absente.", 404
        ) from exc
    codes = index.table(level)["code"].tolist()
    if len(features) != len(codes) or any(
        str(f.get("properties", {}).get("code")) != c for f, c in zip(features, codes, strict=True)
    ):
        raise ViewError(
            f"Le cache du niveau « {level} » est incohérent : relancez « cafcarto build ».", 500
        )
    return features


# --------------------------------------------------------------------------------------------
# Territories


def parents_payload(index: TerritoryIndex, parents: dict[str, str]) -> dict[str, dict]:
    return {
        lvl: {"code": code, "name": index.name(lvl, code)}
        for lvl, code in parents.items()
        if lvl in index.levels()
    }


def key_figures(store: Store, index: TerritoryIndex, level: str, code: str) -> list[dict]:
    avail = store.availability()
    inds = [BY_ID[i] for i in KEY_FIGURES if avail.get((i, level))]
    if not inds:
        return []
    # The territory's series: a lookup in the store's cell tables (a Parquet scan without),
    # as arrays (a frame and its rows cost more than the lookup).
    col = store.page_columns([i.id for i in inds], (level, code), [], [])
    found = dict(
        zip(
            zip(col["indicateur"], col["periode"], strict=True),
            zip(col["valeur"], col["statut"], strict=True),
            strict=True,
        )
    )
    out = []
    for ind in inds:
        period = avail[(ind.id, level)][-1]
        value, statut = found.get((ind.id, period), (None, "manquant"))
        out.append(
            {
                "indicator": ind.id,
                "title": ind.title,
                "unit": ind.unit,
                "period": period,
                "value": published_value(value, statut, ind.decimals),
                "status": STATUS_API.get(statut, "missing"),
                **series_provenance(store.provenance(ind.id, level, period), ind),
            }
        )
    return out


def territory_payload(info: StoreInfo, index: TerritoryIndex, terr: Territory) -> dict:
    return {
        "level": terr.level,
        "code": terr.code,
        "name": terr.name,
        "parents": parents_payload(index, terr.parents),
        "neighbours": index.neighbours(terr.level, terr.code),
        "population": whole(terr.population),
        "area_km2": None if terr.area_km2 is None else round(terr.area_km2, 3),
        "label": list(terr.label) if terr.label else None,
        "postal_codes": list(terr.postal_codes),
        "key_figures": key_figures(info.store, index, terr.level, terr.code),
        "demo": info.demo,
        "notice": info.notice,
    }


def search_results(index: TerritoryIndex, found: list[Territory]) -> list[dict]:
    return [
        {
            "level": t.level,
            "code": t.code,
            "name": t.name,
            "parents": parents_payload(index, t.parents),
        }
        for t in found
    ]


# --------------------------------------------------------------------------------------------
# Facilities


def facility_rows(df: pd.DataFrame, index: TerritoryIndex) -> list[dict]:
    names = index.table("commune").set_index("code")["nom"]
    out = []
    for rec in df.to_dict("records"):
        commune = str(rec["commune"])
        commune_name = names.get(commune)
        # The facilities file may carry no address: the commune is what we honestly know.
        address = rec.get("adresse") or commune_name
        row = {
            "id": str(rec["id"]),
            "name": str(rec["nom"]),
            "type": str(rec["type"]),
            "category": FACILITY_CATEGORY.get(str(rec["type"]), EAJE),
            "places": facility_places(rec["type"], rec.get("places")),
            "address": None if address is None else str(address),
            "commune": commune,
            "commune_name": None if commune_name is None else str(commune_name),
            "lon": clean(rec.get("lon")),
            "lat": clean(rec.get("lat")),
        }
        if "distance_km" in rec:
            row["distance_km"] = clean(round(float(rec["distance_km"]), 2))
        out.append(row)
    return out
