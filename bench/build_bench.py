"""Cache build: cold and warm times on all of France, web geometry size per level.

With the national QPV and IRIS files in the sources (1,514 QPV, 48,592 IRIS, 45 arrondissements),
the cold time is the build time with the national files; the report says which were read.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from geodata.build import build
from geodata.sources import default_sources_dir


def measure(sources: Path | None = None, warm_runs: int = 5) -> dict:
    sources = sources or default_sources_dir()
    with tempfile.TemporaryDirectory(prefix="cafcarto-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        result = build(sources, root, log=lambda _: None)
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(warm_runs):
            t0 = time.perf_counter()
            again = build(sources, root, log=lambda _: None)
            warm.append(time.perf_counter() - t0)
            assert again.skipped
    return {
        "cold_s": cold,
        # The territories' share of target build_cold: the integrator adds the store's time.
        "territories_s": cold,
        "warm_median_s": statistics.median(warm),
        "steps": result.timings,
        "web": result.report["web"],
        "counts": result.counts,
        "unplaced": {
            key: len(value)
            for key, value in result.report["report"].items()
            if key.endswith("_non_places")
        },
    }


def report(res: dict) -> str:
    lines = [
        "## Construction du cache (France entière)",
        f"à froid : {res['cold_s']:.1f} s ; "
        f"à chaud (médiane) : {res['warm_median_s'] * 1000:.0f} ms "
        f"(rapport {res['cold_s'] / res['warm_median_s']:.0f}x)",
        f"territoires à froid : {res['territories_s']:.1f} s (visé ≤ 45 s ; "
        "build_cold = territoires + jeu de démonstration)",
        "étapes : " + ", ".join(f"{k} {v:.1f} s" for k, v in res["steps"].items()),
        "",
        f"{'niveau':<16}{'entités':>9}{'sommets':>10}{'brut (Mo)':>11}{'gzip (Mo)':>11}"
        f"{'tolérance':>11}",
    ]
    for name, layer in res["web"].items():
        lines.append(
            f"{name:<16}{layer['features']:>9}{layer['vertices']:>10}"
            f"{layer['bytes'] / 1e6:>11.2f}{layer['gzip_bytes'] / 1e6:>11.2f}"
            f"{layer['tolerance']:>11}"
        )
    lines.append("comptes : " + ", ".join(f"{k} {v}" for k, v in res["counts"].items()))
    lines.append("non placés : " + ", ".join(f"{k} {v}" for k, v in res["unplaced"].items()))
    return "\n".join(lines)


def main() -> None:
    print(report(measure()))


if __name__ == "__main__":
    main()
