"""Read-only view of the build cache for the web side: web/index.json, file paths, versions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from layers.appdata import active_dir
from layers.geometry_values import read_level_table
from layers.model import MAP_LEVELS

DETAIL_SUFFIX = "-detail"
# Web geometry files the routes may serve: one per level, plus an optional finer variant
# (`commune-detail`) that the map loads only when zoomed in.
GEOMETRY_NAMES: tuple[str, ...] = (*MAP_LEVELS, *(lvl + DETAIL_SUFFIX for lvl in MAP_LEVELS))


@dataclass(frozen=True)
class WebLevel:
    """One level of web/index.json."""

    level: str
    file: str
    sha256: str
    features: int
    bbox: tuple[float, float, float, float]
    tolerance: float | None = None  # simplification tolerance (degrees), when the build says
    tiles_file: str | None = None  # PMTiles archive of the level (vector tiles for the map)
    tiles_sha256: str = ""
    tiles_maxzoom: int = 0
    tiles_format: int = 0  # geodata.tiles.TILES_FORMAT of the archive (2: ids only, points)

    @property
    def version(self) -> str:
        """Short content hash used as the `?v=` cache-busting query of geometry URLs."""
        return self.sha256[:12]

    @property
    def url(self) -> str:
        return f"/geo/{self.level}.geojson?v={self.version}"

    @property
    def tiles_url(self) -> str | None:
        """URL template of the level's vector tiles (MapLibre `tiles`), None when not built."""
        if not self.tiles_file:
            return None
        return f"/tuiles/{self.level}/{{z}}/{{x}}/{{y}}.pbf?v={self.tiles_sha256[:12]}"


def build_dir(cache: Path) -> Path:
    """The build in service (`<cache>/current`, the one the request pinned); the cache root
    itself when nothing is built, so that every lookup below finds nothing and the page says
    what to run."""
    return active_dir(Path(cache)) or Path(cache)


def index_path(cache: Path) -> Path:
    return build_dir(cache) / "web" / "index.json"


def level_parquet(cache: Path, level: str) -> Path:
    """geo/<level>.parquet of the build in service (may not exist)."""
    return build_dir(cache) / "geo" / f"{level}.parquet"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


@lru_cache(maxsize=8)
def _read_index(path: str, mtime: float) -> dict[str, WebLevel]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out = {}
    for level, entry in data.get("levels", {}).items():
        if level not in GEOMETRY_NAMES:
            continue
        out[level] = WebLevel(
            level=level,
            file=str(entry["file"]),
            sha256=str(entry["sha256"]),
            features=int(entry["features"]),
            bbox=tuple(float(v) for v in entry["bbox"]),
            tolerance=float(entry["tolerance"]) if entry.get("tolerance") else None,
            tiles_file=(entry.get("tuiles") or {}).get("file"),
            tiles_sha256=str((entry.get("tuiles") or {}).get("sha256", "")),
            tiles_maxzoom=int((entry.get("tuiles") or {}).get("maxzoom", 0)),
            tiles_format=int((entry.get("tuiles") or {}).get("format", 1)),
        )
    return out


def web_levels(cache: Path) -> dict[str, WebLevel]:
    """Levels listed in web/index.json (empty when the cache is not built)."""
    return {k: v for k, v in web_geometries(cache).items() if k in MAP_LEVELS}


def web_geometries(cache: Path) -> dict[str, WebLevel]:
    """Every servable geometry file of web/index.json: levels and their detail variants."""
    path = index_path(cache)
    mtime = _mtime(path)
    if mtime < 0:
        return {}
    try:
        return _read_index(str(path), mtime)
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def geometry_file(cache: Path, level: str, gz: bool) -> Path | None:
    """Path of the web geometry of `level` (precompressed when gz), or None if absent."""
    entry = web_geometries(cache).get(level)
    if entry is None or "/" in entry.file or "\\" in entry.file:
        return None
    path = build_dir(cache) / "web" / (entry.file + (".gz" if gz else ""))
    return path if path.is_file() else None


def tiles_file(cache: Path, level: str) -> Path | None:
    """Path of the level's PMTiles archive, or None if absent."""
    entry = web_geometries(cache).get(level)
    if entry is None or not entry.tiles_file or "/" in entry.tiles_file:
        return None
    path = build_dir(cache) / "web" / entry.tiles_file
    return path if path.is_file() else None


@lru_cache(maxsize=16)
def _table(path: str, mtime: float, level: str) -> pd.DataFrame:
    return read_level_table(Path(path).parent.parent, level)


def level_table(cache: Path, level: str) -> pd.DataFrame:
    """Attribute table of a level (cached in memory until the parquet file changes)."""
    path = level_parquet(cache, level)
    mtime = _mtime(path)
    if mtime < 0:
        raise FileNotFoundError(path)
    return _table(str(path), mtime, level)
