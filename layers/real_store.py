"""The real store: Cafdata files and synced portal datasets, accumulated in one store.

Every publication (`cafcarto import`, `cafcarto sync`) reads the store in service, replaces the
(indicator, level, period) series each new result carries (values and provenance alike), hides
what statistical secrecy requires (`layers/real_secrecy.py`), adds the derived values
(`layers/real_derived.py`), and writes a new build that is put in service only when complete
(`geodata/cache.py`): the previous store keeps serving until then, and for good when anything
fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from geodata import cache
from geodata.cog import Cog
from layers.config import Settings
from layers.ingest.report import ROW_COLUMNS, ImportResult
from layers.memory import release
from layers.progress import counting
from layers.provenance import PROVENANCE_COLUMNS, PROVENANCE_FILE, empty_provenance
from layers.real_derived import derived_values, in_series
from layers.real_secrecy import protect_real
from layers.store import VALUES_FILE, StoreError, write_store

PORTAL_FILE = "portail.json"
SERIES_KEY = ["indicateur", "niveau", "periode"]


def read_portal_meta(folder: Path | None) -> dict:
    """The `portail.json` of a store folder (`{"jeux": {}}` when absent)."""
    path = None if folder is None else folder / PORTAL_FILE
    if path is None or not path.is_file():
        return {"jeux": {}}
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta.setdefault("jeux", {})
    return meta


def compact(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with their text columns as categories (a few bytes a row instead of tens): a sync
    holds some 6 million rows between parsing and publication."""
    rows = rows[ROW_COLUMNS]
    return rows.astype({c: "category" for c in ROW_COLUMNS if c != "valeur"}).astype(
        {"valeur": "float64"}
    )


def _concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Compact frames end to end, their categories united (a plain concat would give text)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return compact(pd.DataFrame({c: pd.Series(dtype=object) for c in ROW_COLUMNS}))
    columns = {
        c: union_categoricals([f[c] for f in frames], sort_categories=True)
        for c in ROW_COLUMNS
        if c != "valeur"
    }
    columns["valeur"] = np.concatenate([f["valeur"].to_numpy(dtype=float) for f in frames])
    return pd.DataFrame(columns)[ROW_COLUMNS]


def _in_service(current: Path | None) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Rows, provenance and sources of the store in service (empty when there is none)."""
    if current is None:
        return _concat([]), empty_provenance(), []
    # codes read as a dictionary: as text, 5 million of them took 110 MB more (categories are
    # sorted when merged)
    rows = compact(pd.read_parquet(current / VALUES_FILE, read_dictionary=["code"]))
    path = current / PROVENANCE_FILE
    provenance = pd.read_parquet(path) if path.is_file() else empty_provenance()
    return rows, provenance, list(cache.read_manifest(current).get("sources", []))


def merge_results(
    rows: pd.DataFrame,
    provenance: pd.DataFrame,
    results: Sequence[ImportResult],
    bars: TextIO | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The results replace the series they carry, values and provenance (a later result wins
    over an earlier one); a replaced series keeps no stale provenance even when the new one is
    unknown. One concatenation in all: the store is not copied once per result. `bars`: where
    the progress bar goes (each result counted twice: compacted, then cut)."""
    columns = list(PROVENANCE_COLUMNS)
    with counting("fusion des jeux", 2 * len(results), bars, unit="étapes") as advance:
        new = []
        for result in results:
            new.append(compact(result.rows))
            advance(1)
        keys = [frame[SERIES_KEY].drop_duplicates().astype(str) for frame in new]
        later = [_union(keys[i + 1 :]) for i in range(len(keys))]
        kept = [_without(rows, _union(keys))]
        for frame, after in zip(new, later, strict=True):
            kept.append(_without(frame, after))
            advance(1)
        rows = _concat(kept)
    parts = [_without(provenance[columns], _union(keys))]
    for result, after in zip(results, later, strict=True):
        parts.append(_without(result.provenance[columns], after))
    return rows, pd.concat(parts, ignore_index=True)


def _without(frame: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """`frame` without the series in `keys` (itself, not a copy, when it has none of them)."""
    stale = in_series(frame, keys)
    return frame[~stale] if stale.any() else frame


def _union(keys: Sequence[pd.DataFrame]) -> pd.DataFrame:
    if not keys:
        return pd.DataFrame(columns=SERIES_KEY)
    return pd.concat(keys, ignore_index=True).drop_duplicates()


def publish_real(
    root: Path,
    results: Iterable[ImportResult],
    sources: Sequence[str],
    portal_meta: dict | None = None,
    *,
    cog: Cog,
    threshold: int = 5,
    min_households: int | None = None,
    log: Callable[[str], None] | None = None,
    bars: TextIO | None = None,
) -> Path:
    """Merge `results` into the real store at `root` and put the new build in service.

    `sources` (file names or dataset ids) are added to the manifest's list; `portal_meta`
    (`{"portail": url, "jeux": {id: {...}}}`) is merged into `portail.json`, dataset by dataset.
    The merged rows go through the secrecy pass (`protect_real`, counts under `threshold` of
    exact files and what gives them back, IRIS and QPV of fewer than `min_households`
    allocataires) before anything is derived or written; `log` gets its French report and
    `bars` the progress bars of its long steps (none without). Returns the new build folder;
    raises (and leaves the store in service) on any error, or when a hidden cell could not be
    protected."""
    current = cache.active_dir(root)
    rows, provenance, old_sources = _in_service(current)
    results = list(results)  # a generator hands them over: freed once merged
    rows, provenance = merge_results(rows, provenance, results, bars)
    del results
    release()  # the parsed results' pages
    # Secrecy runs on the merged store: a France file and a département file of two datasets
    # form one table; on cells already protected it hides nothing more.
    if min_households is None:  # the setting CAFCARTO_SEUIL_INFRA (callers may pass it)
        min_households = Settings.from_env().infra_min_households
    rows, report = protect_real(
        rows, provenance, cog, threshold=threshold, min_households=min_households, bars=bars
    )
    release()  # the secrecy's frames: their pages back before the derived values and writing
    if log is not None:
        log(report.resume())
    if report.non_proteges:
        raise StoreError(
            f"secret statistique : {report.non_proteges} cellule(s) masquée(s) resteraient "
            "déductibles : entrepôt non publié (signalez ces fichiers)"
        )
    rows, provenance = derived_values(rows, provenance, bars=bars)
    release()
    portal = read_portal_meta(current)
    if portal_meta:
        portal["jeux"].update(portal_meta.get("jeux", {}))
        if portal_meta.get("portail"):
            portal["portail"] = portal_meta["portail"]
    merged_sources = list(dict.fromkeys([*old_sources, *sources]))
    build = cache.new_build(root)
    meta = {
        "mode": "reel",
        "sources": merged_sources,
        "series": int(rows["indicateur"].nunique()),
        "construit_le": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    write_store(rows, build, meta, provenance, bars=bars)
    (build / PORTAL_FILE).write_text(json.dumps(portal, ensure_ascii=False, indent=1))
    return cache.finish_build(root, build)


def handed_over(results: list[ImportResult]) -> Iterator[ImportResult]:
    """The results, each dropped from `results` as it is taken: passed to `publish_real`, they
    are freed once merged instead of living beside the merged store until it is written."""
    while results:
        yield results.pop(0)
