"""Share of cells hidden per level and regime, build time and audit of the demonstration store.

    PYTHONPATH=. .venv/bin/python bench/hidden_share_bench.py CACHE [--periodes 2019-12,2024-12]
        [--departements 2A,66,69,972] [--suppression-partout] [--geo GEOMETRY_BUILD]

CACHE is a build cache (built here for the given départements when it has no geometry yet, or
read from --geo); the store goes to CACHE/demo_bench; --periodes "" for every period. Prints
the seconds of the store and of its secrecy, the share of secret cells per level before and
from 2020, the cells linked to a hidden household count and the rounding rule (must be 0), and
the attacker's audit.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from geodata.build import build
from geodata.cache import active_dir
from layers.build_store import (
    audit_store,
    build_demo_store,
    check_lines,
    store_checks,
    summarise,
)
from layers.config import Settings
from layers.demo_regimes import ROUNDED_FROM
from layers.store import SECRET, Store


def hidden_share(store: Store) -> pd.DataFrame:
    """Percentage of secret cells per level, periods before 2020 and from 2020."""
    df = store.query("SELECT niveau, periode, statut FROM v").astype(str)
    df["secret"] = df["statut"] == SECRET
    df["periodes"] = (
        df["periode"].str[:4].astype(int).map(lambda y: "<2020" if y < 2020 else ">=2020")
    )
    table = df.groupby(["niveau", "periodes"])["secret"].agg(["mean", "size"])
    table["mean"] = (100 * table["mean"]).round(2)
    return table.rename(columns={"mean": "% secret", "size": "cellules"}).unstack(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path)
    parser.add_argument("--periodes", default="2019-12,2021-12,2024-12,2025-03")
    parser.add_argument("--departements", default="2A,66,69,972")
    parser.add_argument("--suppression-partout", action="store_true")
    parser.add_argument("--geo", type=Path, help="a geometry build to read (else CACHE's)")
    args = parser.parse_args()
    if args.geo is None and active_dir(args.cache) is None:
        deps = args.departements.split(",") if args.departements else None
        build(Settings.from_env().sources, args.cache, departements=deps, log=lambda _: None)
    geo = args.geo or active_dir(args.cache)
    periods = args.periodes.split(",") if args.periodes else None
    rounded_from = None if args.suppression_partout else ROUNDED_FROM
    t0 = time.perf_counter()
    folder = build_demo_store(
        geo, args.cache / "demo_bench", periods=periods, force=True, rounded_from=rounded_from
    )
    store = Store(folder)
    meta = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    print(f"store : {time.perf_counter() - t0:.1f} s, secret : {meta['secret']['seconds']} s")
    print(hidden_share(store).to_string())
    print("\n".join(check_lines(store_checks(store, geo))))
    t0 = time.perf_counter()
    print(summarise(audit_store(store, geo, log=print)), f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
