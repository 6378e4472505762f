"""Shared fixtures: a small build cache cut from the real data, app settings, a live server."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from dashboard.config import Settings
from geodata.build import build

# A small but real cut: Corse-du-Sud, Pyrénées-Orientales (QPV sample), Rhône (Lyon IRIS
# sample) and Martinique.
FIXTURE_DEPARTEMENTS = ["2A", "66", "69", "972"]


@pytest.fixture(scope="session")
def small_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `cafcarto build` of 3 départements (a few seconds)."""
    sources = Settings.from_env().sources
    if not (sources / "geo" / "communes-2018").is_dir():
        pytest.skip(f"raw sources not found in {sources}")
    root = tmp_path_factory.mktemp("cache")
    build(sources, root, departements=FIXTURE_DEPARTEMENTS, log=lambda _: None)
    return root


@pytest.fixture(scope="session")
def settings(small_cache: Path) -> Settings:
    """Settings pointing at the small cache and the installed front-end vendor directory."""
    return replace(Settings.from_env(), cache=small_cache)


@pytest.fixture(scope="session")
def live_app(settings: Settings):
    """The app (small cache) served on a free 127.0.0.1 port for the whole session."""
    from browser_support import LiveServer

    from dashboard.app import create_app
    from dashboard.vendor import missing_files

    if missing_files(settings.vendor):
        _skip_or_fail("front-end libraries not installed: run `python -m dashboard.vendor`")
    with LiveServer(create_app(settings).server) as server:
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
