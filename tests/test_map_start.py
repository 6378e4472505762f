"""The map's start without Dash (layers/map_start.py): the index HTML's first spec is the one
the explore page's own callback makes for the same URL, forged URLs included; and the choices
the browser recolours from follow the store."""

from __future__ import annotations

import json
import re

import pytest

from callbacks import explore
from layers.appdata import current_data
from layers.map_spec import MAP_INPUTS
from layers.map_start import first_spec, map_choices

TAG = re.compile(
    r'<script[^>]* type="application/json" id="cafmap-depart"[^>]*>(.*?)</script>', re.S
)

QUERIES = [
    {},
    {"niveau": "commune", "indicateur": "rsa", "periode": "2022-12"},
    # A period the store lacks: the latest one, as on the page.
    {"niveau": "commune", "indicateur": "rsa", "periode": "1999-12"},
    {"niveau": "iris", "indicateur": "allocataires", "filtre": "departement:69", "palette": "OrRd"},
    {"niveau": "commune", "indicateur": "rsa", "methode": "manual", "bornes": "10;20,5"},
    # Forged: each bad value falls back to its default, never an error.
    {"niveau": "pays", "indicateur": "</script><script>alert(1)</script>", "classes": "99"},
    {"niveau": "commune", "representation": "cercles", "indicateur": "taux_personnes_couvertes"},
]


@pytest.fixture(scope="module")
def app(settings):
    from dashboard.app import create_app

    return create_app(settings)


def _values(node: object, found: dict) -> dict:
    """The `value` of the panel's map inputs in a layout tree."""
    if getattr(node, "id", None) in MAP_INPUTS:
        found[node.id] = node.value
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            _values(child, found)
    return found


@pytest.mark.parametrize("query", QUERIES)
def test_first_spec_is_what_the_page_callback_sends(app, query: dict) -> None:
    from dashboard.pages.explore import explore_layout

    with app.server.test_request_context("/", query_string=query):
        panel = _values(explore_layout(query), {})
        assert set(panel) == set(MAP_INPUTS)
        callback_spec = explore.update_spec(*[panel[name] for name in MAP_INPUTS])[0]
        spec = first_spec(query, current_data(), lambda path: path)
    assert spec == callback_spec
    html = app.server.test_client().get("/", query_string=query).get_data(as_text=True)
    inline = TAG.search(html)
    assert inline is not None and json.loads(inline.group(1)) == spec
    assert "<script>alert" not in html


def test_no_first_spec_off_the_map_page(app) -> None:
    client = app.server.test_client()
    assert TAG.search(client.get("/territoire/commune/69123").get_data(as_text=True)) is None
    assert TAG.search(client.get("/embed?niveau=commune").get_data(as_text=True)) is not None


def test_choices_follow_the_store(app) -> None:
    with app.server.test_request_context("/"):
        data = current_data()
        store, built = data.store().store, data.index().levels()
        choices = map_choices(store, built)
    assert choices["periodes"] == sorted(choices["periodes"])
    rsa = choices["indicateurs"]["rsa"]
    assert rsa["taux"] is False and rsa["titre"]
    for level, positions in rsa["niveaux"].items():
        assert [choices["periodes"][i] for i in positions] == store.periods("rsa", level)
    assert "france" not in rsa["niveaux"]
    body = app.server.test_client().get("/api/carte-choix").get_json()
    assert body == json.loads(json.dumps(choices))
