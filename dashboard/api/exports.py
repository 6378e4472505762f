"""Download routes: the territory profile as PDF, the files of finished background exports.

`GET /export/fiche/<level>/<code>.pdf`: the level and the code are checked against the
territory index before anything is read; errors are JSON `{"erreur": "...", "statut": n}` in
French, like the other routes.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, send_file

from dashboard.server.responses import json_error
from layers.appdata import current_data
from layers.export_files import export_file
from layers.model import LEVEL, LEVEL_CODES, level_name
from layers.profile import cached_profile
from layers.profile_pdf import profile_pdf
from layers.territory_index import TerritoryIndex
from layers.views import ViewError

bp = Blueprint("exports", __name__)

# INSEE, SIREN, IRIS and QPV codes: letters, digits; anything else is refused before lookup.
CODE_RE = re.compile(r"^[0-9A-Za-z]{1,15}$")
ERR_NO_DATA = (
    "Les données ne sont pas disponibles : lancez « cafcarto build » puis la construction "
    "de l'entrepôt d'indicateurs."
)

ERR_EXPORT_GONE = (
    "Ce fichier d'export n'existe pas ou a expiré (il est gardé une heure) : relancez l'export."
)
EXPORT_MIME = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
}


@bp.route("/export/fichier/<token>/<name>")
def finished_export(token: str, name: str) -> Response:
    path = export_file(current_data().settings, token, name)
    if path is None:
        return json_error(ERR_EXPORT_GONE, 404)
    mime = EXPORT_MIME.get(path.suffix, "application/octet-stream")
    resp = send_file(path, as_attachment=True, download_name=name, mimetype=mime)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _unknown_territory(index: TerritoryIndex, level: str, code: str) -> Response | None:
    """The French 404 of a level or code the index does not know, else None."""
    if level not in LEVEL or level not in index.levels():
        allowed = ", ".join(lv for lv in LEVEL_CODES if lv in index.levels())
        return json_error(f"Niveau inconnu : « {level[:40]} ». Niveaux possibles : {allowed}.", 404)
    if not CODE_RE.match(code) or index.get(level, code) is None:
        return json_error(f"Territoire inconnu : {level_name(level)} « {code[:40]} ».", 404)
    return None


@bp.route("/export/fiche/<level>/<code>.pdf")
def fiche_pdf(level: str, code: str) -> Response:
    data = current_data()
    index, info = data.index(), data.store()
    if index is None or info is None:
        return json_error(ERR_NO_DATA, 503)
    refused = _unknown_territory(index, level, code)
    if refused is not None:
        return refused
    try:
        prof = cached_profile(info.store, index, level, code, info.notice)
    except ViewError as err:
        return json_error(err.message, err.status)
    body = profile_pdf(prof)
    resp = Response(body, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="fiche_{level}_{code}.pdf"'
    # The store can be rebuilt under the same URL: let the browser revalidate.
    resp.headers["Cache-Control"] = "no-cache"
    return resp
