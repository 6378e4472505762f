"""Progress bars for the long steps of `cafcarto build` and `cafcarto sync` (on stderr).

On a terminal the bar is redrawn in place at most 5 times a second:
« tuiles vectorielles [#######-------------] 4/11 (36 %) · reste ~1 min 10 s ».
In a log (not a tty: CI, systemd) each bar prints a plain line when it starts, at every quarter
and at the end, so a log never fills with redraws.
The estimate is the mean time per unit so far times the units left; it is left out until a
unit is done and while less than a second has passed, where it would only be noise.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO, TypeVar

T = TypeVar("T")
WIDTH = 20
REDRAW_S = 0.2
ESTIMATE_AFTER_S = 1.0  # below this an estimate is noise: none is shown


def duration_text(seconds: float) -> str:
    """« 45 s », « 2 min 05 s », « 1 h 03 min »."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def time_left(elapsed: float, done: float, total: float) -> float | None:
    """Seconds left at the mean pace so far (`done` of `total` units in `elapsed` seconds);
    None before a unit is done, at the end, and in the first second, where it is only noise."""
    if done <= 0 or done >= total or elapsed < ESTIMATE_AFTER_S:
        return None
    return elapsed / done * (total - done)


def count_text(n: float) -> str:
    """Counts with the French thousands separator (a narrow no-break space)."""
    return f"{int(n):,}".replace(",", "\u202f")


class ProgressBar:
    """A bar of `total` units labelled `label`; `advance()` as units are done, `close()` at
    the end (or use `progress()` / `track()`)."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        unit: str = "",
        stream: TextIO | None = None,
        tty: bool | None = None,
    ) -> None:
        self.label, self.total, self.unit = label, max(0, int(total)), unit
        self.stream = stream or sys.stderr
        self.tty = _isatty(self.stream) if tty is None else tty
        self.done = 0
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._quarter = 0
        self._closed = False
        self._lock = threading.Lock()  # threads writing two files advance one bar
        if not self.tty:
            self._line(self.text())

    def remaining_s(self) -> float | None:
        """Seconds left by the mean pace so far; None while there is no pace to go by."""
        return time_left(time.monotonic() - self.started, self.done, self.total)

    def share(self) -> float:
        """The share of the work done, which the bar fills and the percentage shows."""
        return min(self.done / max(self.total, 1), 1.0)

    def text(self) -> str:
        share = self.share()
        filled = int(round(share * WIDTH))
        unit = f" {self.unit}" if self.unit else ""
        parts = [
            f"{self.label} [{'#' * filled}{'-' * (WIDTH - filled)}] "
            f"{count_text(self.done)}/{count_text(self.total)}{unit} ({share * 100:.0f} %)"
        ]
        left = self.remaining_s()
        if left is not None:
            parts.append(f"reste ~{duration_text(left)}")
        return " · ".join(parts)

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done = min(self.done + n, self.total) if self.total else self.done + n
            self._show()

    def _show(self) -> None:
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw >= REDRAW_S or self.done >= self.total:
                self._last_draw = now
                self.stream.write("\r\x1b[K" + self.text())
                self.stream.flush()
            return
        quarter = int(4 * self.share()) if self.total else 0
        if 0 < quarter < 4 and quarter > self._quarter:
            self._quarter = quarter
            self._line(self.text())

    def close(self) -> None:
        """The final line, with the time taken (« … 11/11 (100 %) · 1 min 12 s »)."""
        if self._closed:
            return
        self._closed = True
        took = duration_text(time.monotonic() - self.started)
        final = f"{self.text()} · {took}"
        if self.tty:
            self.stream.write("\r\x1b[K" + final + "\n")
            self.stream.flush()
        else:
            self._line(final)

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class WeightedBar(ProgressBar):
    """A bar counting units whose fill, percentage and estimate go by each unit's expected
    time (`weights`): when a few long units hold most of the work, the share of units done
    would show 25 % when nine tenths of the time has passed."""

    def __init__(self, label: str, weights: list[float], **kwargs) -> None:
        self.weight_total, self.weight_done = sum(weights), 0.0
        super().__init__(label, len(weights), **kwargs)

    def add(self, weight: float) -> None:
        """One unit of expected time `weight` is done."""
        with self._lock:
            self.weight_done += weight
        self.advance()

    def share(self) -> float:
        if self.done >= self.total or self.weight_total <= 0:
            return super().share()
        return min(self.weight_done / self.weight_total, 1.0)

    def remaining_s(self) -> float | None:
        if self.done >= self.total:
            return None
        return time_left(time.monotonic() - self.started, self.weight_done, self.weight_total)


@contextmanager
def progress(label: str, total: int, **kwargs) -> Iterator[ProgressBar]:
    """`with progress("secret statistique", 616, unit="tables") as bar: … bar.advance()`."""
    bar = ProgressBar(label, total, **kwargs)
    try:
        yield bar
    finally:
        bar.close()


@contextmanager
def counting(
    label: str, total: int, stream: TextIO | None, **kwargs
) -> Iterator[Callable[[int], None]]:
    """`advance(n)` as units are done: a bar into `stream`, or nothing when it is None (a
    library call: only the command line shows bars)."""
    if stream is None:
        yield _ignore
        return
    with progress(label, total, stream=stream, **kwargs) as bar:
        yield bar.advance


@contextmanager
def weighing(
    label: str, weights: Sequence[float], stream: TextIO | None, **kwargs
) -> Iterator[Callable[[float], None]]:
    """`add(weight)` as each unit of `weights` is done: a WeightedBar into `stream`, or
    nothing when it is None."""
    if stream is None:
        yield _ignore
        return
    bar = WeightedBar(label, list(weights), stream=stream, **kwargs)
    try:
        yield bar.add
    finally:
        bar.close()


def _ignore(n: float) -> None:
    pass


def track(items: Iterable[T], label: str, total: int | None = None, **kwargs) -> Iterator[T]:
    """Each item of `items`, advancing a bar after it is processed."""
    if total is None:
        total = len(items)  # type: ignore[arg-type]
    with progress(label, total, **kwargs) as bar:
        for item in items:
            yield item
            bar.advance()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
