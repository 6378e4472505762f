"""Error answers in French, never a stack trace: JSON for machine routes, a short page otherwise.

Flask logs the traceback of an unhandled exception before calling the 500 handler, so the
server log keeps what the visitor must not see. Paths with `..` segments (raw or %2e-encoded)
are refused before routing: no route joins a URL piece to a folder, and none should ever try.
"""

from __future__ import annotations

from html import escape
from urllib.parse import unquote

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from dashboard.server.responses import json_error
from layers.appdata import current_data

ERR_INTERNAL = "Erreur interne du serveur. Réessayez plus tard ou signalez le problème."
ERR_TOO_LARGE = "Requête trop volumineuse : {max} octets au plus."
ERR_BAD_PATH = "Adresse refusée : elle contient un segment « .. » ou un caractère interdit."
ERR_METHOD = "Méthode non autorisée à cette adresse ({method})."
ERR_MEDIA = "Type de contenu refusé : le corps de la requête doit être du JSON (application/json)."
# Machine routes answer errors in JSON (Dash callbacks included), pages in HTML.
JSON_PREFIXES = ("/api/", "/_dash", "/export/", "/geo/", "/tuiles/", "/vendor/", "/healthz")
PAGE = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Erreur {status} – Cafdata Carto</title></head>
<body><h1>Erreur {status}</h1><p>{message}</p><p><a href="/">Retour à la carte</a></p></body>
</html>"""


def wants_json(path: str) -> bool:
    return path.startswith(JSON_PREFIXES)


def error_response(message: str, status: int) -> Response:
    """The French error of the current request, as JSON or as a page."""
    if wants_json(request.path):
        return json_error(message, status)
    body = PAGE.format(status=status, message=escape(message))
    resp = Response(body, status=status, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def is_unsafe_path(path: str) -> bool:
    """True when a decoded path still holds a dot segment, a backslash or a NUL, even once
    more percent-decoded (double encoding)."""
    for candidate in (path, unquote(path)):
        if "\\" in candidate or "\x00" in candidate:
            return True
        if any(seg in ("..", ".") for seg in candidate.split("/")):
            return True
    return False


def init_app(server: Flask) -> None:
    """French 400 (unsafe path), 405, 413, 415 and 500 answers on `server`."""
    server.config["PROPAGATE_EXCEPTIONS"] = False  # a 500 answer in French, never a traceback
    server.before_request(refuse_unsafe_paths)
    server.register_error_handler(413, too_large)
    server.register_error_handler(415, unsupported_media)
    server.register_error_handler(500, internal_error)


def method_not_allowed(_err: HTTPException) -> Response:
    """A method the address does not answer (the API says it in its own words first)."""
    return error_response(ERR_METHOD.format(method=request.method[:10]), 405)


def unsupported_media(_err: HTTPException) -> Response:
    """A Dash update whose body is not sent as JSON (Flask refuses to read it)."""
    return error_response(ERR_MEDIA, 415)


def refuse_unsafe_paths() -> Response | None:
    """The before_request hook: a 400 for a path with a dot segment, before any routing."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if is_unsafe_path(request.path) or is_unsafe_path(raw.split("?", 1)[0]):
        return error_response(ERR_BAD_PATH, 400)
    return None


def too_large(_err: HTTPException) -> Response:
    limit = current_data().settings.max_request_bytes
    return error_response(ERR_TOO_LARGE.format(max=limit), 413)


def internal_error(_err: Exception) -> Response:
    return error_response(ERR_INTERNAL, 500)
