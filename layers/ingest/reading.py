"""Bytes to a table of text cells, keeping each row's line number for error messages.

Encoding: UTF-16 when it has a BOM, else UTF-8 (with or without BOM) tried strictly, else
Windows-1252, else Latin-1. Separator: the most frequent of `;`, `,` and tab in the header line.
Blank lines and header lines repeated inside the file are skipped (and counted).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.ingest.errors import CafdataFormatError, at_line

SEPARATORS = (";", ",", "\t")
SEPARATOR_NAMES = {";": ";", ",": ",", "\t": "tabulation"}


@dataclass
class RawTable:
    header: list[str]  # column names as written (stripped)
    cells: pd.DataFrame  # one column per header name, text cells (object dtype)
    lines: np.ndarray  # 1-based line number of each row of `cells`
    header_line: int
    encoding: str
    separator: str
    repeated_headers: int
    blank_lines: int


def decode(raw: bytes) -> tuple[str, str]:
    """The text of a file and the name of the encoding used."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "UTF-16"
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            return raw[3:].decode("utf-8"), "UTF-8 (avec BOM)"
        except UnicodeDecodeError:
            raw = raw[3:]
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "Latin-1 (ISO-8859-1)"


def sniff_separator(header_line: str) -> str:
    counts = {sep: header_line.count(sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda s: counts[s])
    return best if counts[best] else ";"


def _canon(cells: list[str]) -> list[str]:
    return [c.strip().strip('"').strip().lower() for c in cells]


def read_table(text: str) -> RawTable:
    """Parse CSV text; raise `CafdataFormatError` (with the line) on any structural problem."""
    if not text.strip():
        raise CafdataFormatError("fichier vide")
    first = next(line for line in text.splitlines() if line.strip())
    sep = sniff_separator(first)
    reader = csv.reader(io.StringIO(text, newline=None), delimiter=sep, strict=True)

    header: list[str] | None = None
    header_key: list[str] = []
    header_line = 0
    width = 0
    records: list[list[str]] = []
    lines: list[int] = []
    repeated = blank = 0
    previous_end = 0
    try:
        for row in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not row or not any(cell.strip() for cell in row):
                blank += 1
                continue
            if header is None:
                header = [c.strip().lstrip("\ufeff").strip() for c in row]
                while header and header[-1] == "":
                    header.pop()
                header_key = _canon(header)
                header_line = start
                width = len(header)
                _check_header(header, header_key, start)
                continue
            if len(row) > width and not any(c.strip() for c in row[width:]):
                row = row[:width]  # trailing separators
            if len(row) != width:
                hint = " (ligne tronquée ?)" if len(row) < width else ""
                raise at_line(start, f"{len(row)} champs au lieu de {width}{hint}")
            if row[0].strip().lower() == header_key[0] and _canon(row) == header_key:
                repeated += 1
                continue
            records.append(row)
            lines.append(start)
    except csv.Error as exc:
        raise at_line(
            reader.line_num, f"structure CSV invalide (guillemets mal fermés ?) : {exc}"
        ) from exc
    assert header is not None
    if not records:
        raise CafdataFormatError(
            f"fichier vide : aucune ligne de données après l'en-tête (ligne {header_line})"
        )
    cells = pd.DataFrame(records, columns=header, dtype=object)
    return RawTable(
        header=header,
        cells=cells,
        lines=np.asarray(lines, dtype=np.int64),
        header_line=header_line,
        encoding="",
        separator=SEPARATOR_NAMES[sep],
        repeated_headers=repeated,
        blank_lines=blank,
    )


def _check_header(header: list[str], key: list[str], line: int) -> None:
    seen: set[str] = set()
    for name, canon in zip(header, key, strict=True):
        if not canon:
            raise at_line(line, "colonne sans nom dans l'en-tête")
        if canon in seen:
            raise at_line(line, f"colonne « {name} » en double dans l'en-tête")
        seen.add(canon)
