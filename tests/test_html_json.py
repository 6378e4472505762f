"""dashboard/pages/html_json.py: an element written as JSON is what Dash sends for the
component, byte for byte (the profile's theme tables use it)."""

from __future__ import annotations

import pytest
from dash import html
from dash._utils import to_json

from dashboard.pages.html_json import element


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
