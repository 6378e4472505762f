"""The data routes' answers kept on disk for every worker (dashboard/server/shared_answers.py):
a hit serves the bytes of the miss, a new build or a new app never reads them, secret cells
stay blank, writes are atomic and bounded."""

from __future__ import annotations

import json
from pathlib import Path

import brotli
import pytest

from dashboard.app import create_app
from dashboard.server import http_cache
from dashboard.server.shared_answers import FOLDER, Answer, SharedAnswers
from layers.config import Settings

URL = "/api/v1/data?indicator=allocataires&level=commune"
BR = {"Accept-Encoding": "gzip, br"}


def _worker_pair(settings: Settings):
    """Two apps sharing one token: two workers forked from one gunicorn master."""
    first, second = create_app(settings).server, create_app(settings).server
    second.extensions[http_cache.SHARED].token = first.extensions[http_cache.SHARED].token
    return first.test_client(), second.test_client()


def _files(settings: Settings) -> list[Path]:
    return [p for p in (settings.cache / FOLDER).rglob("*") if p.is_file()]


def test_a_worker_serves_the_bytes_another_worker_made(settings: Settings) -> None:
    one, two = _worker_pair(settings)
    miss = one.get(URL, headers=BR)
    hit = two.get(URL, headers=BR)
    assert miss.status_code == hit.status_code == 200
    assert miss.headers["X-Cafcarto-Cache"] == "miss" and hit.headers["X-Cafcarto-Cache"] == "hit"
    assert miss.headers["Content-Encoding"] == hit.headers["Content-Encoding"] == "br"
    assert hit.data == miss.data and hit.headers["ETag"] == miss.headers["ETag"]
    for name in ("Content-Type", "Cache-Control", "Vary"):
        assert hit.headers[name] == miss.headers[name]
    # The client that refuses brotli gets its own answer, never the stored brotli one.
    plain = two.get(URL, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert plain.data == brotli.decompress(miss.data)
    again = two.get(URL, headers={**BR, "If-None-Match": miss.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert not any(p.name.endswith(".tmp") for p in _files(settings))


def test_a_new_build_or_a_new_app_never_reads_older_answers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = _worker_pair(settings)
    url = URL + "&format=csv"
    assert one.get(url, headers=BR).headers["X-Cafcarto-Cache"] == "miss"
    assert two.get(url, headers=BR).headers["X-Cafcarto-Cache"] == "hit"
    stamp = http_cache.builds_stamp
    monkeypatch.setattr(http_cache, "builds_stamp", lambda s: stamp(s) + "|nouveau")
    assert two.get(url, headers=BR).headers["X-Cafcarto-Cache"] == "miss"
    monkeypatch.undo()
    other = create_app(settings).server.test_client()  # a restart: new code, new settings
    assert other.get(url, headers=BR).headers["X-Cafcarto-Cache"] == "miss"


def test_a_stored_answer_carries_the_current_rate_limit_count_only(settings: Settings) -> None:
    one, two = _worker_pair(settings)
    url = URL + "&format=csv&period=2024-12"
    first, again = one.get(url, headers=BR), two.get(url, headers=BR)
    assert again.headers["X-Cafcarto-Cache"] == "hit"
    counts = [r.headers.getlist("X-RateLimit-Remaining") for r in (first, again)]
    assert len(counts[0]) == len(counts[1]) == 1, counts


def test_stored_answers_keep_secret_cells_blank(settings: Settings) -> None:
    one, two = _worker_pair(settings)
    one.get(URL, headers=BR)
    rows = json.loads(brotli.decompress(two.get(URL, headers=BR).data))["rows"]
    hidden = [r for r in rows if r["status"] != "published"]
    assert hidden and len(hidden) < len(rows)
    assert all(r["value"] is None for r in hidden)
    key = one.application.extensions[http_cache.SHARED]
    with one.application.test_request_context(URL, headers=BR):
        stored = key.get(http_cache._shared_key())
    assert stored is not None
    kept = json.loads(brotli.decompress(stored.body))["rows"]
    assert kept == rows


def test_writes_are_bounded_and_small_bodies_left_out(tmp_path: Path) -> None:
    shared = SharedAnswers(tmp_path, max_bytes=10_000)
    big = Answer(200, [("Content-Type", "text/csv")], b"x" * 6_000)
    assert shared.put(shared.key("b", "br|True", "/a"), big)
    assert shared.get(shared.key("b", "br|True", "/a")) == big
    assert shared.put(shared.key("b", "br|True", "/b"), big)
    assert not shared.put(shared.key("b", "br|True", "/c"), big)  # over 10,000 bytes
    assert shared.get(shared.key("b", "br|True", "/c")) is None
    assert not shared.put(shared.key("b", "br|True", "/d"), Answer(200, [], b"small"))
    assert shared.get(shared.key("b", "gzip|True", "/a")) is None


def test_an_answer_on_disk_is_not_also_kept_in_the_workers_memory(settings: Settings) -> None:
    """Each worker kept up to 64 raw bodies of up to 4 MB that the disk already served; it
    keeps an answer only when the disk did not take it."""
    server = create_app(settings).server
    client = server.test_client()
    assert client.get(URL, headers=BR).headers["X-Cafcarto-Cache"] == "miss"
    for path in _files(settings):
        path.unlink()
    assert client.get(URL, headers=BR).headers["X-Cafcarto-Cache"] == "miss"
    server.extensions[http_cache.SHARED].max_bytes = 0  # a full folder: nothing more written
    for path in _files(settings):
        path.unlink()
    url = URL + "&format=csv"
    first, again = client.get(url, headers=BR), client.get(url, headers=BR)
    assert not _files(settings)
    assert (
        first.headers["X-Cafcarto-Cache"] == "miss" and again.headers["X-Cafcarto-Cache"] == "hit"
    )
    assert again.data == first.data
