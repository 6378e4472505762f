"""Long jobs (Excel of all the communes of France, a PDF atlas of an EPCI) run as Dash
background callbacks: in a subprocess with a DiskCache backend by default, on Celery workers
when CAFCARTO_REDIS_URL is set. The page stays responsive and shows the job's progress.

The job's work and its files are in `layers/` (`export_jobs`, `export_files`); this module
builds the app's background callback manager and sets up the job's process.

With Celery, the faults the topology tests play (tests/test_topology_faults.py) are handled
here: Redis unreachable -> the page says the exports are unavailable (in French, at once, never
a spinner); a worker process killed during a job -> the job is given back to the queue and
run again (late acknowledgement); a job Celery reports failed or lost -> a French error.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import dash
import diskcache
from dash import CeleryManager, DiskcacheManager
from flask import Flask, Response, g, has_request_context

from layers.appdata import use_settings
from layers.config import Settings
from layers.export_files import EXPORT_TTL

ERR_JOBS_DOWN = (
    "Les exports longs (Excel de la vue, atlas PDF) sont momentanément indisponibles : le "
    "service des tâches (Redis) ne répond pas. Réessayez dans quelques minutes ; la carte, les "
    "fiches et l'API restent disponibles."
)
ERR_JOB_LOST = (
    "L'export a été interrompu (le processus qui le préparait s'est arrêté). Relancez-le."
)
ERR_JOB_STORAGE = (
    "L'export n'a pas pu être enregistré : le dossier des exports (CAFCARTO_JOBS) est plein "
    "ou en lecture seule. La carte, les fiches et l'API restent disponibles ; prévenez "
    "l'administrateur du site."
)
ERR_JOB_FAILED = (
    "L'export a échoué. Réessayez ; si le problème persiste, prévenez l'administrateur."
)
# No space, read-only file system, permission denied, operation not permitted, quota.
STORAGE_ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT)
# The exports callback's outputs (callbacks/exports.py): the file's URL and the French status.
# A job that cannot run answers no file and the message in the status.
STATUS_OUTPUT = ("export-job-statut", "children")
NO_UPDATE = {"_dash_no_update": "_dash_no_update"}
# A started job whose worker no longer knows it is lost; the workers are asked this often.
LOST_CHECK_S = 5
LOST_MISSES = 2
INSPECT_TIMEOUT_S = 1.0
# A job in these states will never write its result (revoked: cancelled by the page).
FAILED_STATES = ("FAILURE", "REVOKED")
# Broker and result store calls give up fast when Redis is down (the defaults retry for long).
REDIS_TIMEOUT_S = 1.0
CELERY_CONFIG = {
    # A job that cannot be queued says so at once (the default retries its publication).
    "task_publish_retry": False,
    # A worker process killed during a job: the job goes back to the queue and runs again.
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    "task_track_started": True,
    "broker_connection_retry_on_startup": True,
    "broker_transport_options": {
        "socket_timeout": REDIS_TIMEOUT_S,
        "socket_connect_timeout": REDIS_TIMEOUT_S,
        "max_retries": 1,
    },
    "redis_socket_timeout": REDIS_TIMEOUT_S,
    "redis_socket_connect_timeout": REDIS_TIMEOUT_S,
    "redis_retry_on_timeout": False,
    "result_backend_transport_options": {"retry_policy": {"max_retries": 0}},
}


class JobsUnavailable(RuntimeError):
    """The job service (Redis) cannot be reached: the page gets ERR_JOBS_DOWN."""


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
        celery_app.conf.update(CELERY_CONFIG)
        return SafeCeleryManager(celery_app, settings, expire=EXPORT_TTL)
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


def signing_secret(settings: Settings) -> bytes:
    """The secret that signs the background jobs' handles, in the jobs folder every host and
    worker shares (created once): Dash keeps it in the result store by default, and a process
    started while Redis is down would sign with a random secret of its own for its whole life."""
    path = Path(settings.jobs_root) / "jobs-signing-secret"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_urlsafe(48).encode("ascii"))
    return path.read_bytes()


def failure_message(error: dict) -> str:
    """The French status of a job that raised (Dash's `background_callback_error`); the
    traceback goes to the server's log only."""
    msg = str(error.get("msg", ""))
    logging.getLogger(__name__).error("export en échec : %s\n%s", msg, error.get("tb", ""))
    if any(f"[Errno {code}]" in msg for code in STORAGE_ERRNOS):
        return ERR_JOB_STORAGE
    return ERR_JOB_FAILED


def _guarded(method: Callable) -> Callable:
    """`method` of the manager, with a Redis failure turned into JobsUnavailable. A failure
    that came at once is tried again: after Redis restarted, a process's pooled connections
    are dead and the first call on one fails even though Redis answers (the failure drops it;
    the second call reconnects). A Redis that does not answer has used its time already."""

    def call(self: SafeCeleryManager, *args: object) -> object:
        log = logging.getLogger(__name__)
        t0 = time.monotonic()
        try:
            return method(self, *args)
        except Exception as exc:  # redis, kombu and celery raise several kinds
            log.warning("tâches : échec d'un appel à Redis", exc_info=True)
            if time.monotonic() - t0 >= REDIS_TIMEOUT_S:
                raise JobsUnavailable(ERR_JOBS_DOWN) from exc
        try:
            return method(self, *args)
        except Exception as exc:
            log.warning("tâches indisponibles", exc_info=True)
            raise JobsUnavailable(ERR_JOBS_DOWN) from exc

    call.__name__ = method.__name__
    return call


class SafeCeleryManager(CeleryManager):
    """Dash's CeleryManager that fails fast and in French when Redis is down, and ends a job
    Celery reports failed (its worker lost for good) with a French error instead of polling
    for ever. The handles' signing secret comes from the shared jobs folder."""

    def __init__(self, celery_app: object, settings: Settings, expire: int | None = None) -> None:
        super().__init__(celery_app, expire=expire)
        self.settings = settings

    def get_or_create_signing_secret(self, generate: Callable) -> bytes:
        return signing_secret(self.settings)

    call_job_fn = _guarded(CeleryManager.call_job_fn)
    get_progress = _guarded(CeleryManager.get_progress)
    get_updated_props = _guarded(CeleryManager.get_updated_props)

    @_guarded
    def job_running(self, job: str) -> bool:
        # Dash reads the result, then asks whether the job runs: a job that ended between the
        # two looked cancelled, and its result was never collected (the page stopped polling
        # with no file nor message). Still "running" then: the next poll collects it.
        if has_request_context() and g.get("cafcarto_job_unfinished") == job:
            return True
        return CeleryManager.job_running(self, job)

    @_guarded
    def get_result(self, key: str, job: str | None) -> object:
        result = CeleryManager.get_result(self, key, job)
        if result is self.UNDEFINED and job:
            result = self._unfinished(key, job)
        if isinstance(result, dict) and "background_callback_error" in result:
            return [NO_UPDATE, failure_message(result["background_callback_error"])]
        return result

    def _unfinished(self, key: str, job: str) -> object:
        """No result yet: the French error of a lost job, the result written meanwhile (a
        job writes it before Celery marks it done), or UNDEFINED (marked still running)."""
        if self._lost(job):
            self.terminate_job(job)  # revoked: a late redelivery of its message won't run
            return [NO_UPDATE, ERR_JOB_LOST]
        state = self.get_task(job).state
        if state == "SUCCESS":
            return CeleryManager.get_result(self, key, job)
        if state not in FAILED_STATES and has_request_context():
            g.cafcarto_job_unfinished = job
        return self.UNDEFINED

    def _lost(self, job: str) -> bool:
        """Failed, or started by a worker that no longer knows it (killed with its host: the
        message would come back only after Redis's visibility timeout, an hour). The workers
        are asked at most every LOST_CHECK_S per job, whichever host polls (one poll in five
        waits up to INSPECT_TIMEOUT_S for their answers)."""
        state = self.get_task(job).state
        if state == "FAILURE":
            return True
        if state != "STARTED":
            return False  # queued: it runs when a worker is free
        client = self.handle.backend.client
        if not client.set(f"cafcarto:tache-verifiee:{job}", 1, nx=True, ex=LOST_CHECK_S):
            return False
        known = self.handle.control.inspect(timeout=INSPECT_TIMEOUT_S).query_task(job)
        if any(tasks for tasks in (known or {}).values()):
            return False
        # Twice unknown, LOST_CHECK_S apart: a worker slow to answer once is not a lost job.
        misses = f"cafcarto:tache-absente:{job}"
        count = client.incr(misses)
        client.expire(misses, 10 * LOST_CHECK_S)
        return count >= LOST_MISSES


def jobs_unavailable(_err: JobsUnavailable) -> Response:
    """A Dash callback answer (200) that ends the job on the page with the French message: the
    renderer stops polling and the buttons come back."""
    component, prop = STATUS_OUTPUT
    body = {"multi": True, "response": {component: {prop: ERR_JOBS_DOWN}}}
    return Response(json.dumps(body), 200, mimetype="application/json")


def init_app(server: Flask) -> None:
    server.register_error_handler(JobsUnavailable, jobs_unavailable)
