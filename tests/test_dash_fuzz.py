"""Dash's update endpoint under forged bodies, built from the app's own `_dash-dependencies`:
every request the renderer could not send gets a French 4xx, never a 5xx."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any

import pytest

from dashboard.server.dash_requests import update_problem

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
    output = callback["output"]
    first = output.strip(".").split("...")[0]
    out_id, _, prop = first.rpartition(".")
    return {
        "output": output,
        "outputs": {"id": out_id, "property": prop},
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
    for callback in dependencies:
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
