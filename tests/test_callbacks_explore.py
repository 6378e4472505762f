"""Explore page callbacks called directly (no browser): navigation, levels, periods, map spec,
data table, metadata dialog, selection panel, territory search, facilities beside the map."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import plotly.graph_objects as go
import pytest
from dash import html, no_update
from dash_support import triggered_by

from callbacks import explore, facilities
from layers import strings_fr as fr
from layers.catalogue import BY_ID
from layers.facility_listing import LIST_LIMIT
from layers.model import FACILITY_TYPES

SEARCH_CLICK = '{"id":"aah","type":"resultat"}.n_clicks'


@pytest.fixture(scope="module")
def app(settings):
    from dashboard.app import create_app

    return create_app(settings)


@pytest.fixture
def request_ctx(app):
    with app.server.test_request_context("/"):
        yield


def test_theme_change_drops_a_foreign_subtheme_and_keeps_the_indicator_when_offered() -> None:
    theme = BY_ID["rsa"].theme
    out = triggered_by("theme.value", explore.navigate, theme, "Petite enfance", [], "rsa")
    theme_value, subs, subtheme, options, value, search = out
    assert theme_value is no_update and search is no_update
    assert subtheme == "" and subs[0] == {"label": fr.ALL_SUBTHEMES, "value": ""}
    offered = [o["value"] for o in options]
    assert value == "rsa" and "rsa" in offered
    assert all(BY_ID[i].theme == theme for i in offered)
    # An indicator of another theme gives way to the first one of the new theme.
    other = triggered_by("theme.value", explore.navigate, theme, "", [], "allocataires")
    assert BY_ID["allocataires"].theme != theme and other[4] == offered[0]


def test_a_search_result_picks_its_indicator_theme_and_subtheme_and_clears_the_box() -> None:
    aah = BY_ID["aah"]
    out = triggered_by(SEARCH_CLICK, explore.navigate, "", "", [1], "rsa")
    assert out[0] == aah.theme and out[2] == aah.subtheme and out[4] == "aah" and out[5] == ""
    assert {"label": aah.title, "value": "aah"} in out[3]
    # A result button rendered (n_clicks 0) is no click: nothing changes.
    assert triggered_by(SEARCH_CLICK, explore.navigate, "", "", [0], "rsa") == (no_update,) * 6


def test_indicator_search_answers_in_french() -> None:
    found = explore.show_search("crèche")
    assert found and all(isinstance(li, html.Li) for li in found)
    assert "Aucun indicateur ne correspond." in str(explore.show_search("zzqqxx"))
    assert explore.show_search(" a ") == []


def test_levels_of_a_rate_fall_back_to_the_departement_and_force_the_choropleth(
    request_ctx,
) -> None:
    options, level, hidden, representation = explore.levels_for(
        "taux_personnes_couvertes", "iris", "cercles"
    )
    disabled = {o["value"] for o in options if o["disabled"]}
    assert level == "departement" and hidden is True and representation == "choroplethe"
    assert {"qpv", "iris"} <= disabled and "commune" not in disabled
    # A count keeps the level and the proportional circles.
    assert explore.levels_for("rsa", "iris", "cercles")[1:] == ("iris", False, "cercles")


def test_periods_keep_the_current_one_else_the_latest(request_ctx) -> None:
    options, value = explore.periods_for("rsa", "commune", "2022-12")
    assert value == "2022-12"
    assert options[0] == {"label": "décembre 2024", "value": "2024-12"}  # newest first
    # Communes are annual: the departement's quarter is not offered there.
    assert explore.periods_for("rsa", "commune", "2025-06")[1] == "2024-12"
    assert explore.periods_for("rsa", None, "2024-12") == ([], None)


def test_map_spec_carries_urls_and_the_view_not_the_data(request_ctx) -> None:
    spec, csv, geojson = explore.update_spec(
        "rsa", "commune", "2024-12", "choroplethe", "manual", 5, "10;20", "OrRd", "epci:242010056"
    )
    values = parse_qs(urlsplit(spec["valeurs"]).query)
    assert spec["titre"] == f"{BY_ID['rsa'].title} par commune, décembre 2024"
    assert values["bornes"] == ["10;20"] and values["filtre"] == ["epci:242010056"]
    assert values["methode"] == ["manual"] and values["palette"] == ["OrRd"]
    assert spec["profil"] == "/territoire/" and spec["points"].startswith("/geo/commune-points")
    assert parse_qs(urlsplit(csv).query) == {
        "indicator": ["rsa"],
        "level": ["commune"],
        "period": ["2024-12"],
        "format": ["csv"],
        "parent": ["epci:242010056"],
    }
    assert "format=geojson" in geojson
    assert len(json.dumps(spec)) < 4000  # URLs and labels: no value goes through Dash
    # Quantiles send no bounds; an incomplete or unknown view changes nothing.
    spec = explore.update_spec("rsa", "commune", "2024-12", None, None, None, "1;2", None, None)[0]
    assert "bornes" not in spec["valeurs"]
    assert explore.update_spec("rsa", "commune", None, *[None] * 6) == (no_update,) * 3
    assert explore.update_spec("rsa", "pays", "2024-12", *[None] * 6) == (no_update,) * 3


def test_map_spec_waits_for_a_period_the_level_has(request_ctx) -> None:
    """A new level whose period callback was lost (error, time-out) leaves the old level's
    period: no spec (whose values URL would be refused), the map keeps its view."""
    with_quarter = "2025-06"  # quarterly at the départements, not at the communes nor EPCI
    assert explore.update_spec("rsa", "departement", with_quarter, *[None] * 6)[0]["valeurs"]
    for level in ("commune", "epci"):
        assert explore.update_spec("rsa", level, with_quarter, *[None] * 6) == (no_update,) * 3
        assert explore.update_spec("rsa", level, "2024-12", *[None] * 6)[0]["valeurs"]


def test_data_table_keeps_secrets_secret_and_ranks_published_values(request_ctx) -> None:
    assert explore.data_table(False, None, "rsa", "commune", "2024-12", None) is no_update
    table = explore.data_table(True, None, "rsa", "commune", "2024-12", "departement:2A")
    rows = {r["code"]: r for r in table.data}
    assert rows["2A014"] == {
        "nom": "Ambiegna",
        "code": "2A014",
        "valeur": "secret",
        "tri": None,
        "rang": "",
    }
    assert rows["2A004"]["rang"] == 1 and rows["2A004"]["valeur"] == "3\u202f424\u00a0foyers"
    assert all(code.startswith("2A") for code in rows)
    assert table.columns[2]["name"] == f"{BY_ID['rsa'].title} (décembre 2024)"


def test_data_table_says_why_in_french(request_ctx) -> None:
    refused = explore.data_table(True, None, "rsa", "region", "2024-12", "commune:69123")
    assert isinstance(refused, html.P) and "Territoire parent inconnu" in refused.children
    assert explore.data_table(True, 1, "rsa", "commune", None, None).children == "Pas de données."


def test_metadata_dialog_describes_the_indicator_in_french() -> None:
    is_open, title, body = explore.show_metadata(1, "taux_personnes_couvertes")
    ind = BY_ID["taux_personnes_couvertes"]
    terms = [part.children for part in body.children[::2]]
    described = dict(zip(terms, [part.children for part in body.children[1::2]], strict=True))
    assert is_open is True and title == ind.title
    assert described["Unité"] == ind.unit and described["Définition"] == ind.definition
    assert (
        described["Niveaux"]
        == "France, région, département, Caf, EPCI, commune, arrondissement municipal"
    )
    assert described["Série labellisée"] in ("oui", "non")


def test_selection_shows_the_series_with_secrets_blank_and_links_the_profile(request_ctx) -> None:
    cls, title, content = triggered_by(
        "selection-territoire.data", explore.show_selection, "commune:2A014", "rsa", 0
    )
    note, graph, link = content
    assert cls == "cc-selection cc-selection-open" and title == "Ambiegna (commune 2A014)"
    assert note.children == f"{BY_ID['rsa'].title} (foyers), secrets en blanc"
    figure = go.Figure(graph.figure)  # a figure dict, read back through graph objects
    own = figure.data[0]
    assert own.name == "Ambiegna" and own.y[own.x.index("décembre 2024")] is None
    assert figure.layout.yaxis.type == "log"  # counts: commune and France legible
    assert link.href == "/territoire/commune/2A014" and link.id == "lien-fiche"


def test_selection_closes_and_refuses_an_unknown_territory(request_ctx) -> None:
    closed = triggered_by(
        "selection-fermer.n_clicks", explore.show_selection, "commune:2A014", "rsa", 1
    )
    assert closed[:2] == ("cc-selection", fr.SELECTION_TITLE)
    assert closed[2].children == fr.SELECTION_HINT
    unknown = triggered_by(
        "selection-territoire.data", explore.show_selection, "commune:00000", "rsa", 0
    )
    assert unknown[2].children == "Territoire inconnu."
    # A level the indicator lacks: the link only, no chart.
    iris = triggered_by(
        "selection-territoire.data",
        explore.show_selection,
        "iris:690290101",
        "taux_personnes_couvertes",
        0,
    )
    assert [c.id for c in iris[2]] == ["lien-fiche"]


def test_territory_search_by_postal_code_leads_to_the_profile(request_ctx) -> None:
    options = explore.territory_options("69001")
    lyon = {"label": "Lyon (commune 69123)", "value": "commune/69123", "search": "69001"}
    assert lyon in options and all(o["search"] == "69001" for o in options)
    assert explore.territory_options("l") is no_update
    assert explore.territory_options("qqqqzz") == []  # searched, nothing found
    assert explore.open_profile("commune/69123") == "/territoire/commune/69123"
    assert explore.open_profile(None) is no_update


def test_facility_points_spec_takes_known_types_only(request_ctx) -> None:
    spec = facilities.spec(["laep", "micro_creche", "forged"])
    assert spec["types"] == [1, 4] and spec["url"].startswith("/geo/equipements.geojson?v=")
    assert len(spec["couleurs"]) == len(spec["libelles"]) == len(FACILITY_TYPES)
    assert len(set(spec["couleurs"])) == len(FACILITY_TYPES)  # one colour a type
    assert facilities.spec(["forged"]) == {"types": []} and facilities.spec(None) == {"types": []}


def test_facilities_of_a_commune_nearest_first_with_its_coverage(request_ctx) -> None:
    children, hidden = facilities.listing(["creche_collective", "laep"], "commune:2A004", None)
    heading, context, table, notice = children
    assert hidden is False
    assert heading.children.startswith("Équipements de Ajaccio et des communes voisines (")
    assert context.children.startswith("Taux de couverture en EAJE")
    assert "Ajaccio : " in context.children and "France : " in context.children
    kinds = {r["type"] for r in table.data}
    assert kinds <= {"Crèche collective", "Lieu d'accueil enfants-parents"}
    distances = [float(r["distance"].replace(",", ".")) for r in table.data if r["distance"]]
    assert distances == sorted(distances)
    assert "fictifs" in notice.children  # demonstration points are said to be so


def test_facilities_of_a_departement_are_capped_and_without_distance(request_ctx) -> None:
    children, _ = facilities.listing(["creche_collective"], None, "departement:69")
    heading, table, more, _notice = children
    assert heading.children.startswith("Équipements : Rhône (département) — ")
    assert len(table.data) == LIST_LIMIT
    assert "distance" not in [c["id"] for c in table.columns]
    assert more.children.startswith(f"Les {LIST_LIMIT} premiers sont listés")
    hint = facilities.listing(["laep"], None, None)[0][0]
    assert hint.children.startswith("Cliquez une commune de la carte")
    assert facilities.listing([], "commune:2A004", None) == ([], True)
