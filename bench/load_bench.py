"""Load test: many simulated users on the app served by gunicorn with several workers.

Each user plays bounded sessions with a random think time between steps: open the map (page,
Dash layout and dependencies, the pages callback and the page's callbacks, the map values and
the national vector tiles), switch indicator and level (the callbacks a browser posts, built
from `_dash-dependencies` by bench.dash_client), open a commune's profile (page + callbacks),
call the API (data, territory, search) and export (CSV of the current view, the profile PDF).

Printed: requests per second, median and 95th percentile latency per route kind, errors
(non-2xx/3xx, timeouts), the server CPU per request by route (from the `Server-Timing: cpu`
header the server adds with CAFCARTO_SERVER_TIMING=1), the load client's own CPU share and the
memory of every gunicorn worker (RSS, and PSS/USS: what the workers share is counted once).

`python -m bench.load_bench --users 50 --workers 3 --duration 60` (the cache of
CAFCARTO_CACHE), `--curve 50,100,200` for several load levels against one server (the targets
are printed at 200 users), or `--url http://host:port` to load a server started elsewhere.
Rate limits must be off for a load test: the server is started with CAFCARTO_RATE_LIMIT=0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench import targets
from bench.dash_client import DashSession, answer_json

KINDS = ("page", "callback", "data", "geometry", "export")
THINK_S = (1.0, 5.0)  # think time between steps, seconds (uniform)
MAX_SESSIONS = 5  # per user
TIMEOUT_S = 30.0
NATIONAL_TILES = [(5, x, y) for x in (15, 16) for y in (10, 11)]
REPO = Path(__file__).resolve().parent.parent


def kind_of(path: str) -> str:
    """Route kind of a request path, for the per-kind latency figures."""
    if path.startswith("/_dash-update-component"):
        return "callback"
    if path.startswith(("/export/", "/api/v1/data")) and "format=" in path:
        return "export"
    if path.startswith("/export/"):
        return "export"
    if path.startswith(("/api/",)):
        return "data"
    if path.startswith(("/tuiles/", "/geo/")):
        return "geometry"
    return "page"


# --------------------------------------------------------------------------------------------
# Server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_server(port: int, workers: int, threads: int = 1) -> subprocess.Popen:
    """The production entry (`cafcarto serve --workers N`, gunicorn) on 127.0.0.1, without the
    per-IP limits: every simulated user comes from the same address."""
    env = {
        **os.environ,
        "CAFCARTO_RATE_LIMIT": "0",
        "CAFCARTO_RATE_LIMIT_EXPORT": "0",
        "CAFCARTO_SERVER_TIMING": "1",
    }
    # `-m dashboard.cli` from the repository: this checkout's code, not the installed one.
    cmd = [
        sys.executable,
        "-m",
        "dashboard.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]
    # CAFCARTO_BENCH_SERVER: another checkout's server under this client (A/B of two branches).
    cwd = os.environ.get("CAFCARTO_BENCH_SERVER") or REPO
    # CAFCARTO_BENCH_SERVER_LOG: the server's log into this file (to read an error's trace).
    log_path = os.environ.get("CAFCARTO_BENCH_SERVER_LOG")
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 (server's)
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=log)


def wait_ready(url: str, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"le serveur {url} ne répond pas")


def worker_memory(master: int) -> dict[int, float]:
    """Resident memory (MB) of each gunicorn worker (children of the master)."""
    out = {}
    for child in psutil.Process(master).children():
        try:
            out[child.pid] = child.memory_info().rss / 2**20
        except psutil.Error:
            continue
    return out


def worker_memory_full(master: int, with_master: bool = False) -> dict[str, float]:
    """Total RSS, PSS and USS (MB) of the workers (and of the master, when asked: with
    preload, the pages it loaded before the fork are shared with the workers, and PSS puts
    part of them on it): RSS counts the pages they share once per worker, PSS splits them
    among their users, USS is what each holds alone."""
    total = {"rss": 0.0, "pss": 0.0, "uss": 0.0}
    procs = psutil.Process(master).children()
    for child in [*procs, psutil.Process(master)] if with_master else procs:
        try:
            info = child.memory_full_info()
        except psutil.Error:
            continue
        for name in total:
            total[name] += getattr(info, name, 0) / 2**20
    return total


# --------------------------------------------------------------------------------------------
# Client


@dataclass
class Stats:
    """Latencies (ms) per route kind, errors, and the span of the run."""

    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    by_path: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    cpu_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.times.values())


@dataclass
class Catalogue:
    """What the users pick from: indicators with their levels, published communes."""

    indicators: dict[str, list[str]]
    communes: list[str]


class TimeUp(Exception):
    """The run's duration is over: the user stops at its next think time."""


class User:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        base: str,
        stats: Stats,
        cat: Catalogue,
        rng: random.Random,
        think: tuple[float, float],
        end: float,
        export_share: float = 0.3,
    ) -> None:
        self.http, self.base, self.stats, self.cat, self.rng = http, base, stats, cat, rng
        self.think_s, self.end, self.export_share = think, end, export_share

    async def send(
        self, method: str, path: str, body: Any = None, parse: bool = True
    ) -> tuple[int, Any]:
        """The answer's status and, when `parse`, its JSON. The client shares the server's
        cores: bodies nobody reads (map values, API answers, the Dash layout) are only
        checked to be there, not parsed (the 2.8 MB commune map payload cost the client more
        than the server's answer from its cache)."""
        t0 = time.perf_counter()
        label = _route(path.split("?")[0])
        if isinstance(body, dict):  # a callback: name it by its first output
            label = "callback " + body["output"].strip(".").split("...")[0]
            page = [i.get("value") for i in body["inputs"] if i["property"] == "pathname"]
            if page:  # the pages callback renders a whole page: which one matters
                label += " " + _route(str(page[0]))
        try:
            async with self.http.request(
                method, self.base + path, json=body, allow_redirects=False
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.stats.errors.append(f"{method} {path[:100]} : {type(exc).__name__}")
            return 0, None
        ms = (time.perf_counter() - t0) * 1000
        self.stats.times[kind_of(path)].append(ms)
        self.stats.by_path[label].append(ms)
        cpu = server_cpu_ms(resp.headers.get("Server-Timing"))
        if cpu is not None:
            self.stats.cpu_ms[label].append(cpu)
        if status >= 400:
            self.stats.errors.append(f"{method} {path[:100]} : HTTP {status}")
        elif status == 200 and not raw:
            self.stats.errors.append(f"{method} {path[:100]} : réponse vide")
        ctype = resp.headers.get("Content-Type", "")
        return status, answer_json(raw) if parse and "json" in ctype else None

    async def get(self, path: str, parse: bool = True) -> tuple[int, Any]:
        return await self.send("GET", path, parse=parse)

    async def fetch(self, path: str) -> None:
        """GET `path` whose answer the user does not read (checked, not parsed)."""
        await self.send("GET", path, parse=False)

    async def think(self) -> None:
        if time.monotonic() >= self.end:
            raise TimeUp
        await asyncio.sleep(self.rng.uniform(*self.think_s))

    async def load_page(self, path: str) -> DashSession:
        await self.fetch(path)
        await self.fetch("/_dash-layout")
        _, deps = await self.get("/_dash-dependencies")
        tab = DashSession(deps or [], self.send)
        pathname, _, search = path.partition("?")
        await tab.open_page(pathname, "?" + search if search else "")
        return tab

    async def show_map(self, tab: DashSession) -> None:
        spec = tab.props.get(("map-spec", "data"))
        if not isinstance(spec, dict):
            return
        gets = [spec["valeurs"]]
        if spec.get("tuiles"):
            gets += [spec["tuiles"].format(z=z, x=x, y=y) for z, x, y in NATIONAL_TILES]
        elif spec.get("geometrie"):
            gets.append(spec["geometrie"])
        await asyncio.gather(*(self.fetch(p) for p in gets))

    async def session(self) -> None:
        rng, cat = self.rng, self.cat
        tab = await self.load_page("/")
        await self.show_map(tab)
        await self.think()
        ind = rng.choice(list(cat.indicators))
        await tab.set("indicateur", "value", ind)
        await self.show_map(tab)
        await self.think()
        levels = [
            lv
            for lv in cat.indicators[ind]
            if lv in ("region", "departement", "epci", "commune", "caf")
        ]
        if levels:
            await tab.set("niveau", "value", rng.choice(levels))
            await self.show_map(tab)
            await self.think()
        if rng.random() < self.export_share:
            href = tab.props.get(("export-csv", "href"))
            if isinstance(href, str) and href.startswith("/api/"):
                await self.fetch(href)
                await self.think()
        code = rng.choice(cat.communes)
        profile = await self.load_page(f"/territoire/commune/{code}")
        await self.think()
        await profile.set("evolution-indicateur", "value", rng.choice(list(cat.indicators)))
        await self.think()
        await self.fetch(f"/api/v1/data?indicator={ind}&level=departement")
        await self.fetch(f"/api/v1/territories/commune/{code}")
        await self.fetch(f"/api/v1/territories?q={rng.choice(['lyon', 'per', 'saint', 'ajac'])}")
        await self.think()
        if rng.random() < self.export_share:
            await self.fetch(f"/export/fiche/commune/{code}.pdf")


def server_cpu_ms(header: str | None) -> float | None:
    """The `cpu;dur=<ms>` of a Server-Timing header, or None."""
    for metric in (header or "").split(","):
        name, *params = (p.strip() for p in metric.split(";"))
        if name == "cpu":
            for param in params:
                if param.startswith("dur="):
                    return float(param[4:])
    return None


def _route(path: str) -> str:
    """A path without its codes: /territoire/commune/*, /tuiles/commune/*."""
    parts = path.split("/")
    if len(parts) > 3 and parts[1] in ("territoire", "tuiles", "export"):
        return "/".join(parts[: 4 if parts[1] == "export" else 3]) + "/*"
    if len(parts) > 4 and parts[2] == "v1" and parts[3] == "territories":
        return "/".join(parts[:5]) + "/*"
    return path


async def catalogue(http: aiohttp.ClientSession, base: str) -> Catalogue:
    async with http.get(base + "/api/v1/catalog") as resp:
        cat = await resp.json()
    inds = {i["id"]: i["levels"] for i in cat["indicators"] if i["levels"]}
    url = base + "/api/v1/data?indicator=allocataires&level=commune"
    async with http.get(url) as resp:
        rows = (await resp.json())["rows"]
    communes = [r["code"] for r in rows if r["status"] == "published"] or [r["code"] for r in rows]
    return Catalogue(inds, communes)


async def run_load(
    base: str,
    users: int,
    duration: float,
    *,
    seed: int = 0,
    think: tuple[float, float] = THINK_S,
    max_sessions: int = MAX_SESSIONS,
    export_share: float = 0.3,
) -> Stats:
    """Play `users` concurrent users for about `duration` seconds against `base`."""
    stats = Stats()
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    # Idle connections are dropped before gunicorn's 2 s keep-alive closes them: otherwise a
    # request sent on a socket the server is closing fails (ServerDisconnectedError), where a
    # browser would silently retry it.
    conn = aiohttp.TCPConnector(limit=0, keepalive_timeout=1.0)
    async with aiohttp.ClientSession(timeout=timeout, connector=conn) as http:
        cat = await catalogue(http, base)
        end = time.monotonic() + duration

        async def one(k: int) -> None:
            rng = random.Random(seed * 10_000 + k)
            user = User(http, base, stats, cat, rng, think, end, export_share)
            await asyncio.sleep(user.rng.uniform(0, min(duration / 4, 5.0)))  # ramp up
            for _ in range(max_sessions):
                try:
                    await user.session()
                except TimeUp:
                    return

        t0 = time.perf_counter()
        await asyncio.gather(*(one(k) for k in range(users)))
        stats.seconds = time.perf_counter() - t0
    return stats


# --------------------------------------------------------------------------------------------
# Report


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU time of a process (and of its children: gunicorn's workers)."""
    procs = [psutil.Process(pid)]
    if children:
        procs += procs[0].children(recursive=True)
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    if children:
        # Workers gunicorn recycled (max_requests) and reaped: their CPU is the master's
        # children_* times; without it the server's CPU fell when a worker was replaced.
        try:
            t = procs[0].cpu_times()
            total += t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy so far (all processes, all cores): on a shared
    machine, what other processes took is what the server did not get."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def report(
    stats: Stats,
    memory: dict[int, float] | None = None,
    peak: dict[int, float] | None = None,
    cpu: dict[str, float] | None = None,
) -> str:
    lines = [
        f"{stats.requests} requêtes en {stats.seconds:.0f} s : "
        f"{stats.requests / max(stats.seconds, 1e-9):.1f} req/s ; "
        f"{len(stats.errors)} erreur(s)"
    ]
    if cpu:
        cores = psutil.cpu_count() or 1
        server = cpu.get("server", 0.0)  # unknown when loading a server started elsewhere
        other = cpu["machine"] - cpu["client"] - server
        lines.append(
            f"  CPU sur {stats.seconds:.0f} s × {cores} cœurs : serveur {server:.0f} s, "
            f"client {cpu['client']:.0f} s, autres processus {other:.0f} s "
            f"(machine occupée à {cpu['machine'] / stats.seconds / cores:.0%} ; "
            f"part du client : {cpu['client'] / stats.seconds / cores:.1%} de la machine)"
        )
        lines += handler_share(stats, server)
    lines += cpu_by_route(stats)
    for kind in KINDS:
        v = stats.times.get(kind)
        if v:
            lines.append(
                f"  {kind:9} n={len(v):5}  médiane {statistics.median(v):7.0f} ms  "
                f"p95 {p95(v):7.0f} ms"
            )
    total_ms = sum(sum(v) for v in stats.by_path.values()) or 1.0
    lines.append("  routes par temps cumulé (à faible charge, c'est le CPU du serveur) :")
    heavy = sorted(stats.by_path.items(), key=lambda kv: -sum(kv[1]))[:10]
    for path, v in heavy:
        lines.append(
            f"    {path[:44]:44} n={len(v):5}  médiane {statistics.median(v):6.0f} ms  "
            f"p95 {p95(v):6.0f} ms  cumul {sum(v) / total_ms:4.0%}"
        )
    for err in sorted(set(stats.errors))[:10]:
        lines.append(f"  erreur : {err}")
    if memory:
        total = sum(memory.values())
        per = ", ".join(f"{mb:.0f}" for mb in memory.values())
        lines.append(f"  mémoire des workers (fin) : {per} Mo ; total {total:.0f} Mo")
    if peak:
        lines.append(
            f"  mémoire des workers (pic) : "
            f"{', '.join(f'{mb:.0f}' for mb in peak.values())} Mo ; "
            f"total {sum(peak.values()):.0f} Mo"
        )
    return "\n".join(lines)


def handler_share(stats: Stats, server_s: float) -> list[str]:
    """The server's CPU inside the app's handlers (Server-Timing summed) against all of its
    CPU: the rest is the HTTP server, threads and what no request is charged with. Per
    request, a steadier figure than latency on a machine whose speed varies."""
    if not stats.cpu_ms or server_s <= 0:
        return []
    inside = sum(sum(v) for v in stats.cpu_ms.values()) / 1000
    return [
        f"  CPU du serveur par requête : {server_s * 1000 / max(stats.requests, 1):.2f} ms, "
        f"dont {inside * 1000 / max(stats.requests, 1):.2f} ms dans l'application "
        f"({inside / server_s:.0%} ; le reste : serveur HTTP, threads, processus maître)"
    ]


def cpu_by_route(stats: Stats) -> list[str]:
    """CPU of the server per request (Server-Timing), the ten costliest routes in total."""
    if not stats.cpu_ms:
        return []
    total = sum(sum(v) for v in stats.cpu_ms.values()) or 1.0
    lines = ["  CPU du serveur par requête (Server-Timing), routes par CPU cumulé :"]
    for path, v in sorted(stats.cpu_ms.items(), key=lambda kv: -sum(kv[1]))[:10]:
        lines.append(
            f"    {path[:44]:44} n={len(v):5}  médiane {statistics.median(v):6.1f} ms  "
            f"moyenne {statistics.fmean(v):6.1f} ms  cumul {sum(v) / total:4.0%}"
        )
    return lines


def target_lines(stats: Stats) -> list[str]:
    """The issue's load targets (defined at 200 users) for this run."""
    out = []
    for kind in ("page", "callback", "data"):
        if stats.times.get(kind):
            out.append(targets.line(f"load_p95_{kind}", p95(stats.times[kind])))
    out.append(targets.line("load_errors", len(stats.errors)))
    return out


async def _sample_memory(master: int, peak: dict[int, float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for pid, mb in worker_memory(master).items():
            peak[pid] = max(peak.get(pid, 0.0), mb)
        await asyncio.sleep(0.5)


async def _measure(base: str, master: int | None, users: int, args: argparse.Namespace) -> tuple:
    peak: dict[int, float] = {}
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_memory(master, peak, stop)) if master else None
    me = os.getpid()
    cpu0 = (cpu_seconds(me), machine_busy(), cpu_seconds(master, True) if master else 0.0)
    stats = await run_load(base, users, args.duration, seed=args.seed, think=tuple(args.think))
    cpu = {"client": cpu_seconds(me) - cpu0[0]}
    cpu["machine"] = machine_busy() - cpu0[1]
    if master:
        cpu["server"] = cpu_seconds(master, True) - cpu0[2]
    stop.set()
    if sampler:
        await sampler
    memory = worker_memory(master) if master else None
    return stats, memory, peak, cpu


def _levels(text: str) -> list[int]:
    """`--curve 50,100,200`: load levels, in French when it is not a list of integers."""
    try:
        levels = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        levels = []
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError(f"« {text} » : une liste d'entiers ≥ 1 est attendue")
    return levels


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--curve", type=_levels, help="load levels one after another, e.g. 50,100,200")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per level")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=THINK_S,
        metavar=("MIN", "MAX"),
        help="think time between steps, seconds",
    )
    ap.add_argument("--url", help="load this server instead of starting one")
    return ap.parse_args(argv)


def _run_level(base: str, master: int | None, users: int, args: argparse.Namespace) -> Stats:
    print(
        f"## Charge : {users} utilisateurs, {args.duration:.0f} s, "
        + (args.url or f"gunicorn {args.workers} worker(s) × {args.threads} thread(s)"),
        flush=True,
    )
    stats, memory, peak, cpu = asyncio.run(_measure(base, master, users, args))
    print(report(stats, memory, peak, cpu), flush=True)
    if users == targets.LOAD_USERS:
        print("\n".join(target_lines(stats)), flush=True)
    return stats


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    proc = None
    base = args.url
    if base is None:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = launch_server(port, args.workers, args.threads)
    errors = 0
    try:
        wait_ready(base)
        for users in args.curve or [args.users]:
            errors += len(_run_level(base, proc.pid if proc else None, users, args).errors)
        if proc is not None:
            mem = worker_memory_full(proc.pid)
            print(
                f"  mémoire des {args.workers} workers (fin) : RSS {mem['rss']:.0f} Mo, "
                f"PSS {mem['pss']:.0f} Mo, USS {mem['uss']:.0f} Mo",
                flush=True,
            )
            every = worker_memory_full(proc.pid, with_master=True)
            print(
                f"  mémoire du serveur, maître compris (fin) : PSS {every['pss']:.0f} Mo, "
                f"USS {every['uss']:.0f} Mo",
                flush=True,
            )
            if args.workers == 3:
                print(targets.line("memory_workers", every["pss"]), flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
