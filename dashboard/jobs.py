"""Long jobs (Excel of all the communes of France, a PDF atlas of an EPCI) run as Dash
background callbacks: in a subprocess with a DiskCache backend by default, on Celery workers
when CAFCARTO_REDIS_URL is set. The page stays responsive and shows the job's progress.

The job's work and its files are in `layers/` (`export_jobs`, `export_files`); this module
builds the app's background callback manager and sets up the job's process.
"""

from __future__ import annotations

from collections.abc import Callable

import dash
import diskcache
from dash import CeleryManager, DiskcacheManager

from layers.appdata import use_settings
from layers.config import Settings
from layers.export_files import EXPORT_TTL


def background_manager(settings: Settings) -> CeleryManager | DiskcacheManager:
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
        # The workers import dashboard.wsgi: its create_app() sets their AppData.
        celery_app = Celery("cafcarto", broker=redis_url, backend=redis_url)
        return CeleryManager(celery_app, expire=EXPORT_TTL)
    folder = settings.jobs_root / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return SpawningDiskcacheManager(diskcache.Cache(str(folder)), settings, expire=EXPORT_TTL)


def run_spawned_job(settings: Settings, job: Callable, *args: object) -> None:
    """In a spawned job process, set up what the callbacks find in the server's process, then
    run the job: the process default of `current_data()`, and a Dash app for
    `dash.get_relative_path` (its URL prefix read from the DASH_* environment the job
    inherits, as `create_app` reads it; nothing is registered on it)."""
    use_settings(settings)
    dash.Dash(__name__, use_pages=False)
    job(*args)


class SpawningDiskcacheManager(DiskcacheManager):
    """Dash's DiskcacheManager with jobs started by spawn, not fork: a fork of the threaded
    server copies locks other threads hold (DuckDB, Arrow's pool, logging) and the job can
    hang on one. A spawned job starts clean (about 2 s of imports, nothing for long jobs) but
    inherits nothing: `run_spawned_job` gets the settings (picklable values, never the app nor
    its AppData)."""

    def __init__(
        self, cache: diskcache.Cache, settings: Settings, expire: int | None = None
    ) -> None:
        super().__init__(cache, expire=expire)
        self.settings = settings

    def call_job_fn(self, key: str, job_fn: Callable, args: object, context: object) -> int:
        import multiprocess

        process = multiprocess.get_context("spawn").Process(
            target=run_spawned_job,
            args=(self.settings, job_fn, key, self._make_progress_key(key), args, context),
        )
        process.start()
        return process.pid
