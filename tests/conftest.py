"""Shared fixtures: a small build cache cut from the real data, app settings, a live server."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from geodata.build import build
from layers.config import Settings

# A small but real cut: Corse-du-Sud, Pyrénées-Orientales, Rhône (Lyon and its 9 municipal
# arrondissements) and Martinique; QPV and IRIS are the national files cut to these départements
# while reading them (63 QPV, 1,215 IRIS; no IRIS overseas).
FIXTURE_DEPARTEMENTS = ["2A", "66", "69", "972"]


@pytest.fixture(scope="session")
def small_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `cafcarto build` of 4 départements (about 10 s, 4 s before the national files)."""
    sources = Settings.from_env().sources
    if not (sources / "geo" / "communes-2018").is_dir():
        pytest.skip(f"raw sources not found in {sources}")
    root = tmp_path_factory.mktemp("cache")
    build(sources, root, departements=FIXTURE_DEPARTEMENTS, log=lambda _: None)
    return root


# Periods of the test demonstration store: enough for series, few enough to build in seconds.
TEST_PERIODS = ["2021-12", "2022-12", "2023-12", "2024-12", "2025-03", "2025-06"]


@pytest.fixture(scope="session")
def small_store(small_cache: Path) -> Path:
    """The demonstration store (after secrecy) of the small cut, for a few periods."""
    from geodata.cache import active_dir
    from layers.build_store import build_demo_store

    # Suppression at every period (the older portal's regime), so that the pages' secret cells
    # stay testable; the portal's rounded regime has its own store in tests/test_demo_regimes.py.
    build_demo_store(
        active_dir(small_cache),
        small_cache / "demo",
        periods=TEST_PERIODS,
        rounded_from=None,
        log=lambda _: None,
    )
    return small_cache / "demo"


@pytest.fixture(scope="session")
def settings(small_cache: Path, small_store: Path) -> Settings:
    """Settings pointing at the small cache (with its demonstration store) and the installed
    front-end vendor directory."""
    return replace(Settings.from_env(), cache=small_cache)


@pytest.fixture(scope="session")
def live_app(settings: Settings):
    """The app (small cache) served on a free 127.0.0.1 port for the whole session."""
    from browser_support import LiveServer

    from dashboard.app import create_app
    from dashboard.vendor import missing_files

    if missing_files(settings.vendor):
        _skip_or_fail("front-end libraries not installed: run `python -m dashboard.vendor`")
    # Every browser test and the attacker share one address: the per-IP limits (tested on
    # their own in test_serving.py) would answer 429 halfway through the session.
    unlimited = replace(settings, rate_limit=None, export_rate_limit=None)
    with LiveServer(create_app(unlimited).server) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (skipped when chromium is not installed)."""
    from browser_support import chromium_available, make_driver

    if not chromium_available():
        _skip_or_fail("chromium / chromedriver not installed")
    driver = make_driver()
    yield driver
    driver.quit()


def _skip_or_fail(reason: str) -> None:
    # `make test` sets CAFCARTO_REQUIRE_BROWSER: there, a missing browser is a failure, not a skip.
    if os.environ.get("CAFCARTO_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def topology(settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    """Redis, two gunicorn instances, a Celery worker and nginx on loopback ports (see
    tests/topology.py), serving a copy of the small cache; stopped at the end of the session."""
    import shutil

    from topology import missing_programs, start_topology

    missing = missing_programs()
    if missing:
        reason = f"{', '.join(missing)} missing: run `make topology-deps` (as root)"
        # `make test` sets CAFCARTO_REQUIRE_TOPOLOGY: there, a missing program is a failure.
        if os.environ.get("CAFCARTO_REQUIRE_TOPOLOGY"):
            pytest.fail(reason)
        pytest.skip(reason)
    cache = tmp_path_factory.mktemp("topologie") / "cache"
    shutil.copytree(settings.cache, cache, symlinks=True)
    topo = start_topology(cache, settings.vendor)
    try:
        yield topo
    finally:
        topo.close()


@pytest.fixture(scope="module", autouse=True)
def _curated_catalogue_after_each_module():
    """Serving an imported store makes its catalogue the active one (layers.catalogue): put the
    curated catalogue back after each module, so that no test depends on the order of files."""
    yield
    from layers.catalogue import activate

    activate(None)
