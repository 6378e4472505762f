"""`parse_file`: detect the Cafdata format from the header, read, place, harmonise, report.

Formats (detected by header, never by file name):
1. current portal exports (data.caf.fr, Opendatasoft): lower-case columns, `dtreffre` or `annee`,
   keys `numcomdo` / `numcom` / `numepci` / `numdep` (none for national files);
2. older portal (2009-2015): `Communes;Codes_Insee;NB_Allocataires;...`,
   `NOMEPCI;NUMEPCI;DEPSEPCI;DTREF;...`, `NUMCOM;...;TXCOUVGLO_COM_2014` (year in column names);
3. quarterly wide files by Caf or département: `dep;deplib;reg;juin-15;mars-15;déc.-14;...`.
Parsing is all-or-nothing: any problem raises `CafdataFormatError` naming the line.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from geodata.cog import Cog
from layers.ingest import columns as cols
from layers.ingest.dates import month_column, period_value, year_in_name
from layers.ingest.errors import CafdataFormatError, at_line
from layers.ingest.harmonise import (
    WideBlock,
    drop_duplicates,
    merge_to_current,
    prefer_city_rows,
    to_long,
)
from layers.ingest.parquet_table import PARQUET_ENCODING, read_parquet_table
from layers.ingest.places import arrondissement_counts, place_codes
from layers.ingest.reading import RawTable, decode, read_table
from layers.ingest.report import ImportReport, ImportResult
from layers.ingest.values import check_formulas, to_numbers
from layers.model import COUNT

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
    """Read a Cafdata CSV into long-format rows and a report.

    `dataset_id` (e.g. "s_ben_com_f") names the indicators of unknown columns and, for quarterly
    files, gives the indicator; by default the file name stem is used. `periode` ("YYYY-MM") is
    only used for an older-portal file that has no date column nor a year in its column names.
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
    dataset = cols.slug(dataset_id or path.stem)

    names = [cols.canonical(h) for h in table.header]
    months = {h: month_column(h) for h in table.header}
    if any(months.values()):
        keys, block, raw_codes = _quarterly(table, names, months, dataset_id or path.stem, report)
    else:
        keys, block, raw_codes = _long(table, names, dataset, path.stem, periode, report)
    return _finish(keys, block, raw_codes, cog, report)


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


def _periods(
    text: pd.Series, lines: np.ndarray, column: str, line_of: dict | None = None
) -> np.ndarray:
    distinct = text.str.strip().unique()
    parsed = {value: period_value(value) for value in distinct if value}
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
    table: RawTable,
    names: list[str],
    dataset: str,
    stem: str,
    file_period: str | None,
    report: ImportReport,
) -> tuple[pd.DataFrame, dict, pd.Series]:
    header = table.header
    key = _key_column(names, cols.LEVELS_BY_FINENESS)
    date = _first_column(header, names, cols.DATE_COLUMNS)
    year = _first_column(header, names, cols.YEAR_COLUMNS)
    candidates = [
        h
        for h, n in zip(header, names, strict=True)
        if not cols.is_label(n) and n not in cols.DATE_COLUMNS and n not in cols.YEAR_COLUMNS
    ]
    report.colonnes_ignorees = [h for h in header if h not in candidates]
    year_suffix = date is None and year is None and any(map(cols.has_year_suffix, candidates))
    if not candidates or (key is None and date is None and year is None and not year_suffix):
        raise _unknown_header(table)
    old = (
        any(h != h.lower() for h in header)
        or year_suffix
        or {"codes_insee", "communes", "dtref"} & set(names)
    )
    report.format = FORMAT_OLD if old else FORMAT_PORTAL
    level, key_name = key if key else ("france", None)
    codes = (
        table.cells[header[names.index(key_name)]]
        if key_name
        else pd.Series(["FR"] * len(table.cells), dtype=object)
    )
    row_period = _row_periods(table, date or year, year_suffix, file_period, stem, report)
    specs = [cols.value_column(h, dataset, year_suffix=year_suffix) for h in candidates]
    _check_value_columns(table, specs, year_suffix, report)
    keys, block = _long_rows(table, codes, row_period, specs)
    keys["level"] = level
    return keys, block, codes


def _row_periods(
    table: RawTable,
    column: str | None,
    year_suffix: bool,
    file_period: str | None,
    stem: str,
    report: ImportReport,
) -> np.ndarray | None:
    """Period of each row: from its date (or year) `column`, else the file's (`file_period`,
    given to parse_file as `periode`, or a year in the file name); None when the value columns
    carry their year."""
    if column:
        return _periods(table.cells[column], table.lines, column)
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
    """Every column carries a year when some do, and no two columns give the same indicator
    (for the same year); the report lists the recognised and unknown columns."""
    unsuffixed = [s.source for s in specs if s.period is None] if year_suffix else []
    if unsuffixed:
        raise at_line(
            table.header_line,
            f"colonne « {unsuffixed[0]} » sans année alors que les autres en portent une",
        )
    seen: dict[tuple[str, str | None], str] = {}
    for spec in specs:
        slot = (spec.indicator, spec.period)
        if slot in seen:
            raise at_line(
                table.header_line,
                f"les colonnes « {seen[slot]} » et « {spec.source} » donnent le même indicateur "
                f"{spec.indicator}" + (f" pour {spec.period}" if spec.period else ""),
            )
        seen[slot] = spec.source
        target = report.colonnes_reconnues if spec.known else report.colonnes_inconnues
        target[spec.source] = spec.indicator


def _long_rows(
    table: RawTable,
    codes: pd.Series,
    row_period: np.ndarray | None,
    specs: list[cols.ValueColumn],
) -> tuple[pd.DataFrame, dict]:
    """Keys (raw code, period, line) and values, one block of rows per period of the value
    columns (a single one unless the columns carry their year)."""
    by_period: dict[str | None, list[cols.ValueColumn]] = {}
    for spec in specs:
        by_period.setdefault(spec.period, []).append(spec)
    key_parts, value_parts, secret_parts = [], [], []
    for period, group in by_period.items():
        values, secret = {}, {}
        for spec in group:
            v, s = to_numbers(table.cells[spec.source], table.lines, spec.source, spec.nature)
            values[spec.indicator], secret[spec.indicator] = v, s.astype(float)
        key_parts.append(
            pd.DataFrame(
                {
                    "raw": codes.to_numpy(dtype=object),
                    "periode": row_period if period is None else period,
                    "line": table.lines,
                }
            )
        )
        value_parts.append(pd.DataFrame(values))
        secret_parts.append(pd.DataFrame(secret))
    block = {
        "values": pd.concat(value_parts, ignore_index=True),
        "secret": pd.concat(secret_parts, ignore_index=True),
        "natures": {s.indicator: s.nature for s in specs},
    }
    return pd.concat(key_parts, ignore_index=True), block


def _quarterly(
    table: RawTable,
    names: list[str],
    months: dict[str, str | None],
    name: str,
    report: ImportReport,
) -> tuple[pd.DataFrame, dict, pd.Series]:
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
    keys["level"] = level
    block = {
        "values": pd.DataFrame({indicator: np.concatenate(values)}),
        "secret": pd.DataFrame({indicator: np.concatenate(secret)}),
        "natures": {indicator: nature},
    }
    return keys, block, codes


def _finish(
    keys: pd.DataFrame, block: dict, raw_codes: pd.Series, cog: Cog, report: ImportReport
) -> ImportResult:
    level = keys["level"].iloc[0]
    placement = place_codes(raw_codes, level, cog)
    raw = keys["raw"].fillna("").astype(str)
    keys = pd.DataFrame(
        {
            "source": raw.map(placement.source).to_numpy(dtype=object),
            "target": raw.map(placement.target).to_numpy(dtype=object),
            "niveau": raw.map(placement.level).to_numpy(dtype=object),
            "reason": raw.map(placement.reason).to_numpy(dtype=object),
            "periode": keys["periode"].to_numpy(dtype=object),
            "line": keys["line"].to_numpy(),
        }
    )
    unplaced = keys["reason"].notna().to_numpy()
    if unplaced.any():
        lost = keys[unplaced].drop_duplicates("line")
        report.lignes_non_placees = len(lost)
        report.non_placees = lost["reason"].value_counts().sort_index().astype(int).to_dict()
        report.codes_non_places = sorted({c if c else "(vide)" for c in lost["source"].astype(str)})
    report.lignes_placees = report.lignes_lues - report.lignes_non_placees

    placed = ~unplaced
    wide = WideBlock(
        keys.loc[placed, ["source", "target", "niveau", "periode", "line"]].reset_index(drop=True),
        block["values"][placed].reset_index(drop=True),
        block["secret"][placed].reset_index(drop=True),
        block["natures"],
    )
    if len(wide.keys):
        wide = drop_duplicates(wide, report)
        wide = prefer_city_rows(wide, report)
        wide = merge_to_current(wide, report, arrondissement_counts(cog))
    rows = to_long(wide)
    report.niveaux = sorted(rows["niveau"].unique().tolist())
    report.periodes = sorted(rows["periode"].unique().tolist())
    counts = [c for c, nature in block["natures"].items() if nature == COUNT]
    published = rows.loc[rows["indicateur"].isin(counts) & (rows["statut"] == "publie"), "valeur"]
    report.effectifs_arrondis_a_5 = bool(len(published)) and bool((published % 5 == 0).all())
    if not len(rows):
        report.avertissements.append("aucune ligne n'a pu être placée sur un territoire actuel")
    return ImportResult(rows=rows, report=report)
