"""Dash's update endpoint under forged bodies, built from the app's own `_dash-dependencies`:
every request the renderer could not send gets a French 4xx, never a 5xx; the bodies the
renderer does send (the layout's own values) are answered."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any

import pytest

from dashboard.server.dash_requests import update_problem
from dashboard.server.dash_values import expected_kinds, page_layouts, value_problem

UPDATE = "/_dash-update-component"
FORGED_PATTERN_ID = {"type": "resultat", "id": "nope"}


@pytest.fixture(scope="module")
def app(settings):
    from dashboard.app import create_app

    return create_app(replace(settings, rate_limit=None))


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


@pytest.fixture(scope="module")
def dependencies(client) -> list[dict[str, Any]]:
    answer = client.get("/_dash-dependencies")
    assert answer.status_code == 200
    return answer.get_json()


def sent_item(dep: dict[str, Any]) -> Any:
    """What the renderer sends for one declared input or state."""
    if not dep["id"].startswith("{"):
        return {"id": dep["id"], "property": dep["property"], "value": None}
    pattern = json.loads(dep["id"])
    concrete = {k: ("x" if isinstance(v, list) else v) for k, v in pattern.items()}
    one = {"id": concrete, "property": dep["property"], "value": None}
    wildcards = [v[0] for v in pattern.values() if isinstance(v, list)]
    return [one] if any(w in ("ALL", "ALLSMALLER") for w in wildcards) else one


def valid_body(callback: dict[str, Any]) -> dict[str, Any]:
    """The body the renderer posts (every value None): one output, or the list of a
    multi-output callback ("..a.children...b.data..")."""
    output = callback["output"]
    outputs = []
    for part in output.strip(".").split("..."):
        out_id, _, prop = part.rpartition(".")
        outputs.append(
            {"id": json.loads(out_id) if out_id.startswith("{") else out_id, "property": prop}
        )
    return {
        "output": output,
        "outputs": outputs if output.startswith("..") else outputs[0],
        "inputs": [sent_item(d) for d in callback["inputs"]],
        "state": [sent_item(d) for d in callback.get("state", [])],
        "changedPropIds": [],
    }


def mutations(body: dict[str, Any], rng: random.Random) -> list[Any]:
    """Forged variants of one valid body: the cases a hand-made probe tried, and random ones."""
    forged: list[Any] = []
    forged.append({**body, "output": body["output"] + "x"})
    forged.append({**body, "output": 5})
    forged.append({k: v for k, v in body.items() if k != "outputs"})
    forged.append({**body, "inputs": None})
    forged.append({**body, "inputs": 7})
    forged.append({**body, "inputs": {}})
    forged.append({**body, "inputs": body["inputs"] + [{"id": "nope", "property": "value"}]})
    if body["inputs"]:
        forged.append({**body, "inputs": body["inputs"][:-1]})
        i = rng.randrange(len(body["inputs"]))
        inputs = json.loads(json.dumps(body["inputs"]))
        target = inputs[i][0] if isinstance(inputs[i], list) else inputs[i]
        target[rng.choice(["id", "property"])] = rng.choice(["nope", FORGED_PATTERN_ID, 3, None])
        forged.append({**body, "inputs": inputs})
        inputs = json.loads(json.dumps(body["inputs"]))
        inputs[i] = rng.choice([None, 4, "chaine", [None], [[]]])
        forged.append({**body, "inputs": inputs})
    return forged


SHAPES = [b"", b"{}", b"[]", b"null", b"5", b'"texte"', b"{", b"[" * 5000 + b"]" * 5000]
SHAPES.append(json.dumps({"output": "x", "deep": json.loads("[" * 60 + "]" * 60)}).encode())


def assert_french_client_error(answer) -> None:
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.get_data()[:200])
    body = answer.get_json()
    assert body["statut"] == answer.status_code
    assert any(mark in body["erreur"] for mark in ("é", "è", "à")), body["erreur"]


def test_every_renderer_body_passes_the_check(app, dependencies):
    # Built from each registered callback: the check must not refuse what the browser sends
    # (the browser tests drive real renderer traffic through it too).
    assert len(dependencies) > 10
    for callback in server_callbacks(app, dependencies):
        raw = json.dumps(valid_body(callback)).encode()
        assert update_problem(raw, app.callback_map) is None, callback["output"]


def test_forged_bodies_get_a_french_4xx(client, dependencies):
    rng = random.Random(14)
    sent = 0
    for callback in dependencies:
        for body in mutations(valid_body(callback), rng):
            answer = client.post(UPDATE, json=body)
            assert_french_client_error(answer)
            sent += 1
    for raw in SHAPES:
        answer = client.post(UPDATE, data=raw, content_type="application/json")
        assert_french_client_error(answer)
        sent += 1
    assert sent > 100


def test_forged_bodies_are_logged_as_client_errors(client, dependencies, caplog):
    with caplog.at_level("WARNING"):
        client.post(UPDATE, json={"output": "nope.children", "outputs": {}, "inputs": []})
    refused = [r for r in caplog.records if "requête Dash refusée" in r.getMessage()]
    assert refused and all(r.levelname == "WARNING" and not r.exc_info for r in refused)


def test_unknown_component_suite_file_is_a_french_404(client):
    answer = client.get("/_dash-component-suites/dash/dash.py")
    assert answer.status_code == 404
    assert_french_client_error(answer)


# -- values: each input's JSON type, and the bodies the renderer really sends -------------------

KINDS = {
    "null": None,
    "int": 5,
    "negative": -3,
    "text": "zz",
    "dict": {"a": 1},
    "list": ["x"],
    "empty list": [],
    "bool": True,
    "huge text": "a" * 100_000,
}


@pytest.fixture(scope="module")
def layout_components(app) -> dict[str, Any]:
    from dashboard.server.dash_values import _walk

    with app.server.test_request_context("/"):
        roots = page_layouts(app)
    return {
        c.id: c for root in roots for c in _walk(root) if isinstance(getattr(c, "id", None), str)
    }


def server_callbacks(app, dependencies) -> list[dict[str, Any]]:
    return [d for d in dependencies if "callback" in app.callback_map.get(d["output"], {})]


def real_body(callback: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """The body with the values the page starts with (the browser's path for a Location)."""
    body = valid_body(callback)
    for key in ("inputs", "state"):
        for entry in body[key]:
            for item in entry if isinstance(entry, list) else [entry]:
                found = components.get(item["id"]) if isinstance(item["id"], str) else None
                value = getattr(found, item["property"], None) if found is not None else None
                item["value"] = "/" if item["property"] == "pathname" else value
    return body


def test_the_bodies_the_pages_send_are_answered(app, client, dependencies, layout_components):
    # No false 4xx: each server callback, with the layout's own values, runs normally.
    callbacks = server_callbacks(app, dependencies)
    assert len(callbacks) > 15
    for callback in callbacks:
        answer = client.post(UPDATE, json=real_body(callback, layout_components))
        assert answer.status_code in (200, 204), (callback["output"], answer.get_data()[:300])


def test_a_checked_body_reaches_dash_as_sent_and_only_as_json(
    app, client, dependencies, layout_components, monkeypatch
):
    # The check hands its parsed body to Dash (no second parse); a body Dash would not take
    # as JSON (another content type) is still refused by Dash, as before the check.
    callback = server_callbacks(app, dependencies)[0]
    raw = json.dumps(real_body(callback, layout_components))
    parses = []
    real_loads = json.loads
    monkeypatch.setattr(
        json, "loads", lambda text, **kw: parses.append(1) or real_loads(text, **kw)
    )
    sent = client.post(UPDATE, data=raw, headers={"Content-Type": "application/json"})
    assert sent.status_code in (200, 204) and len(parses) == 1
    plain = client.post(UPDATE, data=raw, headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415
    assert_french_client_error(plain)  # werkzeug's English page before
    assert_french_client_error(client.put(UPDATE, data=raw))  # 405, idem


def test_a_clientside_callback_is_never_run_by_the_server(app, client, dependencies):
    clientside = [d for d in dependencies if "callback" not in app.callback_map.get(d["output"])]
    assert clientside
    for callback in clientside:
        assert_french_client_error(client.post(UPDATE, json=valid_body(callback)))


def test_a_multi_output_body_must_name_its_outputs(client, dependencies):
    multi = next(
        d for d in dependencies if d["output"].startswith("..") and "pages" not in d["output"]
    )
    body = valid_body(multi)
    for outputs in (
        body["outputs"][0],
        body["outputs"][:-1],
        [*body["outputs"][1:], body["outputs"][0]],
    ):
        assert_french_client_error(client.post(UPDATE, json={**body, "outputs": outputs}))


def test_values_of_every_json_type_get_an_answer_or_a_french_4xx(
    app, client, dependencies, layout_components
):
    rng = random.Random(15)
    statuses: dict[int, int] = {}
    for callback in server_callbacks(app, dependencies):
        body = real_body(callback, layout_components)
        for key in ("inputs", "state"):
            for i in range(len(body[key])):
                for name in rng.sample(sorted(KINDS), 4):
                    forged = json.loads(json.dumps(body))
                    entry = forged[key][i]
                    (entry[0] if isinstance(entry, list) else entry)["value"] = KINDS[name]
                    answer = client.post(UPDATE, json=forged)
                    statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                    if answer.status_code >= 400:
                        assert_french_client_error(answer)
    assert sum(statuses.values()) > 150 and statuses.get(400, 0) > 30, statuses


def test_a_callback_input_of_a_shape_no_page_sends_is_a_logged_client_error(
    app, client, dependencies, layout_components, caplog
):
    callback = next(d for d in dependencies if d["output"] == "comparaison.children")
    body = real_body(callback, layout_components)
    body["state"][0]["value"] = {"niveau": 5}  # the profile's territory store, forged
    with caplog.at_level("WARNING"):
        answer = client.post(UPDATE, json=body)
    assert_french_client_error(answer)
    assert "fiche-territoire.data" in answer.get_json()["erreur"]
    refused = [r for r in caplog.records if "requête Dash refusée" in r.getMessage()]
    assert refused and not any(r.exc_info for r in refused)


@pytest.mark.parametrize(
    ("value", "component", "prop", "multi", "refused"),
    [
        ("rsa", "Dropdown", "value", False, False),
        (None, "Dropdown", "value", False, False),  # a cleared dropdown
        (["rsa"], "Dropdown", "value", False, True),
        (["commune:01001"], "Dropdown", "value", True, False),
        ({"a": 1}, "Dropdown", "value", True, True),
        (["a"], "Checklist", "value", False, False),
        ("a", "Checklist", "value", False, True),
        (3, "Input", "value", True, False),  # type number
        (3, "Input", "value", False, True),  # a text box sends text
        ("a" * 3000, "Input", "value", False, True),
        (2, None, "n_clicks", False, False),
        (-1, None, "n_clicks", False, True),
        ("2", None, "n_clicks", False, True),
        ("/territoire/commune/01001", "Location", "pathname", False, False),
        (None, "Location", "pathname", False, True),
        ("territoire", "Location", "pathname", False, True),
        ([1, {"a": None}], "Store", "data", False, False),
        ({"points": []}, "Graph", "clickData", False, False),
        ([], "Graph", "clickData", False, True),
    ],
)
def test_the_json_type_of_a_value_follows_its_component(value, component, prop, multi, refused):
    assert value_problem(value, component, prop, multi) is refused
    assert expected_kinds(None, "unknown_property") >= {"dict", "list", "str"}


@pytest.mark.parametrize("leaf", [1, "x", [], {}, [1], {"b": None}])
def test_the_depth_limit_counts_every_level_down_to_the_values(leaf):
    from dashboard.server.dash_requests import MAX_DEPTH, parsed_body

    def nested(objects: int) -> bytes:
        body: Any = leaf
        for _ in range(objects):
            body = {"a": body, "n": 1}
        return json.dumps(body).encode()

    # The leaf is one level below the last object, its own content one more.
    inner = 2 if leaf in ([1], {"b": None}) else 1
    assert parsed_body(nested(MAX_DEPTH - inner)) is not None
    assert parsed_body(nested(MAX_DEPTH - inner + 1)) is None
