"""Cache build: cold and warm times on all of France, web geometry size per level.

With the national QPV and IRIS files in the sources (1,514 QPV, 48,592 IRIS, 45 arrondissements),
the cold time is the build time with the national files; the report says which were read.
`--tiles <build>/geo` times the vector tiles step alone on a built cache's GeoParquet.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import geopandas as gpd

from geodata.build import build, write_all_tiles
from geodata.sources import default_sources_dir
from layers.model import LEVEL_CODES


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


def _cpu_s() -> tuple[float, float]:
    """CPU seconds of this process and of its finished children (tippecanoe)."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def measure_tiles(geo: Path) -> dict:
    """The vector tiles step alone, on the GeoParquet of a built cache (`<build>/geo`): wall
    and CPU seconds (Python; tippecanoe), archive MB per level. For A/B runs of the tiles."""
    levels = {
        name: gpd.read_parquet(geo / f"{name}.parquet")
        for name in LEVEL_CODES
        if (geo / f"{name}.parquet").exists()
    }
    web: dict[str, dict] = {name: {} for name in levels}
    with tempfile.TemporaryDirectory(prefix="cafcarto-tiles-") as tmp:
        (Path(tmp) / "web").mkdir()
        cpu0, t0 = _cpu_s(), time.perf_counter()
        write_all_tiles(levels, Path(tmp), web)
        wall, cpu1 = time.perf_counter() - t0, _cpu_s()
        sizes = {n: (Path(tmp) / "web" / f"{n}.pmtiles").stat().st_size / 1e6 for n in levels}
    return {
        "wall_s": wall,
        "cpu_python_s": cpu1[0] - cpu0[0],
        "cpu_tippecanoe_s": cpu1[1] - cpu0[1],
        "mb": sizes,
    }


def report_tiles(res: dict) -> str:
    return (
        f"tuiles vectorielles : {res['wall_s']:.1f} s ; CPU Python {res['cpu_python_s']:.1f} s, "
        f"tippecanoe {res['cpu_tippecanoe_s']:.1f} s ; "
        + ", ".join(f"{k} {v:.1f} Mo" for k, v in res["mb"].items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiles", type=Path, metavar="GEO", help="the tiles step alone")
    args = parser.parse_args()
    if args.tiles:
        print(report_tiles(measure_tiles(args.tiles)))
    else:
        print(report(measure()))


if __name__ == "__main__":
    main()
