"""`cafcarto build` cuts the web geometry and the tiles in a forked child while it makes the
demonstration store: the store is put in service after the territories, never without them."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from dashboard.cli import main as cli
from geodata import cache, tiles
from geodata.forked import Forked, ForkedDied
from geodata.sources import default_sources_dir

SOURCES = default_sources_dir()


def _pid_and(x: int) -> tuple[int, int]:
    return os.getpid(), x * 2


def _fails() -> None:
    raise tiles.TilesError("tippecanoe a échoué pour commune")


def _dies() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_forked_function_answers_from_another_process() -> None:
    pid, value = Forked(_pid_and, 21).result()
    assert value == 42 and pid != os.getpid()


def test_a_forked_failure_is_raised_in_the_parent_with_its_french_message() -> None:
    with pytest.raises(tiles.TilesError, match="tippecanoe a échoué pour commune"):
        Forked(_fails).result()


def test_a_killed_child_is_an_error_not_a_hang() -> None:
    with pytest.raises(ForkedDied, match="s'est arrêté sans répondre"):
        Forked(_dies).result()


needs_sources = pytest.mark.skipif(
    not (SOURCES / "geo" / "communes-2018").is_dir(), reason=f"sources absentes : {SOURCES}"
)


@needs_sources
def test_failing_tiles_publish_neither_the_territories_nor_the_store(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    # the store is finished before the tiles (a small cut): it must be thrown away with them
    monkeypatch.setenv("CAFCARTO_CACHE", str(tmp_path))
    monkeypatch.setattr(tiles, "tippecanoe_path", lambda: "false")
    assert cli(["build", "--departements", "90", "--no-download"]) == 1
    out, err = capsys.readouterr()
    assert "écriture de l'entrepôt" in out  # the store was made, then thrown away
    assert "Erreur : tippecanoe a échoué" in err and "Traceback" not in err
    assert cache.active_dir(tmp_path) is None
    assert cache.active_dir(tmp_path / "demo") is None
    assert not list((tmp_path / "demo" / "builds").glob("*"))
