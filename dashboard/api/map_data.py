"""/api/carte/<level>: classes, colours and legend of one map view.

Two sources: the store's indicators (with period, parent filter and classification options)
and the geometry's own (population, density, from the level table of the build). Either
answer is aligned to the level's features (feature id = row), prepared once per build and
parameters, gzip-compressed once, with an ETag; values behind a secret are null.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, request

from dashboard.server.encoding import REVALIDATE, Encoded, encoded_response
from dashboard.server.responses import json_error
from layers import strings_fr as fr
from layers.appdata import AppData, StoreInfo, current_data
from layers.catalogue import BY_ID, GEOMETRY_INDICATORS
from layers.geocache import level_parquet, level_table, web_levels
from layers.geometry_values import compute
from layers.map_options import map_params
from layers.map_payload import carte_payload, store_payload
from layers.map_start import map_choices
from layers.model import MAP_LEVELS, Indicator
from layers.qpv_uncontoured import uncontoured
from layers.store import PUBLISHED
from layers.views import ViewError, indicator, layer, level_of, parent_of, period_of

bp = Blueprint("map_data", __name__)

MIME = "application/json"
# The geometry's small answers (a few QPV) are not worth a gzip frame of their own.
GZIP_MIN_BYTES = 1024
ERR_NOT_BUILT = "Les données ne sont pas construites : lancez « cafcarto build »."


@bp.route("/api/carte-choix")
def carte_choix() -> Response:
    """The indicators' titles, natures and periods by level: the browser's recolour without
    the server's callbacks (layers.map_start.map_choices). Fixed per store build."""
    data = current_data()
    info, index = data.store(), data.index()
    if info is None or index is None:
        return json_error(ERR_NOT_BUILT, 503)
    body = _choices(data, str(info.folder))
    return encoded_response(body, MIME, {"Cache-Control": REVALIDATE}, etag=body.digest)


@lru_cache(maxsize=4)
def _choices(data: AppData, folder: str) -> Encoded:
    # `folder` (the store build in service) is part of the cache key only.
    info, index = data.store(), data.index()
    return Encoded.of_json(map_choices(info.store, index.levels()))


@bp.route("/api/carte/<level>")
def carte(level: str) -> Response:
    if request.args.get("indicateur") in BY_ID:
        return store_map(current_data(), level, request.args)
    return geometry_map(level, request.args.get("indicateur", "population"))


# --------------------------------------------------------------------------------------------
# The store's indicators


def _france_reference(info: StoreInfo, ind: Indicator, period: str) -> float | None:
    """The national value of a rate, drawn on the legend (None when absent or hidden)."""
    if ind.nature != "taux" or "france" not in ind.levels:
        return None
    france = info.store.layer(ind.id, "france", period)
    ok = france[france["statut"].astype(str) == PUBLISHED]
    return float(ok["valeur"].iloc[0]) if len(ok) else None


@lru_cache(maxsize=256)
def _store_payload(data: AppData, folder: str, key: tuple) -> Encoded:
    # `folder` (the store build in service) is part of the cache key only.
    ind_id, level, period, parent, params = key
    info, index = data.store(), data.index()
    ind = indicator(ind_id)
    view = layer(info.store, index, ind, level, period)
    inside = None if parent is None else index.children(level, *parent).to_numpy()
    payload = store_payload(
        view,
        ind,
        level,
        period,
        reference=_france_reference(info, ind, period),
        inside=inside,
        notice=info.notice,
        provenance=info.store.provenance(ind.id, level, period),
        uncontoured=len(uncontoured(info.store, index, ind.id, level, period, parent)),
        **dict(params),
    )
    if parent is not None:
        payload["filtre"] = {
            "niveau": parent[0],
            "code": parent[1],
            "nom": index.name(*parent),
            "emprise": index.bounds(parent),
        }
    return Encoded.of_json(payload)


def store_map(data: AppData, level: str, args: Mapping[str, str]) -> Response:
    """The map of a store indicator, checked parameter by parameter (French errors)."""
    info, index = data.store(), data.index()
    if info is None or index is None:
        return json_error(ERR_NOT_BUILT, 503)
    try:
        ind = indicator(args.get("indicateur"))
        level = level_of(ind, level, index)
        period = period_of(info.store, ind, level, args.get("periode"))
        parent = parent_of(index, level, args.get("filtre"))
        params = map_params(args, ind)
    except ViewError as exc:
        return json_error(exc.message, exc.status)
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))
    body = _store_payload(data, str(info.folder), (ind.id, level, period, parent, frozen))
    return encoded_response(body, MIME, {"Cache-Control": REVALIDATE}, etag=body.digest)


# --------------------------------------------------------------------------------------------
# The geometry's own indicators


@lru_cache(maxsize=64)
def _geometry_payload(cache: str, level: str, indicator: str, stamp: str, features: int) -> Encoded:
    # `stamp` (web version and parquet mtime) is part of the cache key; its head is shown.
    table = level_table(Path(cache), level)
    if len(table) != features:
        raise ValueError(f"{level}: {len(table)} rows in geo/ but {features} web features")
    values = compute(table, indicator)
    payload = carte_payload(level, indicator, values)
    payload["version"] = stamp.split("-")[0]
    return Encoded.of_json(payload)


def geometry_map(level: str, indicator: str) -> Response:
    """The map of population or density, from the level table of the build in service."""
    if level not in MAP_LEVELS:
        allowed = ", ".join(MAP_LEVELS)
        return json_error(fr.ERR_UNKNOWN_LEVEL.format(value=level, allowed=allowed), 404)
    if indicator not in GEOMETRY_INDICATORS:
        allowed = ", ".join(GEOMETRY_INDICATORS)
        return json_error(fr.ERR_UNKNOWN_INDICATOR.format(value=indicator, allowed=allowed), 400)
    cache = current_data().settings.cache
    entry = web_levels(cache).get(level)
    parquet = level_parquet(cache, level)
    if entry is None or not parquet.is_file():
        return json_error(fr.ERR_LEVEL_NOT_BUILT.format(value=level), 404)
    stamp = f"{entry.version}-{parquet.stat().st_mtime_ns}"
    try:
        body = _geometry_payload(str(cache), level, indicator, stamp, entry.features)
    except ValueError:
        return json_error(fr.ERR_CACHE_MISMATCH.format(value=level), 500)
    return encoded_response(
        body, MIME, {"Cache-Control": REVALIDATE}, etag=body.digest, min_bytes=GZIP_MIN_BYTES
    )
