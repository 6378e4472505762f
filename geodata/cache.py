"""The build cache: where a build lives, which build is current, and reading it back.

Layout: `<root>/builds/<id>/` holds one complete build (geo/, web/, manifest.json) and
`<root>/current` is a symlink to the build in service. A build is written beside the current one
and the link is swapped atomically at the end, so an interrupted build never disturbs the cache
being served.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd

MANIFEST = "manifest.json"


class CacheError(RuntimeError):
    """The build cache is missing or damaged; the message (French) says what to run."""


# root -> (target of its `current` link, the build it names, its manifest): one readlink and
# one stat tell whether the build found before is still the one in service (a full look
# resolves every component of the path: ~0.1 ms, several times per request).
_known: dict[Path, tuple[str, Path, str]] = {}
# root -> its `current` link as a string (a Path join per call cost as much as the readlink).
_links: dict[Path, str] = {}


def active_dir(root: Path) -> Path | None:
    """The folder of the build in service (resolved), or None when nothing was built yet."""
    link = _links.get(root)
    if link is None:
        link = _links[root] = os.fspath(root / "current")
    try:
        target = os.readlink(link)
    except FileNotFoundError:  # nothing built
        return None
    except OSError:  # a folder, not a link: the full look
        return _look(Path(link))
    known = _known.get(root)
    if known is not None and known[0] == target and os.path.isfile(known[2]):
        return known[1]
    found = _look(Path(link))
    if found is not None:
        _known[root] = (target, found, str(found / MANIFEST))
    return found


def _look(link: Path) -> Path | None:
    if link.is_symlink() or link.is_dir():
        target = link.resolve()
        if (target / MANIFEST).is_file():
            return target
    return None


def require_active(root: Path) -> Path:
    found = active_dir(root)
    if found is None:
        raise CacheError(
            f"Le cache de construction est absent ({root}). Lancez « make run » ou "
            "« cafcarto build » pour le construire à partir des sources."
        )
    return found


def read_manifest(build: Path) -> dict:
    try:
        return json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CacheError(
            f"Le manifeste du cache est illisible ({build / MANIFEST}) : "
            "relancez « cafcarto build »."
        ) from exc


def load_level(build: Path, level: str) -> gpd.GeoDataFrame:
    path = build / "geo" / f"{level}.parquet"
    try:
        return gpd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise CacheError(
            f"Fichier du cache illisible : {path}. Relancez « cafcarto build --force »."
        ) from exc


def load_neighbours(build: Path, level: str = "commune") -> pd.DataFrame:
    table = pd.read_parquet(build / "geo" / "voisins.parquet")
    return table[table["niveau"] == level].drop(columns="niveau").reset_index(drop=True)


def publish(root: Path, build: Path) -> None:
    """Point `current` at a finished build (atomic rename of a fresh symlink), drop older ones."""
    tmp_link = root / f".current-{os.getpid()}"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    tmp_link.symlink_to(build.relative_to(root))
    os.replace(tmp_link, root / "current")
    for other in (root / "builds").iterdir():
        if other != build and not other.name.endswith(".partial"):
            shutil.rmtree(other, ignore_errors=True)


def new_build(root: Path) -> Path:
    """The path of a fresh `builds/<stamp>-<pid>.partial` folder for a build of `root`.

    Two builds in the same second (`cafcarto import a.csv b.csv`) get distinct names; the pid
    stays last, where `drop_dead_partials` reads it."""
    drop_dead_partials(root)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for n in range(1000):
        build_id = f"{stamp}{f'.{n}' if n else ''}-{os.getpid()}"
        if not any((root / "builds" / f"{build_id}{s}").exists() for s in ("", ".partial")):
            break
    return root / "builds" / f"{build_id}.partial"


def finish_build(root: Path, partial: Path) -> Path:
    """Rename a complete build to its final name and put it in service atomically."""
    final = partial.with_name(partial.name.removesuffix(".partial"))
    partial.rename(final)
    publish(root, final)
    return final


def drop_dead_partials(root: Path) -> None:
    """Remove half-written builds left by a killed `cafcarto build` (its pid ends the name)."""
    builds = root / "builds"
    if not builds.is_dir():
        return
    for partial in builds.glob("*.partial"):
        pid = int(partial.name.removesuffix(".partial").rsplit("-", 1)[-1] or 0)
        if not _alive(pid):
            shutil.rmtree(partial, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
