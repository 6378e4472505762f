"""A Parquet export of the portal read into the same `RawTable` as a CSV file.

The portal's whole-dataset export (`exports/parquet`) carries typed columns where the CSV has
text: dates (`dtreffre`) as dates, counts sometimes as floats (37793.0), `annee` as an integer
or a string. Every cell becomes the text the CSV export would hold, so that one parser reads both:
dates "YYYY-MM" (month precision) or "YYYY-MM-DD", integral floats without ".0", nulls "".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from layers.ingest.errors import CafdataFormatError
from layers.ingest.reading import RawTable

PARQUET_ENCODING = "Parquet"
# Opendatasoft stores dates as UTC instants; a December date read in UTC would be November 30.
PORTAL_TIMEZONE = "Europe/Paris"


def _dates(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dates and timestamps to "YYYY-MM" when every day is the 1st (a month), else "YYYY-MM-DD"."""
    if pa.types.is_timestamp(column.type):
        if column.type.tz is not None:
            column = pc.local_timestamp(column.cast(pa.timestamp("us", tz=PORTAL_TIMEZONE)))
        column = pc.cast(pc.floor_temporal(column, unit="day"), pa.date32())
    days = pc.day(column)
    monthly = pc.all(pc.equal(days, 1)).as_py() in (True, None)
    return pc.strftime(column, format="%Y-%m" if monthly else "%Y-%m-%d")


def _floats(column: pa.ChunkedArray) -> pd.Series:
    values = column.to_numpy(zero_copy_only=False).astype(float)
    integral = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2**53)
    text = np.full(len(values), "", dtype=object)
    text[integral] = values[integral].astype(np.int64).astype(str)
    other = ~integral & ~np.isnan(values)
    text[other] = [repr(float(v)) for v in values[other]]
    return pd.Series(text, dtype=object)


def _text(column: pa.ChunkedArray) -> pd.Series:
    """One column as the CSV export's text."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if pa.types.is_floating(kind):
        return _floats(column).astype("str")
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        column = _dates(column)
    elif not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        column = pc.cast(column, pa.string())
    return pd.Series(pc.fill_null(column, "").to_pylist(), dtype="str")


def read_parquet_table(path: Path) -> RawTable:
    """The cells of a Parquet file as text, one row per record (line numbers from 2, as if the
    header were line 1). Raises `CafdataFormatError` when the file is not readable Parquet."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise CafdataFormatError(f"fichier Parquet illisible : {Path(path).name} ({exc})") from exc
    if table.num_rows == 0:
        raise CafdataFormatError("fichier vide : aucune ligne de données dans le fichier Parquet")
    header = [name.strip() for name in table.column_names]
    cells = pd.DataFrame({name: _text(table.column(i)) for i, name in enumerate(header)})
    return RawTable(
        header=header,
        cells=cells,
        lines=np.arange(2, table.num_rows + 2, dtype=np.int64),
        header_line=1,
        encoding=PARQUET_ENCODING,
        separator="colonnes typées",
        repeated_headers=0,
        blank_lines=0,
    )
