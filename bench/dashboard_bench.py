"""Dashboard routes on the whole of France (medians, through Flask's test client, no network):
map values of all communes, the territory profile, exports of all communes, the API.

`python -m bench.dashboard_bench fiche` measures only the profile routes (the load bench's
heaviest): run this file with PYTHONPATH at another worktree (e.g. main) to compare, in turns."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace

from dashboard.app import create_app
from layers.appdata import AppData
from layers.catalogue import BY_ID
from layers.config import Settings
from layers.export_jobs import epci_atlas, view_xlsx
from layers.profile import _profile_cached, profile

ROUTES = {
    "valeurs de la carte, toutes les communes (1er appel)": (
        "/api/carte/commune?indicateur=part_rsa&palette=RdBu&classes=6"
    ),
    "API data JSON, toutes les communes": "/api/v1/data?indicator=rsa&level=commune",
    "export CSV, toutes les communes": "/api/v1/data?indicator=rsa&level=commune&format=csv",
    "export Excel, toutes les communes": "/api/v1/data?indicator=rsa&level=commune&format=xlsx",
    "API territoire (chiffres clés)": "/api/v1/territories/commune/51649",
    "API équipements à proximité": "/api/v1/facilities?commune=69123&near=1",
    "fiche PDF d'une commune": "/export/fiche/commune/51649.pdf",
}


def median_ms(
    fn: Callable[[], object], repeat: int, before: Callable[[], object] | None = None
) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def measure(repeat: int = 5) -> dict[str, tuple[float, int]] | None:
    settings = Settings.from_env()
    data = AppData(settings)
    info, index = data.store(), data.index()
    if info is None or index is None:
        return None
    # No rate limit: the bench sends the same request many times from one address.
    server = create_app(replace(settings, rate_limit=None, export_rate_limit=None)).server
    client = server.test_client()

    def clear_response_cache() -> None:  # measure the work, not the response cache
        for cache in server.extensions.get("cache", {}):
            cache.clear()

    client.get("/api/v1/catalog")  # warm the store's period index, as a running server has
    out: dict[str, tuple[float, int]] = {}
    for label, url in ROUTES.items():
        clear_response_cache()
        t0 = time.perf_counter()
        size = len(client.get(url).data)
        first = (time.perf_counter() - t0) * 1000
        ms = (
            first
            if "1er appel" in label
            else median_ms(lambda u=url: client.get(u), repeat, clear_response_cache)
        )
        out[label] = (ms, size)
    url = ROUTES["API data JSON, toutes les communes"]
    out["API data JSON, toutes les communes, depuis le cache de réponses"] = (
        median_ms(lambda: client.get(url), repeat),
        0,
    )
    noop = lambda done, total: None  # noqa: E731
    out["tâche Excel de la vue (toutes les communes)"] = (
        median_ms(
            lambda: view_xlsx(
                info.store, index, BY_ID["rsa"], "commune", "2024-12", None, info.notice, noop
            ),
            3,
        ),
        0,
    )
    t0 = time.perf_counter()
    body, _name = epci_atlas(info.store, index, "epci", "200046977", info.notice, noop, 250)
    out["tâche atlas PDF, Métropole de Lyon (59 fiches, une fois)"] = (
        (time.perf_counter() - t0) * 1000,
        len(body),
    )
    out["données de la fiche territoire (Vitry-le-François)"] = (
        median_ms(lambda: profile(info.store, index, "commune", "51649", info.notice), repeat),
        0,
    )
    return out


# The profile page of one territory per level (the page callback calls `profile()`, uncached).
PROFILES = {
    "commune, Vitry-le-François": ("commune", "51649"),
    "commune, Paris": ("commune", "75056"),
    "département, Marne": ("departement", "51"),
    "IRIS de Vitry-le-François": ("iris", "516490101"),
    "arrondissement, Paris 1er": ("arm", "75101"),
}


def measure_profiles(repeat: int = 7) -> dict[str, float]:
    """Median ms of the profile routes: the data of a page per level (uncached), the page's
    layout through Dash's page function, the API's territory route (no response cache)."""
    settings = Settings.from_env()
    data = AppData(settings)
    info, index = data.store(), data.index()
    if info is None or index is None:
        return {}
    out: dict[str, float] = {}
    for label, (level, code) in PROFILES.items():
        profile(info.store, index, level, code, info.notice)  # warm the first query
        out[f"données de la fiche, {label}"] = median_ms(
            lambda lv=level, c=code: profile(info.store, index, lv, c, info.notice), repeat
        )
    server = create_app(replace(settings, rate_limit=None, export_rate_limit=None)).server
    client = server.test_client()

    def clear() -> None:
        _profile_cached.cache_clear()
        for cache in server.extensions.get("cache", {}):
            cache.clear()

    from dashboard.pages.profile import profile_layout  # a Dash page: after the app exists

    out["mise en page de la fiche, commune 51649"] = median_ms(
        lambda: profile_layout(data, "commune", "51649"), repeat, clear
    )
    for label, url in {
        "API territoire commune 51649": "/api/v1/territories/commune/51649",
        "API territoire IRIS 516490101": "/api/v1/territories/iris/516490101",
    }.items():
        client.get(url)
        out[label] = median_ms(lambda u=url: client.get(u), repeat, clear)
    return out


def main_profiles() -> None:
    print("## Fiches territoire (France entière, médiane de 7, client de test Flask)")
    for label, ms in measure_profiles().items():
        print(f"  {label} : {ms:.0f} ms")


def main() -> None:
    print("## Routes du tableau de bord (France entière, médiane de 5, client de test Flask)")
    res = measure()
    if res is None:
        print("pas de cache ou d'entrepôt : lancez « cafcarto build »")
        return
    for label, (ms, size) in res.items():
        extra = f", {size / 1e6:.2f} Mo" if size else ""
        print(f"  {label} : {ms:.0f} ms{extra}")


# The load bench's profile visit, in process: a commune's page and its callbacks, another
# evolution indicator, a comparison, a search, the API's territory route.
SESSION_COMMUNES = ("51649", "69123", "13055", "31555", "59350", "35238", "67482", "06088")


def measure_session(rounds: int = 2) -> dict[str, list[float]]:
    """CPU ms (this thread) of each request of a profile visit, by route, through Flask's test
    client and `bench.dash_client` (the callbacks a browser posts): the figure the load bench
    reads from Server-Timing, without the network, the other users or the noise of a loaded
    machine's wall clock."""
    import asyncio
    from collections import defaultdict

    from bench.dash_client import DashSession, json_or_none
    from bench.load_bench import _route

    settings = Settings.from_env()
    server = create_app(replace(settings, rate_limit=None, export_rate_limit=None)).server
    client = server.test_client()
    cpu: dict[str, list[float]] = defaultdict(list)

    async def send(method: str, path: str, body: object = None) -> tuple[int, object]:
        label = _route(path.split("?")[0])
        if isinstance(body, dict):
            label = "callback " + body["output"].strip(".").split("...")[0]
        t0 = time.thread_time()
        resp = client.open(path, method=method, json=body)
        cpu[label].append((time.thread_time() - t0) * 1000)
        ctype = resp.headers.get("Content-Type", "")
        return resp.status_code, json_or_none(resp.data) if "json" in ctype else None

    async def visit(code: str) -> None:
        _, deps = await send("GET", "/_dash-dependencies")
        tab = DashSession(deps or [], send)
        await tab.open_page(f"/territoire/commune/{code}")
        await tab.set("evolution-indicateur", "value", "part_rsa")
        await tab.set("comparer", "search_value", "lyon")
        await tab.set("comparer", "value", ["commune:69123", "departement:51"])
        await send("GET", f"/api/v1/territories/commune/{code}")
        await send("GET", "/api/v1/data?indicator=rsa&level=departement")

    client.get("/api/v1/catalog")
    asyncio.run(visit("75056"))  # warm-up, not counted
    cpu.clear()
    for _ in range(rounds):
        for code in SESSION_COMMUNES:
            asyncio.run(visit(code))
    return cpu


def main_session() -> None:
    print("## Visite d'une fiche : CPU par requête (ms, médiane, client de test Flask)")
    for label, values in sorted(measure_session().items()):
        print(f"  {label} : {statistics.median(values):.1f} ms (n={len(values)})")


if __name__ == "__main__":
    mode = sys.argv[1:]
    main_profiles() if mode == ["fiche"] else main_session() if mode == ["session"] else main()
