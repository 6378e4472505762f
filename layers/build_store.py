"""Build, import into and audit the indicator stores.

Two stores live in the build cache, each with the same atomic layout as the geometry
(`<root>/current -> builds/<id>`): `demo/` (the demonstration dataset, the default) and `import/`
(real Cafdata: files and synced portal datasets, written by `layers/real_store.py`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geodata import cache
from layers.audit import AuditReport, audit
from layers.audit_cells import (
    AuditTables,
    PeriodRows,
    job_weight,
    longest_first,
    published_cells,
)
from layers.config import DEFAULT_INFRA_MIN_HOUSEHOLDS
from layers.demo import DEFAULT_SEED, DemoData, generate, structure, zones_with_data
from layers.demo_regimes import (
    ROUNDED_FROM,
    ROUNDED_LEVELS,
    demo_provenance,
    rounding_step,
    rounding_violations,
)
from layers.demo_store import _local, publish_demo, secret_tables
from layers.facilities import place_points
from layers.household_links import linked_exposures
from layers.model import LEVEL
from layers.publish import EXACT_ZONES, ZONE_LEVELS, build_table
from layers.secrecy import INFRA_KINDS, SMALL_ZONE_REASON
from layers.store import PUBLISHED, SECRET, VALUES_FILE, Store, write_store

STORE_FORMAT = 1


# Modules whose code decides the store's content; their `layers` imports are followed, so that
# editing a page or an export (views, profile...) does not rebuild a 5-minute store.
STORE_ROOTS = (
    "build_store",
    "demo",
    "demo_regimes",
    "demo_store",
    "facilities",
    "household_links",
    "publish",
    "secrecy",
    "store",
)


def store_modules() -> list[Path]:
    """The `layers` source files the store depends on (import closure of STORE_ROOTS, through
    subpackages: importing `layers.ingest.columns` runs `layers/ingest/__init__.py` too)."""
    folder = Path(__file__).parent
    seen: set[Path] = set()
    todo = [f"layers.{name}" for name in STORE_ROOTS]
    while todo:
        module = todo.pop()
        parts = module.split(".")[1:]
        todo += [".".join(["layers", *parts[:k]]) for k in range(1, len(parts))]  # packages
        path = folder.joinpath(*parts).with_suffix(".py")
        if not path.is_file():
            path = folder.joinpath(*parts, "__init__.py")
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        todo += _layers_imports(path)
    return sorted(seen)


def _layers_imports(path: Path) -> list[str]:
    """Dotted `layers...` modules a source file imports (`from layers.x import y` may name a
    submodule y: both are listed, the missing one is skipped)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        module = getattr(node, "module", None) or ""
        if isinstance(node, ast.ImportFrom) and module.startswith("layers"):
            out.append(module)
            out += [f"{module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("layers.")]
    return out


def _code_version() -> str:
    digest = hashlib.sha256()
    for path in store_modules():
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def load_territories(geo_build: Path) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Communes and infra zones of a geometry build, without geometry."""
    cols = ["code", "population", "area_km2", *LEVEL["commune"].parents]
    communes = pd.read_parquet(geo_build / "geo" / "commune.parquet", columns=cols)
    infra = {}
    for name in ZONE_LEVELS:
        path = geo_build / "geo" / f"{name}.parquet"
        if path.exists():
            present = pq.read_schema(path).names
            wanted = ["code", "nom", "commune", "population", "area_km2", "type_iris"]
            infra[name] = pd.read_parquet(path, columns=[c for c in wanted if c in present])
    return communes, infra


def demo_data(
    geo_build: Path, seed: int = DEFAULT_SEED, log: Callable[[str], None] | None = None
) -> DemoData:
    communes, infra = load_territories(geo_build)
    if log is not None:
        for line in left_out_lines(communes, infra):
            log(line)
    return generate(communes, seed=seed, infra=infra, bars=sys.stderr)


def left_out_lines(communes: pd.DataFrame, infra: dict[str, pd.DataFrame]) -> list[str]:
    """French lines: how many zones of each level get demonstration values, and which are left
    out and why (a QPV without a commune is listed by code)."""
    lines = []
    for name, zones in infra.items():
        kept, left_out = zones_with_data(name, zones, communes)
        lines.append(f"  {name.upper()} avec données de démonstration : {len(kept)}")
        for reason, group in left_out.groupby("raison"):
            codes = ", ".join(group["code"].head(20))
            more = f" (+{len(group) - 20})" if len(group) > 20 else ""
            shown = f" : {codes}{more}" if name == "qpv" else ""
            lines.append(f"  {name.upper()} sans données, {reason} : {len(group)}{shown}")
    return lines


def build_demo_store(
    geo_build: Path,
    root: Path,
    *,
    seed: int = DEFAULT_SEED,
    periods: list[str] | None = None,
    force: bool = False,
    rounded_from: int | None = ROUNDED_FROM,
    min_households: int = DEFAULT_INFRA_MIN_HOUSEHOLDS,
    log: Callable[[str], None] = print,
) -> Path:
    """Generate, protect and write the demonstration store unless it is up to date.

    Local cells of the Decembers from `rounded_from` on are rounded like the portal's (None:
    suppression everywhere, the older portal's regime); an IRIS or QPV of fewer than
    `min_households` allocataires is hidden (setting `CAFCARTO_SEUIL_INFRA`)."""
    geo_manifest = json.loads((geo_build / cache.MANIFEST).read_text(encoding="utf-8"))
    fingerprint = hashlib.sha256(
        json.dumps(
            [
                STORE_FORMAT,
                _code_version(),
                geo_manifest["fingerprint"],
                seed,
                periods,
                rounded_from,
                min_households,
            ]
        ).encode()
    ).hexdigest()
    current = cache.active_dir(root)
    if (
        current is not None
        and not force
        and (cache.read_manifest(current).get("fingerprint") == fingerprint)
    ):
        log(f"Jeu de démonstration à jour ({current}).")
        return current
    t0 = time.perf_counter()
    log("Jeu de démonstration : génération et secret statistique…")
    data = demo_data(geo_build, seed, log=log)
    steps = {"generation": time.perf_counter() - t0}
    rows, meta = publish_demo(
        data, periods=periods, rounded_from=rounded_from, min_households=min_households, log=log
    )
    steps["publication"] = time.perf_counter() - t0 - sum(steps.values())
    build = cache.new_build(root)
    meta.update(
        {
            "fingerprint": fingerprint,
            "periodes": periods or data.periods,
            "construit_le": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    )
    provenance = demo_provenance(rows, rounded_from)
    meta = write_store(rows, build, meta, provenance=provenance, bars=sys.stderr)
    steps["ecriture"] = time.perf_counter() - t0 - sum(steps.values())
    meta["equipements"] = _write_facilities(data, geo_build, build)
    steps["equipements"] = time.perf_counter() - t0 - sum(steps.values())
    meta["etapes_s"] = {k: round(v, 1) for k, v in steps.items()}
    meta["duree_s"] = round(time.perf_counter() - t0, 1)
    meta["arrondi"] = (
        f"comme le portail : effectifs arrondis à 5 et montants à 100 € aux niveaux communal, "
        f"EPCI, IRIS et QPV depuis décembre {rounded_from} (rien pour une zone IRIS ou QPV de "
        f"moins de {min_households} allocataires) ; secret par suppression avant ; "
        "valeurs exactes aux niveaux départemental, Caf, régional et national"
        if rounded_from is not None
        else "aucun : secret par suppression à tous les niveaux"
    )
    (build / "manifest.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1))
    final = cache.finish_build(root, build)
    log(
        f"  {meta['cellules']} cellules ({meta['statuts'].get(SECRET, 0)} secrètes), "
        f"{meta['octets'] / 1e6:.1f} Mo, {time.perf_counter() - t0:.0f} s ("
        + ", ".join(f"{k} {v:g} s" for k, v in meta["etapes_s"].items())
        + ")"
    )
    return final


def _write_facilities(data: DemoData, geo_build: Path, build: Path) -> int:
    """Generated EAJE and LAEP points, inside their communes, beside the values."""
    if data.facilities is None:
        return 0
    polygons = gpd.read_parquet(geo_build / "geo" / "commune.parquet", columns=["code", "geometry"])
    points = place_points(
        data.facilities, polygons.set_index("code").geometry, np.random.default_rng(data.seed)
    )
    points.to_parquet(build / "equipements.parquet", index=False)
    return len(points)


_AUDIT: dict = {}  # structure and store folder, shared with forked workers


def audit_store(
    store: Store,
    geo_build: Path,
    *,
    protection: float = 5,
    periods: Iterable[str] | None = None,
    workers: int | None = None,
    log: Callable[[str], None] = print,
) -> list[tuple[str, tuple[str, ...], AuditReport]]:
    """Play the attacker on the published store: for every secrecy table, bound each secret
    cell from the published cells and the additive relations only."""
    stored = set(store.query("SELECT DISTINCT periode FROM v")["periode"].astype(str))
    wanted = set(periods) if periods else stored
    # The store's rows are read (pyarrow, without the GIL) while the structure is drawn; the
    # thread ends before the workers fork.
    with ThreadPoolExecutor(1) as reader:
        reading = reader.submit(_secrecy_rows, store.folder, wanted & stored)
        structure = demo_data_structure(geo_build)
        rows = reading.result()
    jobs = [
        (p, columns)
        for p, period in enumerate(structure.periods)
        if period in wanted and period in stored
        for columns in secret_tables()
    ]
    rounded = cache.read_manifest(store.folder).get("periodes_arrondies", [])
    _AUDIT.update(
        structure=structure, folder=store.folder, protection=protection, rounded=set(rounded)
    )
    # Built before the fork, shared by the workers: territories, and each period's rows.
    _AUDIT["tables"] = AuditTables(structure, ZONE_LEVELS, rows)
    for local in {_local(structure, p) for p, _ in jobs}:
        _AUDIT["tables"].territories(local)
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    if workers > 1 and len(jobs) > 1:
        weights = [job_weight(structure, p, c, set(rounded)) for p, c in jobs]
        reports = longest_first(_audit_job, jobs, weights, workers)
    else:
        reports = [_audit_job(job) for job in jobs]
    _AUDIT.pop("tables")
    for period, columns, report in reports:
        if not report.ok:
            log(f"  {period} {'+'.join(columns)} : {report.summary()}")
    return reports


def _audit_job(job: tuple[int, tuple[str, ...]]) -> tuple[str, tuple[str, ...], AuditReport]:
    """One secrecy table of one period. In a rounded period, the rounded local cells are
    published within +/- half their step: the attacker uses them to bound the national
    secret cells."""
    p, columns = job
    structure = _AUDIT["structure"]
    period = structure.periods[p]
    local = _local(structure, p)
    tables = _AUDIT["tables"]
    terr = tables.territories(local)
    table = build_table(structure, terr, columns, p, local, relations_cache=tables.relations)
    published, hidden = published_cells(tables.cells(period, local), len(terr), table)
    rounding = None
    if period in _AUDIT["rounded"]:
        steps = np.array([rounding_step(c) for c in columns], dtype=float)
        at_rounded = np.isin(terr.level[table.cell_terr], ROUNDED_LEVELS)
        rounding = np.where(at_rounded, steps[table.cell_col], 0.0)
    report = audit(
        published, table.relations, hidden, protection=_AUDIT["protection"], rounding=rounding
    )
    return period, columns, report


def store_checks(
    store: Store,
    geo_build: Path,
    periods: Iterable[str] | None = None,
    *,
    min_households: int = DEFAULT_INFRA_MIN_HOUSEHOLDS,
) -> dict[str, object]:
    """The checks beside the attacker's LP, over every period and level: published cells
    linked to a hidden household count (persons, amounts, rates; must be none), the rounding
    rule of the rounded periods (no count off its step, no rate giving an exact count back),
    and the Caf rule of the zones (no IRIS or QPV cell published where the zone's published
    allocataires are secret or fewer than `min_households`, less half a rounding step).
    Counts by (period, level) in `liees`; offending cells in `ecarts_arrondi` and
    `zones_sous_seuil`."""
    cells = store.query("SELECT indicateur, niveau, code, periode, valeur, statut FROM v")
    cells = cells.astype({"indicateur": str, "niveau": str, "periode": str, "statut": str})
    if periods is not None:
        cells = cells[cells["periode"].isin(set(periods))]
    exposed = linked_exposures(cells)
    keys = cells[["periode", "niveau"]].drop_duplicates()
    per_key = exposed.groupby(["periode", "niveau"]).size().rename("liees").reset_index()
    per_key = keys.merge(per_key, how="left").fillna({"liees": 0}).astype({"liees": int})
    rounded = set(cache.read_manifest(store.folder).get("periodes_arrondies", []))
    checked, off = rounding_violations(cells, rounded, _public_denominators(geo_build))
    return {
        "liees": per_key.sort_values(["periode", "niveau"]).reset_index(drop=True),
        "cellules_liees": int(len(exposed)),
        "arrondi_verifiees": checked,
        "ecarts_arrondi": off,
        "zones_sous_seuil": small_zone_cells(cells, min_households),
        "seuil_infra": min_households,
    }


def small_zone_cells(cells: pd.DataFrame, min_households: int) -> pd.DataFrame:
    """Published IRIS / QPV cells of a zone whose allocataires are secret or under the
    threshold (a rounded count may sit half a step under it)."""
    zone = cells[cells["niveau"].isin(sorted(INFRA_KINDS))]
    place = ["niveau", "code", "periode"]
    alloc = zone[zone["indicateur"] == "allocataires"].set_index(place)
    floor = min_households - rounding_step("allocataires") / 2
    small = alloc[(alloc["statut"] != PUBLISHED) | (alloc["valeur"] < floor)].index
    published = zone[zone["statut"] == PUBLISHED]
    hit = pd.MultiIndex.from_frame(published[place]).isin(small)
    return published[hit].reset_index(drop=True)


def check_lines(checks: dict) -> list[str]:
    """The French lines `cafcarto audit` prints for `store_checks`."""
    per_key = checks["liees"]
    lines = [
        f"Cellules publiées liées à un nombre de foyers secret : {checks['cellules_liees']} "
        f"({len(per_key)} couples période × niveau vérifiés)"
    ]
    for row in per_key[per_key["liees"] > 0].itertuples(index=False):
        lines.append(f"  {row.periode} {row.niveau} : {row.liees}")
    off = checks["ecarts_arrondi"]
    lines.append(
        f"Règle d'arrondi : {checks['arrondi_verifiees']} cellules arrondies vérifiées, "
        f"{len(off)} écart(s)"
    )
    for row in off.head(10).itertuples(index=False):
        lines.append(f"  {row.periode} {row.niveau} {row.code} {row.indicateur} = {row.valeur:g}")
    small = checks["zones_sous_seuil"]
    reason = SMALL_ZONE_REASON.format(n=checks["seuil_infra"])
    lines.append(f"Zones IRIS et QPV ({reason}) : {len(small)} cellule(s) publiée(s)")
    for row in small.head(10).itertuples(index=False):
        lines.append(f"  {row.periode} {row.niveau} {row.code} {row.indicateur}")
    return lines


def _public_denominators(geo_build: Path) -> pd.DataFrame:
    """Public populations (Insee) of communes and EPCI: denominators a reader knows."""
    communes, zones = load_territories(geo_build)
    pop = communes["population"].fillna(0).astype(float)
    epci = pop.groupby(communes["epci"]).sum()
    frames = [
        pd.DataFrame({"niveau": "commune", "code": communes["code"], "valeur": pop}),
        pd.DataFrame({"niveau": "epci", "code": epci.index, "valeur": epci.to_numpy()}),
    ]
    for level in EXACT_ZONES:  # the arrondissements' own populations
        if level in zones:
            z = zones[level]
            frames.append(
                pd.DataFrame(
                    {
                        "niveau": level,
                        "code": z["code"],
                        "valeur": z["population"].fillna(0).astype(float),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True).assign(indicateur="population")


def demo_data_structure(geo_build: Path) -> DemoData:
    """Territories and periods of the demonstration, every count zero: structure only, so the
    audit cannot see a raw value even by mistake."""
    communes, infra = load_territories(geo_build)
    return structure(communes.assign(population=0), infra=infra)


def _secrecy_rows(folder: Path, periods: set[str]) -> PeriodRows:
    """The stored cells of every secrecy table at `periods`, by period.

    One scan of the store for all periods, in the parent before the workers fork (they share
    it): the store is not sorted by period, so a read per period (44 of them) scanned the whole
    file each time (~2 s of CPU each). Every period is read: a filter on the period cost ~0.4 s
    for rows that are nearly all wanted. pyarrow on one thread: a DuckDB instance, or a
    started thread pool, does not survive a fork into the workers."""
    wanted = sorted({c for cols in secret_tables() for c in cols})
    table = pq.read_table(
        Path(folder) / VALUES_FILE,
        columns=["indicateur", "niveau", "code", "valeur", "statut", "periode"],
        filters=[("indicateur", "in", wanted)],
        use_threads=False,
    )
    period = table["periode"].combine_chunks()
    table = table.drop_columns(["periode"])
    if not isinstance(period, pa.DictionaryArray):
        period = period.dictionary_encode()
    index = period.indices.to_numpy(zero_copy_only=False)
    return PeriodRows(table, index, period.dictionary.to_pylist(), periods)


def summarise(reports: list[tuple[str, tuple[str, ...], AuditReport]]) -> dict:
    cells = sum(r.cells for _, _, r in reports)
    hidden = sum(r.hidden for _, _, r in reports)
    narrow = [r.narrowest for _, _, r in reports if r.narrowest is not None]
    width = min((hi - lo for _, lo, hi in narrow), default=None)
    failures = sum(len(r.failures) + r.infeasible_components for _, _, r in reports)
    return {
        "tableaux": len(reports),
        "cellules": cells,
        "secretes": hidden,
        "intervalle_min": width,
        "echecs": failures,
        "secondes": round(sum(r.seconds for _, _, r in reports), 1),
    }
