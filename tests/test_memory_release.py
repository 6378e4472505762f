"""After a large answer (a whole level's export), the worker gives the memory it used back to
the system; small answers do not pay for it. The answer itself is unchanged."""

from __future__ import annotations

import flask
import pytest

from dashboard.api import v1
from dashboard.server import compression, memory_release
from layers.appdata import AppData, init_app

CSV = "/api/v1/data?indicator=rsa&level=commune&format=csv"


@pytest.fixture()
def released(settings, monkeypatch: pytest.MonkeyPatch) -> tuple[flask.testing.FlaskClient, list]:
    calls: list[int] = []
    monkeypatch.setattr(memory_release, "release", lambda: calls.append(1))
    server = flask.Flask(__name__)
    init_app(server, AppData(settings))
    server.register_blueprint(v1.bp)
    memory_release.init_app(server)
    compression.init_app(server)
    return server.test_client(), calls


def test_a_large_answer_releases_memory_once_sent(released, monkeypatch) -> None:
    client, calls = released
    plain = client.get(CSV).data
    monkeypatch.setattr(memory_release, "LARGE_BODY", len(plain))  # this CSV counts as large
    calls.clear()
    resp = client.get(CSV, headers={"Accept-Encoding": "gzip"})  # measured before compression
    assert resp.status_code == 200 and resp.headers["Content-Encoding"] == "gzip"
    assert calls == [1]
    assert client.get(CSV).data == plain


def test_a_small_answer_does_not(released, monkeypatch) -> None:
    client, calls = released
    monkeypatch.setattr(memory_release, "LARGE_BODY", 10**9)
    assert client.get(CSV).status_code == 200
    assert client.get("/api/v1/catalog").status_code == 200
    assert calls == []
