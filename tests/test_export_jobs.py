"""Long exports run in the background: the Excel of the view and the PDF atlas of an EPCI,
their files served by token only, then removed."""

from __future__ import annotations

import io
import os
import time
from dataclasses import replace

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from dashboard.jobs import background_manager
from layers.appdata import AppData
from layers.catalogue import BY_ID
from layers.export_files import EXPORT_TTL, export_file, purge_exports, save_export
from layers.export_jobs import atlas_communes, epci_atlas, view_xlsx
from layers.views import ViewError

AJACCIO_EPCI = "242010056"  # CA du Pays Ajaccien: 10 communes


@pytest.fixture(scope="module")
def appdata(settings) -> AppData:
    return AppData(settings)


def test_view_xlsx_is_the_map_layer_with_progress(appdata: AppData) -> None:
    info, index = appdata.store(), appdata.index()
    calls: list[tuple[int, int]] = []
    body, name = view_xlsx(
        info.store,
        index,
        BY_ID["rsa"],
        "commune",
        "2024-12",
        None,
        info.notice,
        lambda d, t: calls.append((d, t)),
    )
    rows = list(load_workbook(io.BytesIO(body))["donnees"].iter_rows(values_only=True))
    communes = len(index.table("commune"))
    assert name == "cafdata_rsa_commune_2024-12.xlsx" and len(rows) == communes + 1
    assert calls[0] == (0, communes) and all(t == communes for _d, t in calls)
    statuses = {r[7] for r in rows[1:]}
    assert "secret" in statuses  # a small cut still has secret communes, kept as such
    assert all(r[6] is None for r in rows[1:] if r[7] != "published")


def test_atlas_of_an_epci_has_its_profile_then_each_commune(appdata: AppData) -> None:
    info, index = appdata.store(), appdata.index()
    codes = atlas_communes(index, "epci", AJACCIO_EPCI)
    seen: list[int] = []
    body, name = epci_atlas(
        info.store,
        index,
        "epci",
        AJACCIO_EPCI,
        info.notice,
        lambda d, t: seen.append(d),
        max_communes=50,
    )
    assert name == f"atlas_epci_{AJACCIO_EPCI}.pdf" and seen[-1] == len(codes) + 1
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    assert "Atlas des communes : " in text and f"({len(codes)} communes)" in text
    names = [index.get("commune", c).name for c in codes]
    assert text.count("Fiche territoire : ") == len(codes) + 1
    assert all(f"Fiche territoire : {n} (" in text for n in names)
    assert "Source : Cnaf" in text and "démonstration" in text
    with pytest.raises(ViewError, match="au plus 3"):
        epci_atlas(info.store, index, "epci", AJACCIO_EPCI, None, lambda d, t: None, 3)


def test_export_files_by_token_only_then_purged(settings, tmp_path) -> None:
    local = replace(settings, cache=tmp_path)
    url = save_export(local, "atlas_epci_1.pdf", b"%PDF-1.4 test")
    _, _, _, token, name = url.split("/")
    assert export_file(local, token, name).read_bytes() == b"%PDF-1.4 test"
    for bad_token, bad_name in [
        (token, "../" + name),
        ("0" * 32, name),
        (token[:-1], name),
        (token, ".atlas_epci_1.pdf.part"),
        ("..", "exports"),
    ]:
        assert export_file(local, bad_token, bad_name) is None
    with pytest.raises(ValueError):
        save_export(local, "../../etc/passwd", b"x")
    old = time.time() - EXPORT_TTL - 10
    os.utime(tmp_path / "exports" / token, (old, old))
    assert purge_exports(local) == 1 and export_file(local, token, name) is None


def test_export_route_serves_a_finished_file_and_refuses_forged_names(settings, tmp_path):
    from dashboard.app import create_app

    local = replace(settings, cache=tmp_path)
    client = create_app(local).server.test_client()
    url = save_export(local, "cafdata_rsa_commune_2024-12.xlsx", b"PK fake")
    resp = client.get(url)
    assert resp.status_code == 200 and resp.data == b"PK fake"
    assert "filename=cafdata_rsa_commune_2024-12.xlsx" in resp.headers["Content-Disposition"]
    for forged in (
        url + "x",
        url.replace("/export/fichier/", "/export/fichier/00"),
        "/export/fichier/" + "a" * 32 + "/.cafdata_rsa_commune_2024-12.xlsx.part",
    ):
        resp = client.get(forged)
        assert resp.status_code == 404 and "expiré" in resp.get_json()["erreur"]
    # A path with ".." is refused before any route (dashboard/server/errors.py): no file leaks.
    resp = client.get("/export/fichier/" + url.split("/")[3] + "/..%2F..%2Fjobs")
    assert resp.status_code == 400 and b"PK fake" not in resp.data


def test_background_manager_choice(settings, tmp_path) -> None:
    from dash import DiskcacheManager

    local = replace(settings, cache=tmp_path, redis_url=None)
    assert isinstance(background_manager(local), DiskcacheManager)
    assert (tmp_path / "jobs").is_dir()
    shared = replace(local, jobs=tmp_path / "partage")  # CAFCARTO_JOBS, for several hosts
    background_manager(shared)
    assert (tmp_path / "partage" / "jobs").is_dir()
    assert save_export(shared, "a.pdf", b"%PDF").startswith("/export/fichier/")
    assert len(list((tmp_path / "partage" / "exports").iterdir())) == 1
    try:
        import celery  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="Celery n'est pas installé"):
            background_manager(replace(local, redis_url="redis://localhost:6379/0"))
    else:
        from dash import CeleryManager

        manager = background_manager(replace(local, redis_url="redis://localhost:6379/0"))
        assert isinstance(manager, CeleryManager)
