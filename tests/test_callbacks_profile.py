"""Profile page callbacks called directly (no browser): evolution, neighbours, comparison,
facilities nearby."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
from dash import html, no_update

from callbacks import profile
from layers.catalogue import BY_ID
from layers.comparison import MAX_COMPARED

AMBIEGNA = {"niveau": "commune", "code": "2A014"}  # small commune: secret cells
LYON = {"niveau": "commune", "code": "69123"}


@pytest.fixture(scope="module")
def app(settings):
    from dashboard.app import create_app

    return create_app(settings)


@pytest.fixture(autouse=True)
def request_ctx(app):
    with app.server.test_request_context("/territoire/commune/69123"):
        yield


def test_evolution_of_a_count_on_a_log_axis_beside_the_references() -> None:
    fig = go.Figure(profile.update_evolution("allocataires", LYON))  # dict, read back
    names = [trace.name for trace in fig.data]
    assert names[0] == "Lyon" and any(n.endswith(": France") for n in names)
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.yaxis.title.text == "foyers (échelle logarithmique)"
    rate = go.Figure(profile.update_evolution("taux_personnes_couvertes", LYON))
    assert rate.layout.yaxis.type != "log" and rate.layout.yaxis.title.text == "%"


def test_evolution_leaves_a_hidden_cell_blank() -> None:
    fig = go.Figure(profile.update_evolution("rsa", AMBIEGNA))
    own = fig.data[0]
    secret_at = own.x.index("décembre 2024")
    assert own.y[secret_at] is None and own.customdata[secret_at] == "secret"


def test_evolution_and_neighbours_change_nothing_for_a_level_the_indicator_lacks() -> None:
    iris = {"niveau": "iris", "code": "690290101"}
    assert profile.update_evolution("taux_personnes_couvertes", iris) is no_update
    assert profile.update_neighbours("taux_personnes_couvertes", iris) is no_update
    assert profile.update_evolution("forged", LYON) is no_update


def test_neighbours_show_the_territory_and_label_secrets_instead_of_bars() -> None:
    fig = go.Figure(profile.update_neighbours("rsa", AMBIEGNA))
    bars = fig.data[0]
    mine = [label for label in bars.y if label.endswith("(territoire)")]
    assert mine == ["▶ Ambiegna (territoire)"] and len(bars.y) == 6  # itself and 5 neighbours
    hidden = [x for x in bars.x if x is None]
    notes = [a.text for a in fig.layout.annotations]
    assert hidden and notes.count("secret") == len(hidden)  # a label, never a zero bar


def test_compare_options_keep_the_chosen_ones_and_add_new_matches() -> None:
    chosen = ["departement:69"]
    kept = [{"label": "Rhône (département 69)", "value": "departement:69"}]
    stale = {"label": "Ancien choix", "value": "commune:2A001"}
    options = profile.compare_options("ajacc", chosen, [*kept, stale])
    values = [o["value"] for o in options]
    assert options[0] == kept[0] and "commune:2A001" not in values
    assert "commune:2A004" in values and values.count("departement:69") == 1
    assert profile.compare_options("a", chosen, [*kept, stale]) == kept
    assert profile.compare_options("", [], []) is no_update


def test_comparison_puts_the_territory_first_and_keeps_secrets_secret() -> None:
    table = profile.compare(["departement:69", "commune:2A014", "iris:690290101"], AMBIEGNA)
    head, body = table.children
    columns = [th.children for th in head.children.children]
    assert columns == ["Indicateur", "Ambiegna (commune)", "Rhône (département)"] + [
        "Les Genêts-Hôpitaux (IRIS)"  # as the national IRIS file spells it
    ]
    rows = {
        tr.children[0].children: [td.children for td in tr.children[1:]] for tr in body.children
    }
    assert rows[BY_ID["part_rsa"].title][0] == "secret"
    assert rows[BY_ID["taux_personnes_couvertes"].title][2] == "non concerné"
    assert rows[BY_ID["allocataires"].title][2].endswith("foyers")
    cells = body.children[1].children[1:]
    assert cells[0].className == "cc-num" and not hasattr(cells[2], "className")


def test_comparison_stops_at_its_maximum_and_asks_when_nothing_is_known() -> None:
    many = [f"commune:2A{n:03d}" for n in (1, 4, 6, 8, 11, 17, 21, 22)]
    table = profile.compare(many, AMBIEGNA)
    assert len(table.children[0].children.children) == 1 + MAX_COMPARED
    asked = profile.compare([], {"niveau": "commune", "code": "00000"})
    assert isinstance(asked, html.P)
    assert asked.children == "Choisissez un ou plusieurs territoires à comparer."


def test_facilities_nearby_of_the_types_ticked_nearest_first() -> None:
    rows = profile.facilities(["Micro-crèche"], {"niveau": "commune", "code": "2A004"})
    assert rows and {r["type"] for r in rows} == {"Micro-crèche"}
    distances = [float(r["distance"].replace(",", ".")) for r in rows]
    assert distances == sorted(distances)
    assert all(r["adresse"] == "adresse fictive" for r in rows)  # demonstration points
    assert profile.facilities([], {"niveau": "commune", "code": "2A004"}) == []
