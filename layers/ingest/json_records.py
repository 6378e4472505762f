"""The portal's JSON exports read into the same `RawTable` as its CSV export.

`exports/json` gives a list of records; the records API (`/records`) an object whose `results`
holds them. Every value becomes the text the CSV export would hold (null -> "", numbers as
written, nested values such as `geo_point_2d` as JSON text); records are numbered as the lines of
that CSV (header on line 1, record k on line k + 1), so that errors name the same line.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from layers.ingest.errors import CafdataFormatError
from layers.ingest.reading import RawTable, canonical_header, check_header

JSON_SEPARATOR = "JSON"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _records(text: str) -> list:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" (ligne {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise CafdataFormatError(f"fichier JSON illisible{where}") from exc
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        data = data["results"]
    elif isinstance(data, dict) and not any(isinstance(v, list) for v in data.values()):
        data = [data]  # one record (`/records/{id}`, or an excerpt)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise CafdataFormatError(
            "fichier JSON non reconnu : une liste d'enregistrements est attendue (export "
            "exports/json du portail, ou réponse de l'API records avec « results »)"
        )
    if not data:
        raise CafdataFormatError("fichier vide : aucun enregistrement dans le JSON")
    return data


def json_table(text: str) -> RawTable:
    """A JSON export of the portal as a table of text cells."""
    records = _records(text)
    keys = list(dict.fromkeys(k for r in records for k in r))
    header = [str(k).strip() for k in keys]
    check_header(header, canonical_header(header), 1)
    cells = pd.DataFrame(
        {
            h: pd.Series([_text(r.get(k)) for r in records], dtype="str")
            for h, k in zip(header, keys, strict=True)
        }
    )
    return RawTable(
        header=header,
        cells=cells,
        lines=np.arange(2, len(records) + 2, dtype=np.int64),
        header_line=1,
        encoding="",
        separator=JSON_SEPARATOR,
        repeated_headers=0,
        blank_lines=0,
    )
