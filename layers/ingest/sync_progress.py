"""Progress of `cafcarto sync` on stderr: one line per dataset (bytes, %) and the overall count.

On a terminal the current line is redrawn in place; in a log (not a tty) each step is its own
plain line, without escape codes, and a download reports at most every quarter.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def size_text(n: float) -> str:
    """« 3,4 Mo », « 12 ko »."""
    text = f"{n / 1e6:.1f} Mo" if n >= 1e6 else f"{n / 1e3:.0f} ko"
    return text.replace(".", ",")


class SyncProgress:
    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._prefix = ""
        self._last = 0.0
        self._quarter = -1

    def _write(self, text: str, *, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def note(self, n: int, total: int, dataset_id: str, text: str) -> None:
        """One line for a dataset: « [3/12] s_ben_com_f : inchangé »."""
        self._write(f"[{n}/{total}] {dataset_id} : {text}", final=True)

    def start(self, n: int, total: int, dataset_id: str) -> None:
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
        self._write(f"{self._prefix} : téléchargé ({size_text(size)})", final=True)
