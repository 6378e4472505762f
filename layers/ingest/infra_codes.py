"""The IRIS codes the project has a geography for (the sample IRIS of the build's sources).

IRIS rows of a Cafdata file are placed only on these codes; the others are reported.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

from geodata.sources import default_sources_dir

IRIS_SAMPLE = Path("iris") / "iris-lyon-metropole.geojson"


@cache
def _read(path: Path) -> frozenset[str]:
    from geodata.infra import IRIS_COLUMNS  # geopandas: imported only when IRIS rows come

    with path.open(encoding="utf-8") as fh:
        features = json.load(fh).get("features", [])
    codes = set()
    for feature in features:
        props = feature.get("properties") or {}
        code = next((props[c] for c in IRIS_COLUMNS["code"] if props.get(c)), None)
        if code is not None:
            codes.add(str(code).zfill(9))
    return frozenset(codes)


def sample_iris_codes(sources: Path | None = None) -> frozenset[str]:
    """IRIS codes of the sample geography (empty when its file is absent)."""
    root = sources or Path(os.environ.get("CAFCARTO_SOURCES") or default_sources_dir())
    path = root / IRIS_SAMPLE
    return _read(path) if path.is_file() else frozenset()
