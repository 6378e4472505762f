"""Dash's own endpoints answer a forged request with a French 400/404, not a 500.

Dash trusts its renderer: a body of another shape than the browser sends (no JSON object, an
unknown output, inputs that are not those the callback declares) raised inside Dash and the
visitor got a 500, logged as a server fault. The shape is checked here against the registered
callbacks before Dash runs anything; a wrong request is a client error, logged in one line.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import dash
from dash.exceptions import DependencyException
from flask import Response, current_app, request

from callbacks.inputs import ForgedInput
from dashboard.server.dash_values import components, page_layouts, value_problem
from dashboard.server.errors import error_response

UPDATE_PATH = "/_dash-update-component"
ERR_BODY = "Requête de mise à jour refusée : un objet JSON de taille raisonnable est attendu."
ERR_OUTPUT = "Requête de mise à jour refusée : sortie inconnue."
ERR_INPUTS = "Requête de mise à jour refusée : entrées différentes de celles de la mise à jour."
ERR_VALUE = (
    "Requête de mise à jour refusée : la valeur de « {name} » n'est pas du type attendu "
    "(ou trop longue)."
)
ERR_ASSET = "Fichier introuvable : aucun composant enregistré à cette adresse."
# The renderer's bodies nest a few levels (pattern ids inside lists); far deeper is forged.
MAX_DEPTH = 32


def init_app(app: dash.Dash) -> None:
    """Check every update request of `app` before Dash runs it; unknown assets answer 404."""
    app.server.before_request(partial(check_update_request, app))
    app.server.register_error_handler(DependencyException, _unknown_asset)
    app.server.register_error_handler(ForgedInput, _forged_input)


def check_update_request(app: dash.Dash) -> Response | None:
    """The before_request hook: None for a body the renderer could send, else a French 400."""
    if request.method != "POST" or request.path != UPDATE_PATH:
        return None
    body = parsed_body(request.get_data(cache=True))
    problem = (
        ERR_BODY if body is None else body_problem(body, app.callback_map, component_classes(app))
    )
    if problem is None:
        if request.is_json:  # Dash's request.get_json() then reuses it instead of parsing again
            request._cached_json = (body, body)
        return None
    current_app.logger.warning("requête Dash refusée (%s) : %s", request.remote_addr, problem)
    return error_response(problem, 400)


def component_classes(app: dash.Dash) -> dict[str, tuple[str, bool]]:
    """The layout's component classes by id, read once per process (they never change with
    the build: only the values do)."""
    found = getattr(app, "_cafcarto_classes", None)
    if found is None:
        found = components(page_layouts(app))
        app._cafcarto_classes = found
    return found


def update_problem(
    raw: bytes,
    callback_map: dict[str, dict[str, Any]],
    classes: dict[str, tuple[str, bool]] | None = None,
) -> str | None:
    """Why `raw` is not an update body for one of `callback_map`'s callbacks (its shape, or
    with `classes` the JSON type of its values), or None."""
    body = parsed_body(raw)
    return ERR_BODY if body is None else body_problem(body, callback_map, classes)


def parsed_body(raw: bytes) -> dict[str, Any] | None:
    """`raw` parsed as a JSON object of reasonable depth, else None."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict) or _depth(body) > MAX_DEPTH:
        return None
    return body


def body_problem(
    body: dict[str, Any],
    callback_map: dict[str, dict[str, Any]],
    classes: dict[str, tuple[str, bool]] | None = None,
) -> str | None:
    """update_problem of a body already parsed by parsed_body."""
    output = body.get("output")
    # a clientside callback is registered too, but runs in the browser: never posted
    if not isinstance(output, str) or "callback" not in callback_map.get(output, {}):
        return ERR_OUTPUT
    if not _same_outputs(body.get("outputs"), output):
        return ERR_OUTPUT
    declared = callback_map[output]
    for key in ("inputs", "state"):
        if not _same_dependencies(body.get(key, []), declared.get(key, [])):
            return ERR_INPUTS
    if classes is not None:
        return _values_problem(body, classes)
    return None


def _values_problem(body: dict[str, Any], classes: dict[str, tuple[str, bool]]) -> str | None:
    for key in ("inputs", "state"):
        for entry in body.get(key, []):
            for item in entry if isinstance(entry, list) else [entry]:
                sent_id = item["id"]
                component, multi = (
                    classes.get(sent_id, (None, False))
                    if isinstance(sent_id, str)
                    else (None, False)
                )
                if value_problem(item.get("value"), component, item["property"], multi):
                    name = sent_id if isinstance(sent_id, str) else json.dumps(sent_id)
                    return ERR_VALUE.format(name=f"{name}.{item['property']}")
    return None


def _same_outputs(outputs: Any, output: str) -> bool:
    """`outputs` names the callback's declared outputs: one dict for a single output, a list
    of as many for a multi-output callback ("..a.children...b.data.."), ids and properties."""
    declared = [_split_output(part) for part in output.strip(".").split("...")]
    multi = output.startswith("..")
    items = outputs if multi else [outputs]
    if not isinstance(items, list) or len(items) != len(declared):
        return False
    for item, (out_id, prop) in zip(items, declared, strict=True):
        if not isinstance(item, dict) or item.get("property") != prop:
            return False
        pattern = _pattern(out_id)
        sent_id = item.get("id")
        if pattern is None and sent_id != out_id:
            return False
        if pattern is not None and not _matches_pattern(sent_id, pattern):
            return False
    return True


def _split_output(part: str) -> tuple[str, str]:
    """ "id.property" (an id may itself hold dots: a pattern id's JSON) -> (id, property)."""
    out_id, _, prop = part.rpartition(".")
    return out_id, prop


def _same_dependencies(sent: Any, declared: list[dict[str, Any]]) -> bool:
    if not isinstance(sent, list) or len(sent) != len(declared):
        return False
    return all(_same_dependency(item, dep) for item, dep in zip(sent, declared, strict=True))


def _same_dependency(item: Any, dep: dict[str, Any]) -> bool:
    pattern = _pattern(dep["id"])
    if isinstance(item, list):  # ALL / ALLSMALLER wildcards: one entry per matching component
        return pattern is not None and all(_matches(one, dep, pattern) for one in item)
    return _matches(item, dep, pattern)


def _matches(item: Any, dep: dict[str, Any], pattern: dict[str, Any] | None) -> bool:
    if not isinstance(item, dict) or item.get("property") != dep["property"]:
        return False
    sent_id = item.get("id")
    if pattern is None:
        return sent_id == dep["id"]
    return _matches_pattern(sent_id, pattern)


def _matches_pattern(sent_id: Any, pattern: dict[str, Any]) -> bool:
    if not isinstance(sent_id, dict) or set(sent_id) != set(pattern):
        return False
    # Fixed keys must be equal; wildcard keys take a string or a number, as the renderer sends.
    return all(
        isinstance(sent_id[k], (str, int, float)) and (isinstance(v, list) or sent_id[k] == v)
        for k, v in pattern.items()
    )


def _pattern(dep_id: str) -> dict[str, Any] | None:
    """The pattern-matching id declared as a JSON string (its wildcards as lists), or None."""
    if not dep_id.startswith("{"):
        return None
    return json.loads(dep_id)


def _depth(value: Any) -> int:
    """The nesting depth of a parsed JSON value (a scalar: 1), or some depth past MAX_DEPTH.
    Only containers go on the stack: a scalar's depth is its parent's plus one."""
    deepest, stack = 1, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
            elif depth >= deepest:
                deepest = depth + 1
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
    return deepest


def _forged_input(err: ForgedInput) -> Response:
    """A callback found an input of the right type but of a shape no page sends."""
    problem = ERR_VALUE.format(name=str(err))
    current_app.logger.warning("requête Dash refusée (%s) : %s", request.remote_addr, problem)
    return error_response(problem, 400)


def _unknown_asset(_err: Exception) -> Response:
    return error_response(ERR_ASSET, 404)
