"""Public API v1 on the small real cut and its demonstration store: every route, every bad
input, the export formats, the OpenAPI document, and that no hidden cell ever leaks."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import replace
from urllib.parse import quote

import flask
import pandas as pd
import pytest
from openpyxl import load_workbook

from dashboard.api import v1
from dashboard.api.v1_payloads import KEY_FIGURES
from layers.appdata import AppData, init_app
from layers.catalogue import BY_ID, INDICATORS
from layers.config import Settings
from layers.export_tables import (
    EXPORT_COLUMNS,
    ExportMeta,
    export_rows,
    neutralise,
    to_csv,
    to_xlsx,
)
from layers.facilities import LAEP
from layers.facility_search import haversine_km
from layers.model import LEVEL_CODES as LEVELS
from layers.store import PUBLISHED, SECRET
from layers.views import STATUS_API


def register_api(server: flask.Flask, data: AppData) -> None:
    """The API v1 blueprint on a bare Flask app, answering from `data`."""
    init_app(server, data)
    server.register_blueprint(v1.bp)


@pytest.fixture(scope="module")
def appdata(settings: Settings) -> AppData:
    return AppData(settings)


@pytest.fixture(scope="module")
def client(appdata: AppData):
    server = flask.Flask(__name__)
    register_api(server, appdata)
    return server.test_client()


def get_json(client, url: str, status: int = 200):
    resp = client.get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == "application/json"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert "ETag" not in resp.headers
    return resp.get_json()


def assert_error(client, url: str, status: int) -> str:
    body = get_json(client, url, status)
    assert set(body) == {"erreur", "statut"} and body["statut"] == status
    assert "Traceback" not in body["erreur"] and len(body["erreur"]) < 400
    return body["erreur"]


def csv_rows(data: bytes) -> list[dict]:
    assert data.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def store_cells(appdata: AppData, ind: str, level: str, period: str) -> dict[str, tuple]:
    df = appdata.store().store.layer(ind, level, period)
    return {c: (v, str(s)) for c, v, s in zip(df["code"], df["valeur"], df["statut"], strict=True)}


# --------------------------------------------------------------------------------------------
# Health and catalogue


def test_healthz_ok(client) -> None:
    assert get_json(client, "/healthz") == {
        "statut": "ok",
        "geometrie": True,
        "donnees": "demonstration",
    }


def test_healthz_503_without_build_or_store(tmp_path, settings: Settings) -> None:
    server = flask.Flask(__name__)
    register_api(server, AppData(replace(settings, cache=tmp_path)))
    client = server.test_client()
    body = get_json(client, "/healthz", 503)
    assert body["statut"] == 503 and body["geometrie"] is False and "cafcarto" in body["erreur"]
    assert_error(client, "/api/v1/catalog", 503)
    assert_error(client, "/api/v1/data?indicator=rsa&level=commune", 503)


def test_catalog_lists_levels_and_periods_the_store_has(client, appdata: AppData) -> None:
    cat = get_json(client, "/api/v1/catalog")
    assert cat["demo"] is True and "démonstration" in cat["notice"]
    by_id = {i["id"]: i for i in cat["indicators"]}
    assert list(by_id) == [i.id for i in INDICATORS]
    tree_ids = [
        i for t in cat["themes"] for s in t["subthemes"] for i in s["indicators"]
    ]  # every indicator sits in exactly one sub-theme
    assert sorted(tree_ids) == sorted(by_id)
    assert {"category", "theme", "subthemes"} == set(cat["themes"][0])
    store = appdata.store().store
    for entry in cat["indicators"]:
        ind = BY_ID[entry["id"]]
        assert entry["kind"] in {"count", "rate", "share", "amount"}
        assert set(entry["levels"]) <= set(ind.levels)
        for level in entry["levels"]:
            assert entry["periods_by_level"][level] == store.periods(ind.id, level)
            assert entry["frequency"][level] in ("trimestrielle", "annuelle")
        assert entry["periods"] == sorted(entry["periods"])
        assert set(entry["periods"]) == {p for ps in entry["periods_by_level"].values() for p in ps}
        for key in (
            "definition",
            "source",
            "field",
            "granularity",
            "last_update",
            "keywords",
            "labelled_series",
            "category",
            "theme",
            "subtheme",
            "unit",
            "title",
        ):
            assert key in entry
    assert set(by_id["allocataires"]["levels"]) == set(LEVELS)
    assert "qpv" not in by_id["rsa_montant"]["levels"]
    assert by_id["part_rsa"]["kind"] == "share" and by_id["rsa_montant"]["kind"] == "amount"
    assert by_id["taux_couverture_eaje"]["kind"] == "rate" and by_id["rsa"]["kind"] == "count"
    assert by_id["rsa"]["periods_by_level"]["commune"] == [
        "2021-12",
        "2022-12",
        "2023-12",
        "2024-12",
    ]
    assert by_id["rsa"]["periods"][-1] == "2025-06"
    assert by_id["places_eaje"]["labelled_series"] is False


# --------------------------------------------------------------------------------------------
# Data


def test_data_json_rows_follow_the_level_table(client, appdata: AppData) -> None:
    body = get_json(client, "/api/v1/data?indicator=allocataires&level=commune")
    table = appdata.index().table("commune")
    assert body["period"] == "2024-12"  # latest annual period
    assert body["total"] == len(table) == len(body["rows"]) and body["offset"] == 0
    assert body["limit"] == 50000 and body["kind"] == "count" and body["unit"] == "foyers"
    assert [r["code"] for r in body["rows"]] == table["code"].tolist()
    # the demonstration store says what it is in its provenance, never « Source : Cnaf »
    assert body["notice"] and body["source"]["text"].startswith("Source : données de démonstration")
    statuses = {r["status"] for r in body["rows"]}
    assert statuses <= set(STATUS_API.values()) and {"published", "secret"} <= statuses
    for row in body["rows"]:
        assert set(row) == {"code", "name", "value", "status"}
        assert (row["value"] is not None) == (row["status"] == "published")


def test_data_rate_is_rounded_and_latest_is_quarterly(client) -> None:
    body = get_json(client, "/api/v1/data?indicator=part_rsa&level=departement")
    assert body["period"] == "2025-06" and body["kind"] == "share" and body["unit"] == "%"
    values = [r["value"] for r in body["rows"] if r["value"] is not None]
    assert values and all(round(v, 1) == v for v in values)


def test_data_pagination_and_parent(client, appdata: AppData) -> None:
    base = "/api/v1/data?indicator=rsa&level=commune&period=2023-12"
    full = get_json(client, base)["rows"]
    page = get_json(client, base + "&limit=7&offset=10")
    assert page["rows"] == full[10:17] and page["total"] == len(full) and page["limit"] == 7
    assert get_json(client, base + f"&offset={len(full) + 5}")["rows"] == []
    sub = get_json(client, base + "&parent=departement:66")
    table = appdata.index().table("commune")
    assert sub["total"] == int((table["departement"] == "66").sum()) > 100
    assert sub["parent"] == {"level": "departement", "code": "66", "name": "Pyrénées-Orientales"}
    assert {r["code"][:2] for r in sub["rows"]} == {"66"}
    epci = get_json(client, base + "&parent=200046977")  # bare code: tried as an EPCI
    assert epci["parent"]["level"] == "epci" and 0 < epci["total"] < len(full)


def test_unknown_parameters_are_ignored(client) -> None:
    a = get_json(client, "/api/v1/data?indicator=rsa&level=region&foo=bar&x=" + "y" * 500)
    b = get_json(client, "/api/v1/data?indicator=rsa&level=region")
    assert a["rows"] == b["rows"]


@pytest.mark.parametrize(
    ("query", "status", "word"),
    [
        ("indicator=nope&level=commune", 400, "Indicateur inconnu"),
        ("level=commune", 400, "indicator"),
        ("indicator=rsa&level=canton", 400, "Niveau inconnu"),
        ("indicator=rsa", 400, "Niveau inconnu"),
        ("indicator=rsa&level=commune&period=2024-13", 400, "Période inconnue"),
        ("indicator=rsa&level=commune&period=2024", 400, "AAAA-MM"),
        ("indicator=rsa&level=commune&period=2025-06", 400, "Période inconnue"),
        ("indicator=rsa_montant&level=qpv", 400, "n'existe pas"),
        ("indicator=part_rsa&level=iris", 400, "n'existe pas"),
        ("indicator=rsa&level=commune&parent=departement:99", 400, "parent inconnu"),
        ("indicator=rsa&level=departement&parent=commune:69123", 400, "parent inconnu"),
        ("indicator=rsa&level=commune&parent=%3Cscript%3E", 400, "parent inconnu"),
        ("indicator=rsa&level=commune&limit=0", 400, "limit"),
        ("indicator=rsa&level=commune&limit=-5", 400, "limit"),
        ("indicator=rsa&level=commune&limit=50001", 400, "limit"),
        ("indicator=rsa&level=commune&limit=abc", 400, "limit"),
        ("indicator=rsa&level=commune&offset=-1", 400, "offset"),
        ("indicator=rsa&level=commune&format=pdf", 400, "Format inconnu"),
        ("indicator=" + "a" * 5000 + "&level=commune", 400, "trop long"),
        ("indicator=rsa&level=commune&parent=" + "6" * 300, 400, "trop long"),
    ],
)
def test_data_bad_parameters(client, query: str, status: int, word: str) -> None:
    message = assert_error(client, "/api/v1/data?" + query, status)
    assert word in message
    assert "a" * 100 not in message  # echoed values are shortened


def test_unknown_api_path_and_method(client) -> None:
    assert "openapi.json" in assert_error(client, "/api/v1/nope", 404)
    resp = client.post("/api/v1/catalog")
    assert resp.status_code == 405 and resp.get_json()["statut"] == 405


def test_internal_error_is_french_without_details(settings: Settings) -> None:
    class Broken(AppData):
        def store(self):
            raise RuntimeError("chemin secret /srv/x")

    server = flask.Flask(__name__)
    register_api(server, Broken(settings))
    body = get_json(server.test_client(), "/api/v1/catalog", 500)
    assert body["statut"] == 500 and "interne" in body["erreur"]
    assert "/srv/x" not in json.dumps(body)


# --------------------------------------------------------------------------------------------
# Exports


def test_csv_export(client, appdata: AppData) -> None:
    resp = client.get("/api/v1/data?indicator=allocataires&level=commune&format=csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == (
        'attachment; filename="cafdata_allocataires_commune_2024-12.csv"'
    )
    rows = csv_rows(resp.data)
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert len(rows) == len(appdata.index().table("commune"))
    secret = [r for r in rows if r["statut"] == "secret"]
    assert secret and all(r["valeur"] == "" for r in secret)
    published = [r for r in rows if r["statut"] == "published"]
    assert published and all(re.fullmatch(r"\d+", r["valeur"]) for r in published)
    assert {r["source"] for r in rows} == {
        "Source : données de démonstration (générées, pas des chiffres de la Cnaf)"
    }
    assert {r["avertissement"] for r in rows} == {appdata.store().notice}
    assert {r["niveau"] for r in rows} == {"commune"} and {r["periode"] for r in rows} == {
        "2024-12"
    }
    lyon = next(r for r in rows if r["code"] == "69123")
    assert lyon["nom"] == "Lyon" and lyon["libelle"] == "Foyers allocataires"


def test_csv_rate_uses_decimal_comma(client) -> None:
    rows = csv_rows(client.get("/api/v1/data?indicator=part_rsa&level=region&format=csv").data)
    values = [r["valeur"] for r in rows if r["valeur"]]
    assert values and all(re.fullmatch(r"\d+,\d", v) for v in values)


def test_xlsx_export(client, appdata: AppData) -> None:
    url = "/api/v1/data?indicator=rsa&level=commune&period=2022-12&parent=departement:2A"
    resp = client.get(url + "&format=xlsx")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].endswith('"cafdata_rsa_commune_2022-12.xlsx"')
    wb = load_workbook(io.BytesIO(resp.data))
    assert wb.sheetnames == ["donnees", "metadonnees"]
    data = list(wb["donnees"].values)
    assert list(data[0]) == list(EXPORT_COLUMNS)
    body = get_json(client, url)
    assert len(data) - 1 == body["total"]
    for row, ref in zip(data[1:], body["rows"], strict=True):
        rec = dict(zip(EXPORT_COLUMNS, row, strict=True))
        assert rec["code"] == ref["code"] and rec["statut"] == ref["status"]
        assert rec["valeur"] == ref["value"]  # None for a secret cell
    assert any(dict(zip(EXPORT_COLUMNS, r, strict=True))["statut"] == "secret" for r in data[1:])
    meta = {k: v for k, v in wb["metadonnees"].values}
    assert meta["Titre"] == BY_ID["rsa"].title and meta["Unité"] == "foyers"
    assert meta["Période"].startswith("2022-12") and "décembre 2022" in meta["Période"]
    assert meta["Source"].startswith("Source : données de démonstration")
    assert meta["Avertissement"] == appdata.store().notice
    assert meta["Définition"] == BY_ID["rsa"].definition and meta["Date de l'export"]


def test_geojson_export(client, appdata: AppData) -> None:
    url = "/api/v1/data?indicator=allocataires&level=iris"
    resp = client.get(url + "&format=geojson")
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    assert resp.headers["Content-Disposition"].endswith('.geojson"')
    doc = json.loads(resp.data)
    assert doc["type"] == "FeatureCollection" and doc["avertissement"]
    table = appdata.index().table("iris")
    assert len(doc["features"]) == len(table)
    ref = get_json(client, url)["rows"]
    for i, (feat, row) in enumerate(zip(doc["features"], ref, strict=True)):
        props = feat["properties"]
        assert set(props) == {
            "code",
            "nom",
            "valeur",
            "statut",
            "unite",
            "periode",
            "source",
            "note",
            "avertissement",
        }
        assert feat["id"] == i and props["code"] == row["code"] == table["code"].iloc[i]
        assert props["valeur"] == row["value"] and props["statut"] == row["status"]
        assert feat["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # with a parent, the feature ids stay those of the full level (the map's ids)
    sub = json.loads(client.get(url + "&parent=commune:69123&format=geojson").data)
    pos = {c: i for i, c in enumerate(table["code"])}
    assert sub["features"] and all(f["id"] == pos[f["properties"]["code"]] for f in sub["features"])


# --------------------------------------------------------------------------------------------
# export_tables unit tests


def test_neutralise_formulas() -> None:
    for text in ("=1+1", "+33", "-2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'):
        assert neutralise(text) == "'" + text
    for value in ("Lyon", "2A004", "", 12, -3.5, None):
        assert neutralise(value) == value


def _meta(**kw) -> ExportMeta:
    base = dict(
        indicator="rsa",
        title="=cmd|' /C calc'!A0",
        level="commune",
        period="2024-12",
        unit="foyers",
        source="Cnaf",
        decimals=0,
        notice=None,
    )
    return ExportMeta(**{**base, **kw})


def test_exports_neutralise_and_never_print_a_hidden_value() -> None:
    cells = pd.DataFrame(
        {
            "code": ["01", "02", "03"],
            "nom": ["=1+2", "@evil", "Normal"],
            "valeur": [12.4, 99.0, None],  # 99 behind a secret must never be printed
            "statut": [PUBLISHED, SECRET, "manquant"],
        }
    )
    meta = _meta()
    rows = export_rows(cells, meta)
    assert rows["valeur"].tolist() == [12, None, None]
    assert rows["statut"].tolist() == ["published", "secret", "missing"]
    out = csv_rows(to_csv(rows, meta))
    assert [r["nom"] for r in out] == ["'=1+2", "'@evil", "Normal"]
    assert [r["valeur"] for r in out] == ["12", "", ""]
    assert out[0]["libelle"].startswith("'=") and out[0]["avertissement"] == ""
    wb = load_workbook(io.BytesIO(to_xlsx(rows, meta)))
    ws = wb["donnees"]
    assert ws["B2"].value == "'=1+2" and ws["B2"].data_type == "s"
    assert ws["E2"].data_type == "s" and ws["G3"].value is None
    assert "99" not in json.dumps([list(r) for r in ws.values], default=str)
    meta_sheet = {k: v for k, v in wb["metadonnees"].values}
    assert meta_sheet["Titre"].startswith("'=")


# --------------------------------------------------------------------------------------------
# Territories


def test_territory_profile(client, appdata: AppData) -> None:
    body = get_json(client, "/api/v1/territories/commune/69123")
    assert body["name"] == "Lyon" and body["level"] == "commune"
    assert body["parents"]["departement"] == {"code": "69", "name": "Rhône"}
    assert body["parents"]["epci"]["code"] == "200046977"
    assert body["parents"]["france"]["code"] == "FR"
    assert "69266" in body["neighbours"]  # Villeurbanne
    assert body["population"] > 400_000 and 40 < body["area_km2"] < 60
    lon, lat = body["label"]
    assert 4.7 < lon < 4.95 and 45.7 < lat < 45.82
    assert "69003" in body["postal_codes"]
    figures = {f["indicator"]: f for f in body["key_figures"]}
    assert list(figures) == [i for i in KEY_FIGURES if i in figures]
    assert {"allocataires", "rsa", "paje", "taux_personnes_couvertes"} <= set(figures)
    assert figures["allocataires"]["period"] == "2024-12"
    assert figures["allocataires"]["status"] == "published" and figures["allocataires"]["value"]


def test_territory_levels_without_neighbour_data(client) -> None:
    body = get_json(client, "/api/v1/territories/departement/69")
    assert body["neighbours"] == [] and body["key_figures"][0]["period"] == "2025-06"
    iris = get_json(client, "/api/v1/territories/iris/693840501")
    assert {f["indicator"] for f in iris["key_figures"]} <= {
        "allocataires",
        "personnes_couvertes",
        "rsa",
    }
    assert iris["parents"]["commune"]["name"] == "Lyon"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/territories/canton/69",
        "/api/v1/territories/commune/00000",
        "/api/v1/territories/departement/99",
        "/api/v1/territories/commune/" + "9" * 3000,
    ],
)
def test_unknown_territory_is_404(client, path: str) -> None:
    assert "inconnu" in assert_error(client, path, 404)


def test_territory_search(client) -> None:
    hits = get_json(client, "/api/v1/territories?q=venissieux")
    assert hits[0]["name"] == "Vénissieux" and hits[0]["level"] == "commune"
    assert hits[0]["parents"]["departement"]["code"] == "69"
    assert get_json(client, "/api/v1/territories?q=69123")[0]["name"] == "Lyon"
    assert "2A004" in [h["code"] for h in get_json(client, "/api/v1/territories?q=20000")]
    assert len(get_json(client, "/api/v1/territories?q=a")) == 20
    assert get_json(client, "/api/v1/territories?q=zzzzqqq") == []
    for odd in ("2A(", "QP[", "69123)", "2b*+"):  # regex characters never make a 500
        assert isinstance(get_json(client, "/api/v1/territories?q=" + quote(odd)), list)
    assert get_json(client, "/api/v1/territories?q=" + quote("2A004("))[0]["code"] == "2A004"
    for bad in ("", "q=", "q=%20%20", "q=" + "x" * 101):
        assert "q" in assert_error(client, "/api/v1/territories?" + bad, 400)


# --------------------------------------------------------------------------------------------
# Facilities


def test_facilities_of_a_commune(client, appdata: AppData) -> None:
    body = get_json(client, "/api/v1/facilities?commune=69123")
    df = appdata.facilities().table
    own = df[df["commune"] == "69123"]
    assert body["total"] == len(own) > 10 and body["near"] is False
    assert body["commune"] == {"code": "69123", "name": "Lyon"} and body["notice"]
    row = body["facilities"][0]
    assert set(row) == {
        "id",
        "name",
        "type",
        "category",
        "places",
        "address",
        "commune",
        "commune_name",
        "lon",
        "lat",
    }
    assert {f["commune_name"] for f in body["facilities"]} == {"Lyon"}
    assert {f["address"] for f in body["facilities"]} == set(own["adresse"])
    for f in body["facilities"]:
        assert (f["category"] == "LAEP") == (f["type"] == LAEP)
        assert (f["places"] is None) == (f["category"] == "LAEP")


def test_facility_type_filter(client) -> None:
    url = "/api/v1/facilities?commune=69123&type="
    micro = get_json(client, url + "micro_creche")["facilities"]
    assert micro and {f["type"] for f in micro} == {"Micro-crèche"}
    assert get_json(client, url + "Micro-crèche")["facilities"] == micro  # label accepted
    laep = get_json(client, url + "laep")["facilities"]
    assert laep and {f["category"] for f in laep} == {"LAEP"}
    eaje = get_json(client, url + "eaje")
    assert {f["category"] for f in eaje["facilities"]} == {"EAJE"}
    both = get_json(client, url + "laep,eaje")
    assert both["total"] == len(laep) + eaje["total"]
    assert "Type" in assert_error(client, url + "piscine", 400)


def test_facilities_near_sorted_by_distance(client, appdata: AppData) -> None:
    body = get_json(client, "/api/v1/facilities?commune=69123&near=1&limit=5000")
    neighbours = appdata.index().neighbours("commune", "69123")
    assert body["communes"] == ["69123", *neighbours]
    communes = {f["commune"] for f in body["facilities"]}
    assert "69123" in communes and communes - {"69123"} and communes <= set(body["communes"])
    dist = [f["distance_km"] for f in body["facilities"]]
    assert dist == sorted(dist) and dist[-1] < 25
    lon, lat = appdata.index().get("commune", "69123").label
    f = body["facilities"][-1]
    expected = float(haversine_km(lon, lat, pd.Series([f["lon"]]), pd.Series([f["lat"]]))[0])
    assert math.isclose(f["distance_km"], expected, abs_tol=0.01)
    assert (
        len(get_json(client, "/api/v1/facilities?commune=69123&near=1&limit=3")["facilities"]) == 3
    )


def test_generated_facilities_keep_their_notice_with_a_real_store(settings: Settings) -> None:
    class RealStore(AppData):  # the imported store in service, no imported facilities file
        def store(self):
            return replace(super().store(), demo=False)

    server = flask.Flask(__name__)
    register_api(server, RealStore(settings))
    body = get_json(server.test_client(), "/api/v1/facilities?commune=69123")
    assert body["facilities"] and "démonstration" in body["notice"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 400),
        ("commune=00000", 404),
        ("commune=69123&near=peut-etre", 400),
        ("commune=69123&limit=0", 400),
        ("commune=69123&limit=9999999", 400),
        ("commune=" + "6" * 500, 400),
    ],
)
def test_facilities_bad_parameters(client, query: str, status: int) -> None:
    assert_error(client, "/api/v1/facilities?" + query, status)


# --------------------------------------------------------------------------------------------
# OpenAPI


def _resolve(doc: dict, ref: str) -> dict:
    node = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_openapi_document(client) -> None:
    doc = get_json(client, "/api/v1/openapi.json")
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {
        "/api/v1/catalog",
        "/api/v1/data",
        "/api/v1/territories",
        "/api/v1/territories/{level}/{code}",
        "/api/v1/facilities",
        "/api/v1/openapi.json",
        "/healthz",
    }
    refs = re.findall(r'"\$ref": "([^"]+)"', json.dumps(doc))
    assert refs and all(_resolve(doc, r) for r in refs)
    params = {p["name"]: p for p in doc["paths"]["/api/v1/data"]["get"]["parameters"]}
    assert params["level"]["schema"]["enum"] == list(LEVELS)
    assert params["format"]["schema"]["enum"] == ["json", "csv", "xlsx", "geojson"]
    assert set(params["indicator"]["schema"]["enum"]) == set(BY_ID)
    status = doc["components"]["schemas"]["Ligne"]["properties"]["status"]["enum"]
    assert status == ["published", "secret", "missing", "not_applicable"]
    err = doc["components"]["schemas"]["Erreur"]
    assert set(err["properties"]) == {"erreur", "statut"}
    for path, item in doc["paths"].items():
        for name in re.findall(r"{(\w+)}", path):
            assert any(p["name"] == name and p["in"] == "path" for p in item["get"]["parameters"])
        if path not in ("/healthz", "/api/v1/openapi.json"):
            assert {"400", "404"} & set(item["get"]["responses"]) or path == "/api/v1/catalog"


def test_every_documented_path_answers_its_example(client) -> None:
    doc = get_json(client, "/api/v1/openapi.json")
    for path, item in doc["paths"].items():
        params = item["get"].get("parameters", [])
        url = path
        for p in params:
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", str(p["example"]))
        query = "&".join(f"{p['name']}={p['example']}" for p in params if p["in"] == "query")
        resp = client.get(url + ("?" + query if query else ""))
        assert resp.status_code == 200, (url, query, resp.get_data(as_text=True)[:200])
        assert "200" in item["get"]["responses"]


# --------------------------------------------------------------------------------------------
# Secrecy: nothing hidden in the store is ever published by any route


SECRECY_INDICATORS = ("allocataires", "rsa", "part_rsa")


def _check_rows(cells: dict[str, tuple], rows: list[tuple[str, object, str]], nd: int) -> int:
    """rows: (code, value, api status). Returns how many secret cells were checked. A
    territory the store has no cell for (an IRIS of type Z: its commune's value) is listed
    without a value."""
    assert {code for code, _, _ in rows} >= set(cells)
    secrets = 0
    for code, value, status in rows:
        if code not in cells:
            assert status in ("missing", "not_applicable", "") and value in (None, ""), code
            continue
        store_value, store_status = cells[code]
        assert status == STATUS_API[store_status], code
        if store_status == PUBLISHED:
            expected = round(store_value) if nd == 0 else round(store_value, nd)
            assert value == expected, code
        else:
            assert value in (None, ""), code
            secrets += store_status == SECRET
    return secrets


def test_no_route_publishes_a_hidden_cell(client, appdata: AppData) -> None:
    store = appdata.store().store
    avail = store.availability()
    secrets = 0
    for ind_id in SECRECY_INDICATORS:
        ind = BY_ID[ind_id]
        nd = ind.decimals
        for level in ind.levels:
            periods = avail.get((ind_id, level), [])
            assert periods, (ind_id, level)
            for period in periods:
                cells = store_cells(appdata, ind_id, level, period)
                base = f"/api/v1/data?indicator={ind_id}&level={level}&period={period}"
                body = get_json(client, base)
                rows = [(r["code"], r["value"], r["status"]) for r in body["rows"]]
                secrets += _check_rows(cells, rows, nd)
                out = csv_rows(client.get(base + "&format=csv").data)
                parsed = [
                    (
                        r["code"],
                        float(r["valeur"].replace(",", ".")) if r["valeur"] else None,
                        r["statut"],
                    )
                    for r in out
                ]
                _check_rows(cells, parsed, nd)
                geo = json.loads(client.get(base + "&format=geojson").data)
                _check_rows(
                    cells,
                    [
                        (
                            f["properties"]["code"],
                            f["properties"]["valeur"],
                            f["properties"]["statut"],
                        )
                        for f in geo["features"]
                    ],
                    nd,
                )
                if period == periods[-1]:  # Excel is slower: the latest period of each level
                    wb = load_workbook(io.BytesIO(client.get(base + "&format=xlsx").data))
                    xrows = [
                        dict(zip(EXPORT_COLUMNS, r, strict=True))
                        for r in list(wb["donnees"].values)[1:]
                    ]
                    _check_rows(cells, [(r["code"], r["valeur"], r["statut"]) for r in xrows], nd)
    assert secrets > 100  # the test store has secrets to hide, at several levels


def test_key_figures_never_publish_a_hidden_cell(client, appdata: AppData) -> None:
    store = appdata.store().store
    avail = store.availability()
    index = appdata.index()
    checked_secret = 0
    for level in index.levels():
        latest = {i: avail[(i, level)][-1] for i in KEY_FIGURES if (i, level) in avail}
        # territories with a hidden key figure first, then a few others
        latest_cells = {
            (str(r.indicateur), str(r.code)): (r.valeur, str(r.statut))
            for r in store.query(
                "SELECT indicateur, code, periode, valeur, statut FROM vc WHERE niveau = ?",
                [level],
            ).itertuples(index=False)
            if latest.get(str(r.indicateur)) == str(r.periode)
        }
        hidden = sorted({c for (_, c), (_, s) in latest_cells.items() if s != PUBLISHED})
        codes = hidden[:15] + index.table(level)["code"].head(3).tolist()
        for code in dict.fromkeys(codes):
            body = get_json(client, f"/api/v1/territories/{level}/{code}")
            assert [f["indicator"] for f in body["key_figures"]] == list(latest)
            for fig in body["key_figures"]:
                ind = BY_ID[fig["indicator"]]
                assert fig["period"] == latest[ind.id]
                value, status = latest_cells.get((ind.id, code), (None, "manquant"))
                assert fig["status"] == STATUS_API[status]
                if status == PUBLISHED:
                    nd = ind.decimals
                    assert fig["value"] == (round(value) if nd == 0 else round(value, nd))
                else:
                    assert fig["value"] is None
                    checked_secret += status == SECRET
    assert checked_secret > 10
