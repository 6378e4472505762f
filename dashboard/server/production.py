"""`cafcarto serve --workers N`: the app under gunicorn, configured from Python.

gunicorn's BaseApplication takes its settings from here instead of its own command line, so the
same Settings (environment) reach every worker. The app is built once in the master before
the fork (`preload_app`): the workers share the imported code and the app's read-only objects
copy-on-write instead of each importing Dash, Plotly, pandas and DuckDB again. Nothing that
must not cross a fork is open then: the store's DuckDB connections, the indexes and the
rate-limit counters are made on first use in each worker, and the jobs' SQLite connection
(DiskCache) opened by the master is closed in each worker right after the fork.
"""

from __future__ import annotations

import gc

from gunicorn.app.base import BaseApplication

from dashboard.server.prefork import warm_before_fork
from layers.config import Settings

# A PDF profile or a whole-France Excel export takes seconds; 120 s covers the slowest with room.
DEFAULT_TIMEOUT = 120
DEFAULT_THREADS = 4


def gunicorn_options(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int,
    threads: int = DEFAULT_THREADS,
    timeout: int = DEFAULT_TIMEOUT,
    preload: bool = True,
) -> dict[str, object]:
    """gunicorn settings (names of gunicorn's configuration file)."""
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        # gthread: one slow export holds a thread, not a whole worker
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": timeout,
        "preload_app": preload,
        "graceful_timeout": 30,
        "keepalive": 5,
        # Recycle workers now and then: bounds the growth of per-process caches.
        "max_requests": 5000,
        "max_requests_jitter": 500,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "cafcarto",
        # gunicorn >= 25 opens a control socket in $HOME by default: two servers on one host
        # (tests, blue/green) would fight over it, and nothing here uses it.
        "control_socket_disable": True,
    }


class ProductionServer(BaseApplication):
    """gunicorn application serving `create_app(settings).server`."""

    def __init__(self, settings: Settings, options: dict[str, object]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings an older gunicorn lacks are skipped
                self.cfg.set(key, value)
        self.cfg.set("post_fork", self.post_fork)

    def load(self):
        from dashboard.app import create_app

        self.dash_app = create_app(self.settings)
        if self.cfg.preload_app:
            # The build's read-only tables loaded once here are shared by every worker; frozen
            # out of the collector, whose passes would otherwise copy their pages in each one.
            warm_before_fork(self.dash_app)
            gc.freeze()
        return self.dash_app.server

    def post_fork(self, server: object, worker: object) -> None:
        """In each new worker: drop the SQLite connection the master's app opened (its
        thread-local handle would otherwise be used by the sync worker's main thread)."""
        manager = getattr(getattr(self, "dash_app", None), "_background_manager", None)
        close = getattr(getattr(manager, "handle", None), "close", None)
        if callable(close):
            close()


def serve_production(settings: Settings, **kwargs: object) -> None:
    """Run gunicorn in the foreground until it is stopped (SIGTERM, SIGINT)."""
    ProductionServer(settings, gunicorn_options(settings, **kwargs)).run()  # type: ignore[arg-type]
