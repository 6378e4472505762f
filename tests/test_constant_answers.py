"""`/_dash-layout` and `/_dash-dependencies` served from the per-build cache
(dashboard/server/constant_answers.py): the bytes Dash itself would send, revalidated by ETag,
and new ones when the builds in service change."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import brotli
import pytest
from dash._utils import to_json

from dashboard.app import create_app
from layers.config import Settings

JSON_ACCEPT = {"Accept-Encoding": "identity"}


def _mirror(cache: Path, root: Path) -> Path:
    """A cache whose entries are links to `cache`'s: a new build can be put in service there
    without touching the session's cache."""
    root.mkdir()
    for entry in cache.iterdir():
        (root / entry.name).symlink_to(entry.resolve())
    return root


@pytest.fixture()
def app(settings: Settings, tmp_path: Path):
    cache = _mirror(settings.cache, tmp_path / "cache")
    return create_app(replace(settings, cache=cache, jobs=tmp_path / "jobs"))


def _dash_own(app, route: str) -> object:
    """What Dash itself serialises for `route`, in a request of the app."""
    with app.server.test_request_context(route):
        value = app.get_layout() if route == "/_dash-layout" else app._callback_list
        return json.loads(to_json(value))


@pytest.mark.parametrize("route", ["/_dash-layout", "/_dash-dependencies"])
def test_cached_answer_is_dash_own_and_revalidates(app, route: str) -> None:
    client = app.server.test_client()
    first = client.get(route, headers=JSON_ACCEPT)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-cache"
    assert json.loads(first.data) == _dash_own(app, route)
    again = client.get(route, headers={**JSON_ACCEPT, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    # The compressed variant decodes to the same JSON and has its own validator.
    br = client.get(route, headers={"Accept-Encoding": "br"})
    assert br.headers["Content-Encoding"] == "br"
    assert br.headers["ETag"] != first.headers["ETag"]
    assert json.loads(brotli.decompress(br.data)) == json.loads(first.data)


def test_layout_changes_with_the_store_in_service(app) -> None:
    client = app.server.test_client()
    demo = client.get("/_dash-layout", headers=JSON_ACCEPT)
    assert "bandeau-demo" in demo.get_data(as_text=True)  # the demonstration banner
    # `cafcarto import` puts a real store in service: no demonstration banner any more.
    # (a copy of the demonstration build: the app keys its open store by folder)
    build = app.settings.store_import / "builds" / "1"
    shutil.copytree((app.settings.store_demo / "current").resolve(), build)
    (app.settings.store_import / "current").symlink_to(build)
    real = client.get(
        "/_dash-layout", headers={**JSON_ACCEPT, "If-None-Match": demo.headers["ETag"]}
    )
    assert real.status_code == 200
    assert real.headers["ETag"] != demo.headers["ETag"]
    assert "bandeau-demo" not in real.get_data(as_text=True)
    assert json.loads(real.data) == _dash_own(app, "/_dash-layout")


def test_server_timing_only_when_asked(settings: Settings, monkeypatch) -> None:
    from bench.load_bench import server_cpu_ms

    plain = create_app(settings).server.test_client().get("/healthz")
    assert "Server-Timing" not in plain.headers  # off by default: it tells how routes cost
    monkeypatch.setenv("CAFCARTO_SERVER_TIMING", "1")
    timed = create_app(settings).server.test_client().get("/_dash-layout")
    cpu = server_cpu_ms(timed.headers["Server-Timing"])
    assert cpu is not None and cpu >= 0
    assert server_cpu_ms("db;dur=3, cpu;dur=12.5") == 12.5
    assert server_cpu_ms("db;dur=3") is None
