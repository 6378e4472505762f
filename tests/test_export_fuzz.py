"""Formula injection in exports: any text cell a spreadsheet would run comes out inert.

Property test over random strings that start with = + - @ tab or CR, as a territory name and
as an indicator title, through the CSV and the Excel export.
"""

from __future__ import annotations

import csv
import io

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from layers.export_tables import (
    EXPORT_COLUMNS,
    FORMULA_PREFIXES,
    ExportMeta,
    export_rows,
    neutralise,
    to_csv,
    to_xlsx,
)

TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30)
# A control character first: Excel cannot hold it, and once removed a formula could appear.
CONTROL = st.sampled_from(["", "\x01", "\x08", "\x1f", "\x0b\x0c"])
FORMULAS = st.builds(
    lambda c, p, rest: c + p + rest, CONTROL, st.sampled_from(FORMULA_PREFIXES), TEXT
)
PLAIN = TEXT.filter(lambda s: not s.startswith(FORMULA_PREFIXES))


def _export(name: str, title: str) -> tuple[bytes, bytes]:
    meta = ExportMeta(
        indicator="allocataires",
        title=title,
        level="commune",
        period="2024-12",
        unit="foyers",
        source=title,
        definition=title,
        notice=title,
    )
    cells = pd.DataFrame(
        {
            "code": ["69123", "2A004"],
            "nom": [name, "Ajaccio"],
            "valeur": [12.0, None],
            "statut": ["publie", "secret"],
        }
    )
    rows = export_rows(cells, meta)
    return to_csv(rows, meta), to_xlsx(rows, meta)


def _csv_cells(body: bytes) -> list[dict]:
    text = body.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def _inert(value: object) -> bool:
    return not (isinstance(value, str) and value.startswith(FORMULA_PREFIXES))


@given(name=FORMULAS, title=FORMULAS)
@settings(max_examples=60, deadline=None, derandomize=True, database=None)
def test_formula_cells_come_out_inert(name: str, title: str) -> None:
    csv_body, xlsx_body = _export(name, title)
    rows = _csv_cells(csv_body)
    if name.startswith(FORMULA_PREFIXES):
        assert rows[0]["nom"] == "'" + name
    assert all(_inert(v) for r in rows for k, v in r.items() if k != "valeur")
    wb = load_workbook(io.BytesIO(xlsx_body))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"formule dans {ws.title}!{cell.coordinate}"
                assert _inert(cell.value), f"{ws.title}!{cell.coordinate} : {cell.value!r}"
    assert str(wb["donnees"]["B2"].value).startswith("'")


@given(name=PLAIN)
@settings(max_examples=30, deadline=None, derandomize=True, database=None)
def test_plain_names_are_left_alone(name: str) -> None:
    csv_body, _ = _export(name, "Foyers allocataires")
    assert _csv_cells(csv_body)[0]["nom"] == name


def _csv_writer_body(rows: pd.DataFrame, meta: ExportMeta) -> bytes:
    """The reference: csv.writer with QUOTE_MINIMAL over the same neutralised cells."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(EXPORT_COLUMNS)
    for rec in rows[list(EXPORT_COLUMNS)].itertuples(index=False, name=None):
        out = []
        for col, cell in zip(EXPORT_COLUMNS, rec, strict=True):
            if col == "valeur":
                out.append("" if cell is None else f"{float(cell):.{meta.decimals}f}")
            else:
                out.append(neutralise("" if cell is None else str(cell)))
        writer.writerow(
            [
                v.replace(".", ",") if c == "valeur" else v
                for c, v in zip(EXPORT_COLUMNS, out, strict=True)
            ]
        )
    return buf.getvalue().encode("utf-8")


# Every character that makes a field quoted or a text neutralised (formula starts included).
QUOTABLE = st.text(
    st.sampled_from(["a", " ", ";", '"', "\r", "\n", "é", "=", ",", "+", "-", "@", "\t"]),
    max_size=8,
)


@given(names=st.lists(QUOTABLE, min_size=1, max_size=6), title=QUOTABLE, decimals=st.integers(0, 2))
@settings(max_examples=60, deadline=None, derandomize=True, database=None)
def test_csv_bytes_equal_csv_writer(names: list[str], title: str, decimals: int) -> None:
    """to_csv joins quoted fields itself (faster): byte for byte what csv.writer writes, with
    delimiters, quotes and line ends in names, titles and sources, and hidden values."""
    meta = ExportMeta(
        indicator="rsa",
        title=title,
        level="commune",
        period="2024-12",
        unit="foyers",
        source=title,
        decimals=decimals,
        notice=title or None,
    )
    n = len(names)
    cells = pd.DataFrame(
        {
            "code": [f"{k:05d}" for k in range(n)],
            "nom": names,
            "valeur": [1234.5678 * k if k % 3 else None for k in range(n)],
            "statut": ["publie" if k % 3 else "secret" for k in range(n)],
        }
    )
    rows = export_rows(cells, meta)
    assert to_csv(rows, meta) == _csv_writer_body(rows, meta)
