"""Public HTTP API v1: catalogue, data (JSON, CSV, Excel, GeoJSON), territories, facilities.

Every parameter is validated (dashboard.api.v1_params, layers.views; French messages) before
the store is queried; every error is JSON `{"erreur": ..., "statut": code}` and never a stack
trace. Values come from `layers.views.layer()`, which blanks any cell that is not published.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from dashboard.api.openapi import openapi_document
from dashboard.api.v1_params import (
    ERR_NO_BUILD,
    ERR_NO_STORE,
    arg,
    bool_arg,
    data_query,
    facility_types,
    int_arg,
    require_index,
    require_level_built,
    require_store,
)
from dashboard.api.v1_payloads import (
    catalog_payload,
    data_geojson,
    data_json,
    facility_rows,
    search_results,
    store_kind,
    territory_payload,
    web_features,
)
from dashboard.cache_check import cache_problems
from dashboard.server import errors
from dashboard.server.errors import ERR_INTERNAL
from dashboard.server.redis_health import redis_problem
from dashboard.server.responses import json_error, json_response
from layers.appdata import current_data
from layers.export_tables import ExportMeta, export_rows, to_csv, to_xlsx, with_uncontoured
from layers.facility_search import near_facilities
from layers.model import LEVEL, LEVEL_CODES, level_name
from layers.qpv_uncontoured import listed_cells
from layers.views import MAX_QUERY_CHARS, ViewError, layer

PREFIX = "/api/v1"
SEARCH_LIMIT = 20
FACILITY_LIMIT = 500
MAX_FACILITY_LIMIT = 5_000
MIME = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
}

ERR_NO_FACILITIES = "Aucune liste d'équipements (EAJE, LAEP) n'est installée."
ERR_UNKNOWN_PATH = "Adresse inconnue dans l'API. La description est dans /api/v1/openapi.json."
ERR_METHOD = "Méthode non autorisée : l'API ne répond qu'aux requêtes GET."

bp = Blueprint("api_v1", __name__)


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
            current_app.logger.exception("erreur dans %s", request.path)
            return json_error(ERR_INTERNAL, 500)

    return wrapper


@bp.route(f"{PREFIX}/catalog")
@_api
def catalog() -> Response:
    data = current_data()
    info = require_store(data)
    index = data.index()
    built = index.levels() if index is not None else []
    return json_response(catalog_payload(info, built))


@bp.route(f"{PREFIX}/data")
@_api
def data_route() -> Response:
    data = current_data()
    info = require_store(data)
    index = require_index(data)
    query = data_query(info, index)
    cells = layer(info.store, index, query.ind, query.level, query.period, query.parent)
    page = cells.iloc[query.offset : query.offset + query.limit].reset_index(drop=True)
    prov = info.store.provenance(query.ind.id, query.level, query.period)
    meta = ExportMeta.of(query.ind, query.level, query.period, info.notice, prov)
    if query.fmt == "json":
        return json_response(data_json(query, info, index, export_rows(page, meta), len(cells)))
    if query.fmt == "geojson":
        features = web_features(data, index, query.level)
        rows = export_rows(page, meta)
        body = data_geojson(query, rows, page["fid"].tolist(), features, len(cells), meta)
    else:
        if query.offset + query.limit >= len(cells):  # last page: QPV 2024 without contour
            extra = listed_cells(info.store, index, query.ind.id, query.level, query.period)
            page = with_uncontoured(page, extra)
        rows = export_rows(page, meta)
        body = to_csv(rows, meta) if query.fmt == "csv" else to_xlsx(rows, meta)
    resp = Response(body, content_type=MIME[query.fmt])
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Content-Disposition"] = f'attachment; filename="{meta.filename(query.fmt)}"'
    return resp


@bp.route(f"{PREFIX}/territories/<level>/<code>")
@_api
def territory(level: str, code: str) -> Response:
    data = current_data()
    index = require_index(data)
    if level not in LEVEL:
        raise ViewError(
            f"Niveau inconnu : « {level[:40]} ». Niveaux possibles : {', '.join(LEVEL_CODES)}.",
            404,
        )
    require_level_built(index, level)
    terr = index.get(level, code[:MAX_QUERY_CHARS])
    if terr is None:
        raise ViewError(f"Territoire inconnu : {level_name(level)} « {code[:40]} ».", 404)
    info = require_store(data)
    return json_response(territory_payload(info, index, terr))


@bp.route(f"{PREFIX}/territories")
@_api
def territories() -> Response:
    q = request.args.get("q", "")
    if not q.strip() or len(q) > MAX_QUERY_CHARS:
        raise ViewError(
            f"Paramètre « q » requis, de 1 à {MAX_QUERY_CHARS} caractères "
            "(nom, code Insee ou code postal)."
        )
    index = require_index(current_data())
    try:
        found = index.search(q, limit=SEARCH_LIMIT)
    except ValueError:
        # TerritoryIndex.search puts code-like queries into a regex unescaped ("2A(" fails):
        # a code or postal code has no punctuation, so search again without it.
        found = index.search(re.sub(r"[^\w\s'-]", " ", q), limit=SEARCH_LIMIT)
    return json_response(search_results(index, found))


@bp.route(f"{PREFIX}/facilities")
@_api
def facilities() -> Response:
    data = current_data()
    index = require_index(data)
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
    codes = [commune.code, *(index.neighbours("commune", commune.code) if near else [])]
    sel = near_facilities(points.table, index, commune.code, wanted, near=near)
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
    data = current_data()
    damage = cache_problems(data.settings)
    if damage:  # a damaged host must leave the load balancer's rotation
        return json_response({"erreur": damage[0], "statut": 503, "problemes": damage}, 503)
    index = data.index()
    info = data.store()
    if index is None or not index.levels():
        body = {"erreur": ERR_NO_BUILD, "statut": 503, "geometrie": False}
        return json_response({**body, "donnees": store_kind(info)}, 503)
    if info is None:
        body = {"erreur": ERR_NO_STORE, "statut": 503, "geometrie": True, "donnees": None}
        return json_response(body, 503)
    body = {"statut": "ok", "geometrie": True, "donnees": store_kind(info)}
    redis_down = redis_problem(data.settings)
    if redis_down:  # still 200: the host serves; see dashboard/server/redis_health.py
        body.update(statut="degrade", redis=False, avertissement=redis_down)
    return json_response(body)


# Routing errors happen before any view, so a blueprint's own handlers never see them: this
# one is the app's, and answers in JSON for API paths only.
@bp.app_errorhandler(405)
def method_not_allowed(err: HTTPException) -> Response:
    if request.path.startswith(PREFIX) or request.path == "/healthz":
        return json_error(ERR_METHOD, 405)
    return errors.method_not_allowed(err)
