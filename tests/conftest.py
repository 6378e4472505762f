"""Shared fixtures: a small build cache cut from the real data, app settings, a live server."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fixture_cache import build_cache

from dashboard.config import Settings

# A small but real cut: Corse-du-Sud, Rhône (with the Lyon IRIS sample) and Martinique.
FIXTURE_DEPARTEMENTS = ["2A", "69", "972"]


@pytest.fixture(scope="session")
def small_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build cache following the `cafcarto build` contract, from 3 départements."""
    sources = Settings.from_env().sources
    if not (sources / "geo" / "communes-2018").is_dir():
        pytest.skip(f"raw sources not found in {sources}")
    return build_cache(tmp_path_factory.mktemp("cache"), sources, FIXTURE_DEPARTEMENTS)


@pytest.fixture(scope="session")
def settings(small_cache: Path) -> Settings:
    """Settings pointing at the small cache and the installed front-end vendor directory."""
    return replace(Settings.from_env(), cache=small_cache)
