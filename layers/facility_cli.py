"""`cafcarto equipements`: read a file (or the BPE), place it, add it to the imported
facilities, and say what was done, line by line, in French."""

from __future__ import annotations

import argparse
from pathlib import Path

from layers.bpe import download_bpe, is_bpe, read_bpe
from layers.config import Settings
from layers.facility_columns import parse_overrides
from layers.facility_formats import read_source
from layers.facility_import import ImportOptions, parse_facilities
from layers.facility_places import Gazetteer, parse_crs
from layers.facility_store import install_facilities


def _id_prefix(source: str) -> str:
    stem = Path(source).stem
    return "".join(c if c.isalnum() else "-" for c in stem).strip("-")[:40] or "IMP"


def _bpe_header(path: Path) -> bool:
    """A BPE detail file, known by its first line (it may be too large to read whole)."""
    with path.open("rb") as fh:
        first = fh.read(4096).decode("utf-8", errors="replace").lstrip("\ufeff")
    return is_bpe(first.splitlines()[0].replace('"', "").split(";") if first else [])


def import_facilities_file(
    args: argparse.Namespace, settings: Settings, geo_build: Path
) -> list[str]:
    """Import `args.fichier` (or the BPE) into `settings.facilities_import`; the report lines.

    Raises CafdataFormatError / ValueError / OSError (French) and writes nothing then."""
    places = Gazetteer.load(geo_build, settings.sources)
    path = Path(args.fichier) if args.fichier else None
    notes: list[str] = []
    if path is None:  # --bpe alone: the official file, downloaded once into the cache
        path = download_bpe(settings.cache / "bpe")
    source = path.name
    options = ImportOptions(
        columns=parse_overrides(args.colonnes),
        crs=parse_crs(args.crs),
        place_without_coordinates=args.placer_sans_coordonnees,
        id_prefix=_id_prefix(source),
    )
    if args.bpe or path.suffix.lower() == ".zip" or _bpe_header(path):
        table, source, notes = read_bpe(path)
    else:
        table = read_source(path.read_bytes())
    if source.startswith("BPE"):
        options = ImportOptions(crs=4326, id_prefix=source.replace(" ", ""))
    result = parse_facilities(table, places, options)
    served = install_facilities(settings.facilities_import, result.table, source)
    return [
        f"{source} : {result.resume()}",
        *(f"BPE : {n}" for n in notes),
        f"Équipements en service : {len(served)} (toutes sources, doublons fusionnés)",
    ]
