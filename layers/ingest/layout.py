"""The role of each column of a long-format Cafdata file: keys (finest level and the coarser
levels a row also names), labels, dates, breakdown dimensions, values, and extra columns set aside.

A row's level is its finest key: IRIS (`numcomdo` + `numirisd`), QPV (a QPV code, or
`numcomdo` + `nomqpv` in the 2024 geography), commune, EPCI, Caf, département, région, else
France. Coarser keys on the same row (`numepci`, `numdep` of a communal file) are attributes,
except for the value columns whose name carries their level (`TXCOUVGLO_DEP_2014`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geodata.cog import normalise_commune_code
from layers.ingest import columns as cols
from layers.ingest.reading import RawTable
from layers.ingest.values import NULL_WORDS

IRIS_COLUMNS = ("numirisd", "code_iris", "iris")
QPV_NAME = "nomqpv"
# A QPV of the 2024 geography named by its commune and name (no code in the file).
QPV_NAME_PREFIX = "QPV2024|"
# A text column with more distinct values than this is not a breakdown dimension.
MAX_DIMENSION_VALUES = 120


@dataclass
class Layout:
    level: str  # level of the rows (their finest key)
    codes: pd.Series  # raw code of each row at that level
    level_codes: dict[str, pd.Series]  # raw codes of the coarser levels the rows name
    dimensions: list[str] = field(default_factory=list)  # file column names
    values: list[str] = field(default_factory=list)  # file column names
    set_aside: dict[str, str] = field(default_factory=dict)  # column -> French reason
    key_columns: list[str] = field(default_factory=list)


def _present(names: list[str], aliases: tuple[str, ...]) -> str | None:
    return next((a for a in aliases if a in names), None)


def _column(table: RawTable, names: list[str], name: str) -> pd.Series:
    return table.cells[table.header[names.index(name)]]


def _infra_codes(table: RawTable, names: list[str]) -> tuple[str, pd.Series, list[str]] | None:
    """IRIS or QPV keys, built from their columns, or None when the file has neither."""
    commune = _present(names, cols.KEY_COLUMNS["commune"])
    iris = _present(names, IRIS_COLUMNS)
    if iris and commune:
        part = _column(table, names, iris).str.strip()
        town = _column(table, names, commune).map(normalise_commune_code)
        short = part.str.len() <= 4
        code = np.where(short, town + part.str.zfill(4), part)
        code = np.where(part == "", "", code)
        return "iris", pd.Series(code, dtype=object), [commune, iris]
    qpv = _present(names, cols.KEY_COLUMNS["qpv"])
    if qpv:
        return "qpv", _column(table, names, qpv), [qpv]
    if QPV_NAME in names and commune:
        name = _column(table, names, QPV_NAME).str.strip()
        town = _column(table, names, commune).str.strip()
        code = QPV_NAME_PREFIX + town + "|" + name
        return "qpv", pd.Series(np.where(name == "", "", code), dtype=object), [commune, QPV_NAME]
    return None


def find_keys(table: RawTable, names: list[str]) -> tuple[str, pd.Series, dict, list[str]]:
    """(level, codes, coarser level -> codes, key columns) of a long-format file."""
    found: dict[str, pd.Series] = {}
    keys: list[str] = []
    for level, aliases in cols.KEY_COLUMNS.items():
        alias = _present(names, aliases)
        if alias and level != "qpv":
            found[level] = _column(table, names, alias)
            keys.append(alias)
    infra = _infra_codes(table, names)
    if infra:
        level, codes, used = infra
        return level, codes, found, keys + used
    if found:
        level = next(iter(found))
        return level, found.pop(level), found, keys
    return "france", pd.Series(["FR"] * len(table.cells), dtype=object), {}, keys


def _is_numeric(text: pd.Series) -> bool:
    """Every non-blank cell reads as a number (decimal comma allowed)."""
    array = pc.utf8_trim_whitespace(pa.array(text, type=pa.string(), from_pandas=True))
    array = pc.fill_null(array, "")
    filled = pc.filter(array, pc.invert(pc.is_in(pc.utf8_lower(array), pa.array(NULL_WORDS))))
    filled = pc.replace_substring(pc.replace_substring_regex(filled, r"\s", ""), ",", ".")
    try:
        pc.cast(filled, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _splits_rows(row_key: pd.Series, text: pd.Series) -> bool:
    """Whether a text column tells apart rows that share a territory and a date: the mark of a
    breakdown (a free comment on rows that are already one per territory is not)."""
    repeated = int(row_key.duplicated().sum())
    return repeated > 0 and int((row_key + "|" + text).duplicated().sum()) < repeated


def _text_role(table: RawTable, source: str, name: str, row_key: pd.Series) -> tuple[str, str]:
    """("dimension" | "aside", reason) of a column whose name is not a known value field: a
    portal dimension name, or a bounded column that splits the rows of one territory and date
    (a breakdown coded in numbers too); else set aside (a comment, an object id)."""
    stripped = table.cells[source].astype(str).str.strip()
    distinct = stripped.nunique()
    bounded = distinct <= MAX_DIMENSION_VALUES
    if bounded and (cols.DIMENSION_NAMES.match(name) or _splits_rows(row_key, stripped)):
        return "dimension", ""
    if _is_numeric(stripped):
        return "aside", "colonne numérique sans signification connue"
    return "aside", f"colonne de texte inconnue ({distinct} valeurs distinctes)"


def classify(table: RawTable, names: list[str], not_values: set[str], date: str | None) -> Layout:
    """Keys, then every other column: label/date (in `not_values`), value, dimension or aside;
    `date` is the file's date (or year) column."""
    level, codes, coarser, keys = find_keys(table, names)
    layout = Layout(level, codes, coarser, key_columns=keys)
    row_key = codes.astype(str) + "|" + (table.cells[date].astype(str) if date else "")
    for source, name in zip(table.header, names, strict=True):
        if name in not_values or name in keys or cols.is_label(name):
            continue
        if cols.is_value_name(name) or (
            cols.may_be_values(name) and _is_numeric(table.cells[source])
        ):
            layout.values.append(source)
            continue
        role, reason = _text_role(table, source, name, row_key)
        if role == "dimension":
            layout.dimensions.append(source)
        else:
            layout.set_aside[source] = reason
    return layout
