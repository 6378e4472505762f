"""The background export callback and its job, called directly (no browser): the work with a
fake progress setter, the callback's answers, and a job run by the app's spawning manager the
way Dash starts it (a fresh process that finds its data and URL prefix without the app)."""

from __future__ import annotations

import io
import time
from dataclasses import replace

import dill
import pytest
from dash import no_update
from dash._utils import AttributeDict
from dash.background_callback.managers import BaseBackgroundCallbackManager
from dash_support import triggered_by
from openpyxl import load_workbook

import callbacks
from callbacks import exports
from dashboard.jobs import background_manager
from layers.appdata import AppData
from layers.export_files import ATLAS_MAX_COMMUNES, export_file
from layers.export_jobs import ERR_NO_DATA, ERR_NO_FILTER, run_export
from layers.views import ViewError

AJACCIO_EPCI = "epci:242010056"
XLSX_STATE = {
    "indicateur": "rsa",
    "niveau": "commune",
    "periode": "2024-12",
    "filtre": AJACCIO_EPCI,
}


@pytest.fixture
def local(settings, tmp_path):
    """The test data, with its own jobs folder (exports written there)."""
    return replace(settings, jobs=tmp_path / "jobs")


def _file_of(settings, url: str) -> bytes:
    token, name = url.split("/")[-2:]
    path = export_file(settings, token, name)
    assert path is not None, url
    return path.read_bytes()


def test_run_export_of_the_view_as_excel(local) -> None:
    steps: list[tuple[int, str, str]] = []
    url, status = run_export(AppData(local), "xlsx", XLSX_STATE, steps.append)
    assert url.startswith("/export/fichier/") and url.endswith("/cafdata_rsa_commune_2024-12.xlsx")
    assert status.startswith("Classeur Excel prêt (") and status.endswith(
        " Mo) : le téléchargement démarre."
    )
    rows = list(load_workbook(io.BytesIO(_file_of(local, url)))["donnees"].iter_rows())
    assert len(rows) == 1 + 10  # a header, then the 10 communes of the EPCI (the filter)
    assert steps[0] == (0, "0 %", "Ligne 1 sur 10")


def test_run_export_of_an_atlas_reports_each_profile_then_the_layout(local) -> None:
    steps: list[tuple[int, str, str]] = []
    url, status = run_export(AppData(local), "atlas", {"filtre": AJACCIO_EPCI}, steps.append)
    assert url.endswith("/atlas_epci_242010056.pdf") and status.startswith("Atlas PDF prêt (")
    assert _file_of(local, url)[:5] == b"%PDF-"
    # The EPCI's profile, then its 10 communes', then the layout of the file.
    assert [text for *_, text in steps] == [
        *(f"Fiche {n} sur 11" for n in range(1, 12)),
        "Mise en page du fichier…",
    ]
    assert steps[5][:2] == (45, "45 %") and steps[-1][:2] == (100, "100 %")


def test_run_export_refuses_in_french(local, tmp_path) -> None:
    data = AppData(local)
    with pytest.raises(ViewError) as no_filter:
        run_export(data, "atlas", {**XLSX_STATE, "filtre": None}, lambda _: None)
    assert no_filter.value.message == ERR_NO_FILTER
    with pytest.raises(ViewError, match=f"un atlas en compte au plus {ATLAS_MAX_COMMUNES}"):
        run_export(data, "atlas", {"filtre": "departement:69"}, lambda _: None)
    with pytest.raises(ViewError) as incomplete:
        run_export(data, "xlsx", {**XLSX_STATE, "periode": None}, lambda _: None)
    assert incomplete.value.message == ERR_NO_DATA
    empty = AppData(replace(local, cache=tmp_path / "rien"))
    with pytest.raises(ViewError) as unbuilt:
        run_export(empty, "xlsx", XLSX_STATE, lambda _: None)
    assert unbuilt.value.status == 503


def test_export_job_answers_the_file_url_and_the_status(local) -> None:
    from dashboard.app import create_app

    app = create_app(local)
    steps: list[tuple] = []
    with app.server.test_request_context("/"):
        url, status = triggered_by(
            "export-xlsx.n_clicks", exports.export_job, steps.append, 1, 0, *XLSX_STATE.values()
        )
        no_filter = [*XLSX_STATE.values()][:3] + [None]
        refused = triggered_by(
            "export-atlas.n_clicks", exports.export_job, steps.append, 0, 1, *no_filter
        )
        other = triggered_by(
            "indicateur.value", exports.export_job, steps.append, 0, 0, *[None] * 4
        )
    assert steps[0] == (0, "0 %", "Préparation…")
    assert _file_of(local, url)[:2] == b"PK" and status.startswith("Classeur Excel prêt")
    assert refused == (no_update, ERR_NO_FILTER)
    assert other == (no_update, no_update)


def test_a_spawned_job_finds_its_data_and_url_prefix_without_the_app(local, monkeypatch) -> None:
    """What Dash does on a click: the manager's job function for `export_job`, started by
    `call_job_fn` in a spawned process that inherits no memory of this one."""
    monkeypatch.setenv("DASH_REQUESTS_PATHNAME_PREFIX", "/carto/")  # a server behind a prefix
    manager = background_manager(local)
    callback_id = next(
        key
        for key, entry in callbacks.DECLARED.entries.items()
        if getattr(entry.get("callback"), "__wrapped__", None) is exports.export_job
    )
    key = BaseBackgroundCallbackManager.hash_function(exports.export_job, callback_id)
    job_fn = manager.func_registry[key]
    # The process receives the job by reference to the module function, never the app.
    payload = dill.dumps((local, job_fn))
    assert b"callbacks.exports" in payload and b"Flask" not in payload
    context = AttributeDict(
        triggered_inputs=[{"prop_id": "export-xlsx.n_clicks", "value": 1}], args={}
    )
    pid = manager.call_job_fn("essai", job_fn, [1, 0, *XLSX_STATE.values()], context)
    deadline = time.monotonic() + 120
    while not manager.result_ready("essai") and time.monotonic() < deadline:
        time.sleep(0.2)
    result = manager.get_result("essai", pid)
    assert isinstance(result, list | tuple), result  # else Dash's error record, with its reason
    url, status = result
    assert url.startswith("/carto/export/fichier/"), url
    assert status.startswith("Classeur Excel prêt")
    assert _file_of(local, url.removeprefix("/carto"))[:2] == b"PK"
