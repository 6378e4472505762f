"""Read-only view of the build cache for the web side: web/index.json, file paths, versions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from layers.indicators_basic import LEVELS, read_level_table


@dataclass(frozen=True)
class WebLevel:
    """One level of web/index.json."""

    level: str
    file: str
    sha256: str
    features: int
    bbox: tuple[float, float, float, float]

    @property
    def version(self) -> str:
        """Short content hash used as the `?v=` cache-busting query of geometry URLs."""
        return self.sha256[:12]

    @property
    def url(self) -> str:
        return f"/geo/{self.level}.geojson?v={self.version}"


def index_path(cache: Path) -> Path:
    return Path(cache) / "web" / "index.json"


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
        if level not in LEVELS:
            continue
        out[level] = WebLevel(
            level=level,
            file=str(entry["file"]),
            sha256=str(entry["sha256"]),
            features=int(entry["features"]),
            bbox=tuple(float(v) for v in entry["bbox"]),
        )
    return out


def web_levels(cache: Path) -> dict[str, WebLevel]:
    """Levels listed in web/index.json (empty when the cache is not built)."""
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
    entry = web_levels(cache).get(level)
    if entry is None or "/" in entry.file or "\\" in entry.file:
        return None
    path = Path(cache) / "web" / (entry.file + (".gz" if gz else ""))
    return path if path.is_file() else None


@lru_cache(maxsize=16)
def _table(path: str, mtime: float, level: str) -> pd.DataFrame:
    return read_level_table(Path(path).parent.parent, level)


def level_table(cache: Path, level: str) -> pd.DataFrame:
    """Attribute table of a level (cached in memory until the parquet file changes)."""
    path = Path(cache) / "geo" / f"{level}.parquet"
    mtime = _mtime(path)
    if mtime < 0:
        raise FileNotFoundError(path)
    return _table(str(path), mtime, level)
