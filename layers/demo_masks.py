"""The hidden mask of each (period, count) of the demonstration store, kept as the secrecy jobs
return it: for each piece, the territories it was computed on, the positions of its cells and
their hidden flags. Read back over any period's territories, a territory no piece covers reading
hidden (a zone without that count stays secret in the values derived from it)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.publish import Territories

Piece = tuple[Territories, np.ndarray, np.ndarray]  # territories, positions, hidden


class HiddenMasks:
    """Masks by (period index, indicator); a rounded period has two pieces per count (the
    national levels, then the local levels rounded with their zones)."""

    def __init__(self) -> None:
        self._pieces: dict[tuple[int, str], list[Piece]] = {}
        self._maps: dict[tuple[int, int], tuple[Territories, Territories, np.ndarray]] = {}

    def add(self, key: tuple[int, str], terr: Territories, where: np.ndarray, hidden) -> None:
        self._pieces.setdefault(key, []).append((terr, where, np.asarray(hidden, dtype=bool)))

    def __contains__(self, key: tuple[int, str]) -> bool:
        return key in self._pieces

    def over(self, key: tuple[int, str], terr: Territories) -> np.ndarray | None:
        """The hidden flag of every territory of `terr` (True where no piece covers it), None
        when no job computed this count at this period."""
        pieces = self._pieces.get(key)
        if pieces is None:
            return None
        out = np.ones(len(terr), dtype=bool)
        for src, where, hidden in pieces:
            pos = self._positions(src, terr)[where]
            keep = pos >= 0
            out[pos[keep]] = hidden[keep]
        return out

    def _positions(self, src: Territories, dst: Territories) -> np.ndarray:
        """Position in `dst` of each territory of `src` (by level and code), -1 if absent."""
        if src is dst:
            return np.arange(len(src))
        key = (id(src), id(dst))
        if key not in self._maps:  # the objects are kept with the map: their ids stay theirs
            index = pd.MultiIndex.from_arrays([dst.level, dst.code])
            pos = index.get_indexer(pd.MultiIndex.from_arrays([src.level, src.code]))
            self._maps[key] = (src, dst, pos)
        return self._maps[key][2]
