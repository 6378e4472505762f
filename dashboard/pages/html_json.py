"""Dash HTML elements written directly as the JSON Dash sends for them, for long tables.

A commune's profile page holds some 500 `html.Tr`/`Th`/`Td`. Building each Dash component (its
argument checks) and then serialising it (Plotly's JSON encoder calls `to_plotly_json` on each
one) cost about a third of the page callback's CPU. `element()` gives the dictionary the
component would have become, with the same keys in the same order: the browser receives the
same bytes, and the page is the same.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from dash.development.base_component import Component

Element = dict[str, Any]  # a component as its JSON


@lru_cache(maxsize=256)  # some forty sets of props on a profile page
def _order(cls: type[Component], names: tuple[str, ...]) -> tuple[str, ...]:
    """The order in which `cls.to_plotly_json` lists these props (asked once per set)."""
    return tuple(cls(**dict.fromkeys(names, "")).to_plotly_json()["props"])


# (class, props in the order of the call) -> the order Dash lists them in, or None when the
# call already lists them so (most calls: one prop beside the children).
_PLANS: dict[tuple, tuple[str, ...] | None] = {}


def element(cls: type[Component], children: Any, **props: Any) -> Element:
    """`cls(children, **props)` as its JSON: {"props": ..., "type": ..., "namespace": ...}."""
    given = {"children": children, **props}
    key = (cls, *props)
    plan = _PLANS.get(key, ())
    if plan == ():  # a call site seen for the first time
        plan = _order(cls, tuple(sorted(given)))
        plan = _PLANS[key] = None if plan == tuple(given) else plan
    if plan is not None:
        given = {name: given[name] for name in plan}
    return {"props": given, "type": cls._type, "namespace": cls._namespace}
