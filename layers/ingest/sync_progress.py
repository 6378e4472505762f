"""Progress of `cafcarto sync` on stderr: one line per dataset (bytes, %) and the overall count.

On a terminal the current line is redrawn in place; in a log (not a tty) each step is its own
plain line, without escape codes, and a download reports at most every quarter.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from layers.progress import duration_text, time_left


def size_text(n: float) -> str:
    """« 3,4 Mo », « 12 ko »."""
    text = f"{n / 1e6:.1f} Mo" if n >= 1e6 else f"{n / 1e3:.0f} ko"
    return text.replace(".", ",")


class SyncProgress:
    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.clock = clock
        self._began: float | None = None
        self._n = self._total = 0
        self._prefix = ""
        self._last = 0.0
        self._quarter = -1

    def _write(self, text: str, *, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _clock_on(self, n: int, total: int) -> None:
        if self._began is None:
            self._began = self.clock()
        self._n, self._total = n, total

    def remaining(self) -> str:
        """« , reste ≈ 2 min 05 s » for the whole sync, from the mean time per dataset done."""
        elapsed = self.clock() - (self._began if self._began is not None else self.clock())
        left = time_left(elapsed, self._n, self._total)
        return "" if left is None else f", reste ≈ {duration_text(left)}"

    def note(self, n: int, total: int, dataset_id: str, text: str) -> None:
        """One line for a dataset: « [3/12] s_ben_com_f : inchangé »."""
        self._clock_on(n, total)
        self._write(f"[{n}/{total}] {dataset_id} : {text}{self.remaining()}", final=True)

    def start(self, n: int, total: int, dataset_id: str) -> None:
        self._clock_on(n - 1, total)
        self._prefix = f"[{n}/{total}] {dataset_id}"
        self._last, self._quarter = 0.0, -1
        self._write(f"{self._prefix} : téléchargement…", final=not self.tty)

    def bytes(self, got: int, total: int | None) -> None:
        """Download progress (the portal client calls it after each block)."""
        share = got / total if total else None
        if self.tty:
            now = time.monotonic()
            if now - self._last < 0.2:
                return
            self._last = now
        else:
            quarter = int(share * 4) if share is not None else -1
            if quarter <= self._quarter or quarter >= 4:
                return
            self._quarter = quarter
        done = (
            f"{size_text(got)} / {size_text(total)} ({share * 100:.0f} %)"
            if total
            else size_text(got)
        )
        self._write(f"{self._prefix} : {done}", final=not self.tty)

    def finish(self, size: int) -> None:
        self._n += 1
        done = f"téléchargé ({size_text(size)}){self.remaining()}"
        self._write(f"{self._prefix} : {done}", final=True)
