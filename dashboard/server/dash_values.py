"""The JSON type each input of a Dash update may hold, from the components of the app's layout.

The renderer sends each input's current property value: a dropdown's value is a string, a
number or null (a list when `multi`), a click count an integer, a URL's path a string. A value
of another JSON type (a dict where a dropdown's value goes, a list for a click count, a number
for a path) cannot come from the browser: it is refused as a client error before the callback
runs, instead of failing inside it as a server error. The classes are read from the layout of
the shell and of every page; components a callback creates (pattern ids) fall back on the
table by property name. Whether a well-typed value makes sense (a known indicator, a level of
the model) is each callback's business: an unknown one gets the callback's normal answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import dash

SCALAR = frozenset({"null", "bool", "int", "float", "str"})
ANY = frozenset({"null", "bool", "int", "float", "str", "list", "dict"})
COUNT = frozenset({"null", "int"})  # n_clicks and its kin: never negative
TEXT = frozenset({"null", "str"})
FLAG = frozenset({"null", "bool"})
EVENT = frozenset({"null", "dict"})
LIST = frozenset({"null", "list"})
NUMBER = frozenset({"null", "int", "float"})
COUNTS = frozenset({"n_clicks", "n_clicks_timestamp", "n_submit", "n_blur", "n_intervals"})

# (component class, property) -> kinds; a class's `value` when it is not simply a scalar.
CLASS_KINDS: dict[tuple[str, str], frozenset[str]] = {
    ("Checklist", "value"): LIST,
    ("RangeSlider", "value"): LIST,
    ("Slider", "value"): NUMBER,
    ("Textarea", "value"): TEXT,
    ("Store", "data"): ANY,
    ("DataTable", "data"): LIST,
}
# Property -> kinds whatever the component (Dash's own meaning of these names).
PROPERTY_KINDS: dict[str, frozenset[str]] = {
    **dict.fromkeys(COUNTS, COUNT),
    **dict.fromkeys(("pathname", "search", "hash", "href", "search_value"), TEXT),
    **dict.fromkeys(("is_open", "hidden", "disabled"), FLAG),
    **dict.fromkeys(("clickData", "hoverData", "selectedData", "relayoutData"), EVENT),
    **dict.fromkeys(("active_cell", "selected_cells"), frozenset({"null", "dict", "list"})),
    **dict.fromkeys(("selected_rows", "selected_row_ids", "sort_by"), LIST),
    "options": frozenset({"null", "list", "dict"}),
    "value": SCALAR | {"list"},
}
# A typed value longer than this is no user's input (the search boxes cut at 80 characters).
MAX_TEXT = 2_000


def kind(value: Any) -> str:
    """The JSON kind of a decoded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    for name, types in (("int", int), ("float", float), ("str", str), ("list", list)):
        if isinstance(value, types):
            return name
    return "dict"


def expected_kinds(component: str | None, prop: str, multi: bool = False) -> frozenset[str]:
    """The JSON kinds `prop` of a `component` class (None: unknown) may hold; `multi` is the
    dropdown's flag (a list, or the scalar it was given), or for an input whether it is of
    type number."""
    if prop == "value" and component == "Dropdown":
        return LIST | SCALAR if multi else SCALAR
    if prop == "value" and component == "Input":
        return NUMBER | {"str"} if multi else TEXT
    if component is not None and (component, prop) in CLASS_KINDS:
        return CLASS_KINDS[(component, prop)]
    if prop == "value" and component in ("RadioItems", "Select", "Tabs"):
        return SCALAR
    return PROPERTY_KINDS.get(prop, ANY)


def value_problem(value: Any, component: str | None, prop: str, multi: bool = False) -> bool:
    """Whether `value` cannot be what the renderer sends for `prop` of such a component."""
    if kind(value) not in expected_kinds(component, prop, multi):
        return True
    if prop in COUNTS and isinstance(value, int) and value < 0:
        return True
    if component == "Location" and prop == "pathname":  # the browser's path: always "/…"
        return not (isinstance(value, str) and value.startswith("/"))
    return isinstance(value, str) and len(value) > MAX_TEXT


def components(layouts: Iterable[Any]) -> dict[str, tuple[str, bool]]:
    """Plain string ids of the layouts' components -> (class name, `multi` flag: a dropdown's
    `multi`, an input's type number)."""
    found: dict[str, tuple[str, bool]] = {}
    for root in layouts:
        for component in _walk(root):
            comp_id = getattr(component, "id", None)
            if isinstance(comp_id, str):
                name = type(component).__name__
                flag = getattr(component, "type", None) == "number" if name == "Input" else None
                multi = flag if flag is not None else bool(getattr(component, "multi", False))
                found[comp_id] = (name, multi)
    return found


def _walk(root: Any) -> Iterator[Any]:
    if isinstance(root, dash.development.base_component.Component):
        yield root
        yield from root._traverse()
    elif isinstance(root, (list, tuple)):
        for child in root:
            yield from _walk(child)


def page_layouts(app: dash.Dash) -> list[Any]:
    """The shell's layout and each registered page's, a territory's page built for the first
    territory of each level (its controls exist only on a known territory's page, some only
    on some levels)."""
    pages: list[tuple[Any, dict[str, str]]] = [(app.layout, {})]
    for page in dash.page_registry.values():
        pages += [(page.get("layout"), args) for args in _sample_args(page)]
    layouts = []
    for make, args in pages:
        try:
            layouts.append(make(**args) if callable(make) else make)
        except Exception:  # a page that cannot build now (no store) just adds no classes
            continue
    return layouts


def _sample_args(page: dict[str, Any]) -> list[dict[str, str]]:
    template = page.get("path_template") or ""
    if "<niveau>" not in template or "<code>" not in template:
        return [{}]
    from layers.appdata import current_data

    index = current_data().index()
    if index is None:
        return []
    return [
        {"niveau": level, "code": str(index.table(level)["code"].iloc[0])}
        for level in index.levels()
        if len(index.table(level))
    ]
