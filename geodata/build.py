"""`cafcarto build`: raw sources -> build cache (GeoParquet, neighbours, web geometry, manifest)."""

from __future__ import annotations

import ctypes
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TextIO

import geopandas as gpd
import numpy as np
import pandas as pd

from geodata import cache
from geodata.arm import simplified_commune_arm
from geodata.cog import Cog, Harmonised, load_cog
from geodata.infra_build import infra_levels, unplaced, unplaced_summary
from geodata.levels import PARTS_S, build_admin_levels, build_communes, read_commune_polygons
from geodata.neighbours import level_neighbours
from geodata.simplify import TOLERANCES
from geodata.sources import fingerprint as source_fingerprint
from geodata.tiles import (
    MAX_ZOOM,
    TILE_COST,
    TILE_JOBS,
    TILES_FORMAT,
    write_points,
    write_shapes,
    write_tiles,
)
from geodata.webgeo import simplified, write_web_layer
from layers import model
from layers.model import LEVEL_CODES, LEVELS
from layers.progress import ProgressBar, progress, track, weighing

BUILD_FORMAT = 1
# The step that makes the communes and dissolves the levels above them (its bar's label too).
UPPER_LABEL = "communes et niveaux supérieurs"
NEIGHBOUR_LEVELS = tuple(lv.code for lv in LEVELS if lv.neighbours)


@dataclass
class BuildResult:
    build_dir: Path
    skipped: bool
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    report: dict = field(default_factory=dict)


def code_version() -> str:
    """Hash of the build code itself: a change to geodata/ makes the cache stale."""
    digest = hashlib.sha256()
    for path in [*sorted(Path(__file__).parent.glob("*.py")), Path(model.__file__)]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def inputs_fingerprint(sources: Path, root: Path, departements: Iterable[str] | None) -> str:
    """Content of the sources (sha256, cached by size and mtime), build code and options."""
    digest = hashlib.sha256(f"{BUILD_FORMAT}:{code_version()}".encode())
    digest.update(repr(sorted(departements) if departements else None).encode())
    digest.update(source_fingerprint(sources, cache_dir=root).encode())
    return digest.hexdigest()


def build(
    sources: Path,
    root: Path,
    *,
    departements: Iterable[str] | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> BuildResult:
    """Build the cache under `root` unless the current build already matches the inputs."""
    departements = sorted(departements) if departements else None
    root.mkdir(parents=True, exist_ok=True)
    fingerprint = inputs_fingerprint(sources, root, departements)
    current = cache.active_dir(root)
    if current is not None and not force:
        manifest = cache.read_manifest(current)
        if manifest.get("fingerprint") == fingerprint:
            log(f"Cache à jour ({current}) : rien à reconstruire.")
            return BuildResult(current, True, manifest.get("counts", {}), {}, manifest)

    partial = cache.new_build(root)
    (partial / "geo").mkdir(parents=True)
    steps = _Steps(log)
    log(f"Construction du cache depuis {sources}")
    with steps("lecture des sources"):
        cog = _read_cog(sources, departements)
        folder = sources / "geo" / "communes-2018"
        polygons = read_commune_polygons(folder, departements, sys.stderr)
    with (
        steps(UPPER_LABEL),
        weighing(UPPER_LABEL, list(PARTS_S.values()), sys.stderr, unit="niveaux") as done,
    ):
        communes, harm = build_communes(polygons, cog)
        done(PARTS_S["commune"])
        levels = build_admin_levels(communes, cog, done)
    with steps("QPV, IRIS et arrondissements municipaux"):
        levels.update(infra_levels(sources, cog, communes, departements, log))
    with steps("GeoParquet, voisinages et géométrie web"):
        # Each uses one core: the GeoParquet and borders in a forked child meanwhile (measured
        # on all France: 46.3 s one after the other, 29.5 s side by side, same CPU).
        geo_written = _beside("l'écriture du GeoParquet", _write_geo, levels, partial / "geo")
        web = _write_web(levels, partial / "web")
        geo_written()
    with steps("tuiles vectorielles"):
        write_all_tiles(levels, partial, web)
    steps.timings["total"] = round(time.perf_counter() - steps.started, 2)
    manifest = {
        "format": BUILD_FORMAT,
        "fingerprint": fingerprint,
        "sources": str(sources),
        "departements": departements,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "counts": _counts(levels),
        "timings": steps.timings,
        "report": _report(cog, communes, harm, levels, departements),
        "web": web,
    }
    (partial / cache.MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    final = cache.finish_build(root, partial)
    _log_counts(manifest, log)
    return BuildResult(final, False, manifest["counts"], steps.timings, manifest)


class _Steps:
    """Times each step of a build and says it in the log (« lecture des sources : 3.1 s »)."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.timings: dict[str, float] = {}
        self.started = time.perf_counter()

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t0, 2)
        self.log(f"  {name} : {self.timings[name]:.1f} s")


def _read_cog(sources: Path, departements: list[str] | None) -> Cog:
    cog = load_cog(sources / "territoires")
    if departements:
        cog.communes = cog.communes[cog.communes["departement"].isin(departements)]
        cog.departements = cog.departements[cog.departements["code"].isin(departements)]
        cog.regions = cog.regions[cog.regions["code"].isin(set(cog.departements["region"]))]
    return cog


class BuildStepError(RuntimeError):
    """A step of the build failed in its own process; the message (French) says which."""


class _PlainLines:
    """stderr for a child's progress bars: plain lines, never redrawn in place over the
    parent's bar on the same terminal line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False


def _die_with(parent: int) -> None:
    """Linux: this child is killed with its parent (PR_SET_PDEATHSIG). A build killed with
    SIGKILL would otherwise leave it writing into the unpublished folder, which the next build
    removes."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the child ends with its work
        return
    if os.getppid() != parent:  # the parent was gone before the call
        os._exit(1)


def _child(send: Connection, parent: int, work: Callable[..., None], *args: object) -> None:
    _die_with(parent)
    sys.stderr = _PlainLines(sys.stderr)  # type: ignore[assignment]
    try:
        work(*args)
    except BaseException as exc:  # said to the parent in one line, not as a traceback
        send.send(f"{type(exc).__name__} : {exc}")
        raise SystemExit(1) from None


def _beside(what: str, work: Callable[..., None], *args: object) -> Callable[[], None]:
    """Start `work(*args)` in a forked child (the arguments are inherited, not pickled);
    returns the wait, which raises BuildStepError naming `what` when the child failed."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    proc = context.Process(target=_child, args=(send, os.getpid(), work, *args))
    proc.start()
    send.close()

    def wait() -> None:
        try:
            cause = receive.recv()  # until the child sends its failure or ends (EOF)
        except EOFError:
            cause = ""
        proc.join()
        receive.close()
        if proc.exitcode != 0:
            raise BuildStepError(f"{what} a échoué (code {proc.exitcode}) : {cause or '?'}")

    return wait


def _write_geo(levels: dict[str, gpd.GeoDataFrame], folder: Path) -> None:
    """Full-resolution GeoParquet of every level, and the shared borders."""
    for name, gdf in levels.items():
        gdf.to_parquet(folder / f"{name}.parquet", compression="zstd", index=False)
    present = [name for name in NEIGHBOUR_LEVELS if name in levels]
    # The IRIS borders alone take ~20 s: a bar per level.
    neighbours = pd.concat(
        [
            level_neighbours(name, levels[name]).assign(niveau=name)
            for name in track(present, "voisinages", unit="niveaux")
        ],
        ignore_index=True,
    )
    neighbours.to_parquet(folder / "voisins.parquet", index=False)


def _simplified(levels: dict[str, gpd.GeoDataFrame], zoom: str) -> dict[str, np.ndarray]:
    """Simplified geometry of every level, by level code."""
    return dict(_each_simplified(levels, zoom, [n for n in LEVEL_CODES if n in levels]))


def _each_simplified(
    levels: dict[str, gpd.GeoDataFrame], zoom: str, order: list[str]
) -> Iterator[tuple[str, np.ndarray]]:
    """Each level's simplified geometry in `order`, one at a time; the « communes et
    arrondissements » view reuses the communes' (one coverage simplification of 35,000 polygons
    instead of two), so it must come after them."""
    done: dict[str, np.ndarray] = {}
    for name in order:
        if name == "commune_arm":
            shapes = simplified_commune_arm(
                levels["commune_arm"], levels["commune"], levels["arm"], done["commune"]
            )
        else:
            shapes = simplified(levels[name], name, TOLERANCES[name][zoom])
        if name == "commune":
            done[name] = shapes
        yield name, shapes


def _write_web(levels: dict[str, gpd.GeoDataFrame], folder: Path) -> dict[str, dict]:
    """Simplified national geometry of every level (GeoJSON), by level code."""
    web = {}
    geoms = _simplified(levels, "national")
    for name, shapes in track(list(geoms.items()), "géométrie web", unit="niveaux"):
        tol = TOLERANCES[name]["national"]
        layer = write_web_layer(levels[name], folder, name, tol, "national", shapes)
        web[name] = layer.__dict__
    return web


def write_all_tiles(levels: dict[str, gpd.GeoDataFrame], partial: Path, web: dict) -> None:
    """Vector tiles (PMTiles) of every level, recorded in web/index.json.

    Levels are simplified and written one by one while tippecanoe cuts the ones already written,
    TILE_JOBS at a time, the longest first: one tippecanoe alone left a core idle for much of
    its run (reading its input and writing its archive are single-threaded)."""
    staging = partial / "tuiles-entree"
    order = sorted(
        (name for name in LEVEL_CODES if name in levels),
        key=lambda name: -TILE_COST.get(name, 0),  # stable: the communes before commune_arm
    )
    # Counted in polygons, not levels: the IRIS take a minute and the régions a second, so an
    # estimate per level foretold seconds with the IRIS still to come.
    total = sum(len(levels[name]) for name in order)
    with (
        progress("tuiles vectorielles", total, unit="polygones") as bar,
        ThreadPoolExecutor(TILE_JOBS) as pool,
    ):
        running: list[Future] = []
        for name, shapes in _each_simplified(levels, "tiles", order):
            running.append(pool.submit(_level_tiles, levels, partial, name, shapes, staging))
            running = _collect(running, web, levels, bar, wait=False)
        _collect(running, web, levels, bar, wait=True)
    shutil.rmtree(staging)
    (partial / "web" / "index.json").write_text(json.dumps({"levels": web}, indent=1))


def _collect(
    running: list[Future], web: dict, levels: dict, bar: ProgressBar, *, wait: bool
) -> list[Future]:
    """Record the finished tile jobs (an error is raised here); the ones still running."""
    if wait:
        futures.wait(running)
    left = []
    for job in running:
        if not job.done():
            left.append(job)
            continue
        name, entry = job.result()
        web[name]["tuiles"] = entry
        bar.advance(len(levels[name]))
    return left


def _level_tiles(
    levels: dict[str, gpd.GeoDataFrame],
    partial: Path,
    name: str,
    shapes: np.ndarray,
    staging: Path,
) -> tuple[str, dict]:
    """Write a level's tiles input and cut it; its `tuiles` entry for web/index.json."""
    staging.mkdir(parents=True, exist_ok=True)
    source = write_shapes(shapes, staging / f"{name}.geojson")
    out = partial / "web" / f"{name}.pmtiles"
    points = write_points(levels[name], staging / f"{name}-points.geojson")
    write_tiles(source, out, name, MAX_ZOOM[name], points)
    return name, {
        "file": out.name,
        "sha256": _sha256(out),
        "maxzoom": MAX_ZOOM[name],
        "format": TILES_FORMAT,
    }


def _counts(levels: dict[str, gpd.GeoDataFrame]) -> dict[str, int]:
    counts = {name: len(levels[name]) for name in LEVEL_CODES if name in levels}
    counts["caf_organismes_caf"] = int((levels["caf"]["organisme"] == "Caf").sum())
    return counts


def _report(
    cog: Cog,
    communes: gpd.GeoDataFrame,
    harm: Harmonised,
    levels: dict[str, gpd.GeoDataFrame],
    departements: list[str] | None,
) -> dict:
    """What the build could not place, for the log and the manifest."""
    return {
        "communes_cog": len(cog.communes),
        "communes_avec_polygone": len(communes),
        "communes_sans_polygone": harm.without_polygon.to_dict("records"),
        "codes_2018_non_places": harm.unplaced,
        "epci_sans_polygone": sorted(set(cog.epci["code"]) - set(levels["epci"]["code"]))
        if not departements
        else [],
        "communes_hors_epci": int(cog.communes["epci"].isna().sum()),
        **unplaced(levels),
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _log_counts(manifest: dict, log: Callable[[str], None]) -> None:
    counts, report = manifest["counts"], manifest["report"]
    log("Territoires construits :")
    log(
        f"  communes avec polygone : {report['communes_avec_polygone']} sur "
        f"{report['communes_cog']} communes du COG 2026 (hors collectivités d'outre-mer)"
    )
    bare = report["communes_sans_polygone"]
    if bare:
        names = ", ".join(f"{r['nom']} ({r['code']})" for r in bare)
        log(f"  communes recréées après 2018, sans polygone propre : {len(bare)} : {names}")
    if report["codes_2018_non_places"]:
        log(f"  codes 2018 non rattachés : {', '.join(report['codes_2018_non_places'])}")
    labels = {
        "epci": "EPCI",
        "departement": "départements",
        "region": "régions",
        "qpv": "QPV",
        "iris": "IRIS",
        "arm": "arrondissements municipaux",
        "commune_arm": "communes et arrondissements",
        "france": "France",
    }
    for key, label in labels.items():
        if key in counts:
            log(f"  {label} : {counts[key]}")
    for key, label in (("qpv", "QPV"), ("iris", "IRIS")):
        if f"{key}_non_places" in report:
            log(f"  {label} non placés : {unplaced_summary(report[f'{key}_non_places'])}")
    if report["epci_sans_polygone"]:
        log(f"  EPCI sans polygone : {', '.join(report['epci_sans_polygone'])}")
    cssm = (
        " (+ CSSM de Mayotte)" if counts.get("caf", 0) > counts.get("caf_organismes_caf", 0) else ""
    )
    log(f"  Caf : {counts['caf_organismes_caf']}{cssm}")
    log(f"  communes hors EPCI : {report['communes_hors_epci']}")
    log(f"Durée totale : {manifest['timings']['total']:.1f} s")
