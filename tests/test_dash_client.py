"""The load client's Dash session (bench/dash_client.py): the props it keeps from an answer are
those a plain walk finds, whether the answer was parsed for this user or shared with others."""

from __future__ import annotations

import asyncio
import json

from bench.dash_client import SHARED_PARSE_BYTES, DashSession, answer_json, walk_props


def _page(n: int) -> dict:
    rows = [
        {"namespace": "dash_html_components", "type": "Div", "props": {"id": f"d{i}", "x": i}}
        for i in range(n)
    ]
    inner = {"namespace": "dash_core_components", "type": "Store", "props": {"id": "s", "data": 1}}
    return {"multi": True, "response": {"contenu": {"children": [*rows, {"props": inner}, inner]}}}


def _session(raw: bytes) -> DashSession:
    async def send(method: str, path: str, body: object) -> tuple[int, object]:
        return 200, answer_json(raw)

    dep = {"output": "contenu.children", "inputs": [], "state": []}
    tab = DashSession([dep], send)
    asyncio.run(tab.call(tab.deps[0], []))
    return tab


def test_props_from_a_shared_answer_equal_a_plain_walk() -> None:
    raw = json.dumps(_page(400)).encode()
    assert len(raw) > SHARED_PARSE_BYTES
    assert answer_json(raw) is answer_json(raw)  # parsed once, shared
    small = json.dumps(_page(2)).encode()
    assert answer_json(small) is not answer_json(small)
    expected: dict = {}
    walk_props(json.loads(raw)["response"]["contenu"]["children"], expected)
    assert ("d399", "x") in expected and ("s", "data") in expected
    first, second = _session(raw), _session(raw)
    for tab in (first, second):
        assert {k: v for k, v in tab.props.items() if k[0] != "contenu"} == expected
        assert tab.present("d7") and tab.present("s") and not tab.present("absent")
    first.props[("d7", "x")] = "changé"  # one user's change is not another's
    assert second.props[("d7", "x")] == 7
