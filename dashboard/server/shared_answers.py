"""Whole answers of the data routes kept on disk, compressed, shared by every worker of a host.

The per-process response cache (dashboard.server.http_cache) is filled once per worker and
keeps raw bodies of at most 4 MB: with 3 workers each answer was computed three times, and the
largest ones (the all-commune CSV, 20 MB raw, 416 kB in brotli) every time, then compressed
again for every request. Here the final bytes (already compressed as negotiated) of a 200
answer are written once under `<cache>/reponses/<builds>/`, and every worker answers the same
request from that file.

- The key holds the builds in service (a new build gets a new folder: nothing stale is ever
  served), the codings the client accepts and the full path with its query. The folder also
  names the app instance (a token drawn when the app is made, in the gunicorn master before
  the fork, so its workers share it): a restart with new code or settings never reads the
  answers of the previous one.
- Only what was just served is kept (a 200 answer of a data route, made by the route itself,
  whose cells `layers.views.layer` already masked): nothing more can reach a client this way.
- Writes are atomic (a temporary file, then `os.replace`): a reader sees a whole file or none.
- Disk use is bounded (`MAX_BYTES` per folder, then nothing more is written); the folders of
  builds no longer in service are removed after `STALE_S`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

FOLDER = "reponses"
MAX_BYTES = 512 * 2**20
# Bodies under this size cost less to make than a file: left to the per-process cache.
MIN_BYTES = 2_000
# How often a process re-counts a folder's size (another worker may have written in it).
USAGE_TTL_S = 30.0
# A folder not written for this long, of builds no longer in service, is removed.
STALE_S = 600.0
_HEAD = struct.Struct("<I")


@dataclass(frozen=True)
class Answer:
    """A stored answer: status, headers (as the route and the middleware set them), body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class SharedAnswers:
    """The answers of one host's workers, under `root` (`<cache>/reponses`)."""

    def __init__(self, root: Path, max_bytes: int = MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._usage: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._swept: set[str] = set()
        self.token = uuid.uuid4().hex

    def key(self, stamp: str, codings: str, full_path: str) -> tuple[str, str]:
        """(folder, file name) of an answer: a digest of this app's token and the builds in
        service, and a digest of the accepted codings and the path with its query."""
        folder = hashlib.sha256(f"{self.token}\n{stamp}".encode()).hexdigest()[:24]
        name = hashlib.sha256(f"{codings}\n{full_path}".encode()).hexdigest()
        return folder, name

    def get(self, key: tuple[str, str]) -> Answer | None:
        try:
            raw = (self.root / key[0] / key[1]).read_bytes()
        except OSError:
            return None
        if len(raw) < _HEAD.size:
            return None
        (size,) = _HEAD.unpack_from(raw)
        try:
            head = json.loads(raw[_HEAD.size : _HEAD.size + size])
        except ValueError:
            return None
        return Answer(
            int(head["status"]), [tuple(h) for h in head["headers"]], raw[_HEAD.size + size :]
        )

    def put(self, key: tuple[str, str], answer: Answer) -> bool:
        """Write `answer` atomically; False when the folder is full or the disk refuses."""
        folder = self.root / key[0]
        if len(answer.body) < MIN_BYTES or self._used(folder) >= self.max_bytes:
            return False
        head = json.dumps({"status": answer.status, "headers": answer.headers}).encode("utf-8")
        tmp = folder / f".{key[1]}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(_HEAD.pack(len(head)) + head + answer.body)
            os.replace(tmp, folder / key[1])
        except OSError:
            tmp.unlink(missing_ok=True)
            return False
        with self._lock:
            when, used = self._usage.get(folder.name, (0.0, 0))
            self._usage[folder.name] = (when, used + len(answer.body) + len(head))
        self._sweep(folder.name)
        return True

    def _used(self, folder: Path) -> int:
        """Bytes in `folder`, counted again every USAGE_TTL_S (other workers write too)."""
        now = time.monotonic()
        with self._lock:
            when, used = self._usage.get(folder.name, (-USAGE_TTL_S, 0))
        if now - when < USAGE_TTL_S:
            return used
        try:
            used = sum(e.stat().st_size for e in os.scandir(folder) if e.is_file())
        except OSError:
            used = 0
        with self._lock:
            self._usage[folder.name] = (now, used)
        return used

    def _sweep(self, current: str) -> None:
        """Once per process and folder in service: remove the folders of older builds."""
        if current in self._swept:
            return
        self._swept.add(current)
        try:
            others = [p for p in self.root.iterdir() if p.is_dir() and p.name != current]
        except OSError:
            return
        for path in others:
            try:
                stale = time.time() - path.stat().st_mtime > STALE_S
            except OSError:
                continue
            if stale:
                shutil.rmtree(path, ignore_errors=True)
