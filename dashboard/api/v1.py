"""Public HTTP API v1: catalogue, data (JSON, CSV, Excel, GeoJSON), territories, facilities.

Every parameter is validated (layers.views, French messages) before the store is queried; every
error is JSON `{"erreur": ..., "statut": code}` and never a stack trace. Values come from
`layers.views.layer()`, which blanks any cell that is not published.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from functools import lru_cache, wraps

import numpy as np
import pandas as pd
from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from dashboard.api.openapi import FORMATS, openapi_document
from dashboard.cache_check import cache_problems
from dashboard.server.errors import ERR_INTERNAL
from dashboard.server.responses import json_error, json_response
from geodata.cache import active_dir
from layers.appdata import AppData, StoreInfo
from layers.catalogue import BY_ID, CATEGORIES, INDICATORS, fold, in_subtheme
from layers.export_tables import (
    ExportMeta,
    export_rows,
    published_value,
    to_csv,
    to_geojson,
    to_xlsx,
)
from layers.facilities import facility_places
from layers.facility_search import near_facilities
from layers.model import (
    EAJE_LABELS,
    FACILITY_TYPES,
    LAEP,
    LEVEL,
    LEVEL_CODES,
    Indicator,
    level_name,
)
from layers.store import Store
from layers.territory_index import TerritoryIndex
from layers.views import (
    MAX_QUERY_CHARS,
    STATUS_API,
    ViewError,
    indicator,
    layer,
    level_of,
    parent_of,
    period_of,
)

PREFIX = "/api/v1"
DEFAULT_LIMIT = MAX_LIMIT = 50_000  # all ~35,000 communes fit one page
SEARCH_LIMIT = 20
FACILITY_LIMIT = 500
MAX_FACILITY_LIMIT = 5_000
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
MIME = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
}
# Facility type slugs -> labels of the facilities file.
TYPE_SLUGS: dict[str, tuple[str, ...]] = {
    **{ft.slug: (ft.label,) for ft in FACILITY_TYPES},
    "eaje": EAJE_LABELS,
}
EARTH_RADIUS_KM = 6371.0088

ERR_NO_STORE = (
    "Aucun entrepôt d'indicateurs n'est installé : lancez « cafcarto build » "
    "(données de démonstration) ou « cafcarto import » (fichiers Cafdata)."
)
ERR_NO_BUILD = "Le cache géographique n'est pas construit : lancez « cafcarto build »."
ERR_NO_FACILITIES = "Aucune liste d'équipements (EAJE, LAEP) n'est installée."
ERR_TOO_LONG = "Paramètre « {name} » trop long ({max} caractères au plus)."
ERR_UNKNOWN_PATH = "Adresse inconnue dans l'API. La description est dans /api/v1/openapi.json."
ERR_METHOD = "Méthode non autorisée : l'API ne répond qu'aux requêtes GET."


# --------------------------------------------------------------------------------------------
# Responses


def _api(view: Callable[..., Response]) -> Callable[..., Response]:
    """French JSON errors: ViewError keeps its status, anything else is a bare 500."""

    @wraps(view)
    def wrapper(*args: object, **kwargs: object) -> Response:
        try:
            return view(*args, **kwargs)
        except ViewError as err:
            return json_error(err.message, err.status)
        except HTTPException:
            raise
        except Exception:
            from flask import current_app

            current_app.logger.exception("erreur dans %s", request.path)
            return json_error(ERR_INTERNAL, 500)

    return wrapper


# --------------------------------------------------------------------------------------------
# Parameters


def arg(name: str, default: str | None = None, cap: int = MAX_QUERY_CHARS) -> str | None:
    """A query parameter, refused (400) when longer than `cap` characters."""
    value = request.args.get(name)
    if value is None:
        return default
    if len(value) > cap:
        raise ViewError(ERR_TOO_LONG.format(name=name, max=cap))
    return value.strip()


def int_arg(name: str, default: int, low: int, high: int) -> int:
    text = arg(name)
    if text in (None, ""):
        return default
    # isdigit() alone lets "²" through, which int() refuses: ASCII digits only
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ViewError(f"Paramètre « {name} » invalide : un entier de {low} à {high} est attendu.")
    return int(text)


def bool_arg(name: str) -> bool:
    text = (arg(name) or "").lower()
    if text in ("", "0", "false", "non", "no"):
        return False
    if text in ("1", "true", "oui", "yes"):
        return True
    raise ViewError(f"Paramètre « {name} » invalide : 1 ou 0 est attendu.")


# --------------------------------------------------------------------------------------------
# Data access


def _require_store(data: AppData) -> StoreInfo:
    info = data.store()
    if info is None:
        raise ViewError(ERR_NO_STORE, 503)
    return info


def _require_index(data: AppData) -> TerritoryIndex:
    index = data.index()
    if index is None or not index.levels():
        raise ViewError(ERR_NO_BUILD, 503)
    return index


def _require_level_built(index: TerritoryIndex, level: str) -> None:
    if level not in index.levels():
        raise ViewError(
            f"Le niveau {level_name(level)} n'est pas construit sur ce serveur.",
            404,
        )


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
    themes = []
    for cat, theme_map in CATEGORIES.items():
        for theme, subs in theme_map.items():
            themes.append(
                {
                    "category": cat,
                    "theme": theme,
                    "subthemes": [
                        {
                            "subtheme": sub,
                            "indicators": in_subtheme(cat, theme, sub),
                        }
                        for sub in subs
                    ],
                }
            )
    return {
        "themes": themes,
        "indicators": [indicator_entry(i, avail, built) for i in INDICATORS],
        "demo": info.demo,
        "notice": info.notice,
    }


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
    placeholders = ", ".join("?" for _ in inds)
    cells = store.query(
        "SELECT indicateur, periode, valeur, statut FROM v WHERE niveau = ? AND code = ? "
        f"AND indicateur IN ({placeholders})",
        [level, code, *[i.id for i in inds]],
    )
    found = {
        (str(r.indicateur), str(r.periode)): (r.valeur, str(r.statut))
        for r in cells.itertuples(index=False)
    }
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
                "value": _value(value, statut, ind),
                "status": STATUS_API.get(statut, "missing"),
            }
        )
    return out


def _value(value: object, statut: str, ind: Indicator) -> float | int | None:
    return published_value(value, statut, ind.decimals)


def facility_types(text: str | None) -> set[str] | None:
    """Labels wanted by `type` (comma-separated slugs or labels); None = every type."""
    if not text:
        return None
    labels = {fold(lab): lab for labs in TYPE_SLUGS.values() for lab in labs}
    wanted: set[str] = set()
    for part in text.split(","):
        key = fold(part.strip())
        if key in TYPE_SLUGS:
            wanted.update(TYPE_SLUGS[key])
        elif key in labels:
            wanted.add(labels[key])
        else:
            raise ViewError(
                f"Type d'équipement inconnu : « {part.strip()[:40]} ». Types possibles : "
                f"{', '.join(TYPE_SLUGS)}."
            )
    return wanted


def _clean(value: object) -> object:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def facility_rows(df: pd.DataFrame, index: TerritoryIndex) -> list[dict]:
    names = index.table("commune").set_index("code")["nom"]
    out = []
    for rec in df.to_dict("records"):
        laep = rec["type"] == LAEP
        commune = str(rec["commune"])
        commune_name = names.get(commune)
        # The facilities file may carry no address: the commune is what we honestly know.
        address = rec.get("adresse") or commune_name
        row = {
            "id": str(rec["id"]),
            "name": str(rec["nom"]),
            "type": str(rec["type"]),
            "category": "LAEP" if laep else "EAJE",
            "places": facility_places(rec["type"], rec.get("places")),
            "address": None if address is None else str(address),
            "commune": commune,
            "commune_name": None if commune_name is None else str(commune_name),
            "lon": _clean(rec.get("lon")),
            "lat": _clean(rec.get("lat")),
        }
        if "distance_km" in rec:
            row["distance_km"] = _clean(round(float(rec["distance_km"]), 2))
        out.append(row)
    return out


# --------------------------------------------------------------------------------------------
# Routes


def register_api(server: Flask, data: AppData) -> None:
    """Attach /api/v1/* and /healthz to the Flask server."""
    bp = Blueprint("api_v1", __name__)

    @bp.route(f"{PREFIX}/catalog")
    @_api
    def catalog() -> Response:
        info = _require_store(data)
        index = data.index()
        built = index.levels() if index is not None else []
        return json_response(catalog_payload(info, built))

    @bp.route(f"{PREFIX}/data")
    @_api
    def data_route() -> Response:
        info = _require_store(data)
        index = _require_index(data)
        if not arg("indicator"):
            raise ViewError("Paramètre « indicator » requis. La liste est dans /api/v1/catalog.")
        ind = indicator(arg("indicator"))
        level = level_of(ind, arg("level"), index)
        period = period_of(info.store, ind, level, arg("period"))
        parent = parent_of(index, level, arg("parent"))
        fmt = (arg("format") or "json").lower()
        if fmt not in FORMATS:
            raise ViewError(
                f"Format inconnu : « {fmt[:40]} ». Formats possibles : {', '.join(FORMATS)}."
            )
        limit = int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = int_arg("offset", 0, 0, 10_000_000)

        cells = layer(info.store, index, ind, level, period, parent)
        total = len(cells)
        page = cells.iloc[offset : offset + limit].reset_index(drop=True)
        meta = ExportMeta.of(ind, level, period, info.notice)
        rows = export_rows(page, meta)
        if fmt == "json":
            parent_info = None
            if parent is not None:
                parent_info = {"level": parent[0], "code": parent[1], "name": index.name(*parent)}
            return json_response(
                {
                    "indicator": ind.id,
                    "title": ind.title,
                    "level": level,
                    "period": period,
                    "parent": parent_info,
                    "unit": ind.unit,
                    "kind": ind.api_kind,
                    "decimals": ind.decimals,
                    "source": ind.source,
                    "notice": info.notice,
                    "total": total,
                    "offset": offset,
                    "limit": limit,
                    "rows": [
                        {"code": c, "name": n, "value": _clean(v), "status": s}
                        for c, n, v, s in zip(
                            rows["code"], rows["nom"], rows["valeur"], rows["statut"], strict=True
                        )
                    ],
                }
            )
        if fmt == "csv":
            body: bytes | str = to_csv(rows, meta)
        elif fmt == "xlsx":
            body = to_xlsx(rows, meta)
        else:
            features = web_features(data, index, level)
            doc = to_geojson(rows, page["fid"].tolist(), features, meta)
            doc["total"], doc["offset"], doc["limit"] = total, offset, limit
            body = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        resp = Response(body, content_type=MIME[fmt])
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["Content-Disposition"] = f'attachment; filename="{meta.filename(fmt)}"'
        return resp

    @bp.route(f"{PREFIX}/territories/<level>/<code>")
    @_api
    def territory(level: str, code: str) -> Response:
        index = _require_index(data)
        if level not in LEVEL:
            raise ViewError(
                f"Niveau inconnu : « {level[:40]} ». Niveaux possibles : {', '.join(LEVEL_CODES)}.",
                404,
            )
        _require_level_built(index, level)
        terr = index.get(level, code[:MAX_QUERY_CHARS])
        if terr is None:
            raise ViewError(f"Territoire inconnu : {level_name(level)} « {code[:40]} ».", 404)
        info = _require_store(data)
        return json_response(
            {
                "level": level,
                "code": terr.code,
                "name": terr.name,
                "parents": parents_payload(index, terr.parents),
                "neighbours": index.neighbours(level, terr.code),
                "population": _whole(terr.population),
                "area_km2": None if terr.area_km2 is None else round(terr.area_km2, 3),
                "label": list(terr.label) if terr.label else None,
                "postal_codes": list(terr.postal_codes),
                "key_figures": key_figures(info.store, index, level, terr.code),
                "demo": info.demo,
                "notice": info.notice,
            }
        )

    @bp.route(f"{PREFIX}/territories")
    @_api
    def territories() -> Response:
        q = request.args.get("q", "")
        if not q.strip() or len(q) > MAX_QUERY_CHARS:
            raise ViewError(
                f"Paramètre « q » requis, de 1 à {MAX_QUERY_CHARS} caractères "
                "(nom, code Insee ou code postal)."
            )
        index = _require_index(data)
        try:
            found = index.search(q, limit=SEARCH_LIMIT)
        except ValueError:
            # TerritoryIndex.search puts code-like queries into a regex unescaped ("2A(" fails):
            # a code or postal code has no punctuation, so search again without it.
            found = index.search(re.sub(r"[^\w\s'-]", " ", q), limit=SEARCH_LIMIT)
        return json_response(
            [
                {
                    "level": t.level,
                    "code": t.code,
                    "name": t.name,
                    "parents": parents_payload(index, t.parents),
                }
                for t in found
            ]
        )

    @bp.route(f"{PREFIX}/facilities")
    @_api
    def facilities() -> Response:
        index = _require_index(data)
        code = arg("commune")
        if not code:
            raise ViewError("Paramètre « commune » requis (code Insee, par exemple 69123).")
        wanted = facility_types(arg("type"))
        near = bool_arg("near")
        limit = int_arg("limit", FACILITY_LIMIT, 1, MAX_FACILITY_LIMIT)
        commune = index.get("commune", code) if "commune" in index.levels() else None
        if commune is None:
            raise ViewError(f"Commune inconnue : « {code[:40]} ».", 404)
        points = data.facilities()
        if points is None:
            raise ViewError(ERR_NO_FACILITIES, 503)
        df = points.table
        codes = [commune.code, *(index.neighbours("commune", commune.code) if near else [])]
        sel = near_facilities(df, index, commune.code, wanted, near=near)
        return json_response(
            {
                "commune": {"code": commune.code, "name": commune.name},
                "near": near,
                "communes": codes,
                "total": len(sel),
                "limit": limit,
                "notice": points.notice,
                "facilities": facility_rows(sel.head(limit), index),
            }
        )

    @bp.route(f"{PREFIX}/openapi.json")
    @_api
    def openapi() -> Response:
        return json_response(openapi_document())

    @bp.route(f"{PREFIX}/", defaults={"rest": ""})
    @bp.route(f"{PREFIX}/<path:rest>")
    def unknown(rest: str) -> Response:
        return json_error(ERR_UNKNOWN_PATH, 404)

    @bp.route("/healthz")
    @_api
    def healthz() -> Response:
        damage = cache_problems(data.settings)
        if damage:  # a damaged host must leave the load balancer's rotation
            return json_response({"erreur": damage[0], "statut": 503, "problemes": damage}, 503)
        index = data.index()
        geometry = index is not None and bool(index.levels())
        info = data.store()
        if not geometry:
            return json_response(
                {"erreur": ERR_NO_BUILD, "statut": 503, "geometrie": False, "donnees": _kind(info)},
                503,
            )
        if info is None:
            return json_response(
                {"erreur": ERR_NO_STORE, "statut": 503, "geometrie": True, "donnees": None}, 503
            )
        return json_response({"statut": "ok", "geometrie": True, "donnees": _kind(info)})

    server.register_blueprint(bp)

    # Routing errors happen before any view: answer them in JSON for API paths only.
    def _method_not_allowed(err: HTTPException) -> Response | HTTPException:
        if request.path.startswith(PREFIX) or request.path == "/healthz":
            return json_error(ERR_METHOD, 405)
        return err

    server.register_error_handler(405, _method_not_allowed)


def _whole(value: float | None) -> float | int | None:
    """Populations are head counts: 519127, not 519127.0."""
    return int(value) if value is not None and float(value).is_integer() else value


def _kind(info: StoreInfo | None) -> str | None:
    if info is None:
        return None
    return "demonstration" if info.demo else "reel"
