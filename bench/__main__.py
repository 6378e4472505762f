"""`make bench`: every measurement in one run (build, demonstration store, map engine, server
memory, store, dashboard routes, audit, load, load through nginx, cost-aware limits), then the
issue-13 targets, met or not."""

from __future__ import annotations

import sys

from bench import (
    audit_bench,
    build_bench,
    cost_bench,
    dashboard_bench,
    demo_store_bench,
    load_bench,
    map_bench,
    proxy_bench,
    server_memory,
    store_bench,
    targets,
)


def _cold_build() -> None:
    """Territories from scratch, then the demonstration store on the build in service: their
    sum is the cold build of target 3."""
    from geodata.cache import active_dir
    from layers.config import Settings

    built = build_bench.measure()
    print(build_bench.report(built), flush=True)
    store = demo_store_bench.measure(active_dir(Settings.from_env().cache))
    print(demo_store_bench.report(store), flush=True)
    print(targets.line("build_cold", built["territories_s"] + store["store_s"]), flush=True)


def main() -> int:
    _cold_build()
    print(flush=True)
    code = map_bench.main(["--runs", "5", "--first-runs", "3"])
    print(flush=True)
    server_memory.main()
    print(flush=True)
    store_bench.main()
    print(flush=True)
    dashboard_bench.main()
    print(flush=True)
    audit_bench.main([])
    print(flush=True)
    # 200 users, 3 workers of 4 threads: the load, p95 and memory targets.
    load_bench.main(["--curve", "200", "--workers", "3", "--threads", "4", "--duration", "60"])
    print(flush=True)
    # The same users through nginx to two instances, beside one instance (issue 14).
    proxy_bench.main(["--users", "100", "--duration", "30"])
    print(flush=True)
    # One client looping distinct Excel exports, cost limits off then on (issue 14).
    cost_bench.main(["--duration", "60"])
    print(flush=True)
    print(targets.summary(), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
