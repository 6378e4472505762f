"""Load through the proxy: the load bench's session mix (bench/load_bench.py's users) through
nginx (deploy/nginx.conf) to two `cafcarto serve --workers 2` instances sharing one Redis,
beside the same load on one of those instances directly.

The topology is tests/topology.py's (redis-server, the two instances, a Celery worker, nginx
on loopback ports), on the cache of CAFCARTO_CACHE, only read. Printed for each users level:
throughput, median and p95 per route kind and the errors, one instance then through nginx.
On one machine both instances share its cores: throughput cannot double; what the proxy must
keep is correctness (no errors) and the tail latency.

`python -m bench.proxy_bench --users 50,100 --duration 30` (needs redis-server and nginx:
`make topology-deps`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench.load_bench import REPO, Stats, _levels, report, run_load
from layers.config import Settings

sys.path.insert(0, str(REPO / "tests"))  # the topology the tests start, reused as is
from topology import missing_programs, start_topology


def measure(base: str, users: int, duration: float) -> Stats:
    return asyncio.run(run_load(base, users, duration))


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=_levels, default=[50, 100], help="e.g. 50,100")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds per run")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    missing = missing_programs()
    if missing:
        print(f"banc du proxy impossible : {', '.join(missing)} manquent (make topology-deps)")
        return 1
    settings = Settings.from_env()
    # no rate limit: every simulated user comes from the same address
    topo = start_topology(settings.cache, settings.vendor, export_limit="0")
    errors = 0
    try:
        for users in args.users:
            runs = (
                ("une instance (2 workers), directement", topo.app_urls[0]),
                ("nginx → deux instances (2 × 2 workers)", topo.base),
            )
            for label, base in runs:
                print(f"## Charge : {users} utilisateurs, {args.duration:.0f} s, {label}")
                # same seed, same requests: each run starts from an empty shared cache
                for key in topo.redis_client().scan_iter("cafcarto:reponse:*"):
                    topo.redis_client().delete(key)
                stats = measure(base, users, args.duration)
                errors += len(stats.errors)
                print(report(stats), flush=True)
    finally:
        topo.close()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
