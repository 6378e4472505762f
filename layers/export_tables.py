"""Export formatting: a published layer as CSV bytes, an Excel workbook or a GeoJSON dict.

Pure functions shared by the public API (/api/v1/data) and the dashboard's "export the current
view" buttons. They start from `layers.views.layer()` output (code, nom, valeur, statut in the
store vocabulary) and never print a value behind a non-published status, even if one slipped in.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from layers.model import Indicator, level_name
from layers.provenance import Provenance
from layers.series_notes import note, source_line
from layers.store import PUBLISHED
from layers.views import STATUS_API, period_text

# Column order of the CSV and of the "donnees" sheet.
EXPORT_COLUMNS: tuple[str, ...] = (
    "code",
    "nom",
    "niveau",
    "indicateur",
    "libelle",
    "periode",
    "valeur",
    "statut",
    "unite",
    "source",
    "note",
    "avertissement",
)
GEOJSON_PROPERTIES: tuple[str, ...] = (
    "code",
    "nom",
    "valeur",
    "statut",
    "unite",
    "periode",
    "source",
    "note",
    "avertissement",
)
# A text cell starting with one of these is run as a formula by Excel / LibreOffice.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
STATUS_HELP_FR = (
    "published : valeur publiée ; secret : valeur masquée (secret statistique) ; "
    "missing : pas de données ; not_applicable : non concerné"
)
CSV_BOM = "\ufeff"
# What makes csv.writer quote a field (QUOTE_MINIMAL): the delimiter, the quote, a line end.
_CSV_SPECIAL = re.compile('[;"\r\n]')
# In texts joined by "\n", each after a "\n": one that starts like a formula.
_CSV_FORMULA_LINE = re.compile("\n[=+\\-@\t\r]")


@dataclass(frozen=True)
class ExportMeta:
    """What an export says about itself (header columns and the metadata sheet)."""

    indicator: str
    title: str
    level: str
    period: str
    unit: str
    source: str
    decimals: int = 0
    definition: str = ""
    notice: str | None = None
    exported_at: str = ""
    line: str = ""  # the provenance's source line, when the store knows it
    note: str = ""  # the disclosure regime in words (layers.series_notes.note)

    @classmethod
    def of(
        cls,
        ind: Indicator,
        level: str,
        period: str,
        notice: str | None = None,
        provenance: Provenance | None = None,
    ) -> ExportMeta:
        return cls(
            indicator=ind.id,
            title=ind.title,
            level=level,
            period=period,
            unit=ind.unit,
            source=ind.source,
            decimals=ind.decimals,
            definition=ind.definition,
            notice=notice,
            exported_at=datetime.now().isoformat(timespec="seconds"),
            line=source_line(provenance, ind) if provenance is not None else "",
            note=note(provenance),
        )

    @property
    def source_line(self) -> str:
        return self.line or f"Source : {self.source}"

    def filename(self, ext: str) -> str:
        """cafdata_<indicator>_<level>_<period>.<ext>; callers pass validated values only."""
        return f"cafdata_{self.indicator}_{self.level}_{self.period}.{ext}"


PROGRESS_STEP = 2000


def neutralise(value: object) -> object:
    """Prefix a text cell that a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def xlsx_text(value: str) -> str:
    """A text cell Excel accepts and never runs: control characters (which openpyxl refuses)
    are removed first, so that "\x01=cmd" cannot become a formula once cleaned."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return str(neutralise(ILLEGAL_CHARACTERS_RE.sub("", value)))


def published_value(value: object, status: str, ndigits: int) -> float | int | None:
    """The rounded value of a published cell; None for any other status or a missing value."""
    if status != PUBLISHED or value is None:
        return None
    v = float(value)  # type: ignore[arg-type]
    if not math.isfinite(v):
        return None
    return int(round(v)) if ndigits == 0 else round(v, ndigits)


def export_rows(cells: pd.DataFrame, meta: ExportMeta) -> pd.DataFrame:
    """The export table: one row per territory, EXPORT_COLUMNS, statut in the API vocabulary.

    `cells` has code, nom, valeur, statut (store vocabulary: publie, secret, ...).
    """
    statut = cells["statut"].astype(str).tolist()
    values = [
        published_value(v, s, meta.decimals)
        for v, s in zip(cells["valeur"].tolist(), statut, strict=True)
    ]
    n = len(cells)
    # Plain object columns: the CSV, JSON and Excel writers read them back as lists, and
    # pandas' Arrow strings cost a conversion each way (~80 ms for the ~35,000 communes).
    columns = {
        "code": cells["code"].astype(str).tolist(),
        "nom": cells["nom"].astype(str).tolist(),
        "niveau": [meta.level] * n,
        "indicateur": [meta.indicator] * n,
        "libelle": [meta.title] * n,
        "periode": [meta.period] * n,
        "valeur": values,
        "statut": [STATUS_API.get(s, "missing") for s in statut],
        "unite": [meta.unit] * n,
        "source": [meta.source_line] * n,
        "note": [meta.note] * n,
        "avertissement": [meta.notice or ""] * n,
    }
    # One object block filled column by column: a Series per column cost ~2 ms of a
    # 100-row answer.
    block = np.empty((n, len(EXPORT_COLUMNS)), dtype=object)
    for i, col in enumerate(EXPORT_COLUMNS):
        block[:, i] = columns[col]
    return pd.DataFrame(block, columns=list(EXPORT_COLUMNS), dtype=object, copy=False)


def with_uncontoured(cells: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """The territories of a view, then the QPV 2024 without contour (`layers.qpv_uncontoured`:
    code, nom with the commune, valeur, statut), which no map feature carries."""
    if not len(extra):
        return cells
    return pd.concat([cells, extra], ignore_index=True)


def _csv_number(value: object, ndigits: int) -> str:
    # French Excel reads "12,3" as a number in a ";" file, "12.3" as text or a date.
    if value is None:
        return ""
    return f"{float(value):.{ndigits}f}".replace(".", ",")  # type: ignore[arg-type]


def to_csv(rows: pd.DataFrame, meta: ExportMeta) -> bytes:
    """Semicolon-separated UTF-8 with a BOM (French Excel), decimal comma; value blank if hidden."""
    # Column by column from plain lists, each distinct text quoted once, then joined: the same
    # bytes as csv.writer (QUOTE_MINIMAL), which cost ~300 ms of CPU for the ~35,000 communes.
    columns: list[list[str]] = []
    for col in EXPORT_COLUMNS:
        cells = rows[col].tolist()
        texts = _csv_values(cells, meta.decimals) if col == "valeur" else _csv_texts(cells)
        if columns and _same_text(texts) and _same_text(columns[-1]):
            # Runs of columns with one text (level, title, source…) joined once, not per row.
            columns[-1] = [f"{columns[-1][0]};{texts[0]}"] * len(texts)
        else:
            columns.append(texts)
    lines = [";".join(_csv_field(name) for name in EXPORT_COLUMNS)]
    lines += map(";".join, zip(*columns, strict=True))
    return (CSV_BOM + "\r\n".join(lines) + "\r\n").encode("utf-8")


def _same_text(texts: list[str]) -> bool:
    return bool(texts) and texts.count(texts[0]) == len(texts)


def _csv_field(text: str) -> str:
    """A field as csv.writer quotes it with QUOTE_MINIMAL, ";" and "\\r\\n"."""
    if _CSV_SPECIAL.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_values(cells: list, ndigits: int) -> list[str]:
    """`_csv_value` of each cell, inlined for the usual numbers and blanks (two calls per
    row were half of a commune CSV's text)."""
    number = f"{{:.{ndigits}f}}".format
    try:
        return ["" if v is None or v != v else number(float(v)).replace(".", ",") for v in cells]
    except (TypeError, ValueError):  # pd.NA, an odd text: cell by cell
        return [_csv_value(cell, ndigits) for cell in cells]


def _csv_value(cell: object, ndigits: int) -> str:
    if isinstance(cell, int | float) and cell == cell:  # a number, not NaN: no pd.isna call
        return _csv_number(cell, ndigits)
    published = cell is not None and not pd.isna(cell)
    return _csv_number(cell if published else None, ndigits)


def _csv_texts(cells: list) -> list[str]:
    """Each cell as neutralised, quoted text; a repeated text (level, title, source…) done once."""
    if _plain_texts(cells):
        return cells
    try:
        done = {cell: _csv_text(cell) for cell in set(cells)}
    except TypeError:  # an unhashable cell: no sharing
        return [_csv_text(cell) for cell in cells]
    return list(map(done.__getitem__, cells))


def _plain_texts(cells: list) -> bool:
    """True when every cell is a text that needs neither neutralising nor quoting (codes and
    names, nearly always): checked in one scan of their join, not cell by cell."""
    if not cells or _same_text(cells):
        return False  # one repeated text: done once below, cheaper than a scan of its copies
    if not all(type(cell) is str for cell in cells):
        return False
    joined = "\n" + "\n".join(cells)
    if joined.count("\n") != len(cells) or any(c in joined for c in ';"\r'):
        return False
    return not _CSV_FORMULA_LINE.search(joined)


def _csv_text(cell: object) -> str:
    return _csv_field(str(neutralise("" if cell is None else str(cell))))


def to_xlsx(
    rows: pd.DataFrame, meta: ExportMeta, progress: Callable[[int, int], None] | None = None
) -> bytes:
    """Workbook with a "donnees" sheet (EXPORT_COLUMNS) and a "metadonnees" sheet.

    `progress(done, total)` is called every PROGRESS_STEP rows (background exports)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    # Write-only mode: streams rows, several times faster for the ~35,000 communes.
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("donnees")
    ws.freeze_panes = "A2"
    for i, width in enumerate((12, 32, 12, 22, 40, 10, 12, 14, 10, 40, 50, 40), start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.append(list(EXPORT_COLUMNS))
    number_format = "0" if meta.decimals == 0 else "0." + "0" * meta.decimals
    for n, rec in enumerate(rows[list(EXPORT_COLUMNS)].itertuples(index=False, name=None)):
        if progress is not None and n % PROGRESS_STEP == 0:
            progress(n, len(rows))
        out: list[object] = []
        for col, cell in zip(EXPORT_COLUMNS, rec, strict=True):
            if col == "valeur":
                value = WriteOnlyCell(ws, None if cell is None or pd.isna(cell) else cell)
                value.number_format = number_format
                out.append(value)
            else:
                # openpyxl writes a str starting with "=" as a formula: neutralise first.
                out.append(xlsx_text("" if cell is None else str(cell)))
        ws.append(out)

    info = wb.create_sheet("metadonnees")
    info.column_dimensions["A"].width = 24
    info.column_dimensions["B"].width = 100
    for key, value in metadata_pairs(meta):
        info.append([key, xlsx_text(value)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def metadata_pairs(meta: ExportMeta) -> list[tuple[str, str]]:
    """(label, text) lines of the metadata sheet, in French."""
    return [
        ("Titre", meta.title),
        ("Indicateur", meta.indicator),
        ("Définition", meta.definition),
        ("Unité", meta.unit),
        ("Niveau", level_name(meta.level)),
        ("Période", f"{meta.period} ({period_text(meta.period)})"),
        ("Source", meta.source_line),
        ("Diffusion", meta.note),
        ("Statuts", STATUS_HELP_FR),
        ("Avertissement", meta.notice or ""),
        ("Date de l'export", meta.exported_at),
    ]


def to_geojson(
    rows: pd.DataFrame, fids: Sequence[int], features: Sequence[dict], meta: ExportMeta
) -> dict:
    """FeatureCollection of the rows' territories: feature `fids[i]` carries row i."""
    out = []
    records = rows[list(EXPORT_COLUMNS)].to_dict("records")
    for fid, rec in zip(fids, records, strict=True):
        feature = features[int(fid)]
        value = rec["valeur"]
        props = {k: rec[k] for k in GEOJSON_PROPERTIES}
        props["valeur"] = None if value is None or pd.isna(value) else value
        props["avertissement"] = rec["avertissement"] or None
        out.append(
            {
                "type": "Feature",
                "id": int(fid),
                "properties": props,
                "geometry": feature.get("geometry"),
            }
        )
    return {
        "type": "FeatureCollection",
        "indicateur": meta.indicator,
        "titre": meta.title,
        "niveau": meta.level,
        "periode": meta.period,
        "source": meta.source_line,
        "note": meta.note or None,
        "avertissement": meta.notice,
        "features": out,
    }
