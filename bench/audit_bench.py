"""The secrecy audit of the demonstration store: every published period and level, timed.

Run with `python -m bench.audit_bench` (the cache of CAFCARTO_CACHE, or `--cache DIR`; add
`--periodes 2024-12` for one period, `--workers 1` for one core). Prints, per period and per
table, the seconds, cells, secret cells, LPs solved and failures, then the issue's target line
« audit_all ».
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections import defaultdict
from pathlib import Path

from bench import targets
from layers.build_store import audit_store, summarise
from layers.config import Settings
from layers.store import Store


def _open(cache: Path) -> tuple[Store, Path]:
    from geodata.cache import require_active

    settings = Settings.from_env({**os.environ, "CAFCARTO_CACHE": str(cache)})
    return Store(require_active(settings.store_demo)), require_active(settings.cache)


def _period_lines(reports: list) -> list[str]:
    by_period: dict[str, list] = defaultdict(list)
    for period, columns, report in reports:
        by_period[period].append((columns, report))
    lines = []
    for period, rows in sorted(by_period.items()):
        cells = sum(r.cells for _, r in rows)
        secret = sum(r.hidden for _, r in rows)
        lps = sum(r.lp_solves for _, r in rows)
        fails = sum(len(r.failures) + r.infeasible_components for _, r in rows)
        cpu = sum(r.seconds for _, r in rows)
        lines.append(
            f"  {period} : {len(rows)} tableaux, {cells} cellules, {secret} secrètes, "
            f"{lps} PL, {fails} échec(s), {cpu:.1f} s de calcul"
        )
        for columns, r in rows:
            lines.append(
                f"    {'+'.join(columns)} : {r.cells} cellules, {r.hidden} secrètes, "
                f"{r.components} composantes, {r.lp_solves} PL, "
                f"{len(r.failures)} échec(s), {r.seconds:.1f} s"
            )
    return lines


def _cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (the audit's workers): on a
    shared machine wall time says more about the neighbours than about the audit."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=None, help="défaut : CAFCARTO_CACHE")
    parser.add_argument("--periodes", help="périodes à auditer (défaut : toutes)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--protection", type=float, default=5)
    args = parser.parse_args(argv)
    store, geo = _open(args.cache or Settings.from_env().cache)
    periods = args.periodes.split(",") if args.periodes else None
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    reports = audit_store(
        store, geo, protection=args.protection, periods=periods, workers=args.workers
    )
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    print("\n".join(_period_lines(reports)))
    s = summarise(reports)
    lps = sum(r.lp_solves for _, _, r in reports)
    print(
        f"total : {s['tableaux']} tableaux, {s['cellules']} cellules, {s['secretes']} secrètes, "
        f"{lps} PL, {s['echecs']} échec(s) ; {wall:.1f} s (mur), {s['secondes']} s de calcul, "
        f"{cpu:.1f} s de CPU (charge {os.getloadavg()[0]:.1f})"
    )
    if periods is None:
        print(targets.line("audit_all", wall))


if __name__ == "__main__":
    main()
