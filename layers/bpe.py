"""INSEE's Base permanente des équipements (BPE, Licence Ouverte): its childcare facilities.

The detail file (`BPE23.csv`, `bpe24_ensemble_xy`..., `;`-separated) has one row per facility:
`TYPEQU` (kind), `DEPCOM` (commune), `LAMBERT_X`/`LAMBERT_Y` (Lambert-93 in metropolitan France,
the local UTM system in the DROM) or `LONGITUDE`/`LATITUDE`, and, in recent years, the name
(`NOMRS`) and address. Which `TYPEQU` codes are childcare is read, by label, from the
variable/modality nomenclature shipped with the file (`varmod...`: `COD_VAR`, `COD_MOD`,
`LIB_MOD`); the known codes serve when it is absent, and any disagreement is reported.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from layers.facility_columns import header_key
from layers.facility_formats import SourceTable
from layers.facility_places import LAMBERT93, to_wgs84
from layers.facility_store import UNNAMED_SUFFIX
from layers.ingest.errors import CafdataFormatError
from layers.ingest.reading import decode
from layers.model import FACILITY_BY_SLUG

MANIFEST = Path(__file__).resolve().parent.parent / "geodata" / "sources_manifest.json"
# Known childcare codes of the BPE (domain D, social action), as public reuses of the BPE use
# them: the fallback when no nomenclature comes with the file, and the check of the one that
# does (the nomenclature, read by label, wins).
KNOWN_CODES = {
    "D502": FACILITY_BY_SLUG["eaje_non_precise"].label,
    "D504": FACILITY_BY_SLUG["relais_petite_enfance"].label,
    "D509": FACILITY_BY_SLUG["micro_creche"].label,
}
# Coordinates of the DROM are in their local systems (RGAF09 UTM 20N, RGFG95 UTM 22N,
# RGR92 UTM 40S, RGM04 UTM 38S).
DROM_EPSG = {"971": 5490, "972": 5490, "973": 2972, "974": 2975, "976": 4471}
WANTED = {
    "an", "depcom", "typequ", "lambert_x", "lambert_y", "longitude", "latitude", "nomrs",
    "cnomrs", "numvoie", "indrep", "typvoie", "libvoie", "cadr", "codpos", "epsg",
}  # fmt: skip
CHUNK = 250_000
TIMEOUT_S = 60


@dataclass
class Nomenclature:
    codes: dict[str, str]  # TYPEQU -> facility label
    notes: list[str] = field(default_factory=list)


def is_bpe(header: list[str]) -> bool:
    keys = {header_key(h) for h in header}
    return {"typequ", "depcom"} <= keys


def childcare_codes(varmod: pd.DataFrame | None) -> Nomenclature:
    """The childcare `TYPEQU` codes by their label in the nomenclature, checked against the
    known ones."""
    from layers.facility_import import facility_type  # it imports the columns, as we do

    if varmod is None:
        return Nomenclature(
            dict(KNOWN_CODES),
            [f"nomenclature absente : codes connus utilisés ({', '.join(KNOWN_CODES)})"],
        )
    cols = {header_key(c): c for c in varmod.columns}
    var = varmod[cols.get("cod_var", cols.get("variable", ""))].astype(str).str.upper()
    mods = varmod[var == "TYPEQU"]
    code_col = cols.get("cod_mod", cols.get("modalite", ""))
    label_col = cols.get("lib_mod", cols.get("modlibelle", ""))
    codes: dict[str, str] = {}
    for code, label in zip(mods[code_col].astype(str), mods[label_col].astype(str), strict=True):
        kind = facility_type(label) if code.upper().startswith("D") else None
        if kind is not None:
            codes[code.upper()] = kind
    notes = [
        "codes lus dans la nomenclature : "
        + (", ".join(f"{c} ({codes[c]})" for c in sorted(codes)) or "aucun")
    ]
    for code, kind in KNOWN_CODES.items():
        if codes.get(code) not in (None, kind):
            notes.append(f"attention : {code} est « {codes[code]} » ici, « {kind} » attendu")
        elif code not in codes:
            notes.append(f"attention : le code connu {code} n'est pas dans la nomenclature")
    return Nomenclature(codes, notes)


def _members(path: Path) -> tuple[io.BufferedIOBase | Path, pd.DataFrame | None]:
    """The data file and the nomenclature (a zip's members, or a `varmod` file beside)."""
    if zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
        varmod = [n for n in names if "varmod" in n.lower()]
        data = [n for n in names if n not in varmod]
        if not data:
            raise CafdataFormatError(f"{path.name} : aucun fichier CSV de la BPE dans l'archive")
        nomenclature = _read_varmod(archive.open(varmod[0])) if varmod else None
        return archive.open(max(data, key=lambda n: archive.getinfo(n).file_size)), nomenclature
    beside = sorted(path.parent.glob("*varmod*.csv")) + sorted(path.parent.glob("*VARMOD*.csv"))
    return path, _read_varmod(beside[0]) if beside else None


def _read_varmod(source: Path | io.BufferedIOBase) -> pd.DataFrame:
    raw = source.read_bytes() if isinstance(source, Path) else source.read()
    text, _encoding = decode(raw)  # older nomenclatures are Windows-1252
    return pd.read_csv(io.StringIO(text), sep=";", dtype=str)


def _encoding(data: Path | io.BufferedIOBase) -> str:
    """UTF-8, or Windows-1252 when the first megabyte is not UTF-8 (older BPE files)."""
    if isinstance(data, Path):
        with data.open("rb") as fh:
            sample = fh.read(1 << 20)
    else:
        sample = data.peek(1 << 20) if hasattr(data, "peek") else b""
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not merely a character cut at the sample's end
            return "cp1252"
    return "utf-8"


def read_bpe(path: Path) -> tuple[SourceTable, str, list[str]]:
    """The childcare rows of a BPE file as a facilities table (WGS84 coordinates), its source
    name (« BPE 2023 ») and the notes of the report."""
    data, varmod = _members(path)
    nomenclature = childcare_codes(varmod)
    chunks = pd.read_csv(
        data,
        sep=";",
        dtype=str,
        chunksize=CHUNK,
        encoding=_encoding(data),
        encoding_errors="replace",
        usecols=lambda c: header_key(c) in WANTED,
    )
    kept = []
    for chunk in chunks:
        chunk.columns = [header_key(c) for c in chunk.columns]
        if not {"typequ", "depcom"} <= set(chunk.columns):
            raise CafdataFormatError(f"{path.name} : colonnes TYPEQU et DEPCOM absentes")
        kept.append(chunk[chunk["typequ"].str.upper().isin(nomenclature.codes)])
    rows = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame()
    if rows.empty:
        raise CafdataFormatError(f"{path.name} : aucun équipement d'accueil du jeune enfant")
    year = str(rows["an"].dropna().iloc[0]) if "an" in rows and rows["an"].notna().any() else ""
    table = _as_facilities(rows.fillna(""), nomenclature.codes)
    return table, f"BPE {year}".strip(), nomenclature.notes


def _as_facilities(rows: pd.DataFrame, codes: dict[str, str]) -> SourceTable:
    kind = rows["typequ"].str.upper().map(codes)
    lon, lat = _wgs84(rows)
    address = [
        " ".join(rows[c].iloc[i] for c in ("numvoie", "indrep", "typvoie", "libvoie") if c in rows)
        for i in range(len(rows))
    ]
    names = rows["nomrs"] if "nomrs" in rows else pd.Series("", index=rows.index)
    names = names.where(names.str.strip() != "", kind + UNNAMED_SUFFIX)
    cells = pd.DataFrame(
        {
            "nom": names.str.strip(),
            "type": kind,
            "longitude": [f"{v:.6f}" if not np.isnan(v) else "" for v in lon],
            "latitude": [f"{v:.6f}" if not np.isnan(v) else "" for v in lat],
            "code_insee": rows["depcom"].str.strip(),
            "adresse": pd.Series(address, index=rows.index).str.split().str.join(" "),
        }
    )
    return SourceTable(
        list(cells.columns), cells, np.arange(2, len(cells) + 2), "ligne", "BPE (Insee)"
    )


def _wgs84(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude of each row: given, or from Lambert-93 / the DROM systems."""
    if {"longitude", "latitude"} <= set(rows.columns):
        num = [pd.to_numeric(rows[c].str.replace(",", "."), errors="coerce") for c in WGS]
        return num[0].to_numpy(float), num[1].to_numpy(float)
    x = pd.to_numeric(rows.get("lambert_x", pd.Series(dtype=str)), errors="coerce").to_numpy(float)
    y = pd.to_numeric(rows.get("lambert_y", pd.Series(dtype=str)), errors="coerce").to_numpy(float)
    lon, lat = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    dep = rows["depcom"].str[:3].where(rows["depcom"].str.startswith("97"), "")
    for prefix, epsg in [("", LAMBERT93), *DROM_EPSG.items()]:
        sel = (dep == prefix).to_numpy()
        if sel.any():
            lon[sel], lat[sel] = to_wgs84(x[sel], y[sel], epsg)
    return lon, lat


WGS = ("longitude", "latitude")


def bpe_address() -> dict:
    """The manifest's entry of the BPE (official page and file address)."""
    return json.loads(MANIFEST.read_text(encoding="utf-8"))["telechargements"]["bpe"]


def download_bpe(folder: Path) -> Path:
    """Download the BPE detail file into `folder`; a French error when offline."""
    entry = bpe_address()
    target = folder / entry["url"].rsplit("/", 1)[-1]
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".partial")
    try:
        with urllib.request.urlopen(entry["url"], timeout=TIMEOUT_S) as answer:
            partial.write_bytes(answer.read())
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        partial.unlink(missing_ok=True)
        raise CafdataFormatError(
            f"téléchargement de la BPE impossible ({entry['url']} : {exc}). Hors ligne ? "
            f"Téléchargez-la depuis {entry['page']} puis : cafcarto equipements --bpe FICHIER"
        ) from None
    partial.rename(target)
    return target
