"""dashboard/pages/html_json.py: an element written as JSON is what Dash sends for the
component, byte for byte (the profile page is written with it)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from dash import dcc, html
from dash._utils import to_json
from dash.development.base_component import Component

from dashboard.pages.html_json import element
from layers.appdata import AppData


@pytest.mark.parametrize(
    ("cls", "children", "props"),
    [
        (html.Td, "1\u202f234", {"className": "cc-num"}),
        (html.Th, "Allocataires (nombre)", {"scope": "row"}),
        (html.Td, "—", {}),
        (html.A, "Lyon", {"href": "/territoire/commune/69123", "id": "x", "title": "t"}),
    ],
)
def test_element_is_the_components_json(cls: type, children: str, props: dict) -> None:
    assert to_json(element(cls, children, **props)) == to_json(cls(children, **props))


def test_nested_rows_serialise_like_the_components() -> None:
    built = html.Tbody(
        [html.Tr([html.Th("a", scope="row"), html.Td("1", className="cc-num")]) for _ in "ab"]
    )
    written = html.Tbody(
        [
            element(
                html.Tr,
                [element(html.Th, "a", scope="row"), element(html.Td, "1", className="cc-num")],
            )
            for _ in "ab"
        ]
    )
    assert to_json(written) == to_json(built)


def _as_components(tree: Any) -> tuple[Any, int]:
    """`tree` with every element written as JSON turned back into its Dash component, and how
    many were."""
    if isinstance(tree, list):
        pairs = [_as_components(t) for t in tree]
        return [t for t, _ in pairs], sum(n for _, n in pairs)
    if isinstance(tree, dict) and set(tree) == {"props", "type", "namespace"}:
        module = {"dash_html_components": html, "dash_core_components": dcc}[tree["namespace"]]
        props = dict(tree["props"])
        children, found = _as_components(props.pop("children"))
        return getattr(module, tree["type"])(children, **props), found + 1
    if isinstance(tree, Component) and getattr(tree, "children", None) is not None:
        tree.children, found = _as_components(tree.children)
        return tree, found
    return tree, 0


@pytest.mark.parametrize("level", ["commune", "departement", "qpv"])
def test_profile_page_serialises_like_its_components(settings, level: str) -> None:
    """The whole profile page, every element in it (tables, cards, links, sections) rebuilt
    as its Dash component: the same JSON, so the browser receives the same page."""
    from dashboard.pages.profile import profile_layout

    data = AppData(settings)
    index = data.index()
    for code in sorted(index.table(level)["code"])[:3]:
        page = profile_layout(data, level, str(code))
        sent = to_json(page)
        rebuilt, found = _as_components(copy.deepcopy(page))
        assert found > 100 and to_json(rebuilt) == sent
