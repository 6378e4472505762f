"""The progress bars of the long build and sync steps (layers/progress.py)."""

from __future__ import annotations

import io

from layers import progress as progress_module
from layers.progress import ProgressBar, duration_text, progress, track


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_lines_at_start_quarters_and_end_only() -> None:
    out = io.StringIO()
    with progress("tuiles vectorielles", 8, unit="niveaux", stream=out) as bar:
        for _ in range(8):
            bar.advance()
    lines = out.getvalue().splitlines()
    # start, 25 %, 50 %, 75 %, end: never one line per unit in a log
    assert len(lines) == 5
    assert lines[0].startswith("tuiles vectorielles [--------------------] 0/8 niveaux (0 %)")
    assert "2/8 niveaux (25 %)" in lines[1]
    assert "8/8 niveaux (100 %)" in lines[-1]
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()


def test_terminal_redraws_in_place_and_ends_with_a_newline() -> None:
    out = FakeTty()
    list(track(range(3), "secret statistique", stream=out))
    text = out.getvalue()
    assert text.startswith("\r\x1b[K") and text.endswith("\n")
    assert text.count("\n") == 1
    assert "3/3 (100 %)" in text


def test_estimate_from_the_pace_so_far(monkeypatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    bar = ProgressBar("audit", 10, stream=io.StringIO())
    assert bar.remaining_s() is None  # nothing done yet: no estimate
    clock[0] += 20.0
    bar.advance(4)
    assert bar.remaining_s() == 30.0  # 5 s a unit, 6 left
    assert "reste ~30 s" in bar.text()
    bar.advance(6)
    assert bar.remaining_s() is None and "reste" not in bar.text()


def test_counts_and_durations_read_in_french() -> None:
    bar = ProgressBar("cellules", 1_234_567, stream=io.StringIO())
    bar.advance(12_345)
    assert "12\u202f345/1\u202f234\u202f567" in bar.text()
    assert duration_text(42) == "42 s"
    assert duration_text(125) == "2 min 05 s"
    assert duration_text(3780) == "1 h 03 min"
