"""Faults: a build killed half-way, damaged cache files, a cache that is not there."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from dashboard.app import create_app
from dashboard.cache_check import cache_problems, parquet_damage
from geodata.cache import active_dir
from layers.config import REPO_ROOT, Settings


def _cli(*args: str, cache: Path) -> subprocess.Popen:
    env = {**os.environ, "CAFCARTO_CACHE": str(cache)}
    return subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_killed_build_leaves_the_previous_build_serving(tmp_path: Path, settings: Settings) -> None:
    cache = tmp_path / "cache"
    build_args = ("build", "--departements", "2A", "--demo", "aucune", "--no-download")
    first = _cli(*build_args, cache=cache)
    assert first.wait(timeout=120) == 0, first.stderr.read().decode()
    served = active_dir(cache)
    assert served is not None

    partial = None
    for _ in range(3):  # a busy machine may let a build publish between the look and the kill
        served = active_dir(cache)
        partial = _kill_half_way(_cli(*build_args, "--force", cache=cache), cache)
        if partial is not None:
            break
    assert partial is not None, "the second build finished before it could be interrupted"

    assert partial.is_dir()  # half-written, never published
    assert active_dir(cache) == served
    killed = replace(settings, cache=cache, vendor=settings.vendor)
    assert cache_problems(killed) == []
    client = create_app(killed).server.test_client()
    geo = client.get("/geo/commune.geojson")
    assert geo.status_code == 200
    assert json.loads(geo.data)["type"] == "FeatureCollection"
    assert client.get("/api/carte/commune?indicateur=population").status_code == 200

    # The next build clears the dead half-build and publishes a complete one.
    third = _cli(*build_args, "--force", cache=cache)
    assert third.wait(timeout=120) == 0, third.stderr.read().decode()
    assert not partial.exists()
    assert active_dir(cache) not in (None, served)


def _marked(mark: str) -> list[int]:
    """Processes whose environment carries `mark` (a killed process's orphans)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("CAFCARTO_TEST_MARK") == mark:
                found.append(proc.pid)
        except (psutil.Error, OSError):
            continue
    return found


def test_a_killed_build_takes_its_forked_step_with_it(tmp_path: Path) -> None:
    """The build's GeoParquet step runs in a forked child: a build killed with SIGKILL must
    not leave it writing into the unpublished folder that the next build removes."""
    mark = f"{os.getpid()}-{tmp_path.name}"
    script = (
        "import os, signal, time\n"
        "from geodata.build import _beside\n"
        "_beside('essai', time.sleep, 60)\n"
        "time.sleep(0.5)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "CAFCARTO_TEST_MARK": mark}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, timeout=60)
    assert done.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _marked(mark)


def _kill_half_way(build: subprocess.Popen, cache: Path) -> Path | None:
    """Stop `build` (SIGSTOP: at once, before it can publish) once its partial folder holds a
    GeoParquet file, then kill it; its partial folder, or None when it was published first."""
    deadline = time.monotonic() + 60
    partial = None
    while time.monotonic() < deadline and build.poll() is None:
        partials = list((cache / "builds").glob("*.partial"))
        if partials and any((partials[0] / "geo").glob("*.parquet")):
            build.send_signal(signal.SIGSTOP)
            partial = partials[0]
            break
        time.sleep(0.02)
    build.send_signal(signal.SIGKILL)
    build.wait(timeout=10)
    return partial if partial is not None and partial.is_dir() else None


@pytest.fixture
def damaged(tmp_path: Path, settings: Settings) -> Settings:
    """A private copy of the small cache (build and demonstration store) to break."""
    copy = tmp_path / "cache"
    shutil.copytree(settings.cache, copy, symlinks=True)
    return replace(settings, cache=copy)


def _truncate(path: Path, size: int) -> None:
    with path.open("r+b") as fh:
        fh.truncate(size)


def test_truncated_parquet_is_reported_on_the_page_and_in_health(damaged: Settings, caplog) -> None:
    commune = active_dir(damaged.cache) / "geo" / "commune.parquet"
    _truncate(commune, commune.stat().st_size // 2)
    assert parquet_damage(commune) is not None

    with caplog.at_level("ERROR"):
        client = create_app(damaged).server.test_client()
    assert any("commune.parquet" in r.getMessage() for r in caplog.records)
    layout = json.dumps(client.get("/_dash-layout").get_json(), ensure_ascii=False)
    assert "Le cache de construction est endommagé" in layout
    assert "commune.parquet" in layout and "cafcarto build --force" in layout
    health = client.get("/healthz")
    assert health.status_code == 503
    assert "commune.parquet" in health.get_json()["erreur"]


def test_damaged_store_and_web_files_are_named(damaged: Settings) -> None:
    build = active_dir(damaged.cache)
    store = active_dir(damaged.store_demo)
    (store / "manifest.json").write_text("{ pas du json", encoding="utf-8")
    (build / "web" / "epci.geojson").write_text("{}", encoding="utf-8")
    problems = cache_problems(damaged)
    assert any("entrepôt d'indicateurs est endommagé" in p and "manifest" in p for p in problems)
    assert any("epci.geojson" in p and "octets au lieu de" in p for p in problems)


def test_whole_cache_passes_the_check(settings: Settings) -> None:
    assert cache_problems(settings) == []


def test_absent_cache_starts_and_says_what_to_run(tmp_path: Path, settings: Settings) -> None:
    empty = replace(settings, cache=tmp_path / "absent")
    client = create_app(empty).server.test_client()
    assert client.get("/").status_code == 200
    layout = json.dumps(client.get("/_dash-layout").get_json(), ensure_ascii=False)
    assert "Le cache de données n'est pas construit" in layout and "cafcarto build" in layout
    health = client.get("/healthz")
    assert health.status_code == 503 and "cafcarto build" in health.get_json()["erreur"]
