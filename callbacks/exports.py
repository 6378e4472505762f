"""Background exports of the explore page: Excel of the view and the PDF atlas of the
territory shown, with a progress bar and a cancel button; the page stays usable meanwhile.

The callback is a Dash background callback run by the app's manager (dashboard/jobs.py): in
a spawned process or on a Celery worker, which find the data through `current_data()` (the
process default their start-up set) and never receive the app. The work itself is
`layers.export_jobs.run_export`.
"""

from __future__ import annotations

import dash
from dash import ClientsideFunction, Input, Output, State, ctx, no_update

from layers.appdata import current_data
from layers.export_jobs import ExportKind, ProgressSetter, run_export
from layers.views import ViewError

# The buttons that start a job, and the job each starts.
JOBS: dict[str, ExportKind] = {"export-xlsx": "xlsx", "export-atlas": "atlas"}


@dash.callback(
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
def export_job(
    set_progress: ProgressSetter,
    _n_xlsx: int,
    _n_atlas: int,
    indicateur: str | None,
    niveau: str | None,
    periode: str | None,
    filtre: str | None,
) -> tuple:
    """The file of the button clicked (its URL, which the page downloads) and a French status;
    the reason in French when the export cannot be made."""
    kind = JOBS.get(str(ctx.triggered_id))
    if kind is None:
        return no_update, no_update
    state = {"indicateur": indicateur, "niveau": niveau, "periode": periode, "filtre": filtre}
    set_progress((0, "0 %", "Préparation…"))
    try:
        url, text = run_export(current_data(), kind, state, set_progress)
    except ViewError as err:
        return no_update, err.message
    return dash.get_relative_path(url), text


dash.clientside_callback(
    ClientsideFunction(namespace="cafurl", function_name="download"),
    Output("export-telecharge", "data"),
    Input("export-fichier", "data"),
    prevent_initial_call=True,
)
