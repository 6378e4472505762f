"""Peak memory of the served app (`cafcarto serve` in its own process) under a typical visit.

The visit: the page, every level's values for both indicators, and the national tiles of every
level; the resident set size of the server process is sampled every 20 ms.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import psutil

from layers.catalogue import GEOMETRY_INDICATORS as INDICATORS
from layers.config import Settings
from layers.geocache import web_levels

NATIONAL_TILES = [(5, x, y) for x in (15, 16, 17) for y in (10, 11)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=60) as resp:
        resp.read()


def measure() -> dict:
    settings = Settings.from_env()
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        p = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], p.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    try:
        for _ in range(200):
            try:
                _get(base + "/")
                break
            except OSError:
                time.sleep(0.1)
        idle_rss = psutil.Process(proc.pid).memory_info().rss
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        for level in web_levels(settings.cache):
            for indicator in INDICATORS:
                _get(f"{base}/api/carte/{level}?indicateur={indicator}")
            for z, x, y in NATIONAL_TILES:
                with contextlib.suppress(OSError):  # a level without tiles there
                    _get(f"{base}/tuiles/{level}/{z}/{x}/{y}.pbf")
        time.sleep(0.1)
    finally:
        stop.set()
        proc.terminate()
        proc.wait(timeout=10)
    return {"idle_mb": idle_rss / 2**20, "peak_mb": peak[0] / 2**20}


def main() -> None:
    res = measure()
    print("## Mémoire du serveur (cafcarto serve, un processus)")
    print(
        f"au repos : {res['idle_mb']:.0f} Mo ; pic pendant une visite de tous les niveaux : "
        f"{res['peak_mb']:.0f} Mo"
    )


if __name__ == "__main__":
    main()
