"""The imported facilities, accumulated: every file imported keeps its rows (a city's list beside
the national BPE), the same facility named by two sources is shown once, and re-importing a
file replaces that file's rows. Each import is a new build of `Settings.facilities_import`
published atomically (`geodata.cache`): an error leaves the facilities in service untouched.

A build holds `equipements_sources.parquet` (every row with its `source` and import `rang`)
and `equipements.parquet` (what is served: duplicates merged, `sources` naming them all).
"""

from __future__ import annotations

import json
import re
import time
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geodata import cache
from layers.catalogue import fold

FILE_NAME = "equipements.parquet"
SOURCES_NAME = "equipements_sources.parquet"
# Two sources' points this close, with similar names, are one facility (geocoding of the same
# address differs by a few tens of metres between a city's list and the BPE).
MERGE_METRES = 80.0
BPE_PREFIX = "BPE"
# A source that gives no name (the BPE for many facilities) is named « <type> (BPE) »: such a
# point is the same facility as another source's closer than this, whatever its name.
UNNAMED_SUFFIX = f" ({BPE_PREFIX})"
UNNAMED_METRES = 40.0
# Words every crèche's name may carry: not what tells two facilities apart.
_COMMON = re.compile(
    r"\b(creches?|micro|multi|accueil|halte|garderie|eaje|laep|rpe|ram|jardin|enfants?|"
    r"maison|petite|enfance|de|du|des|la|le|les|l|d|et|a|au|aux)\b"
)


def name_tokens(name: str) -> str:
    """« Crèche Les P'tits Loups » -> "p tits loups": the words that name this facility."""
    text = re.sub(r"[^a-z0-9]+", " ", fold(name))
    return " ".join(_COMMON.sub(" ", text).split())


def similar_names(a: str, b: str) -> bool:
    ta, tb = name_tokens(a), name_tokens(b)
    if not ta or not tb:
        return ta == tb  # two names made only of common words: equal or not
    if set(ta.split()) <= set(tb.split()) or set(tb.split()) <= set(ta.split()):
        return True
    return SequenceMatcher(None, ta, tb).ratio() >= 0.8


def _metres(table: pd.DataFrame) -> np.ndarray:
    lat0 = np.radians(table["lat"].to_numpy(float))
    return np.c_[table["lon"].to_numpy(float) * 111_320 * np.cos(lat0), table["lat"] * 110_540]


def merge_duplicates(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per facility: points of different sources within MERGE_METRES with similar names
    are merged; the kept row is that of a local source (more precise than the BPE: its kind,
    its places) imported last; `sources` lists every source of the facility."""
    rows = rows.reset_index(drop=True)
    parent = np.arange(len(rows))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    xy = _metres(rows)
    tree = shapely.STRtree(shapely.points(xy))
    left, right = tree.query(shapely.points(xy), predicate="dwithin", distance=MERGE_METRES)
    src, names = rows["source"].to_numpy(), rows["nom"].to_numpy()
    unnamed = rows["nom"].str.endswith(UNNAMED_SUFFIX).to_numpy()
    dist = np.hypot(*(xy[left] - xy[right]).T)
    # Nearest pairs first; a group never holds two rows of one source (an unnamed point
    # between two crèches of a city's list must not join them).
    members = {i: {src[i]} for i in range(len(rows))}
    for k in np.argsort(dist, kind="stable"):
        i, j = root(left[k]), root(right[k])
        if i == j or members[i] & members[j]:
            continue
        a, b = left[k], right[k]
        if similar_names(names[a], names[b]) or (
            dist[k] <= UNNAMED_METRES and (unnamed[a] or unnamed[b])
        ):
            parent[j] = i
            members[i] |= members.pop(j)
    group = np.array([root(i) for i in range(len(rows))])
    rank = rows["rang"].to_numpy() + np.where(
        rows["source"].str.startswith(BPE_PREFIX), 0, 1_000_000
    )
    order = np.lexsort((-rank, group))  # best row first within each group
    ranked = rows.iloc[order].assign(groupe=group[order])
    kept = ranked.drop_duplicates("groupe").set_index("groupe")
    kept["sources"] = kept["source"].astype(str)
    kept["places"] = kept["places"].astype("Float64")
    merged = ranked[ranked["groupe"].duplicated(keep=False)]  # only these need more than one
    if not merged.empty:
        by = merged.groupby("groupe", sort=False)
        kept.loc[by.groups.keys(), "sources"] = by["source"].agg(
            lambda s: " ; ".join(dict.fromkeys(s))
        )
        kept.loc[by.groups.keys(), "places"] = by["places"].first()  # first given, best first
    return kept.drop(columns=["source", "rang"]).reset_index(drop=True)


def _previous(root: Path) -> pd.DataFrame | None:
    folder = cache.active_dir(root)
    if folder is None:
        return None
    if (folder / SOURCES_NAME).is_file():
        return pd.read_parquet(folder / SOURCES_NAME)
    if (folder / FILE_NAME).is_file():  # an import made before sources were kept
        old = pd.read_parquet(folder / FILE_NAME)
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return old.assign(source=str(manifest.get("source", "import")), rang=0)
    return None


def _unique_ids(rows: pd.DataFrame) -> pd.Series:
    """Identifiers stay unique across sources: a repeated one gets its source's name."""
    ids = rows["id"].astype(str)
    clash = ids.duplicated(keep=False)
    return ids.where(~clash, rows["source"].astype(str) + ":" + ids)


def install_facilities(root: Path, table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Add (or replace) the rows of `source` beside the earlier imports, merge duplicates and
    publish the result as a new build of `root`, atomically. Returns the table served."""
    previous = _previous(root)
    rank = 0 if previous is None or previous.empty else int(previous["rang"].max()) + 1
    rows = table.assign(source=source, rang=rank)
    if previous is not None:
        rows = pd.concat([previous[previous["source"] != source], rows], ignore_index=True)
    rows["id"] = _unique_ids(rows)
    # Rows of an import made before arrondissements and approximate points were kept.
    rows["arm"] = rows.get("arm", pd.Series("", index=rows.index)).fillna("").astype(str)
    rows["approx"] = rows.get("approx", pd.Series(False, index=rows.index)).fillna(False)
    rows["approx"] = rows["approx"].astype(bool)
    served = merge_duplicates(rows)
    build = cache.new_build(root)
    build.mkdir(parents=True)
    rows.to_parquet(build / SOURCES_NAME, index=False)
    served.to_parquet(build / FILE_NAME, index=False)
    counts = rows["source"].value_counts().to_dict()
    (build / "manifest.json").write_text(
        json.dumps(
            {
                "source": source,
                "sources": counts,
                "equipements": len(served),
                "importe_le": time.strftime("%Y-%m-%dT%H:%M:%S"),
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    cache.finish_build(root, build)
    return served


def remove_facilities(root: Path) -> bool:
    """Back to the demonstration facilities: drop the `current` link (builds are kept)."""
    link = root / "current"
    if link.is_symlink():
        link.unlink()
        return True
    return False
