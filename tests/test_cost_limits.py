"""Heavy answers (CSV, Excel, GeoJSON, PDF) bounded by their CPU cost
(dashboard.server.cost_limits): per address, in total, at once; light routes never charged; the
budget shared through Redis."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import replace

import pytest

from dashboard.app import create_app
from dashboard.server import http_cache
from dashboard.server.cost_budget import Slot, sliding, wait_until_within
from layers.config import ConfigError, Settings

# Few rows (a cheap estimate) but a real Excel file: each costs some CPU milliseconds.
HEAVY = "/api/v1/data?indicator=allocataires&level=departement&format=xlsx"
OTHER = {"REMOTE_ADDR": "198.51.100.7"}


def _app(settings: Settings, **changes: object):
    return create_app(replace(settings, **changes)).server


def _heavy(client, i: int, environ: dict[str, str] | None = None):
    # A distinct query each time: the response cache cannot answer it (the attack's pattern).
    return client.get(f"{HEAVY}&essai={i}", environ_base=environ or {})


def _until_refused(client, tries: int = 60, environ: dict[str, str] | None = None):
    """Heavy requests until one is refused: (statuses of the served ones, the refusal)."""
    served = []
    for i in range(tries):
        resp = _heavy(client, i, environ)
        if resp.status_code != 200:
            return served, resp
        served.append(resp.status_code)
    pytest.fail(f"no refusal after {tries} heavy requests")


def _spent(server, scope: str, window_s: int) -> float:
    limits = server.extensions["cafcarto_cost"]
    return limits.budgets.spent([Slot.now(scope, window_s)])[0]


def test_client_over_its_budget_gets_french_429_other_address_served(settings: Settings) -> None:
    server = _app(settings, cost_limit=(0.08, 60), cost_limit_total=None)
    client = server.test_client()
    served, refused = _until_refused(client)
    assert served, "the first heavy request of a window is always served"
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["statut"] == 429
    assert body["erreur"].startswith("Trop d'exports lourds depuis votre adresse")
    assert "0,08 s de calcul par minute" in body["erreur"]
    assert 0 < int(refused.headers["Retry-After"]) <= 120  # at most two windows
    assert _spent(server, "ip:127.0.0.1", 60) >= 0.08 * 0.5
    # Another address has its own budget; light routes stay open to the refused one.
    assert _heavy(client, 999, OTHER).status_code == 200
    assert client.get("/api/v1/catalog").status_code == 200


def test_budget_recovers_after_its_window(settings: Settings) -> None:
    client = _app(settings, cost_limit=(0.03, 1), cost_limit_total=None).test_client()
    _, refused = _until_refused(client)
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 2  # the window's end, then the part of the next one it still weighs
    time.sleep(wait + 0.05)
    assert _heavy(client, 1000).status_code == 200


def test_sliding_window_counts_the_previous_window_for_what_remains_of_it() -> None:
    slot = Slot.now("ip:x", 60, now=6015.0)  # a quarter into window 100
    assert slot.previous.index == 99 and slot.elapsed(6015.0) == pytest.approx(0.25)
    assert sliding(4.0, 20.0, 0.25) == pytest.approx(19.0)
    # Within room once the previous window weighs 20 × (1 - f) ≤ 10 - 4: f = 0.7, in 27 s.
    assert wait_until_within(4.0, 20.0, 10.0, slot, now=6015.0) == pytest.approx(27.0)
    # The current window alone is over: its end (45 s), then half the next one (30 s).
    assert wait_until_within(20.0, 0.0, 10.0, slot, now=6015.0) == pytest.approx(75.0)
    assert wait_until_within(4.0, 0.0, 10.0, slot, now=6015.0) == 0.0


def test_light_routes_and_cache_hits_are_never_charged(settings: Settings) -> None:
    server = _app(settings, cost_limit=(0.5, 60), cost_limit_total=(0.5, 60))
    client = server.test_client()
    light = [
        "/api/v1/catalog",
        "/api/v1/data?indicator=allocataires&level=departement",  # JSON
        "/api/v1/data?indicator=allocataires&level=commune&format=json",
        "/api/v1/territories?q=lyon",
        "/healthz",
        "/",
    ]
    for _ in range(3):
        assert [client.get(url).status_code for url in light] == [200] * len(light)
    assert _spent(server, "ip:127.0.0.1", 60) == 0.0
    assert _spent(server, "total", 60) == 0.0
    first = client.get(HEAVY)
    assert first.status_code == 200 and first.headers["X-Cafcarto-Cache"] == "miss"
    spent = _spent(server, "ip:127.0.0.1", 60)
    assert spent > 0.0
    again = client.get(HEAVY)  # the same answer again: from the response cache, free
    assert again.status_code == 200 and again.headers["X-Cafcarto-Cache"] == "hit"
    assert _spent(server, "ip:127.0.0.1", 60) == spent
    # The profile PDF is heavy too.
    assert client.get("/export/fiche/departement/69.pdf").status_code == 200
    assert _spent(server, "ip:127.0.0.1", 60) > spent


def test_total_budget_refuses_every_address_with_503(settings: Settings) -> None:
    client = _app(settings, cost_limit=(100.0, 60), cost_limit_total=(0.08, 60)).test_client()
    _, refused = _until_refused(client)
    assert refused.status_code == 503
    assert refused.get_json()["erreur"].startswith("Le serveur a atteint sa limite de calcul")
    assert 0 < int(refused.headers["Retry-After"]) <= 120  # at most two windows
    other = _heavy(client, 999, OTHER)
    assert other.status_code == 503 and "Retry-After" in other.headers
    assert client.get("/api/v1/catalog").status_code == 200


def test_concurrency_gate_refuses_at_once_light_routes_pass(
    settings: Settings, monkeypatch
) -> None:
    from dashboard.server import cost_limits

    server = _app(settings, cost_concurrency=1)
    client = server.test_client()
    gate = server.extensions["cafcarto_cost"].gate
    assert gate.acquire(blocking=False)  # a heavy answer being computed in this process
    try:
        # a small table (estimated under GATE_MIN_S) is not held by the gate
        assert _heavy(client, 0, OTHER).status_code == 200
        monkeypatch.setattr(cost_limits, "GATE_MIN_S", 0.0)  # this one counts as heavy
        start = time.monotonic()
        busy = _heavy(client, 1, OTHER)
        assert time.monotonic() - start < 5  # refused, not queued behind the running one
        assert busy.status_code == 503
        assert busy.get_json()["erreur"].startswith("Le serveur calcule déjà des exports lourds")
        assert int(busy.headers["Retry-After"]) >= 1
        assert client.get("/api/v1/data?indicator=allocataires&level=region").status_code == 200
    finally:
        gate.release()
    assert _heavy(client, 2, OTHER).status_code == 200


def test_answer_too_big_for_the_budget_points_to_pages_and_background(settings: Settings) -> None:
    client = _app(settings, cost_limit=(0.0001, 60)).test_client()
    resp = client.get("/api/v1/data?indicator=allocataires&level=commune&format=csv")
    assert resp.status_code == 400
    text = resp.get_json()["erreur"]
    assert text.startswith("Export trop lourd pour une réponse directe")
    assert "« limit » et « offset »" in text and "arrière-plan" in text
    page = client.get("/api/v1/data?indicator=allocataires&level=commune&format=csv&limit=1")
    assert page.status_code == 200


def test_cost_limits_follow_the_count_limits_switch(settings: Settings) -> None:
    # The load benches turn the rate limits off: the cost limits go with them.
    server = _app(settings, rate_limit=None, cost_limit=(0.0001, 60), cost_concurrency=1)
    client = server.test_client()
    assert all(_heavy(client, i).status_code == 200 for i in range(4))
    assert _spent(server, "ip:127.0.0.1", 60) == 0.0


def test_settings_parse_and_refuse_in_french() -> None:
    env = {"CAFCARTO_COST_LIMIT": "0,5/second", "CAFCARTO_COST_LIMIT_TOTAL": "0"}
    parsed = Settings.from_env({**env, "CAFCARTO_COST_CONCURRENCY": "3"})
    assert parsed.cost_limit == (0.5, 1)
    assert parsed.cost_limit_total is None and parsed.cost_concurrency == 3
    assert Settings.from_env({}).cost_limit == (20.0, 60)
    for bad in ("beaucoup", "20", "-1/minute", "nan/minute", "5/semaine"):
        with pytest.raises(ConfigError, match="CAFCARTO_COST_LIMIT invalide"):
            Settings.from_env({"CAFCARTO_COST_LIMIT": bad})
    with pytest.raises(ConfigError, match="CAFCARTO_COST_CONCURRENCY invalide"):
        Settings.from_env({"CAFCARTO_COST_CONCURRENCY": "deux"})


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory):
    """A throwaway redis-server on a free loopback port (installed by `make topology-deps`)."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CAFCARTO_REQUIRE_TOPOLOGY"):
            pytest.fail("redis-server missing: run `make topology-deps` (as root)")
        pytest.skip("redis-server missing")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis-cout")
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    proc = subprocess.Popen([*args, "--dir", str(folder)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()


def test_budget_shared_through_redis_and_kept_per_process_without_it(
    settings: Settings, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The unreachable Redis below pauses the response cache of the whole process (a class
    # attribute): restored at teardown so that later tests find their cache.
    monkeypatch.setattr(http_cache._outage, "until", http_cache._outage.until)
    shared = dict(redis_url=redis_url, cost_limit=(0.08, 60), cost_limit_total=None)
    host_a = _app(settings, **shared).test_client()
    host_b = _app(settings, **shared).test_client()
    _until_refused(host_a)
    # The other host knows this address spent its budget.
    assert _heavy(host_b, 500).status_code == 429
    assert _heavy(host_b, 501, OTHER).status_code == 200
    # Redis unreachable: no 500, the budget is counted per process instead.
    down = _app(settings, redis_url="redis://127.0.0.1:1/0", cost_limit=(0.08, 60))
    served, refused = _until_refused(down.test_client())
    assert served and refused.status_code == 429
