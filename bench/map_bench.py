"""Map benchmark: our MapLibre feature-state engine against the naive Plotly choropleth.

On the full commune layer of the build cache (all of France), in headless Chromium:

- first draw: from navigation start to the first `idle` of the map with the layer coloured
  (fresh browser each run, so nothing comes from the HTTP cache);
- recolour: median of N switches population <-> densité, from the moment the new values are
  requested to the `idle` event after repaint. Ours: `cafmap.render(spec, {force: true})`
  (values fetched from the API, feature states set), and the same through the Dash UI
  (indicator dropdown set to allocataires <-> RSA -> cafmap.render, from Dash's store or its
  callbacks -> idle).
  Naive: `dcc.Graph(go.Choroplethmap(geojson=URL,
  locations, z, featureidkey="properties.code"))`, map style "white-bg", recoloured with
  `Plotly.restyle(gd, {z: [newZ]})` after fetching the same values.

Then the same first draw and UI recolour for the national IRIS (all France and one
département), the QPV and the « communes et arrondissements » view, when the build has them.

Run: `python -m bench.map_bench [--runs 5] [--cache DIR] [--no-naive]`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # browser_support: live server and Chromium helpers

LEVEL = "commune"
INDICATORS = ("population", "densite")  # engine recolour: values computed from geometry
UI_INDICATORS = ("allocataires", "rsa")  # through the panel: store indicators, as users pick

OURS_FIRST_JS = """
return (window.cafmap && window.cafmap.state.firstIdle) || null;
"""
# The map may be drawn (early start) before Dash's callbacks have run: a change of the panel
# then can be lost in Dash's start. The UI recolours wait for Dash's spec (older code: none).
OURS_READY_JS = """
const st = window.cafmap && window.cafmap.state;
return !!(st && st.firstIdle && st.confirmed !== false);
"""

# The first draw's steps (assets/cafmap.js marks, with ?cafmap_debug=1) and the page's requests
# (Performance API), in ms since navigation start.
FIRST_DETAIL_JS = """
const st = window.cafmap && window.cafmap.state;
if (!st || !st.firstIdle) return null;
const res = performance.getEntriesByType('resource').map(e => ({
  name: e.name.replace(location.origin, ''), start: e.startTime, end: e.responseEnd,
  bytes: e.transferSize, decoded: e.decodedBodySize}));
const nav = performance.getEntriesByType('navigation')[0];
return {first: st.firstIdle, marks: st.marks, sources: st.sourceMarks, resources: res,
  dom_ready: nav ? nav.domContentLoadedEventEnd : null};
"""
# Requests of the page grouped as the breakdown shows them (a group takes the URLs holding one
# of its strings).
REQUEST_GROUPS = (
    (
        "page scripts and styles (Dash, bundles, assets)",
        ("/_dash-component-suites/", "/assets/", "/vendor/bootstrap", "/vendor/maplibre-gl.css"),
    ),
    ("MapLibre module", ("/vendor/maplibre-gl.mjs",)),
    ("MapLibre worker", ("/vendor/maplibre-gl-worker",)),
    ("_dash-layout + _dash-dependencies", ("/_dash-layout", "/_dash-dependencies")),
    ("Dash callbacks (_dash-update-component)", ("/_dash-update-component",)),
    ("map values (/api/carte)", ("/api/carte/",)),
    ("label points of the circles (GeoJSON, older tiles)", ("-points.json",)),
    ("codes and names (-noms.json, after the first idle)", ("-noms.json",)),
)
# The steps of cafmap's first draw, as (label, mark or source event, since).
STEPS = (
    ("page HTML, scripts, Dash start -> DOM ready", "dom_ready", None),
    # The map starts from the index HTML's spec (layers/map_start.py) before DOM ready, in a
    # hidden box that Dash's page takes over once rendered ("adopted"); without it (older
    # code), "render" is Dash's callbacks calling cafmap.apply.
    ("map started (index HTML spec, else cafmap.apply)", "render", None),
    ("Dash renders #cafmap, which takes the map over", "adopted", "dom_ready"),
    ("MapLibre module import", "map_module", "render"),
    ("map created, its style loaded (level added)", "map_load", "map_module"),
    ("values fetched and parsed (in parallel)", "values_ready", "render"),
    ("classes into feature state, legend", "applied", "values_ready"),
    ("level tiles: source added -> first tile", "tiles_first", "tiles_added"),
    ("level tiles: first tile -> all loaded", "tiles_loaded", "tiles_first"),
    ("circles' points source loaded", "circles_source_loaded", "render"),
    ("last step -> first idle (render)", "idle", "last"),
)

OURS_SWITCH_JS = """
const done = arguments[arguments.length - 1];
const spec = Object.assign({}, window.cafmap.state.benchSpec, {
  indicateur: arguments[0],
  valeurs: '/api/carte/commune?indicateur=' + arguments[0],
});
window.cafmap.render(spec, {force: arguments[1]}).then(t => done(t.total_ms), e => done(String(e)));
"""

OURS_UI_SWITCH_JS = """
const done = arguments[arguments.length - 1];
const want = arguments[0];
const t0 = performance.now();
// What the indicator dropdown does on a user's choice: set its value, Dash runs the callbacks.
window.dash_clientside.set_props("indicateur", {value: want});
(function poll() {
  const t = window.cafmap.state.lastTiming;
  // total, then its parts: panel change to cafmap.render, values, feature state, repaint
  if (t && t.indicateur === want && t.start > t0) done([t.idle_at - t0, t.start - t0,
    t.fetch_ms, t.apply_ms, t.total_ms - t.fetch_ms - t.apply_ms]);
  else setTimeout(poll, 5);
})();
"""

NAIVE_FIRST_JS = """
const gd = document.querySelector('#naive .js-plotly-plot');
const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
const map = sub && sub.map;
if (!map) return null;
if (!window.__naiveFirst) {
  const ready = map.loaded() && map.getStyle().layers.some(l => l.type === 'fill');
  if (ready) window.__naiveFirst = performance.now();
}
return window.__naiveFirst || null;
"""

NAIVE_SWITCH_JS = """
const done = arguments[arguments.length - 1];
const gd = document.querySelector('#naive .js-plotly-plot');
const t0 = performance.now();
fetch('/api/carte/commune?indicateur=' + arguments[0], {cache: 'no-store'})
  .then(r => r.json())
  .then(body => Plotly.restyle(gd, {z: [body.valeurs]}))
  .then(() => {
    const map = gd._fullLayout.map._subplot.map;
    map.once('idle', () => done(performance.now() - t0));
    map.triggerRepaint();
  })
  .catch(e => done(String(e)));
"""


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def browser_cpu_s(root_pid: int) -> float | None:
    """CPU seconds (user + system) used so far by the processes under `root_pid` (chromedriver:
    Chromium's browser, renderer, GPU and utility processes), from /proc; None elsewhere. On a
    shared machine the wall time of a first draw follows the others' load, its CPU much less."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        ticks = int(fields[11]) + int(fields[12])
        children.setdefault(int(fields[1]), []).append((int(entry.name), ticks))
    total, todo = 0, [root_pid]
    while todo:
        for pid, ticks in children.get(todo.pop(), []):
            total += ticks
            todo.append(pid)
    return total / os.sysconf("SC_CLK_TCK")


# Set by main: --settle (each fresh browser idle before its first page).
OPTIONS = {"settle": False}


def browser_settle(root_pid: int, cap: float = 15.0) -> float:
    """Wait until a fresh Chromium is idle (< 20 ms of CPU in 0.5 s, at most `cap` s); return
    the seconds waited. A new headless Chromium 156 builds its omnibox popup (a WebUI page:
    ~2.5 s of a renderer's CPU) during its first seconds, which a user's running browser did
    long before they open the map."""
    start = time.monotonic()
    last = browser_cpu_s(root_pid)
    while last is not None and time.monotonic() - start < cap:
        time.sleep(0.5)
        now = browser_cpu_s(root_pid)
        if now is None or now - last < 0.02:
            break
        last = now
    return time.monotonic() - start


class TileLog:
    """The vector tiles the live server sent since a mark: count, zooms and gzip bytes (the
    map's worker fetches them, so the page's Performance API does not list them)."""

    def __init__(self, requests: list[str], cache: Path) -> None:
        self.requests, self.cache = requests, cache

    def mark(self) -> int:
        return len(self.requests)

    def since(self, start: int) -> dict:
        from dashboard.api.tiles import read_tile
        from layers.geocache import tiles_file

        zooms: dict[str, int] = {}
        size = 0
        for path in self.requests[start:]:
            if not path.startswith("/tuiles/"):
                continue
            level, z, x, y = path.split("?")[0].removesuffix(".pbf").split("/")[2:6]
            archive = tiles_file(self.cache, level)
            data = read_tile(str(archive), int(z), int(x), int(y))[0] if archive else None
            size += len(data or b"")
            zooms[f"{level} z{z}"] = zooms.get(f"{level} z{z}", 0) + 1
        return {"count": sum(zooms.values()), "kb": size / 1e3, "zooms": zooms}


def naive_app(server, settings, geometry_url: str):
    """The naive baseline as a second Dash app on the same Flask server, under /naive/."""
    import dash
    import plotly.graph_objects as go
    from dash import dcc, html

    from layers.geocache import level_table
    from layers.geometry_values import compute

    table = level_table(settings.cache, LEVEL)
    z = compute(table, "population").round(0)
    fig = go.Figure(
        go.Choroplethmap(
            geojson=geometry_url,
            locations=table["code"],
            z=z,
            featureidkey="properties.code",
            colorscale="YlGnBu",
            marker_line_width=0,
            zmin=float(z.quantile(0.05)),
            zmax=float(z.quantile(0.95)),
        )
    )
    fig.update_layout(
        map_style="white-bg",
        map_center={"lon": 2.4, "lat": 46.5},
        map_zoom=4.6,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
    )
    from dashboard.server.headers import add_nonce, csp_nonce

    class NaiveDash(dash.Dash):
        # The app's Content-Security-Policy covers this page too: its inline scripts need the
        # request's nonce, as in CafDash.
        def interpolate_index(self, **kwargs: str) -> str:
            return add_nonce(super().interpolate_index(**kwargs), csp_nonce())

    app = NaiveDash(
        "naive",
        server=server,
        url_base_pathname="/naive/",
        assets_ignore=".*",
        serve_locally=True,
    )
    app.layout = html.Div(
        dcc.Graph(id="naive", figure=fig, style={"height": "100vh"}, config={"responsive": True})
    )
    return app


def _wait(driver, script: str, timeout: float = 120.0):
    from browser_support import wait_for

    return wait_for(lambda: driver.execute_script(script), timeout=timeout, step=0.02)


def bench_first_draw(
    url: str,
    script: str,
    runs: int,
    details: list | None = None,
    tiles: TileLog | None = None,
) -> list[float]:
    """First draw of `url` in `runs` fresh browsers; with `details`, the page is opened with
    cafmap's debug marks and each run's marks, requests, browser CPU and tiles (`tiles`: the
    server's log) are appended to it."""
    from browser_support import make_driver

    times = []
    for _ in range(runs):
        driver = make_driver()
        try:
            if OPTIONS["settle"]:
                browser_settle(driver.service.process.pid)
            if details is None:
                driver.get(url)
                times.append(float(_wait(driver, script)))
            else:
                pid = driver.service.process.pid
                cpu0, start = browser_cpu_s(pid), tiles.mark() if tiles else 0
                driver.get(url + "&cafmap_debug=1")
                detail = _wait(driver, FIRST_DETAIL_JS)
                cpu1 = browser_cpu_s(pid)
                if cpu0 is not None and cpu1 is not None:
                    detail["cpu_ms"] = (cpu1 - cpu0) * 1000
                if tiles:
                    detail["tiles"] = tiles.since(start)
                details.append(detail)
                times.append(float(detail["first"]))
        finally:
            driver.quit()
    return times


def _steps(detail: dict, level: str) -> dict[str, float]:
    """One run's points in time (ms since navigation start) by step name."""
    at = dict(detail.get("marks") or {})
    at["dom_ready"] = detail.get("dom_ready") or 0
    src = detail["sources"].get(f"src-{level}", {})
    at["tiles_added"], at["tiles_first"] = src.get("added"), src.get("firstTile")
    at["tiles_loaded"] = src.get("loaded")
    at["idle"] = detail["first"]
    before = [v for k, v in at.items() if k != "idle" and v is not None and v <= at["idle"]]
    at["last"] = max(before) if before else 0
    return at


def first_draw_breakdown(details: list[dict], level: str) -> list[str]:
    """The first draw's time by step (medians over the runs), then the page's requests."""
    lines = [f"  {'first draw, by step (median ms)':52} {'at':>7} {'took':>7}"]
    runs = [_steps(d, level) for d in details]
    for label, key, since in STEPS:
        ats = [r[key] for r in runs if r.get(key) is not None]
        took = [r[key] - r[since] for r in runs if r.get(key) is not None and r.get(since or "")]
        if ats:
            took_txt = f"{_median(took):7.0f}" if took else f"{'':>7}"
            lines.append(f"  {label:52} {_median(ats):7.0f} {took_txt}")
    cpu = [d["cpu_ms"] for d in details if "cpu_ms" in d]
    if cpu:
        lines.append(
            f"  {'browser CPU to first idle, all processes (median)':52} {_median(cpu):7.0f}"
        )
    lines.append(
        f"  {'requests (median ms, bytes of the first run)':52} {'start':>7} {'end':>7} "
        f"{'count':>5} {'KB':>7} {'KB dec.':>8}"
    )
    for label, prefixes in REQUEST_GROUPS:
        per_run = [
            [e for e in d["resources"] if any(p in e["name"] for p in prefixes)] for d in details
        ]
        if not per_run[0]:
            continue
        start = _median([min(e["start"] for e in r) for r in per_run if r])
        end = _median([max(e["end"] for e in r) for r in per_run if r])
        kb = sum(e["bytes"] or 0 for e in per_run[0]) / 1e3
        dec = sum(e["decoded"] or 0 for e in per_run[0]) / 1e3
        lines.append(
            f"  {label:52} {start:7.0f} {end:7.0f} {len(per_run[0]):5d} {kb:7.0f} {dec:8.0f}"
        )
    tiles = details[0].get("tiles")
    if tiles:
        zooms = ", ".join(f"{k}: {v}" for k, v in sorted(tiles["zooms"].items()))
        lines.append(
            f"  {'vector tiles (server log, first run; gzip KB)':52} {'':>7} {'':>7} "
            f"{tiles['count']:5d} {tiles['kb']:7.0f}   ({zooms})"
        )
    return lines


def bench_ours(
    base: str, runs: int, first_runs: int, extra: str = "", tiles: TileLog | None = None
) -> dict[str, list[float]]:
    """The commune layer: first draw, the engine's recolours and the recolour through the UI
    (`extra`: appended to the URL, e.g. `&cafmap_workers=2`)."""
    return bench_view(base, LEVEL, extra, runs, first_runs, engine=True, tiles=tiles)


def _recolour_engine(driver, runs: int) -> dict[str, list[float]]:
    """`runs` switches straight through cafmap (values fetched again, then from the browser)."""
    out = {}
    for key, force in (("recolour", True), ("recolour_cached", False)):
        times = []
        for i in range(runs + 1):
            t = driver.execute_async_script(OURS_SWITCH_JS, INDICATORS[(i + 1) % 2], force)
            if isinstance(t, str):
                raise RuntimeError(t)
            if i:  # the first switch warms the server-side cache of the values
                times.append(float(t))
        out[key] = times
    return out


def _recolour_ui(driver, runs: int) -> dict[str, list]:
    """`runs` switches of indicator through the Dash dropdown: total ms and its parts."""
    parts = [
        driver.execute_async_script(OURS_UI_SWITCH_JS, UI_INDICATORS[(i + 1) % 2])
        for i in range(runs)
    ]
    return {"recolour_ui": [float(p[0]) for p in parts], "recolour_ui_parts": parts}


# The new levels of the national geography, as users open them (counts: proportional circles).
IRIS_VIEW = "IRIS, toute la France"  # its figures are the IRIS targets
EXTRA_VIEWS = (
    (IRIS_VIEW, "iris", ""),
    ("IRIS, Rhône (69)", "iris", "&filtre=departement:69"),
    ("QPV, toute la France", "qpv", ""),
    ("communes et arrondissements", "commune_arm", ""),
)


def bench_view(
    base: str,
    level: str,
    query: str,
    runs: int,
    first_runs: int,
    *,
    engine: bool = False,
    tiles: TileLog | None = None,
) -> dict:
    """First draw and recolour through the UI of one level (and filter) of the map; with
    `engine`, the recolours straight through cafmap too."""
    from browser_support import make_driver

    url = f"{base}/?niveau={level}&indicateur={UI_INDICATORS[0]}{query}"
    details: list[dict] = []
    first = bench_first_draw(url, OURS_FIRST_JS, first_runs, details, tiles)
    out = {"first": first, "details": details}
    driver = make_driver()
    try:
        driver.get(url)
        _wait(driver, OURS_READY_JS)
        spec = driver.execute_script(
            "const s = window.cafmap.state; s.benchSpec = s.lastSpec; return s.lastSpec;"
        )
        if not spec or spec.get("niveau") != level:
            raise RuntimeError(f"cafmap did not show the {level} level: {spec!r}")
        if engine:
            out.update(_recolour_engine(driver, runs))
        out.update(_recolour_ui(driver, runs))
    finally:
        driver.quit()
    return out


def bench_views(
    base: str,
    levels: dict,
    runs: int,
    first_runs: int,
    extra: str = "",
    tiles: TileLog | None = None,
    only: str = "all",
) -> dict[str, dict]:
    """The extra views whose level the build has, by label (`only`: "all", "none" or "iris",
    the national IRIS view alone, for quicker A/B runs)."""
    return {
        label: bench_view(base, level, query + extra, runs, first_runs, tiles=tiles)
        for label, level, query in EXTRA_VIEWS
        if level in levels and (only == "all" or (only == "iris" and label == IRIS_VIEW))
    }


def _print_views(views: dict[str, dict], ours: dict) -> None:
    print(f"\n{'view (median ms)':38} {'first draw':>11} {'recolour UI':>12}")
    print(
        f"{'communes (above)':38} {_median(ours['first']):11.0f} "
        f"{_median(ours['recolour_ui']):12.0f}"
    )
    for label, out in views.items():
        print(f"{label:38} {_median(out['first']):11.0f} {_median(out['recolour_ui']):12.0f}")


def _print_breakdowns(ours: dict, views: dict[str, dict]) -> None:
    print(f"\nWhere the first draw's time goes ({LEVEL}, then {IRIS_VIEW} when built)")
    print("\n".join(first_draw_breakdown(ours["details"], LEVEL)))
    if IRIS_VIEW in views:
        print(f"{IRIS_VIEW}:")
        print("\n".join(first_draw_breakdown(views[IRIS_VIEW]["details"], "iris")))
    print("Recolour through the UI (median):")
    print(_recolour_parts(LEVEL, ours["recolour_ui_parts"]))
    for label, out in views.items():
        print(_recolour_parts(label, out["recolour_ui_parts"]))


def _recolour_parts(label: str, parts: list[list[float]]) -> str:
    med = [_median([float(p[k]) for p in parts]) for k in range(5)]
    return (
        f"  {label}: {med[0]:.0f} ms = to render {med[1]:.0f} + values {med[2]:.0f}"
        f" + feature state and legend {med[3]:.0f} + repaint to idle {med[4]:.0f}"
    )


def _print_targets(ours: dict, views: dict[str, dict]) -> None:
    """The issue's map targets (bench/targets.py): communes, and the national IRIS if built."""
    from bench import targets

    print(targets.line("map_first_commune", _median(ours["first"])))
    print(targets.line("map_recolour_commune", _median(ours["recolour_ui"])))
    if IRIS_VIEW in views:
        print(targets.line("map_first_iris", _median(views[IRIS_VIEW]["first"])))
        print(targets.line("map_recolour_iris", _median(views[IRIS_VIEW]["recolour_ui"])))


def bench_naive(base: str, runs: int, first_runs: int) -> dict[str, list[float]]:
    from browser_support import make_driver

    url = f"{base}/naive/"
    out = {"first": bench_first_draw(url, NAIVE_FIRST_JS, first_runs)}
    driver = make_driver()
    try:
        driver.get(url)
        _wait(driver, NAIVE_FIRST_JS)
        times = []
        for i in range(runs):
            t = driver.execute_async_script(NAIVE_SWITCH_JS, INDICATORS[(i + 1) % 2])
            if isinstance(t, str):
                raise RuntimeError(t)
            times.append(float(t))
        out["recolour"] = times
    finally:
        driver.quit()
    return out


def geometry_sizes(cache: Path) -> list[dict]:
    """Per level: features, vertices (when the index has them), raw and gzip bytes."""
    from layers.geocache import build_dir

    cache = build_dir(cache)
    index = json.loads((cache / "web" / "index.json").read_text(encoding="utf-8"))["levels"]
    rows = []
    for level, entry in index.items():
        raw = cache / "web" / entry["file"]
        packed = raw.with_name(raw.name + ".gz")
        if packed.exists():
            gz_bytes = packed.stat().st_size
        else:
            gz_bytes = len(gzip.compress(raw.read_bytes()))
        rows.append(
            {
                "niveau": level,
                "features": entry.get("features"),
                "vertices": entry.get("vertices"),
                "raw_mb": raw.stat().st_size / 1e6,
                "gzip_mb": gz_bytes / 1e6,
            }
        )
    return rows


def _print_table(ours: dict, naive: dict | None, runs: int) -> None:
    print(f"\nMap benchmark, level '{LEVEL}', median of {runs} (ms)")
    print(f"{'':38} {'first draw':>11} {'recolour':>10}")
    print(
        f"{'ours (MapLibre feature-state, API)':38} {_median(ours['first']):11.0f} "
        f"{_median(ours['recolour']):10.0f}"
    )
    print(
        f"{'ours, values already in the browser':38} {'':>11} "
        f"{_median(ours['recolour_cached']):10.0f}"
    )
    print(
        f"{'ours through the Dash UI (dropdown)':38} {'':>11} {_median(ours['recolour_ui']):10.0f}"
    )
    if naive:
        print(
            f"{'naive (Choroplethmap + restyle z)':38} {_median(naive['first']):11.0f} "
            f"{_median(naive['recolour']):10.0f}"
        )
        ratio = _median(naive["recolour"]) / _median(ours["recolour"])
        ratio_ui = _median(naive["recolour"]) / _median(ours["recolour_ui"])
        print(f"recolour speed-up: x{ratio:.1f} (engine), x{ratio_ui:.1f} (through the UI)")


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m bench.map_bench`."""
    from browser_support import LiveServer, chromium_available

    from dashboard.app import create_app
    from dashboard.vendor import missing_files
    from layers.config import Settings
    from layers.geocache import web_levels

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="build cache (default: CAFCARTO_CACHE)")
    parser.add_argument("--runs", type=int, default=5, help="switches per measure (default 5)")
    parser.add_argument("--first-runs", type=int, default=3, help="fresh page loads (default 3)")
    parser.add_argument("--no-naive", action="store_true", help="skip the Plotly baseline")
    parser.add_argument("--json", type=Path, help="also write the raw timings to this file")
    parser.add_argument(
        "--query", default="", help="appended to every map URL, e.g. '&cafmap_workers=2' (A/B)"
    )
    parser.add_argument(
        "--views",
        choices=("all", "iris", "none"),
        default="all",
        help="extra views after the communes: all (default), the national IRIS only, or none",
    )
    parser.add_argument(
        "--settle",
        action="store_true",
        help="open each first page once the fresh browser is idle (its own start-up done)",
    )
    args = parser.parse_args(argv)
    OPTIONS["settle"] = args.settle
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in the report

    settings = Settings.from_env()
    if args.cache:
        settings = replace(settings, cache=args.cache.resolve())
    levels = web_levels(settings.cache)
    if LEVEL not in levels:
        print(f"No '{LEVEL}' level in {settings.cache}: run `cafcarto build` first.")
        return 2
    if missing_files(settings.vendor):
        print("Front-end libraries missing: run `python -m dashboard.vendor` first.")
        return 2
    if not chromium_available():
        print("chromium / chromedriver not found.")
        return 2

    print(f"Cache: {settings.cache}")
    print(f"\n{'level':12} {'features':>9} {'vertices':>10} {'raw MB':>8} {'gzip MB':>8}")
    for row in geometry_sizes(settings.cache):
        vertices = f"{row['vertices']:,}" if row["vertices"] else "-"
        print(
            f"{row['niveau']:12} {row['features']:>9,} {vertices:>10} "
            f"{row['raw_mb']:8.2f} {row['gzip_mb']:8.2f}"
        )

    app = create_app(settings)
    if not args.no_naive:
        naive_app(app.server, settings, levels[LEVEL].url)
    started = time.perf_counter()
    with LiveServer(app.server) as server:
        tiles = TileLog(server.requests, settings.cache)
        ours = bench_ours(server.url, args.runs, args.first_runs, args.query, tiles)
        naive = None if args.no_naive else bench_naive(server.url, args.runs, args.first_runs)
        views = bench_views(
            server.url, levels, args.runs, args.first_runs, args.query, tiles, args.views
        )
    _print_table(ours, naive, args.runs)
    _print_views(views, ours)
    _print_breakdowns(ours, views)
    _print_targets(ours, views)
    print(f"(bench took {time.perf_counter() - started:.0f} s; raw timings with --json)")
    if args.json:
        args.json.write_text(json.dumps({"ours": ours, "naive": naive, "views": views}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
