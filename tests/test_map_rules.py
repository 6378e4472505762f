"""Cartographic rules (issue 12, item 5) and the overseas insets' spec (item 6), without a
browser: counts open as proportional circles, rates as a choropleth, a choropleth of counts only
on request and with a note; the national view of a level reaching overseas lists the five DROM."""

from __future__ import annotations

import pytest

from callbacks import explore
from dashboard.pages.explore import view_block
from layers import strings_fr as fr
from layers.appdata import AppData
from layers.catalogue import BY_ID
from layers.map_options import (
    CHOROPLETH,
    CIRCLES,
    default_representation,
    map_params,
    representation_note,
)
from layers.map_spec import insets
from layers.model import AMOUNT, COUNT, RATE
from layers.url_state import ViewState, parse_state
from layers.views import ViewError

DROM = {"971", "972", "973", "974", "976"}


def _of(nature: str):
    return next(ind for ind in BY_ID.values() if ind.nature == nature)


@pytest.fixture(scope="module")
def app(settings):
    from dashboard.app import create_app

    return create_app(settings)


@pytest.fixture(scope="module")
def data(settings) -> AppData:
    return AppData(settings)


def _parse(data: AppData, query: dict[str, str]) -> tuple[ViewState, list[str]]:
    index = data.index()
    return parse_state(query, data.store().store, index, index.levels())


def test_counts_and_amounts_default_to_circles_rates_to_a_choropleth() -> None:
    assert default_representation(_of(COUNT)) == CIRCLES
    assert default_representation(_of(AMOUNT)) == CIRCLES  # euros: a stock, it adds up
    assert default_representation(_of(RATE)) == CHOROPLETH
    assert map_params({}, _of(COUNT))["representation"] == CIRCLES
    assert map_params({}, _of(RATE))["representation"] == CHOROPLETH
    with pytest.raises(ViewError, match="cercles proportionnels"):
        map_params({"representation": CIRCLES}, _of(RATE))


def test_url_state_opens_a_count_as_circles_and_keeps_a_saved_choropleth(data) -> None:
    state, bad = _parse(data, {"indicateur": "rsa", "niveau": "commune"})
    assert state.representation == CIRCLES and bad == []
    assert "representation" not in state.query()  # the default is not written
    saved, bad = _parse(data, {"indicateur": "rsa", "representation": CHOROPLETH})
    assert saved.representation == CHOROPLETH and bad == []
    assert "representation=choroplethe" in saved.query()  # and it survives a copied link
    rate, bad = _parse(data, {"indicateur": "taux_personnes_couvertes", "representation": CIRCLES})
    assert rate.representation == CHOROPLETH and bad == ["representation"]


def test_panel_says_why_circles_and_warns_on_a_choropleth_of_counts() -> None:
    assert representation_note(_of(COUNT), CIRCLES) == fr.CIRCLES_WHY
    note = representation_note(_of(COUNT), CHOROPLETH)
    assert note.startswith("Une carte choroplèthe d'effectifs fait dépendre la couleur")
    assert representation_note(_of(RATE), CHOROPLETH) == ""
    assert explore.representation_text("rsa", CHOROPLETH) == note


def test_a_new_count_indicator_opens_as_circles_and_the_panel_says_why(app, data) -> None:
    with app.server.test_request_context("/"):
        assert explore.levels_for("rsa", "commune", CHOROPLETH)[3] == CIRCLES
        assert explore.levels_for("taux_personnes_couvertes", "commune", CIRCLES)[3] == CHOROPLETH
    state, _ = _parse(data, {"indicateur": "rsa", "niveau": "commune"})
    block = str(view_block(state, ["commune"], ["2024-12"]))
    assert fr.CIRCLES_WHY in block and "'value': 'cercles'" in block.replace('"', "'")
    saved, _ = _parse(data, {"indicateur": "rsa", "representation": CHOROPLETH})
    assert fr.COUNT_CHOROPLETH_NOTE in str(view_block(saved, ["commune"], ["2024-12"]))


def test_values_api_draws_a_count_as_circles_unless_asked(app, data) -> None:
    client = app.server.test_client()
    period = data.store().store.periods("rsa", "commune")[-1]
    body = client.get(f"/api/carte/commune?indicateur=rsa&periode={period}").get_json()
    assert body["representation"] == CIRCLES and len(body["rayons"]) == len(body["valeurs"])
    asked = f"/api/carte/commune?indicateur=rsa&periode={period}&representation=choroplethe"
    body = client.get(asked).get_json()
    assert body["representation"] == CHOROPLETH and "rayons" not in body
    rate = client.get(
        f"/api/carte/departement?indicateur=taux_personnes_couvertes&representation={CIRCLES}"
    )
    assert rate.status_code == 400 and "cercles" in rate.get_json()["erreur"]


def test_insets_only_in_the_national_view_of_a_level_reaching_overseas() -> None:
    national = insets((-61.3, 14.3, 9.6, 51.1), "")
    assert {i["code"] for i in national} == DROM
    assert {i["nom"] for i in national} >= {"Martinique", "La Réunion", "Mayotte"}
    assert all(len(i["emprise"]) == 4 for i in national)
    assert insets((-61.3, 14.3, 9.6, 51.1), "departement:69") == []  # filtered
    assert insets((2.0, 42.0, 9.6, 46.0), "") == []  # a metropolitan-only level (IRIS)


def test_view_spec_carries_the_insets_of_the_national_commune_map(app) -> None:
    with app.server.test_request_context("/"):
        spec = explore.update_spec("rsa", "commune", "2024-12", None, *[None] * 5)[0]
        filtered = explore.update_spec(
            "rsa", "commune", "2024-12", None, None, None, None, None, "departement:69"
        )[0]
    assert {i["code"] for i in spec["encarts"]} == DROM
    assert "representation=cercles" in spec["valeurs"]
    assert filtered["encarts"] == []
