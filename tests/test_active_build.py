"""Which build is in service: `geodata.cache.active_dir` keeps the build it found per root and
checks it with one readlink and one stat, so it must still follow every change of the link."""

from __future__ import annotations

import os
from pathlib import Path

from geodata.cache import MANIFEST, active_dir


def _build(root: Path, name: str) -> Path:
    folder = root / "builds" / name
    folder.mkdir(parents=True)
    (folder / MANIFEST).write_text("{}", encoding="utf-8")
    return folder


def _publish(root: Path, name: str) -> None:
    tmp = root / "current.tmp"
    tmp.symlink_to(f"builds/{name}")
    os.replace(tmp, root / "current")


def test_the_build_in_service_follows_the_link(tmp_path: Path) -> None:
    assert active_dir(tmp_path) is None  # nothing built
    first, second = _build(tmp_path, "a"), _build(tmp_path, "b")
    _publish(tmp_path, "a")
    assert active_dir(tmp_path) == first.resolve() == active_dir(tmp_path)
    _publish(tmp_path, "b")
    assert active_dir(tmp_path) == second.resolve()
    (second / MANIFEST).unlink()  # damaged after it was found: no longer in service
    assert active_dir(tmp_path) is None
    (tmp_path / "current").unlink()
    assert active_dir(tmp_path) is None


def test_a_folder_named_current_is_a_build(tmp_path: Path) -> None:
    folder = tmp_path / "current"
    folder.mkdir()
    assert active_dir(tmp_path) is None  # no manifest yet
    (folder / MANIFEST).write_text("{}", encoding="utf-8")
    assert active_dir(tmp_path) == folder.resolve()
