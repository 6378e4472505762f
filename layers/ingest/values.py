"""Text cells to numbers, vectorised (pyarrow compute); a bad cell is an error naming its line.

A blank cell is a value hidden by statistical secrecy (or missing): NaN with the secret flag,
never 0; the portal also writes an absent value `null` or `None` (JSON and Parquet exports read
as text). Decimal comma and spaces as thousand separators are accepted ("1 234,5"), and counts
serialised as floats ("37793.0").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from layers.ingest.errors import at_line
from layers.model import COUNT

# A spreadsheet formula: "=...", "@...", "+" or "-" followed by a letter (CSV injection).
FORMULA = r"^\s*(?:[=@]|[+\-]\s*[A-Za-z])"
_SPACES = r"[\s\x{00a0}\x{202f}]"
# Absent values as the portal's exports write them (compared in lower case).
NULL_WORDS = ["", "null", "none"]


def _arrow(text: pd.Series) -> pa.Array:
    array = pa.array(text, type=pa.string(), from_pandas=True)
    return array.fill_null("") if array.null_count else array


def _first(mask: pa.Array | np.ndarray) -> int:
    flags = (
        np.asarray(mask, dtype=bool)
        if isinstance(mask, np.ndarray)
        else mask.to_numpy(zero_copy_only=False)
    )
    return int(np.argmax(flags))


def check_formulas(cells: pd.DataFrame, lines: np.ndarray) -> None:
    """Refuse any cell (value or label) that a spreadsheet would run as a formula."""
    first: tuple[int, str, str] | None = None
    for column in cells.columns:
        text = _arrow(cells[column])
        hits = pc.match_substring_regex(text, FORMULA)
        if pc.any(hits).as_py():
            pos = _first(hits)
            if first is None or lines[pos] < first[0]:
                first = (int(lines[pos]), column, text[pos].as_py())
    if first:
        line, column, value = first
        raise at_line(
            line, f"formule de tableur « {value.strip()} » refusée dans la colonne {column}"
        )


def _clean(trimmed: pa.Array) -> pa.Array:
    """Remove inner spaces, then "1.234,5" -> "1234,5", then the decimal comma -> "."."""
    if not pc.any(pc.match_substring_regex(trimmed, r"[,\s\x{00a0}\x{202f}]")).as_py():
        return trimmed
    cleaned = pc.replace_substring_regex(trimmed, _SPACES, "")
    both = pc.and_(pc.match_substring(cleaned, "."), pc.match_substring(cleaned, ","))
    cleaned = pc.if_else(both, pc.replace_substring(cleaned, ".", ""), cleaned)
    return pc.replace_substring(cleaned, ",", ".")


def to_numbers(
    text: pd.Series, lines: np.ndarray, column: str, nature: str
) -> tuple[np.ndarray, np.ndarray]:
    """(values, secret) for one column of text cells; errors name the line and the column."""
    raw = _arrow(text)
    trimmed = pc.utf8_trim_whitespace(raw)
    blank_arrow = pc.is_in(pc.utf8_lower(trimmed), pa.array(NULL_WORDS))
    blank = blank_arrow.to_numpy(zero_copy_only=False)
    cleaned = pc.if_else(blank_arrow, "0", _clean(trimmed))
    try:
        numbers = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False).copy()
        bad = ~blank & ~np.isfinite(numbers)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        as_text = pd.Series(cleaned.to_numpy(zero_copy_only=False), dtype=object)
        numbers = pd.to_numeric(as_text, errors="coerce").to_numpy(dtype="float64", copy=True)
        bad = ~blank & ~np.isfinite(numbers)
    if bad.any():
        pos = _first(bad)
        raise at_line(
            int(lines[pos]),
            f"valeur « {raw[pos].as_py().strip()} » non numérique dans la colonne {column}",
        )
    if nature == COUNT:
        negative = ~blank & (numbers < 0)
        if negative.any():
            pos = _first(negative)
            raise at_line(
                int(lines[pos]),
                f"effectif négatif « {raw[pos].as_py().strip()} » dans la colonne {column}",
            )
    numbers[blank] = np.nan
    return numbers, blank
