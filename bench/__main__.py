"""`make bench`: every measurement in one run (build, map engine, server memory, store,
dashboard routes, load)."""

from __future__ import annotations

import sys

from bench import (
    build_bench,
    dashboard_bench,
    load_bench,
    map_bench,
    server_memory,
    store_bench,
)


def main() -> int:
    print(build_bench.report(build_bench.measure()), flush=True)
    print(flush=True)
    code = map_bench.main(["--runs", "5", "--first-runs", "3"])
    print(flush=True)
    server_memory.main()
    print(flush=True)
    store_bench.main()
    print(flush=True)
    dashboard_bench.main()
    print(flush=True)
    load_bench.main(["--users", "50", "--workers", "3", "--duration", "60"])
    return code


if __name__ == "__main__":
    sys.exit(main())
