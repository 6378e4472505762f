"""The real store: Cafdata files and synced portal datasets, accumulated in one store.

Every publication (`cafcarto import`, `cafcarto sync`) reads the store in service, replaces the
(indicator, level, period) series each new result carries (values and provenance alike), adds
the derived values (`layers/real_derived.py`), and writes a new build that is put in service
only when complete (`geodata/cache.py`): the previous store keeps serving until then, and for
good when anything fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from geodata import cache
from layers.ingest.report import ROW_COLUMNS, ImportReport, ImportResult
from layers.provenance import PROVENANCE_COLUMNS, PROVENANCE_FILE, empty_provenance
from layers.real_derived import derived_values
from layers.store import VALUES_FILE, write_store

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


def _in_service(current: Path | None) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Rows, provenance and sources of the store in service (empty when there is none)."""
    if current is None:
        return pd.DataFrame(columns=ROW_COLUMNS), empty_provenance(), []
    rows = pd.read_parquet(current / VALUES_FILE)
    for col in ("indicateur", "niveau", "periode", "statut"):
        rows[col] = rows[col].astype(str)
    path = current / PROVENANCE_FILE
    provenance = pd.read_parquet(path) if path.is_file() else empty_provenance()
    return rows, provenance, list(cache.read_manifest(current).get("sources", []))


def _drop(old: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """`old` without the series (indicator, level, period) listed in `keys`."""
    if not len(old) or not len(keys):
        return old
    found = old[SERIES_KEY].merge(keys, on=SERIES_KEY, how="left", indicator=True)["_merge"]
    return old[found.eq("left_only").to_numpy()]


def merge_results(
    rows: pd.DataFrame, provenance: pd.DataFrame, results: Sequence[ImportResult]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each result in turn replaces the series it carries, values and provenance (a later
    result wins); a replaced series keeps no stale provenance even when the new one is unknown."""
    columns = list(PROVENANCE_COLUMNS)
    for result in results:
        new_rows = result.rows[ROW_COLUMNS].astype(
            {"indicateur": str, "niveau": str, "periode": str, "statut": str}
        )
        keys = new_rows[SERIES_KEY].drop_duplicates()
        rows = pd.concat([_drop(rows[ROW_COLUMNS], keys), new_rows], ignore_index=True)
        provenance = pd.concat(
            [_drop(provenance[columns], keys), result.provenance[columns]], ignore_index=True
        )
    return rows, provenance


def publish_real(
    root: Path,
    results: Sequence[ImportResult],
    sources: Sequence[str],
    portal_meta: dict | None = None,
) -> Path:
    """Merge `results` into the real store at `root` and put the new build in service.

    `sources` (file names or dataset ids) are added to the manifest's list; `portal_meta`
    (`{"portail": url, "jeux": {id: {...}}}`) is merged into `portail.json`, dataset by dataset.
    Returns the new build folder; raises (and leaves the store in service) on any error."""
    current = cache.active_dir(root)
    rows, provenance, old_sources = _in_service(current)
    rows, provenance = merge_results(rows, provenance, results)
    rows, provenance = derived_values(rows, provenance)
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
    write_store(rows, build, meta, provenance)
    (build / PORTAL_FILE).write_text(json.dumps(portal, ensure_ascii=False, indent=1))
    return cache.finish_build(root, build)


def import_rows(
    root: Path, new_rows: pd.DataFrame, source: str, provenance: pd.DataFrame | None = None
) -> Path:
    """Merge one imported file's rows into the real store, all or nothing: the series it
    carries (indicator, level, period) replace those already there."""
    result = ImportResult(
        rows=new_rows,
        report=ImportReport(),
        provenance=empty_provenance() if provenance is None else provenance,
    )
    return publish_real(root, [result], [source])
