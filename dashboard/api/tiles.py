"""Read vector tiles from a level's PMTiles archive (memory-mapped, opened once per process)."""

from __future__ import annotations

import mmap
from functools import lru_cache

from pmtiles.reader import Reader
from pmtiles.tile import Compression


@lru_cache(maxsize=32)
def _reader(path: str) -> tuple[Reader, bool]:
    # The file object stays open with its map: a new build gets a new path, hence a new reader.
    fh = open(path, "rb")  # noqa: SIM115
    data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    reader = Reader(lambda offset, length: data[offset : offset + length])
    gzipped = reader.header()["tile_compression"] == Compression.GZIP
    return reader, gzipped


# Every visitor asks for the same few national tiles; the PMTiles reader decodes its
# directories in Python on each call (~8 ms), so the bytes of recent tiles are kept (an
# archive is immutable: a new build has a new path). Tiles weigh a few kB to ~100 kB.
@lru_cache(maxsize=2048)
def read_tile(path: str, z: int, x: int, y: int) -> tuple[bytes | None, bool]:
    """The tile's bytes (None when empty) and whether they are gzip-compressed."""
    reader, gzipped = _reader(path)
    return reader.get(z, x, y), gzipped
