"""JSON responses of every route: one shape for data and one for French errors."""

from __future__ import annotations

import json

from flask import Response


def json_response(payload: object, status: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False)
    resp = Response(body, status=status, mimetype="application/json")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def json_error(message: str, status: int) -> Response:
    """`{"erreur": <French message>, "statut": <HTTP code>}`."""
    return json_response({"erreur": message, "statut": status}, status)
