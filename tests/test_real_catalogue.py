"""A real store in service: the catalogue grows from its series, every view says where each
value comes from and how the Cnaf disclosed it, and nothing of the demonstration shows."""

from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook
from real_store_support import real_settings
from test_profile import _pdf_text

from dashboard.pages.profile import profile_layout
from layers import catalogue
from layers.appdata import DEMO_NOTICE, AppData
from layers.catalogue import BY_ID, INDICATORS, activate, offered, search
from layers.comparison import comparison
from layers.options import indicator_options, theme_options
from layers.portal_catalogue import PORTAL_CATEGORY, field_words, parse_field, value_text
from layers.profile import cached_profile
from layers.profile_pdf import profile_pdf
from layers.url_state import parse_state

SOURCE = "Source : Cnaf, data.caf.fr, jeu s_ben_com_f, mis à jour le 16/01/2026"


@pytest.fixture(scope="module")
def real(settings, tmp_path_factory):
    return real_settings(settings, tmp_path_factory.mktemp("reel"))


@pytest.fixture(scope="module")
def data(real) -> AppData:
    return AppData(real)


@pytest.fixture(scope="module")
def app(real):
    from dashboard.app import create_app

    return create_app(real)


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


@pytest.fixture(autouse=True)
def serve_real(data: AppData):
    """Each test starts with the real store in service, and leaves the curated catalogue."""
    data.store()
    yield
    activate(None)


def test_portal_series_are_titled_from_the_benefit_dictionary() -> None:
    titles = {
        "indnbp_ndural": "Personnes couvertes par les aides au logement",
        "indmtt_als": "Montant versé au titre de l'ALS",
        "indben_aah": "Bénéficiaires de l'AAH",
        "pl_psu_col": "Places d'accueil en EAJE (PSU)",
        "txcouv_am_ind": "Taux de couverture – assistantes maternelles",
        "indfoy_rsa.rsa_type_rsa_majore": "Foyers bénéficiaires du RSA – RSA majoré",
        # a code the dictionary lacks: the portal's label, never « Nombre foyers XYZ »
        "indfoy_xyz": "Foyers bénéficiaires – XYZ",
    }
    assert {i: BY_ID[i].title for i in titles} == titles
    assert BY_ID["indmtt_als"].nature == "montant" and BY_ID["indmtt_als"].unit == "euros"
    assert BY_ID["txcouv_am_ind"].nature == "taux" and BY_ID["pl_psu_col"].unit == "places"
    assert BY_ID["indnbp_ndural"].theme == "Logement"
    assert BY_ID["indben_aah"].theme == "Handicap et autonomie"
    assert BY_ID["indnbp_ndural"].levels == ("commune",)
    assert BY_ID["indnbp_ndural"].first_period == "2024"
    assert "arrondis à 5" in BY_ID["indnbp_ndural"].definition  # the dataset's description
    # Curated first, then the portal's series; what the store lacks is not offered.
    kinds = [i.category == PORTAL_CATEGORY for i in INDICATORS]
    assert kinds == sorted(kinds) and kinds[0] is False and kinds[-1] is True
    ids = [i.id for i in INDICATORS]
    assert "apl" not in ids and not offered("apl") and not offered("taux_personnes_couvertes")
    assert BY_ID["rsa"].levels == ("france", "region", "departement", "caf", "commune")


def test_breakdown_values_read_as_words() -> None:
    field = parse_field("indfoy_ndur_com|qf_400=Moins de 400 euros")
    assert field.name == "indfoy_ndur" and field.dimension == "qf_400"
    words = field_words(field)
    assert words.title == "Foyers bénéficiaires d'au moins une prestation"
    assert value_text("qf_400", "Moins de 400 euros") == "quotient familial : moins de 400 euros"
    assert value_text("rsa_type", "RSA majoré") == "RSA majoré"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("rsa", "indfoy_rsa.rsa_type_rsa_majore"),
        ("allocation logement", "indnbp_ndural"),
        ("indfoy_rsa", "rsa"),
        ("indfoy_rsa", "indfoy_rsa.rsa_type_rsa_majore"),
        ("creche", "pl_psu_col"),
        ("s_ben_com_f", "indmtt_als"),
    ],
)
def test_search_finds_portal_series_by_words_and_field_code(query: str, expected: str) -> None:
    assert expected in [i.id for i in search(query, limit=20)]


def test_panel_and_url_follow_the_store_in_service(data: AppData) -> None:
    themes = [o["value"] for o in theme_options()]
    assert "Accueil du jeune enfant" in themes and "Logement" in themes
    assert "indnbp_ndural" in [o["value"] for o in indicator_options("Logement", "")]
    info, index = data.store(), data.index()
    state, bad = parse_state({"indicateur": "indnbp_ndural"}, info.store, index, index.levels())
    assert state.indicateur == "indnbp_ndural" and state.niveau == "commune" and not bad
    state, bad = parse_state({"indicateur": "apl"}, info.store, index, index.levels())
    assert bad == ["indicateur"] and state.indicateur in BY_ID
    activate(None)  # the demonstration's catalogue: curated only
    assert "indnbp_ndural" not in [o["value"] for o in indicator_options("", "")]
    state, bad = parse_state({"indicateur": "indnbp_ndural"}, None, index, index.levels())
    assert bad == ["indicateur"]


def test_api_catalogue_lists_the_store_series(client) -> None:
    body = client.get("/api/v1/catalog").get_json()
    ids = [i["id"] for i in body["indicators"]]
    assert "indnbp_ndural" in ids and "indfoy_rsa.rsa_type_rsa_majore" in ids
    assert "apl" not in ids and body["demo"] is False and body["notice"] is None
    portal = [t for t in body["themes"] if t["category"] == PORTAL_CATEGORY]
    assert {t["theme"] for t in portal} >= {"Logement", "Accueil du jeune enfant"}
    doc = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p for p in doc["paths"]["/api/v1/data"]["get"]["parameters"]}
    assert "indnbp_ndural" in params["indicator"]["schema"]["enum"]
    assert "apl" not in params["indicator"]["schema"]["enum"]
    # A curated series the real store lacks is refused, never served empty or generated.
    refused = client.get("/api/v1/data?indicator=apl&level=commune")
    assert refused.status_code == 400 and "Indicateur inconnu" in refused.get_json()["erreur"]
    carte = client.get("/api/carte/commune?indicateur=apl")
    assert carte.status_code == 400


def test_map_legend_says_source_and_regime(client) -> None:
    base = "/api/carte/commune?periode=2024-12&indicateur="
    rounded = client.get(base + "indnbp_ndural").get_json()
    assert rounded["source"] == SOURCE and rounded["avertissement"] is None
    assert "arrondies à 5" in rounded["note"] and "un 0 signifie" in rounded["note"]
    assert rounded["approximatif"] is False
    # The Cnaf rounds instead of hiding: no empty « Secret statistique » row for that series.
    assert "Secret statistique" not in [r["libelle"] for r in rounded["legende"]]
    rate = client.get(base + "part_rsa").get_json()
    assert rate["approximatif"] is True and "≈" in rate["note"]
    assert "calculé par l'application" in rate["source"]
    old = client.get("/api/carte/commune?periode=2019-12&indicateur=rsa").get_json()
    assert "Secret statistique" in old["note"] and "jeu s_ben_com," in old["source"]
    assert "Secret statistique" in [r["libelle"] for r in old["legende"]]
    places = client.get("/api/carte/commune?indicateur=pl_psu_col").get_json()
    assert places["note"] == "Valeurs exactes" and "nbpla_pe_com" in places["source"]


def test_api_data_and_csv_carry_the_provenance(client) -> None:
    body = client.get("/api/v1/data?indicator=indnbp_ndural&level=commune").get_json()
    assert body["source"] == {
        "text": SOURCE,
        "jeu": "s_ben_com_f",
        "champ": "indnbp_ndural",
        "mis_a_jour": "2026-01-16",
        "url": "https://data.caf.fr/explore/dataset/s_ben_com_f/",
    }
    assert body["regime"] == "arrondi" and body["arrondi"] == 5 and body["notice"] is None
    assert all(r["value"] % 5 == 0 for r in body["rows"] if r["status"] == "published")
    rate = client.get("/api/v1/data?indicator=part_rsa&level=commune").get_json()
    assert rate["approximatif"] is True and rate["source"]["champ"].startswith("calcul")
    resp = client.get("/api/v1/data?indicator=indnbp_ndural&level=commune&format=csv")
    rows = list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig")), delimiter=";"))
    assert {r["source"] for r in rows} == {SOURCE}
    assert len({r["note"] for r in rows}) == 1 and "arrondies à 5" in rows[0]["note"]
    assert {r["avertissement"] for r in rows} == {""}
    xlsx = client.get("/api/v1/data?indicator=part_rsa&level=commune&format=xlsx").data
    meta = dict(load_workbook(io.BytesIO(xlsx))["metadonnees"].iter_rows(values_only=True))
    assert "jeu s_ben_com_f" in meta["Source"] and "≈" in meta["Diffusion"]


def _find(component, ident: str):
    """The component of a layout with this id (depth first), None when absent."""
    if getattr(component, "id", None) == ident:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found = _find(child, ident)
            if found is not None:
                return found
    return None


def test_profile_lists_each_series_source(data: AppData, client) -> None:
    info, index = data.store(), data.index()
    code = index.table("commune")["code"].iloc[30]  # not one of the small communes
    prof = cached_profile(info.store, index, "commune", code, info.notice)
    rows = {r.cell.indicator: r for r in prof.indicator_rows()}
    assert rows["indnbp_ndural"].source == SOURCE and "arrondies" in rows["indnbp_ndural"].note
    assert rows["part_rsa"].cell.text.startswith("≈ ")
    assert "s_ben_com_f" in prof.source and prof.notice is None
    page = json.dumps(profile_layout(data, "commune", code).to_plotly_json(), default=str)
    assert "Sources et diffusion" in page and "jeu s_ben_com_f" in page
    pdf = " ".join(_pdf_text(profile_pdf(prof)))
    assert "jeu s_ben_com_f" in pdf and "Cnaf, data.caf.fr (jeux s_ben_com_f" in pdf
    # The evolution picker starts on a series the store has (not the absent coverage rate).
    chosen = _find(profile_layout(data, "commune", code), "evolution-indicateur").value
    assert offered(chosen) and chosen in rows
    compared = comparison(info.store, index, [f"commune:{code}"])
    texts = {title: row[0].text for title, row in compared.rows}
    assert texts[BY_ID["part_rsa"].title].startswith("≈ ")
    territory = client.get(f"/api/v1/territories/commune/{code}").get_json()
    figures = {f["indicator"]: f for f in territory["key_figures"]}
    assert figures["allocataires"]["source"]["jeu"] == "s_ben_com_f"
    assert figures["allocataires"]["regime"] == "arrondi" and territory["demo"] is False


def test_no_demonstration_banner_on_a_real_store(client, settings) -> None:
    from dashboard.app import create_app

    real_layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "bandeau-demo" not in real_layout and "démonstration" not in real_layout
    demo_layout = create_app(settings).server.test_client().get("/_dash-layout")
    text = demo_layout.get_data(as_text=True)
    assert "bandeau-demo" in text and "make sync" in text and "make sync" in DEMO_NOTICE


def test_derived_rates_hide_what_their_terms_hide(data: AppData) -> None:
    store = data.store().store
    alloc = store.layer("allocataires", "commune", "2024-12").set_index("code")
    rate = store.layer("part_rsa", "commune", "2024-12").set_index("code")
    small = alloc.index[alloc["valeur"] < 50]
    assert len(small) >= 20
    assert (rate.loc[small, "statut"] == "secret").all() and rate.loc[small, "valeur"].isna().all()
    big = alloc.index[alloc["valeur"] >= 50]
    assert (rate.loc[big, "statut"] == "publie").all()
    rsa_old = store.layer("rsa", "commune", "2019-12").set_index("code")
    rate_old = store.layer("part_rsa", "commune", "2019-12").set_index("code")
    hidden = rsa_old.index[rsa_old["statut"] == "secret"]
    assert len(hidden) and (rate_old.loc[hidden, "statut"] == "secret").all()
    assert rate_old.loc[hidden, "valeur"].isna().all()


def test_region_sums_only_where_every_departement_is_published(data: AppData) -> None:
    store, index = data.store().store, data.index()
    deps = store.layer("indben_aah", "departement", "2024-12").set_index("code")
    regions = store.layer("indben_aah", "region", "2024-12").set_index("code")
    geo = index.table("departement").set_index("code")["region"]
    for dep, region in geo.items():
        if deps.loc[dep, "statut"] == "secret":
            assert regions.loc[region, "statut"] == "secret"
            assert regions["valeur"].loc[[region]].isna().all()
        else:
            assert regions.loc[region, "valeur"] == deps.loc[dep, "valeur"]
    # The portal publishes France for the allocataires: its value, not a sum, is served.
    france = store.layer("allocataires", "france", "2024-12")
    assert france["valeur"].tolist() == [13_500_000.0]
    assert store.provenance("allocataires", "france", "2024-12").dataset == "s_ben_nat"


def test_catalogue_views_read_the_active_catalogue(data: AppData) -> None:
    real = data.store().catalogue
    assert catalogue.active() is real and len(INDICATORS) == len(real.indicators)
    activate(None)
    assert catalogue.active() is catalogue.CURATED and offered("apl")


def test_series_notes_for_each_kind_of_provenance() -> None:
    from layers.provenance import Provenance
    from layers.series_notes import api_fields, note, source_line

    ind = BY_ID["rsa"]
    demo = Provenance("demonstration", "rsa", "", "arrondi", 5)
    assert "démonstration" in source_line(demo, ind) and "Cnaf, data.caf.fr" not in (
        source_line(demo, ind)
    )
    assert api_fields(demo)["source"]["url"] is None and "arrondies à 5" in note(demo)
    blank = Provenance("s_ben_com", "indfoy_rsa", "2019-06-30", "supprime")
    assert note(blank).startswith("Secret statistique")
    assert source_line(blank, ind).endswith("mis à jour le 30/06/2019")
    summed = Provenance("s_ben_dep", "calcul : somme des départements (indfoy_rsa)", "", "exact")
    assert "calculé par l'application" in source_line(summed, ind)
    assert api_fields(summed)["approximatif"] is False and "exactes" in note(summed)
    assert source_line(None, ind) == f"Source : {ind.source}" and note(None) == ""


def test_definition_dialog_names_the_shown_series(app) -> None:
    from callbacks import explore

    with app.server.test_request_context("/"):
        is_open, title, body = explore.show_metadata(1, "part_rsa", "commune", "2024-12")
    text = json.dumps(body.to_plotly_json(), default=str, ensure_ascii=False)
    assert is_open and title == BY_ID["part_rsa"].title
    assert "Série affichée" in text and "jeu s_ben_com_f" in text and "≈" in text
