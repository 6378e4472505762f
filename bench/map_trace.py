"""Where the map's first draw goes, per thread and per process: one traced fresh page load.

Opens the national commune map (or `--level`) in headless Chromium with a trace recorded
through chromedriver's performance log (top-level tasks, DevTools timeline), waits for the map's
first idle and reports, in the windows cut by cafmap's debug marks (navigation -> level source
added -> first tile -> first idle):

- each Chromium thread's time in tasks, wall and thread CPU (a task's wall time without its
  CPU is time the thread waited for a core);
- the CPU of every process of the machine (/proc, sampled every 50 ms): this bench's server,
  Chromium, and whatever else shares the two cores;
- Chromium's CPU from navigation to first idle by process type and thread name (/proc): the
  GPU process's threads are SwiftShader's software WebGL and raster;
- the level's vector tiles: when the worker asked for them and when each arrived.

With `--settle` the page is opened once the fresh browser is idle (see map_bench.browser_settle).

Run: `python -m bench.map_trace [--cache DIR] [--level commune] [--settle] [--keep F.json]`
(`--replay F.json` reports again on a kept trace).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # browser_support: live server and Chromium helpers

from bench.map_bench import FIRST_DETAIL_JS, _wait, browser_settle  # noqa: E402

CATEGORIES = "toplevel,blink.user_timing,devtools.timeline,disabled-by-default-devtools.timeline"
TASKS = ("ThreadControllerImpl::RunTask", "RunTask", "ThreadPool_RunTask")
WINDOWS = ("nav -> source added", "added -> first tile", "first tile -> idle")


def _ticks(path: Path) -> tuple[str, int] | None:
    """(name, user + system ticks) of a /proc stat file, None when gone."""
    try:
        head, tail = path.read_text().rsplit(")", 1)
    except OSError:
        return None
    fields = tail.split()
    return head.split("(", 1)[1], int(fields[11]) + int(fields[12])


class CpuSampler(threading.Thread):
    """Every process's CPU ticks every 50 ms (/proc): who held the cores in a window."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, dict[int, tuple[str, int]]]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            now, ticks = time.time() * 1000, {}
            for entry in Path("/proc").iterdir():
                got = _ticks(entry / "stat") if entry.name.isdigit() else None
                if got:
                    ticks[int(entry.name)] = got
            self.samples.append((now, ticks))
            time.sleep(0.05)

    def between(self, lo: float, hi: float) -> list[tuple[str, float]]:
        """CPU ms per process between epoch ms `lo` and `hi` (nearest samples)."""
        first = min(self.samples, key=lambda s: abs(s[0] - lo))[1]
        last = min(self.samples, key=lambda s: abs(s[0] - hi))[1]
        per: Counter = Counter()
        for pid, (name, ticks) in last.items():
            if pid == os.getpid():
                name = "this bench (app server)"
            elif not name.startswith("chrom"):
                name = f"{name} {pid}"
            per[name] += (ticks - first.get(pid, (name, 0))[1]) * 1000 / os.sysconf("SC_CLK_TCK")
        return [(name, ms) for name, ms in per.most_common(8) if ms > 0]


def chromium_threads(root: int) -> Counter:
    """CPU ms so far of each Chromium thread under `root` (chromedriver), keyed by process
    type and thread name (digits dropped: the pool's threads add up)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        got = _ticks(entry / "stat") if entry.name.isdigit() else None
        if got:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            children[int(stat[1])].append(int(entry.name))
    out: Counter = Counter()
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="ignore")
            tasks = list((Path("/proc") / str(pid) / "task").iterdir())
        except OSError:
            continue
        # Chromium rewrites its command line as one string: the type is up to a space.
        kind = cmd.split("--type=", 1)[1].split()[0] if "--type=" in cmd else "browser"
        for task in tasks:
            got = _ticks(task / "stat")
            if got:
                name = "".join(c for c in got[0] if not c.isdigit())
                out[f"{kind}: {name}"] += got[1] * 1000 / os.sysconf("SC_CLK_TCK")
    return out


def _driver():
    """Headless Chromium (browser_support's flags) recording a trace through chromedriver's
    performance log: started with the session, read back by get_log("performance")."""
    from browser_support import CHROME_FLAGS, CHROMEDRIVER, CHROMIUM
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROME_FLAGS, "--window-size=1400,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    options.add_experimental_option(
        "perfLoggingPrefs",
        {"traceCategories": CATEGORIES, "enableNetwork": False, "enablePage": False},
    )
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(120)
    return driver


def record(url: str, trace: Path, settle: bool, level: str) -> dict:
    """Load `url` in a traced Chromium, write the trace's events to `trace` (JSON); return
    cafmap's marks with the machine's and Chromium's CPU."""
    driver = _driver()
    root = driver.service.process.pid
    try:
        if settle:
            browser_settle(root)
        sampler, before = CpuSampler(), chromium_threads(root)
        sampler.start()
        driver.get(url + "&cafmap_debug=1")
        detail = _wait(driver, FIRST_DETAIL_JS)
        sampler.done.set()
        after = chromium_threads(root)
        origin = driver.execute_script("return performance.timeOrigin;")
        time.sleep(1)  # the trace's last events
        logs = driver.get_log("performance")
    finally:
        driver.quit()
    src = detail["sources"].get(f"src-{level}", {})
    cuts = (0, src.get("added"), src.get("firstTile"), detail["first"])
    detail["machine_cpu"] = {
        name: sampler.between(origin + cuts[i], origin + cuts[i + 1])
        for i, name in enumerate(WINDOWS)
        if cuts[i] is not None and cuts[i + 1] is not None
    }
    detail["chromium_cpu"] = (after - before).most_common(14)
    events = [json.loads(e["message"])["message"] for e in logs]
    trace.write_text(
        json.dumps([e["params"] for e in events if e.get("method") == "Tracing.dataCollected"])
    )
    return detail


def _threads(events: list[dict]) -> dict[tuple[int, int], str]:
    names = {}
    for ev in events:
        if ev.get("ph") == "M" and ev.get("name") == "thread_name":
            names[(ev["pid"], ev["tid"])] = ev["args"]["name"]
    return names


def _nav_start(events: list[dict]) -> float:
    """Trace time (us) of the map page's navigation start (performance.now()'s origin)."""
    return min(
        ev["ts"]
        for ev in events
        if ev.get("name") == "navigationStart"
        and "niveau=" in ev.get("args", {}).get("data", {}).get("documentLoaderURL", "")
    )


def busy(events: list[dict], names: dict, windows: list[tuple[float, float]]) -> list:
    """Per thread, ms in top-level tasks inside each window (trace us), wall then thread CPU
    (the task's `tdur` share); a task nested in another counts once."""
    spans: dict[tuple, list] = defaultdict(list)
    for ev in events:
        if ev.get("ph") == "X" and ev.get("dur") and ev.get("name") in TASKS:
            cpu = ev.get("tdur", ev["dur"]) / ev["dur"]
            spans[(ev["pid"], ev["tid"])].append((ev["ts"], ev["ts"] + ev["dur"], cpu))
    out = {}
    for key, items in spans.items():
        ms, reach = [0.0] * (2 * len(windows)), 0.0
        for start, end, cpu in sorted(items):
            start = max(start, reach)
            if end <= start:
                continue
            reach = end
            for i, (lo, hi) in enumerate(windows):
                wall = max(0.0, min(end, hi) - max(start, lo)) / 1000
                ms[i] += wall
                ms[len(windows) + i] += wall * cpu
        out[f"{names.get(key, '?')} ({key[0]}/{key[1]})"] = ms
    return sorted(out.items(), key=lambda kv: -sum(kv[1]))


def tile_requests(events: list[dict], nav: float) -> list[str]:
    """The vector tiles' requests: sent and finished, ms since navigation."""
    sent, done = {}, {}
    for ev in events:
        data = (ev.get("args") or {}).get("data") or {}
        rid = data.get("requestId")
        if ev.get("name") == "ResourceSendRequest" and "/tuiles/" in data.get("url", ""):
            sent[rid] = (data["url"].split("/tuiles/", 1)[1].split("?")[0], ev["ts"])
        elif ev.get("name") == "ResourceFinish" and rid:
            done[rid] = ev["ts"]
    return [
        f"{tile:24} sent {(ts - nav) / 1000:7.0f}  finished "
        + (f"{(done[rid] - nav) / 1000:7.0f}" if rid in done else "      -")
        for rid, (tile, ts) in sorted(sent.items(), key=lambda kv: kv[1][1])
    ]


def report(trace: Path, detail: dict, level: str) -> None:
    events = json.loads(trace.read_text())
    names, nav = _threads(events), _nav_start(events)
    src = (detail.get("sources") or {}).get(f"src-{level}", {})
    marks = {**detail["marks"], **{f"tiles_{k}": round(v) for k, v in src.items()}}
    print(
        "cafmap marks (ms since navigation): "
        + ", ".join(f"{k} {v}" for k, v in sorted(marks.items(), key=lambda kv: kv[1]))
    )
    cuts = (0, src.get("added"), src.get("firstTile"), detail["first"])
    windows = [(nav + cuts[i] * 1000, nav + cuts[i + 1] * 1000) for i in range(3)]
    print(f"\nms in tasks per thread, wall then thread CPU, windows {WINDOWS}:")
    for thread, ms in busy(events, names, windows):
        if sum(ms) >= 10:
            print(f"  {thread[:44]:44} " + " ".join(f"{m:6.0f}" for m in ms))
    for window, rows in (detail.get("machine_cpu") or {}).items():
        print(f"machine CPU ms, {window}: " + ", ".join(f"{n} {ms:.0f}" for n, ms in rows))
    if detail.get("chromium_cpu"):
        print("\nChromium CPU ms, navigation -> first idle, by process type and thread:")
        for name, ms in detail["chromium_cpu"]:
            print(f"  {ms:6.0f}  {name}")
    print("\nvector tiles (ms since navigation):")
    for line in tile_requests(events, nav):
        print("  " + line)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m bench.map_trace`."""
    from browser_support import LiveServer

    from dashboard.app import create_app
    from layers.config import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="build cache (default: CAFCARTO_CACHE)")
    parser.add_argument("--level", default="commune")
    parser.add_argument("--query", default="", help="appended to the map URL")
    parser.add_argument("--settle", action="store_true", help="open once the browser is idle")
    parser.add_argument("--keep", type=Path, help="keep the trace (JSON) and its marks here")
    parser.add_argument("--replay", type=Path, help="report on a kept trace")
    args = parser.parse_args(argv)
    if args.replay:
        detail = json.loads(args.replay.with_suffix(".marks.json").read_text())
        report(args.replay, detail, args.level)
        return 0
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    settings = Settings.from_env()
    if args.cache:
        settings = replace(settings, cache=args.cache.resolve())
    app = create_app(settings)
    with tempfile.TemporaryDirectory() as tmp, LiveServer(app.server) as server:
        trace = args.keep or Path(tmp) / "trace.json"
        url = f"{server.url}/?niveau={args.level}&indicateur=allocataires{args.query}"
        detail = record(url, trace, args.settle, args.level)
        trace.with_suffix(".marks.json").write_text(json.dumps(detail))
        print(f"first idle {detail['first']:.0f} ms")
        report(trace, detail, args.level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
