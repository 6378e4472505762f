"""Files of the long exports (Excel of a view, PDF atlas): written to
`<jobs root>/exports/<token>/<name>` by the job, served once ready by
`/export/fichier/<token>/<name>`, removed after EXPORT_TTL seconds.

Plain file functions: the job process (a spawned DiskCache job or a Celery worker) and the web
process share them through the jobs root, never through memory.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from pathlib import Path

from layers.config import Settings

EXPORT_TTL = 3600
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")
ATLAS_MAX_COMMUNES = 250


def exports_dir(settings: Settings) -> Path:
    return settings.jobs_root / "exports"


def purge_exports(settings: Settings, now: float | None = None) -> int:
    """Remove the exports older than EXPORT_TTL; returns how many."""
    root = exports_dir(settings)
    if not root.is_dir():
        return 0
    limit = (now or time.time()) - EXPORT_TTL
    gone = 0
    for folder in root.iterdir():
        if folder.is_dir() and folder.stat().st_mtime < limit:
            shutil.rmtree(folder, ignore_errors=True)
            gone += 1
    return gone


def save_export(settings: Settings, name: str, body: bytes) -> str:
    """Write an export atomically (no half-written file is ever served); returns its URL."""
    if not NAME_RE.match(name):
        raise ValueError(f"bad export name {name!r}")
    purge_exports(settings)
    token = secrets.token_hex(16)
    folder = exports_dir(settings) / token
    folder.mkdir(parents=True)
    tmp = folder / f".{name}.part"
    tmp.write_bytes(body)
    tmp.rename(folder / name)
    return f"/export/fichier/{token}/{name}"


def export_file(settings: Settings, token: str, name: str) -> Path | None:
    """The file of a finished export, or None (unknown, expired or a forged name)."""
    if not TOKEN_RE.match(token) or not NAME_RE.match(name) or name.startswith("."):
        return None
    path = exports_dir(settings) / token / name
    return path if path.is_file() else None
