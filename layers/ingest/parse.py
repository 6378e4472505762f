"""`parse_file`: detect the Cafdata format from the header, read, place, harmonise, report.

Formats (detected by header, never by file name):
1. current portal exports (data.caf.fr, Opendatasoft): lower-case columns, `dtreffre` or `annee`,
   keys `numcomdo` (+ `numirisd` for IRIS, + `nomqpv` for QPV 2024) / `numcom` / `numepci` /
   `numdep` / `numregi` (none, or a `national` label, for national files), breakdown
   dimensions (`rsa_type`, `qf_400`, `aah_age_5`...) spread into one series per value;
2. older portal (2009-2015): `Communes;Codes_Insee;NB_Allocataires;...`,
   `NOMEPCI;NUMEPCI;DEPSEPCI;DTREF;...`, `NUMCOM;...;TXCOUVGLO_COM_2014;TXCOUVGLO_DEP_2014`
   (year in column names; a level suffix other than the rows' own puts the column at that level);
3. quarterly wide files by Caf or département: `dep;deplib;reg;juin-15;mars-15;déc.-14;...`.
Parsing is all-or-nothing: any problem raises `CafdataFormatError` naming the line; what is set
aside (extra columns, repeated or conflicting rows, territories not placed) is in the report.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from geodata.cog import Cog
from layers.ingest import columns as cols
from layers.ingest.assemble import LevelBlock, assemble
from layers.ingest.breakdown import Field, dimension_keys
from layers.ingest.dates import month_column, month_value, year_in_name, year_value
from layers.ingest.errors import CafdataFormatError, at_line
from layers.ingest.layout import Layout, classify
from layers.ingest.parquet_table import PARQUET_ENCODING, read_parquet_table
from layers.ingest.reading import RawTable, decode, read_table
from layers.ingest.report import ImportReport, ImportResult
from layers.ingest.values import check_formulas, to_numbers
from layers.model import level_name

FORMAT_PORTAL = "export du portail Cafdata (data.caf.fr)"
FORMAT_OLD = "ancien portail Cafdata (2009-2015)"
FORMAT_QUARTERLY = "fichier trimestriel par Caf ou département (une colonne par trimestre)"
EXPECTED = (
    "colonnes attendues : dtreffre ou annee avec numcomdo, numcom, numepci ou numdep "
    "(portail actuel) ; Communes;Codes_Insee;NB_Allocataires;... ou NOMEPCI;NUMEPCI;DTREF;... "
    "(ancien portail) ; dep;deplib;reg;juin-15;mars-15;... (fichier trimestriel)"
)


def parse_file(
    path: Path, cog: Cog, *, dataset_id: str | None = None, periode: str | None = None
) -> ImportResult:
    """Read a Cafdata CSV into long-format rows, a report and the provenance of each series.

    `dataset_id` (e.g. "s_ben_com_f") is the provenance's dataset (by default the file name) and
    a hint of the regime (`_f`: rounded); for quarterly files it gives the indicator (by default
    the file name stem). `periode` ("YYYY-MM") is only used for an older-portal file that has no
    date column nor a year in its column names.
    """
    path = Path(path)
    if periode is not None and not re.fullmatch(r"(19|20)\d{2}-(0[1-9]|1[0-2])", periode):
        raise ValueError(f"période « {periode} » invalide : format attendu AAAA-MM (ex. 2014-12)")
    if path.suffix.lower() == ".parquet":  # the portal's whole-dataset export
        table, encoding = read_parquet_table(path), PARQUET_ENCODING
    else:
        table, encoding = _read_csv(path)
    check_formulas(table.cells, table.lines)
    report = ImportReport(encodage=encoding, separateur=table.separator)
    report.lignes_lues = len(table.cells)
    report.entetes_repetees = table.repeated_headers
    report.lignes_vides = table.blank_lines
    names = [cols.canonical(h) for h in table.header]
    months = {h: month_column(h) for h in table.header}
    if any(months.values()):
        blocks = [_quarterly(table, names, months, dataset_id or path.stem, report)]
    else:
        blocks = _long(table, names, path.stem, periode, report)
    report.lignes_placees = report.lignes_lues
    return assemble(blocks, cog, report, dataset_id or path.name)


def _read_csv(path: Path) -> tuple[RawTable, str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CafdataFormatError(f"fichier illisible : {path} ({exc.strerror})") from exc
    text, encoding = decode(raw)
    table = read_table(text)
    table.encoding = encoding
    return table, encoding


def _key_column(names: list[str], levels: tuple[str, ...]) -> tuple[str, str] | None:
    for level in levels:
        for alias in cols.KEY_COLUMNS[level]:
            if alias in names:
                return level, alias
    return None


def _unknown_header(table: RawTable, detail: str = "") -> CafdataFormatError:
    found = ", ".join(table.header[:12]) + (" ..." if len(table.header) > 12 else "")
    extra = f"{detail} ; " if detail else ""
    return at_line(
        table.header_line, f"en-tête non reconnu ({extra}{EXPECTED} ; colonnes trouvées : {found})"
    )


def _periods(text: pd.Series, lines: np.ndarray, column: str, *, year: bool) -> np.ndarray:
    """ "YYYY-MM" of each cell of a date column (`year`: an `annee` column, December)."""
    reader = year_value if year else month_value
    distinct = text.str.strip().unique()
    parsed = {value: reader(value) for value in distinct if value}
    bad = [v for v in distinct if not v or parsed.get(v) is None]
    if bad:
        stripped = text.str.strip().to_numpy()
        pos = int(np.flatnonzero(np.isin(stripped, bad))[0])
        what = f"date « {stripped[pos]} » non reconnue" if stripped[pos] else "date manquante"
        raise at_line(int(lines[pos]), f"{what} dans la colonne {column}")
    return text.str.strip().map(parsed).to_numpy(dtype=object)


def _first_column(header: list[str], names: list[str], wanted: tuple[str, ...]) -> str | None:
    """The file's name of the first column whose canonical name is in `wanted`."""
    return next((header[names.index(n)] for n in wanted if n in names), None)


def _long(
    table: RawTable, names: list[str], stem: str, file_period: str | None, report: ImportReport
) -> list[LevelBlock]:
    """One block per level the value columns describe, the rows' own level first."""
    names = _field_names(table, names, report)
    header = table.header
    date = _first_column(header, names, cols.DATE_COLUMNS)
    year = _first_column(header, names, cols.YEAR_COLUMNS)
    layout = classify(table, names, set(cols.DATE_COLUMNS) | set(cols.YEAR_COLUMNS), date or year)
    report.colonnes_ignorees = [
        h for h in header if h not in layout.values and h not in layout.dimensions
    ]
    for column, why in layout.set_aside.items():
        report.colonnes_ecartees[column] = why
    year_suffix = date is None and year is None and any(map(cols.has_year_suffix, layout.values))
    dated = date is not None or year is not None or year_suffix
    if not layout.values or not (layout.key_columns or dated or "national" in names):
        raise _unknown_header(table)
    old = (
        any(h != h.lower() for h in layout.values)
        or year_suffix
        or {"codes_insee", "communes", "dtref"} & set(names)
    )
    report.format = FORMAT_OLD if old else FORMAT_PORTAL
    row_period = _row_periods(table, date, year, year_suffix, file_period, stem, report)
    specs = [cols.value_column(h, year_suffix=year_suffix) for h in layout.values]
    _check_value_columns(table, specs, year_suffix, report)
    blocks = _blocks(table, layout, row_period, specs, report)
    if not blocks:
        raise at_line(
            table.header_line,
            "aucune colonne de valeurs utilisable ("
            + " ; ".join(f"{c} : {w}" for c, w in report.colonnes_ecartees.items())
            + ")",
        )
    return blocks


def _field_names(table: RawTable, names: list[str], report: ImportReport) -> list[str]:
    """Headers of a labelled export ("Nombre foyers RSA") renamed to their portal fields
    (`indfoy_rsa`), in the table itself; the canonical names of the renamed header."""
    renamed = {}
    for header in table.header:
        field = cols.field_of_label(header)
        if field and field not in names and field not in renamed.values():
            renamed[header] = field
    if not renamed:
        return names
    table.header = [renamed.get(h, h) for h in table.header]
    table.cells = table.cells.rename(columns=renamed)
    pairs = ", ".join(f"{h} → {f}" for h, f in renamed.items())
    report.avertissements.append(f"export avec libellés : en-têtes traduits ({pairs})")
    return [cols.canonical(h) for h in table.header]


def _row_periods(
    table: RawTable,
    date: str | None,
    year: str | None,
    year_suffix: bool,
    file_period: str | None,
    stem: str,
    report: ImportReport,
) -> np.ndarray | None:
    """Period of each row: from its date (or year) column, else the file's (`file_period`,
    given to parse_file as `periode`, or a year in the file name); None when the value columns
    carry their year."""
    if date or year:
        column = date or year
        return _periods(table.cells[column], table.lines, column, year=date is None)
    if year_suffix:
        return None
    fixed = file_period or year_in_name(stem)
    if fixed is None:
        raise at_line(
            table.header_line,
            "aucune colonne de date (dtreffre, annee, DTREF) ni année dans les noms de "
            "colonnes : indiquez la période (paramètre periode) ou mettez l'année dans le "
            "nom du fichier (ex. « CAF_2014.csv »)",
        )
    if file_period is None:
        report.avertissements.append(f"période déduite du nom du fichier : {fixed}")
    return np.full(len(table.cells), fixed, dtype=object)


def _check_value_columns(
    table: RawTable, specs: list[cols.ValueColumn], year_suffix: bool, report: ImportReport
) -> None:
    """Every column carries a year when some do, and no two columns give the same series at
    one level (for the same year); the report lists the recognised and unknown columns."""
    unsuffixed = [s.source for s in specs if s.period is None] if year_suffix else []
    if unsuffixed:
        raise at_line(
            table.header_line,
            f"colonne « {unsuffixed[0]} » sans année alors que les autres en portent une",
        )
    seen: dict[tuple[str, str | None, str | None], str] = {}
    for spec in specs:
        slot = (spec.indicator, spec.period, spec.level)
        if slot in seen:
            raise at_line(
                table.header_line,
                f"les colonnes « {seen[slot]} » et « {spec.source} » donnent le même indicateur "
                f"{spec.indicator}" + (f" pour {spec.period}" if spec.period else ""),
            )
        seen[slot] = spec.source
        target = report.colonnes_reconnues if spec.known else report.colonnes_inconnues
        target[spec.source] = spec.indicator


def _blocks(
    table: RawTable,
    layout: Layout,
    row_period: np.ndarray | None,
    specs: list[cols.ValueColumn],
    report: ImportReport,
) -> list[LevelBlock]:
    """Value columns grouped by the level they describe: the rows' own level, or the level
    named by a column's suffix when the rows carry that level's code (`NUMDEP` for
    `TXCOUVGLO_DEP_2014`); other columns of another level are set aside."""
    by_level: dict[str, list[cols.ValueColumn]] = {}
    for spec in specs:
        level = spec.level if spec.level and spec.level != layout.level else layout.level
        if level != layout.level and level != "france" and level not in layout.level_codes:
            why = f"valeurs de niveau {level_name(level)} sans colonne de code de ce niveau"
            report.colonnes_ecartees[spec.source] = why
            continue
        by_level.setdefault(level, []).append(spec)
    dims = dimension_keys(table.cells[layout.dimensions]) if layout.dimensions else None
    communes = layout.level_codes.get("commune")
    if layout.level == "commune":
        communes = layout.codes
    blocks = []
    for level, group in sorted(by_level.items(), key=lambda kv: kv[0] != layout.level):
        if level == layout.level:
            codes = layout.codes
        elif level == "france":
            codes = pd.Series(["FR"] * len(table.cells), dtype=object)
        else:
            codes = layout.level_codes[level]
        block = _long_rows(table, codes, row_period, group, dims, communes)
        block.level, block.finest = level, level == layout.level
        blocks.append(block)
    return blocks


def _long_rows(
    table: RawTable,
    codes: pd.Series,
    row_period: np.ndarray | None,
    specs: list[cols.ValueColumn],
    dims: pd.DataFrame | None,
    communes: pd.Series | None,
) -> LevelBlock:
    """Keys (raw code, period, line, dimensions) and values, one stack of rows per period of
    the value columns (a single one unless the columns carry their year)."""
    by_period: dict[str | None, list[cols.ValueColumn]] = {}
    for spec in specs:
        by_period.setdefault(spec.period, []).append(spec)
    key_parts, value_parts, secret_parts, champs = [], [], [], {}
    for period, group in by_period.items():
        values, secret = {}, {}
        for spec in group:
            v, s = to_numbers(table.cells[spec.source], table.lines, spec.source, spec.nature)
            values[spec.indicator], secret[spec.indicator] = v, s.astype(float)
            champs[(spec.indicator, period)] = spec.source
        part = pd.DataFrame(
            {
                "raw": codes.to_numpy(dtype=object),
                "periode": row_period if period is None else period,
                "line": table.lines,
            }
        )
        if dims is not None:
            part = pd.concat([part, dims], axis=1)
        key_parts.append(part)
        value_parts.append(pd.DataFrame(values))
        secret_parts.append(pd.DataFrame(secret))
    stacks = len(key_parts)
    return LevelBlock(
        level="",
        keys=pd.concat(key_parts, ignore_index=True),
        values=pd.concat(value_parts, ignore_index=True),
        secret=pd.concat(secret_parts, ignore_index=True),
        natures={s.indicator: s.nature for s in specs},
        fields={s.indicator: Field(s.source, s.field) for s in specs},
        champs=champs,
        communes=None if communes is None else pd.concat([communes] * stacks, ignore_index=True),
    )


def _quarterly(
    table: RawTable,
    names: list[str],
    months: dict[str, str | None],
    name: str,
    report: ImportReport,
) -> LevelBlock:
    key = _key_column(names, ("caf", "departement"))
    if key is None:
        raise _unknown_header(table, "fichier trimestriel sans colonne dep ou caf")
    level, key_name = key
    header = table.header
    report.format = FORMAT_QUARTERLY
    period_columns = [h for h in header if months[h]]
    by_period: dict[str, str] = {}
    for h in period_columns:
        if months[h] in by_period:
            raise at_line(
                table.header_line,
                f"les colonnes « {by_period[months[h]]} » et « {h} » désignent la même période",
            )
        by_period[months[h]] = h
    others = [
        h for h, n in zip(header, names, strict=True) if not months[h] and not cols.is_label(n)
    ]
    for h in others:
        report.avertissements.append(f"colonne « {h} » ignorée (ni trimestre, ni libellé)")
    report.colonnes_ignorees = [h for h in header if not months[h]]
    indicator, nature, known = cols.quarterly_indicator(name)
    if not known:
        report.avertissements.append(
            f"indicateur non reconnu d'après le nom « {name} » : identifiant générique "
            f"« {indicator} »"
        )
    label = f"{len(period_columns)} colonnes trimestrielles ({period_columns[0]} ...)"
    (report.colonnes_reconnues if known else report.colonnes_inconnues)[label] = indicator

    codes = table.cells[header[names.index(key_name)]]
    n = len(codes)
    values, secret = [], []
    for h in period_columns:
        v, s = to_numbers(table.cells[h], table.lines, h, nature)
        values.append(v)
        secret.append(s.astype(float))
    keys = pd.DataFrame(
        {
            "raw": np.tile(codes.to_numpy(dtype=object), len(period_columns)),
            "periode": np.repeat(np.array([months[h] for h in period_columns], dtype=object), n),
            "line": np.tile(table.lines, len(period_columns)),
        }
    )
    return LevelBlock(
        level=level,
        keys=keys,
        values=pd.DataFrame({indicator: np.concatenate(values)}),
        secret=pd.DataFrame({indicator: np.concatenate(secret)}),
        natures={indicator: nature},
        fields={indicator: Field(label, indicator)},
        champs={(indicator, months[h]): h for h in period_columns},
    )
