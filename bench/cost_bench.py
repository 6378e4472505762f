"""Cost-aware limits (issue 14, item 4): how long one client can keep the server busy with
heavy answers, with the cost limits off ("before") and on ("after").

The production entry (`cafcarto serve --workers 2`) serves the cache of CAFCARTO_CACHE. One
attacker loops Excel exports of all communes, each of a distinct indicator and period (so the
response cache never answers), as fast as the server answers, ignoring Retry-After. Meanwhile a
prober asks a light route (`/healthz`, then a small API answer) every 0.25 s from another
address, and the server processes' CPU is sampled from /proc (psutil) every 0.5 s.

Printed per mode: server CPU seconds per minute of attack (the main figure: wall times are noisy
on a shared machine), of which the attacker's served exports and its refusals (the request
threads' CPU, from `Server-Timing` with CAFCARTO_SERVER_TIMING=1), the share of samples above
50 % of one core and above 50 % of the machine, seconds until the attacker was first refused,
its answers by status, and the light routes' latency p50/p95. "before" is the same server with
CAFCARTO_COST_LIMIT=0, CAFCARTO_COST_LIMIT_TOTAL=0 and CAFCARTO_COST_CONCURRENCY=0; the count
limits stay on in both.
Both use CAFCARTO_PROXIES=1 so that the attacker and the prober have their own address.

`python -m bench.cost_bench --duration 60 --rounds 2` (modes alternate: before, after, before…);
`--polite`: the attacker waits Retry-After after each refusal (a well-behaved script) instead of
asking again at once (each refusal still costs the server a few milliseconds).
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.load_bench import free_port, wait_ready

REPO = Path(__file__).resolve().parent.parent
MODES = {
    "before": {
        "CAFCARTO_COST_LIMIT": "0",
        "CAFCARTO_COST_LIMIT_TOTAL": "0",
        "CAFCARTO_COST_CONCURRENCY": "0",
    },
    "after": {},  # the defaults
}
ATTACKER, PROBER = "203.0.113.66", "198.51.100.20"
SAMPLE_S = 0.5
PROBE_S = 0.25
EXPORT_LEVEL = "commune"
REFUSALS = (429, 503)


@dataclass
class Run:
    """What one mode measured."""

    mode: str
    polite: bool = False  # the attacker waits Retry-After after a refusal
    duration: float = 0.0
    cpu_s: float = 0.0
    served_cpu_s: float = 0.0  # the attacker's answered requests (Server-Timing)
    refused_cpu_s: float = 0.0  # its refusals (429, 503)
    samples: list[float] = field(default_factory=list)  # CPU % of one core per sample
    statuses: Counter = field(default_factory=Counter)
    first_refusal_s: float | None = None
    light_ms: list[float] = field(default_factory=list)
    light_errors: int = 0


def launch(port: int, workers: int, mode: str, redis_url: str | None) -> subprocess.Popen:
    env = {
        **os.environ,
        **MODES[mode],
        "CAFCARTO_PROXIES": "1",
        "CAFCARTO_SERVER_TIMING": "1",  # the CPU of each answer, served or refused
        "PYTHONPATH": str(REPO),  # this checkout's code, not the installed one
    }
    if redis_url:
        env["CAFCARTO_REDIS_URL"] = redis_url
    cmd = [sys.executable, "-m", "dashboard.cli", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


@dataclass
class Answer:
    status: int
    body: bytes
    retry_after: float  # seconds, 0 when absent
    cpu_s: float  # the request thread's CPU (Server-Timing), 0 when absent


def server_timing(value: str | None) -> float:
    """The seconds of `Server-Timing: cpu;dur=<ms>`, 0 when absent."""
    for part in (value or "").split(";"):
        if part.strip().startswith("dur="):
            return float(part.strip()[4:]) / 1000
    return 0.0


def get(url: str, client: str, timeout: float = 120.0) -> Answer:
    req = urllib.request.Request(url, headers={"X-Forwarded-For": client})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            cpu = server_timing(resp.headers.get("Server-Timing"))
            return Answer(resp.status, resp.read(), 0.0, cpu)
    except urllib.error.HTTPError as err:
        cpu = server_timing(err.headers.get("Server-Timing"))
        return Answer(err.code, err.read(), float(err.headers.get("Retry-After") or 0), cpu)


def export_urls(base: str) -> list[str]:
    """Excel exports of all communes, one per indicator and period the catalogue lists."""
    import json

    answer = get(f"{base}/api/v1/catalog", PROBER)
    if answer.status != 200:
        raise RuntimeError(f"catalogue : {answer.status}")
    urls = []
    for ind in json.loads(answer.body)["indicators"]:
        if EXPORT_LEVEL in ind.get("levels", []):
            for period in reversed(ind["periods_by_level"][EXPORT_LEVEL]):
                urls.append(
                    f"{base}/api/v1/data?indicator={ind['id']}&level={EXPORT_LEVEL}"
                    f"&period={period}&format=xlsx"
                )
    # Interleave indicators so that a short run still spreads over many of them.
    return [u for u in itertools.chain(*itertools.zip_longest(*_by_indicator(urls))) if u]


def _by_indicator(urls: list[str]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for url in urls:
        groups.setdefault(url.split("indicator=")[1].split("&")[0], []).append(url)
    return list(groups.values())


def server_cpu(master: psutil.Process) -> float:
    """CPU seconds (user + system) of the master and its workers so far. Gunicorn recycles a
    worker after some thousands of requests (a flood of refusals gets there within a run): the
    workers it has reaped count in the master's children times."""
    times = master.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for proc in master.children(recursive=True):
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def attack(urls: list[str], run: Run, stop: threading.Event, start: float) -> None:
    for url in itertools.cycle(urls):
        if stop.is_set():
            return
        answer = get(url, ATTACKER)
        run.statuses[answer.status] += 1
        refused = answer.status in REFUSALS
        run.refused_cpu_s += answer.cpu_s if refused else 0.0
        run.served_cpu_s += 0.0 if refused else answer.cpu_s
        if refused and run.first_refusal_s is None:
            run.first_refusal_s = time.monotonic() - start
        if refused and run.polite:
            stop.wait(answer.retry_after)


def probe(base: str, run: Run, stop: threading.Event) -> None:
    light = itertools.cycle(
        [f"{base}/healthz", f"{base}/api/v1/data?indicator=allocataires&level=region"]
    )
    while not stop.wait(PROBE_S):
        t0 = time.perf_counter()
        status = get(next(light), PROBER, timeout=30).status
        run.light_ms.append((time.perf_counter() - t0) * 1000)
        run.light_errors += status != 200


def sample(master: psutil.Process, run: Run, stop: threading.Event) -> None:
    last, t_last = server_cpu(master), time.monotonic()
    while not stop.wait(SAMPLE_S):
        now, t_now = server_cpu(master), time.monotonic()
        run.samples.append(100 * (now - last) / (t_now - t_last))
        last, t_last = now, t_now


@contextmanager
def redis_server(wanted: bool) -> Iterator[str | None]:
    """A fresh redis-server on a free loopback port (budgets shared by the workers), or None."""
    if not wanted:
        yield None
        return
    port = free_port()
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def measure(mode: str, duration: float, workers: int, polite: bool, redis: bool) -> Run:
    with redis_server(redis) as redis_url:
        port = free_port()
        server = launch(port, workers, mode, redis_url)
        run = Run(f"{mode} + Redis" if redis else mode, polite)
        try:
            attack_server(f"http://127.0.0.1:{port}", server, run, duration)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return run


def attack_server(base: str, server: subprocess.Popen, run: Run, duration: float) -> None:
    """One attack of `duration` seconds on a server just started, measured into `run`."""
    wait_ready(base)
    urls = export_urls(base)
    get(f"{base}/api/v1/data?indicator=allocataires&level=region", PROBER)  # warm
    master = psutil.Process(server.pid)
    time.sleep(2)  # let the workers settle after start
    stop = threading.Event()
    cpu0, start = server_cpu(master), time.monotonic()
    threads = [
        threading.Thread(target=attack, args=(urls, run, stop, start)),
        threading.Thread(target=probe, args=(base, run, stop)),
        threading.Thread(target=sample, args=(master, run, stop)),
    ]
    for thread in threads:
        thread.start()
    time.sleep(duration)
    stop.set()
    run.cpu_s = server_cpu(master) - cpu0
    run.duration = time.monotonic() - start
    for thread in threads:
        thread.join(timeout=120)  # the attacker may be inside an export


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(run: Run, cores: int) -> str:
    """One run's line of the report table."""
    n = max(len(run.samples), 1)
    busy_core = sum(s > 50 for s in run.samples) / n
    busy_box = sum(s > 50 * cores for s in run.samples) / n
    refused = "jamais" if run.first_refusal_s is None else f"{run.first_refusal_s:.1f}"
    answers = ", ".join(f"{k}×{v}" for k, v in sorted(run.statuses.items()))
    mode = f"{run.mode} (Retry-After respecté)" if run.polite else run.mode
    minute = 60 / max(run.duration, 1e-9)
    return (
        f"| {mode} | {run.cpu_s * minute:.1f} | {run.served_cpu_s * minute:.1f} / "
        f"{run.refused_cpu_s * minute:.1f} | {busy_core:.0%} | {busy_box:.0%} | {refused} "
        f"| {answers} | {percentile(run.light_ms, 0.5):.0f} / "
        f"{percentile(run.light_ms, 0.95):.0f} | {run.light_errors} |"
    )


def report(runs: list[Run], cores: int) -> str:
    lines = [
        f"Limites au coût (issue 14, point 4) : {cores} cœurs, machine partagée "
        "(chiffres bruités ; le principal est le CPU serveur par minute d'attaque)",
        "| mode | CPU serveur s/min | dont exports servis / refus | > 50 % d'un cœur "
        "| > 50 % de la machine | 1er refus (s) | réponses attaquant | léger p50 / p95 (ms) "
        "| erreurs légères |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [row(run, cores) for run in runs]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of attack")
    parser.add_argument("--rounds", type=int, default=1, help="before/after pairs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--modes", default="before,after")
    parser.add_argument(
        "--polite", action="store_true", help="the attacker waits Retry-After after a refusal"
    )
    parser.add_argument(
        "--redis", action="store_true", help="budgets shared by the workers through redis-server"
    )
    args = parser.parse_args(argv)
    runs = []
    for _ in range(args.rounds):
        for mode in args.modes.split(","):
            runs.append(measure(mode, args.duration, args.workers, args.polite, args.redis))
            print(report(runs[-1:], psutil.cpu_count() or 1).splitlines()[-1], flush=True)
    print(report(runs, psutil.cpu_count() or 1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
