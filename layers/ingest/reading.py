"""Bytes to a table of text cells, keeping each row's line number for error messages.

Encoding: UTF-16 when it has a BOM, else UTF-8 (with or without BOM) tried strictly, else
Windows-1252, else Latin-1. Separator: the most frequent of `;`, `,` and tab in the header line.
Blank lines and header lines repeated inside the file are skipped (and counted). A JSON export
of the portal (a list of records) is read by `layers/ingest/json_records.py` into the same table.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from layers.ingest.errors import CafdataFormatError, at_line

SEPARATORS = (";", ",", "\t")
SEPARATOR_NAMES = {";": ";", ",": ",", "\t": "tabulation"}


@dataclass
class RawTable:
    header: list[str]  # column names as written (stripped)
    cells: pd.DataFrame  # one column per header name, text cells (pyarrow-backed str)
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


def canonical_header(cells: list[str]) -> list[str]:
    return [c.strip().strip('"').strip().lower() for c in cells]


def read_table(text: str) -> RawTable:
    """Parse CSV text; raise `CafdataFormatError` (with the line) on any structural problem."""
    if not text.strip():
        raise CafdataFormatError("fichier vide")
    if text.lstrip("\ufeff \t\r\n")[:1] in ("[", "{"):
        from layers.ingest.json_records import json_table  # it imports this module

        return json_table(text.lstrip("\ufeff"))
    first = next(line for line in text.splitlines() if line.strip())
    sep = sniff_separator(first)
    fast = _fast_table(text, sep)
    return fast if fast is not None else _careful_table(text, sep)


def _fast_table(text: str, sep: str) -> RawTable | None:
    """Vectorised reading of the common case: no quotes, every line with the same field count.

    Returns None whenever the careful reader is needed (quotes, ragged lines, lone CR...), which
    then either reads the file or raises the error naming the line.
    """
    if '"' in text:
        return None
    text = text.replace("\r\n", "\n")
    if "\r" in text:
        return None
    physical = text.split("\n")
    if physical and physical[-1] == "":
        physical.pop()
    lines = pa.array(physical, type=pa.string())
    fields = pc.add(pc.count_substring(lines, sep), 1).to_numpy(zero_copy_only=False)
    blank = pc.equal(pc.utf8_trim_whitespace(pc.replace_substring(lines, sep, "")), "").to_numpy(
        zero_copy_only=False
    )
    filled = np.flatnonzero(~blank)
    head = int(filled[0])
    width_raw = int(fields[head])
    header = [c.strip().lstrip("\ufeff").strip() for c in physical[head].split(sep)]
    while header and header[-1] == "":
        header.pop()
    check_header(header, canonical_header(header), head + 1)
    data = filled[1:]
    if len(data) == 0 or (fields[data] != width_raw).any():
        return None
    header_key = canonical_header(header)
    rows = lines.take(pa.array(data))
    firsts = pc.utf8_lower(
        pc.utf8_trim_whitespace(pc.utf8_slice_codeunits(rows, 0, len(physical[head])))
    )
    maybe = np.flatnonzero(pc.starts_with(firsts, header_key[0]).to_numpy(zero_copy_only=False))
    repeated = [
        i
        for i in maybe
        if canonical_header(physical[data[i]].split(sep))[: len(header)] == header_key
    ]
    keep = np.ones(len(data), dtype=bool)
    keep[repeated] = False
    if not keep.any():
        return None
    data = data[keep]
    rows = lines.take(pa.array(data))
    flat = pc.list_flatten(pc.split_pattern(rows, sep))
    n = len(data)
    picks = np.arange(n, dtype=np.int64) * width_raw
    columns = {}
    for j, name in enumerate(header):
        columns[name] = pd.Series(flat.take(pa.array(picks + j)), dtype="str")
    if width_raw > len(header):
        extra = flat.take(pa.array((picks[:, None] + np.arange(len(header), width_raw)).ravel()))
        if pc.any(pc.not_equal(pc.utf8_trim_whitespace(extra), "")).as_py():
            return None
    return RawTable(
        header=header,
        cells=pd.DataFrame(columns),
        lines=(data + 1).astype(np.int64),
        header_line=head + 1,
        encoding="",
        separator=SEPARATOR_NAMES[sep],
        repeated_headers=len(repeated),
        blank_lines=int(blank.sum()),
    )


def _careful_table(text: str, sep: str) -> RawTable:
    """Row-by-row reading with the csv module: quotes, ragged lines and precise errors."""
    reader = csv.reader(io.StringIO(text, newline=None), delimiter=sep, strict=True)

    header: list[str] | None = None
    header_key: list[str] = []
    first_key = ""
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
            if not "".join(row).strip():
                blank += 1
                continue
            if header is None:
                header = [c.strip().lstrip("\ufeff").strip() for c in row]
                while header and header[-1] == "":
                    header.pop()
                header_key = canonical_header(header)
                first_key = header_key[0]
                header_line = start
                width = len(header)
                check_header(header, header_key, start)
                continue
            if len(row) != width:
                if len(row) > width and not "".join(row[width:]).strip():
                    row = row[:width]  # trailing separators
                else:
                    hint = " (ligne tronquée ?)" if len(row) < width else ""
                    raise at_line(start, f"{len(row)} champs au lieu de {width}{hint}")
            if row[0].strip().lower() == first_key and canonical_header(row) == header_key:
                repeated += 1
                continue
            records.append(row)
            lines.append(start)
    except csv.Error as exc:
        raise at_line(
            previous_end + 1,
            f"structure CSV invalide, guillemet ouvert jamais refermé ? ({exc})",
        ) from exc
    assert header is not None
    if not records:
        raise CafdataFormatError(
            f"fichier vide : aucune ligne de données après l'en-tête (ligne {header_line})",
            header_line,
        )
    columns = list(zip(*records, strict=True))
    cells = pd.DataFrame(
        {
            name: pd.Series(pa.array(column, type=pa.string()), dtype="str")
            for name, column in zip(header, columns, strict=True)
        }
    )
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


def check_header(header: list[str], key: list[str], line: int) -> None:
    seen: set[str] = set()
    for name, canon in zip(header, key, strict=True):
        if not canon:
            raise at_line(line, "colonne sans nom dans l'en-tête")
        if canon in seen:
            raise at_line(line, f"colonne « {name} » en double dans l'en-tête")
        seen.add(canon)
