"""A facilities file as people have it, read into one table of text cells: CSV (`;` or `,`,
UTF-8 with or without BOM, Windows-1252), GeoJSON points, and the exports of Opendatasoft
portals (JSON of the old API with `fields` and `geometry`, JSON v2.1 flat records, GeoJSON,
CSV with `geo_point_2d` written "lat, lon").

Coordinates carried by a geometry or a `geo_point_2d` become the text columns `geometry_lon`,
`geometry_lat`, `geo_point_2d_lon`, `geo_point_2d_lat`, which `layers/facility_columns.py`
recognises after any explicit longitude/latitude column.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.facility_columns import header_key
from layers.ingest.errors import CafdataFormatError
from layers.ingest.reading import decode, read_table

MAX_BYTES = 50_000_000
MAX_ROWS = 200_000
# Opendatasoft's point column, by its field name or its label (`use_labels=true`).
GEO_POINT_KEYS = ("geo_point_2d", "geo_point", "geopoint", "coordonnees_gps", "coordonnees")


@dataclass(frozen=True)
class SourceTable:
    header: list[str]
    cells: pd.DataFrame  # text cells ('' where empty), one column per header name
    lines: np.ndarray  # line of a CSV row, rank of a JSON record (1-based)
    unit: str  # « ligne » (CSV) or « objet » (JSON): how an error names a row
    form: str  # what was read, for the report


def read_source(raw: bytes) -> SourceTable:
    """Read the bytes of a facilities file; `CafdataFormatError` (French) when unreadable."""
    if len(raw) > MAX_BYTES:
        raise CafdataFormatError(
            f"fichier trop volumineux ({len(raw) / 1e6:.1f} Mo, au plus {MAX_BYTES // 10**6} Mo)"
        )
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CafdataFormatError("fichier binaire : un CSV, un JSON ou un GeoJSON est attendu")
    text, encoding = decode(raw)
    if not text.strip("\ufeff \t\r\n"):
        raise CafdataFormatError("fichier vide")
    if text.lstrip("\ufeff \t\r\n")[:1] in ("[", "{"):
        table = _json_table(text.lstrip("\ufeff"))
    else:
        raw_table = read_table(text)
        cells = raw_table.cells.fillna("").astype(str)
        sep = {";": "« ; »", ",": "« , »"}.get(raw_table.separator, "tabulation")
        table = SourceTable(
            list(raw_table.header),
            cells,
            np.asarray(raw_table.lines),
            "ligne",
            f"CSV (séparateur {sep}, {encoding})",
        )
        table = _split_geo_point(table)
    if len(table.cells) == 0:
        raise CafdataFormatError("fichier vide : aucun équipement après l'en-tête")
    if len(table.cells) > MAX_ROWS:
        raise CafdataFormatError(f"{len(table.cells)} lignes : au plus {MAX_ROWS} équipements")
    return table


def _split_geo_point(table: SourceTable) -> SourceTable:
    """An Opendatasoft CSV's "lat, lon" point column as two columns."""
    column = next((h for h in table.header if header_key(h) in GEO_POINT_KEYS), None)
    if column is None:
        return table
    parts = table.cells[column].str.split(",", n=1, expand=True).reindex(columns=[0, 1])
    cells = table.cells.assign(
        geo_point_2d_lat=parts[0].fillna("").str.strip(),
        geo_point_2d_lon=parts[1].fillna("").str.strip(),
    )
    header = [*table.header, "geo_point_2d_lat", "geo_point_2d_lon"]
    return SourceTable(header, cells, table.lines, table.unit, table.form)


def _json_table(text: str) -> SourceTable:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CafdataFormatError(
            f"JSON mal formé : {exc.msg} (ligne {exc.lineno}, colonne {exc.colno})"
        ) from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        items, form = doc.get("features"), "GeoJSON"
    elif isinstance(doc, dict) and isinstance(doc.get("results"), list):
        items, form = doc["results"], "JSON Opendatasoft (API v2.1)"
    elif isinstance(doc, dict) and isinstance(doc.get("records"), list):  # records/1.0/search
        items, form = doc["records"], "JSON Opendatasoft"
    else:
        items, form = doc, "JSON"
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise CafdataFormatError(
            "JSON non reconnu : une FeatureCollection GeoJSON ou une liste d'objets est attendue"
        )
    records = [_flat_record(item) for item in items]
    if items and "fields" in items[0]:
        form = "JSON Opendatasoft (ancienne API, « fields »)"
    header = list(dict.fromkeys(k for r in records for k in r))
    cells = pd.DataFrame.from_records(records, columns=header).fillna("").astype(str)
    return SourceTable(header, cells, np.arange(1, len(records) + 1), "objet", form)


def _flat_record(item: dict) -> dict[str, str]:
    """One GeoJSON feature, old-API record (`fields`, `geometry`) or flat record, as text."""
    if "properties" in item or item.get("type") == "Feature":
        props = item.get("properties") or {}
    elif isinstance(item.get("fields"), dict):
        props = item["fields"]
    else:
        props = {k: v for k, v in item.items() if k != "geometry"}
    out: dict[str, str] = {}
    for key, value in props.items():
        if header_key(key) in GEO_POINT_KEYS:
            out.update(_geo_point(value))
        elif not isinstance(value, dict | list):
            out[key] = "" if value is None else str(value)
    geometry = item.get("geometry")
    if isinstance(geometry, dict):
        coords = geometry.get("coordinates")
        if geometry.get("type") == "MultiPoint" and coords:
            coords = coords[0]
        if geometry.get("type") in ("Point", "MultiPoint") and _pair(coords):
            out["geometry_lon"], out["geometry_lat"] = str(coords[0]), str(coords[1])
    return out


def _pair(value: object) -> bool:
    return isinstance(value, list | tuple) and len(value) >= 2


def _geo_point(value: object) -> dict[str, str]:
    """Opendatasoft's point: {"lon", "lat"} (v2.1) or [lat, lon] (old API)."""
    if isinstance(value, dict) and "lon" in value and "lat" in value:
        return {"geo_point_2d_lon": str(value["lon"]), "geo_point_2d_lat": str(value["lat"])}
    if _pair(value):
        return {"geo_point_2d_lon": str(value[1]), "geo_point_2d_lat": str(value[0])}
    if isinstance(value, str) and "," in value:
        lat, lon = value.split(",", 1)
        return {"geo_point_2d_lon": lon.strip(), "geo_point_2d_lat": lat.strip()}
    return {}
