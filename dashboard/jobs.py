"""Long jobs (Excel of all the communes of France, a PDF atlas of an EPCI) run as Dash
background callbacks: in a subprocess with a DiskCache backend by default, on Celery workers
when CAFCARTO_REDIS_URL is set. The page stays responsive and shows the job's progress.

Their files go to `<jobs root>/exports/<token>/<name>` and are served once ready by
`/export/fichier/<token>/<name>`; they are removed after EXPORT_TTL seconds.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from layers.config import Settings

EXPORT_TTL = 3600
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")
ATLAS_MAX_COMMUNES = 250
Progress = Callable[[int, int], None]


def background_manager(settings: Settings):
    """Celery (Redis broker and results) when CAFCARTO_REDIS_URL is set, else DiskCache."""
    redis_url = settings.redis_url
    if redis_url:
        try:
            from celery import Celery
        except ImportError as exc:
            raise RuntimeError(
                "CAFCARTO_REDIS_URL est défini mais Celery n'est pas installé : "
                "pip install 'cafdata-carto[redis]' (ou retirez la variable)."
            ) from exc
        from dash import CeleryManager

        celery_app = Celery("cafcarto", broker=redis_url, backend=redis_url)
        return CeleryManager(celery_app, expire=EXPORT_TTL)
    import diskcache

    folder = settings.jobs_root / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return _spawning_manager()(diskcache.Cache(str(folder)), expire=EXPORT_TTL)


def _spawning_manager():
    """Dash's DiskcacheManager with jobs started by spawn, not fork: a fork of the threaded
    server copies locks other threads hold (DuckDB, Arrow's pool, logging) and the job can
    hang on one. A spawned job starts clean (about 2 s of imports, nothing for long jobs)."""
    from dash import DiskcacheManager

    class SpawningDiskcacheManager(DiskcacheManager):
        def call_job_fn(self, key, job_fn, args, context):  # noqa: ANN001, ANN202
            import multiprocess

            process = multiprocess.get_context("spawn").Process(
                target=job_fn, args=(key, self._make_progress_key(key), args, context)
            )
            process.start()
            return process.pid

    return SpawningDiskcacheManager


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
