"""/api/carte/<level> for the store's indicators: classes, colours and legend of one map view.

The response is aligned to the level's features (feature id = row), cached per store build and
parameters, gzip-compressed, with an ETag; values behind a secret are null.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache

from flask import Response, request

from dashboard.responses import json_error
from layers.appdata import AppData
from layers.map_options import map_params
from layers.map_payload import store_payload
from layers.store import PUBLISHED
from layers.views import ViewError, indicator, layer, level_of, parent_of, period_of


@lru_cache(maxsize=256)
def _payload(data: AppData, folder: str, key: tuple) -> tuple[bytes, bytes, str]:
    ind_id, level, period, parent, params = key
    info, index = data.store(), data.index()
    ind = indicator(ind_id)
    view = layer(info.store, index, ind, level, period)
    inside = None
    if parent is not None:
        inside = index.children(level, *parent).to_numpy()
    reference = None
    if ind.nature == "taux" and "france" in ind.levels:
        france = info.store.layer(ind.id, "france", period)
        ok = france[france["statut"].astype(str) == PUBLISHED]
        reference = float(ok["valeur"].iloc[0]) if len(ok) else None
    payload = store_payload(
        view,
        ind,
        level,
        period,
        reference=reference,
        inside=inside,
        notice=info.notice,
        **dict(params),
    )
    if parent is not None:
        payload["filtre"] = {
            "niveau": parent[0],
            "code": parent[1],
            "nom": index.name(*parent),
            "emprise": index.bounds(parent),
        }
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    etag = '"' + hashlib.sha256(raw).hexdigest()[:20] + '"'
    return raw, gzip.compress(raw, 5), etag


def store_map(data: AppData, level: str, args: Mapping[str, str]) -> Response:
    info, index = data.store(), data.index()
    if info is None or index is None:
        return json_error("Les données ne sont pas construites : lancez « cafcarto build ».", 503)
    try:
        ind = indicator(args.get("indicateur"))
        level = level_of(ind, level, index)
        period = period_of(info.store, ind, level, args.get("periode"))
        parent = parent_of(index, level, args.get("filtre"))
        params = map_params(args)
    except ViewError as exc:
        return json_error(exc.message, exc.status)
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))
    raw, raw_gz, etag = _payload(data, str(info.folder), (ind.id, level, period, parent, frozen))
    use_gz = "gzip" in (request.headers.get("Accept-Encoding") or "")
    resp = Response(raw_gz if use_gz else raw, mimetype="application/json")
    resp.headers.update(
        {
            "Cache-Control": "no-cache",
            "Vary": "Accept-Encoding",
            "ETag": etag[:-1] + ('-gz"' if use_gz else '"'),
        }
    )
    if use_gz:
        resp.headers["Content-Encoding"] = "gzip"
    return resp
