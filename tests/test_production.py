"""`cafcarto serve --workers N` really runs gunicorn with N workers on the small cache."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psutil
import pytest

from dashboard.cli import parser
from dashboard.server.production import gunicorn_options
from layers.config import REPO_ROOT, Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_serve_with_workers_runs_gunicorn(settings: Settings) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "CAFCARTO_CACHE": str(settings.cache),
        "CAFCARTO_VENDOR": str(settings.vendor),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", "serve", "--workers", "2", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # A generous start deadline: the master warms the app before forking, slower on a busy
        # machine (it failed once at 15 s with a load average of 12 on 2 cores).
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, headers, body = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200, proc.stdout.read().decode() if proc.poll() is not None else status
        assert headers["Server"].startswith("gunicorn")
        assert json.loads(body)["statut"] == "ok"
        # With preload the first worker may answer before gunicorn has forked the second.
        workers: list = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            workers = psutil.Process(proc.pid).children()
            if len(workers) >= 2:
                break
            time.sleep(0.1)
        assert len(workers) == 2
        status, headers, _ = _get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "nonce-" in headers["Content-Security-Policy"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == 0


def test_serve_options() -> None:
    args = parser().parse_args(["serve", "--workers", "3"])
    assert (args.workers, args.threads, args.timeout) == (3, 4, 120)
    assert parser().parse_args(["serve"]).workers is None  # `make run`: development server
    with pytest.raises(SystemExit):
        parser().parse_args(["serve", "--workers", "0"])
    settings = Settings.from_env({})
    options = gunicorn_options(settings, host="::", port=8050, workers=2, threads=1)
    assert options["bind"] == "[::]:8050" and options["worker_class"] == "sync"
    assert gunicorn_options(settings, host="0.0.0.0", port=80, workers=2)["worker_class"] == (
        "gthread"
    )


def test_preload_is_the_default_and_can_be_refused() -> None:
    settings = Settings.from_env({})
    assert parser().parse_args(["serve", "--workers", "2"]).preload is True
    assert parser().parse_args(["serve", "--workers", "2", "--no-preload"]).preload is False
    options = gunicorn_options(settings, host="127.0.0.1", port=80, workers=2, preload=False)
    assert options["preload_app"] is False
    assert gunicorn_options(settings, host="127.0.0.1", port=80, workers=2)["preload_app"] is True
