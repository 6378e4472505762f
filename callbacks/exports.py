"""Background exports of the explore page: Excel of the view and the PDF atlas of the
territory shown, with a progress bar and a cancel button; the page stays usable meanwhile."""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output, State, ctx, no_update

from dashboard.jobs import ATLAS_MAX_COMMUNES, save_export
from layers.appdata import AppData
from layers.catalogue import BY_ID
from layers.export_jobs import epci_atlas, view_xlsx
from layers.views import ViewError, parent_of

ERR_NO_DATA = "Les données ne sont pas disponibles : l'export est impossible."
ERR_NO_FILTER = (
    "Pour un atlas, choisissez d'abord un EPCI (ou un autre territoire) dans « Territoire "
    "affiché » : l'atlas réunit sa fiche et celles de ses communes."
)


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f}".replace(".", ",") + " Mo"


def run_export(data: AppData, which: str, state: dict, set_progress) -> tuple[str, str]:
    """Do the job; returns (URL of the file, French status). Raises ViewError."""
    info, index = data.store(), data.index()
    if info is None or index is None:
        raise ViewError(ERR_NO_DATA, 503)

    step = {"export-atlas": "fiche", "export-xlsx": "ligne"}[which]

    def progress(done: int, total: int) -> None:
        pct = int(100 * done / total) if total else 100
        text = (
            f"{step.capitalize()} {min(done + 1, total)} sur {total}"
            if done < total
            else "Mise en page du fichier…"
        )
        set_progress((pct, f"{pct} %", text))

    if which == "export-atlas":
        filtre = state.get("filtre") or ""
        level, _, code = filtre.partition(":")
        if not code:
            raise ViewError(ERR_NO_FILTER)
        body, name = epci_atlas(
            info.store, index, level, code, info.notice, progress, ATLAS_MAX_COMMUNES
        )
        what = "Atlas PDF"
    else:
        ind = BY_ID.get(state.get("indicateur") or "")
        if ind is None or not state.get("niveau") or not state.get("periode"):
            raise ViewError(ERR_NO_DATA)
        parent = parent_of(index, state["niveau"], state.get("filtre"))
        body, name = view_xlsx(
            info.store, index, ind, state["niveau"], state["periode"], parent, info.notice, progress
        )
        what = "Classeur Excel"
    url = save_export(data.settings, name, body)
    return url, f"{what} prêt ({_megabytes(len(body))}) : le téléchargement démarre."


def register(app: Dash, data: AppData) -> None:
    """Register the background export callbacks (needs the app's background manager).

    The job runs in a spawned process: it must close over picklable values only (the
    settings and the URL prefix), never the server's AppData or app."""
    settings = data.settings
    prefix = app.get_relative_path("/").rstrip("/")

    @app.callback(
        Output("export-fichier", "data"),
        Output("export-job-statut", "children"),
        Input("export-xlsx", "n_clicks"),
        Input("export-atlas", "n_clicks"),
        State("indicateur", "value"),
        State("niveau", "value"),
        State("periode", "value"),
        State("filtre", "value"),
        background=True,
        running=[
            (Output("export-xlsx", "disabled"), True, False),
            (Output("export-atlas", "disabled"), True, False),
            (Output("export-annuler", "hidden"), False, True),
            (Output("export-progression-bloc", "hidden"), False, True),
        ],
        progress=[
            Output("export-progression", "value"),
            Output("export-progression", "label"),
            Output("export-job-etape", "children"),
        ],
        cancel=[Input("export-annuler", "n_clicks")],
        prevent_initial_call=True,
    )
    def export_job(set_progress, _n_xlsx, _n_atlas, indicateur, niveau, periode, filtre):
        which = ctx.triggered_id
        if which not in ("export-xlsx", "export-atlas"):
            return no_update, no_update
        state = {"indicateur": indicateur, "niveau": niveau, "periode": periode, "filtre": filtre}
        set_progress((0, "0 %", "Préparation…"))
        try:
            url, text = run_export(AppData(settings), which, state, set_progress)
        except ViewError as err:
            return no_update, err.message
        return prefix + url, text

    app.clientside_callback(
        ClientsideFunction(namespace="cafurl", function_name="download"),
        Output("export-telecharge", "data"),
        Input("export-fichier", "data"),
        prevent_initial_call=True,
    )
