"""Cheap integrity check of the build cache and the indicator stores in service.

Run when the app starts and shown on the page, in the log and by /healthz: a truncated or
overwritten file must give a French sentence naming it and the command that repairs it, not a
stack trace deep in a callback. Cheap means no hashing of 100 MB: manifests parse, Parquet files
carry their magic number at both ends (a truncated Parquet file loses its footer), web files have
the size web/index.json recorded, PMTiles archives start with their magic number.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from geodata.cache import MANIFEST, active_dir
from layers.config import Settings

PARQUET_MAGIC = b"PAR1"
PMTILES_MAGIC = b"PMTiles"
DAMAGED_BUILD = (
    "Le cache de construction est endommagé : {what} ({path}). Relancez « cafcarto build --force »."
)
DAMAGED_STORE = (
    "L'entrepôt d'indicateurs est endommagé : {what} ({path}). Relancez « cafcarto build "
    "--force » (jeu de démonstration) ou « cafcarto import » (fichiers Cafdata)."
)


def _json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def parquet_damage(path: Path) -> str | None:
    """Why a Parquet file cannot be read (absent, truncated, not Parquet), or None."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(4)
            fh.seek(max(size - 4, 0))
            tail = fh.read(4)
    except OSError:
        return "fichier absent ou illisible"
    if size < 12 or head != PARQUET_MAGIC or tail != PARQUET_MAGIC:
        return "fichier tronqué ou qui n'est pas du Parquet"
    return None


def _size_damage(path: Path, expected: object) -> str | None:
    try:
        size = path.stat().st_size
    except OSError:
        return "fichier absent"
    if isinstance(expected, int) and size != expected:
        return f"{size} octets au lieu de {expected} (tronqué ou remplacé)"
    return None


def _pmtiles_damage(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            head = fh.read(len(PMTILES_MAGIC))
    except OSError:
        return "fichier absent"
    return None if head == PMTILES_MAGIC else "en-tête PMTiles invalide"


def build_problems(build: Path) -> list[str]:
    """French problems of one geometry build (empty when it looks whole)."""
    manifest = _json(build / MANIFEST)
    if manifest is None:
        return [DAMAGED_BUILD.format(what="manifeste illisible", path=build / MANIFEST)]
    index_path = build / "web" / "index.json"
    index = _json(index_path)
    if index is None or not isinstance(index.get("levels"), dict):
        return [DAMAGED_BUILD.format(what="index de la géométrie web illisible", path=index_path)]
    checks: list[tuple[Path, str | None]] = []
    levels = [lvl for lvl in manifest.get("counts", {}) if lvl in index["levels"]]
    for level in [*levels, "voisins"]:
        path = build / "geo" / f"{level}.parquet"
        checks.append((path, parquet_damage(path)))
    for entry in index["levels"].values():
        web = build / "web" / str(entry.get("file", ""))
        checks.append((web, _size_damage(web, entry.get("bytes"))))
        gz = web.with_name(web.name + ".gz")
        if gz.exists() or entry.get("gzip_bytes"):
            checks.append((gz, _size_damage(gz, entry.get("gzip_bytes"))))
        tiles = (entry.get("tuiles") or {}).get("file")
        if tiles:
            checks.append((build / "web" / tiles, _pmtiles_damage(build / "web" / tiles)))
    return [DAMAGED_BUILD.format(what=why, path=path) for path, why in checks if why]


def store_problems(folder: Path) -> list[str]:
    """French problems of one indicator store (valeurs.parquet and its manifest)."""
    meta = _json(folder / "manifest.json")
    if meta is None:
        return [DAMAGED_STORE.format(what="manifeste illisible", path=folder / "manifest.json")]
    values = folder / "valeurs.parquet"
    why = parquet_damage(values) or _size_damage(values, meta.get("octets"))
    problems = [DAMAGED_STORE.format(what=why, path=values)] if why else []
    facilities = folder / "equipements.parquet"
    if facilities.exists() and (why := parquet_damage(facilities)):
        problems.append(DAMAGED_STORE.format(what=why, path=facilities))
    return problems


@lru_cache(maxsize=16)
def _problems(build: Path | None, stores: tuple[Path, ...]) -> tuple[str, ...]:
    problems = build_problems(build) if build is not None else []
    for folder in stores:
        problems += store_problems(folder)
    return tuple(problems)


def cache_problems(settings: Settings) -> list[str]:
    """Damage of the builds in service, checked once per build (a new build is checked anew).
    What is absent is said elsewhere (layout.setup_problems, the explore page)."""
    build = active_dir(settings.cache)
    stores = tuple(
        folder
        for folder in (active_dir(settings.store_import), active_dir(settings.store_demo))
        if folder is not None
    )
    return list(_problems(build, stores))
