"""The fixed cost of a request inside the app: CPU per request by kind (a vector tile, a
trivial Dash callback, a cached map and API answer, /healthz, the Dash layout), through
Flask's test client on the cache of CAFCARTO_CACHE (no HTTP server, no network).

Each kind runs in rounds of N/20 requests, the kinds interleaved; printed for each: the median
and the minimum over the rounds of the thread's CPU per request (the minimum moves least on a
shared machine). For A/B runs, alternate two checkouts: `PYTHONPATH=. python -m
bench.overhead_bench --requests 2000` in each, at least two pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

from werkzeug.test import TestResponse

from dashboard.app import create_app

ACCEPT = {"Accept-Encoding": "gzip, br"}
CALLBACK = {
    "output": "note-representation.children",
    "outputs": {"id": "note-representation", "property": "children"},
    "inputs": [
        {"id": "indicateur", "property": "value", "value": "rsa"},
        {"id": "representation", "property": "value", "value": "choroplethe"},
    ],
    "changedPropIds": ["indicateur.value"],
    "state": [],
}
GETS = {
    "tuile": "/tuiles/commune/5/16/11.pbf",
    "carte": "/api/carte/departement?indicateur=allocataires",
    "api": "/api/v1/data?level=departement&indicator=allocataires",
    "healthz": "/healthz",
    "layout": "/_dash-layout",
}


def requests_by_kind() -> dict[str, Callable[[], TestResponse]]:
    # A high rate limit: the limiter still counts the API answers, none is refused.
    os.environ.setdefault("CAFCARTO_RATE_LIMIT", "10000000/minute")
    client = create_app().server.test_client()
    body = json.dumps(CALLBACK)
    kinds: dict[str, Callable[[], TestResponse]] = {
        kind: (lambda url=url: client.get(url, headers=ACCEPT)) for kind, url in GETS.items()
    }
    kinds["callback"] = lambda: client.post(
        "/_dash-update-component", data=body, headers={**ACCEPT, "Content-Type": "application/json"}
    )
    return kinds


def measure(kinds: dict[str, Callable[[], TestResponse]], requests: int) -> dict[str, list[float]]:
    """CPU ms per request of each round, by kind (after 100 requests of warm-up each)."""
    for kind, send in kinds.items():
        for _ in range(100):
            if send().status_code != 200:
                raise SystemExit(f"{kind} : réponse {send().status_code}, banc impossible")
    per_round = max(requests // 20, 1)
    rounds: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(20):
        for kind, send in kinds.items():
            start = time.thread_time()
            for _ in range(per_round):
                send()
            rounds[kind].append((time.thread_time() - start) / per_round * 1e3)
    return rounds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000, help="per kind")
    args = ap.parse_args(argv)
    for kind, times in measure(requests_by_kind(), args.requests).items():
        print(
            f"  {kind:<9} CPU par requête : médiane {statistics.median(times):.3f} ms, "
            f"minimum {min(times):.3f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
