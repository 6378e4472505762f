"""Import a user's facilities file (EAJE and LAEP with coordinates) into the build cache.

The file is a CSV (`;`, `,` or tab; UTF-8, Windows-1252 or UTF-16) with one row per facility:
a name, a type, longitude and latitude (WGS84 decimal degrees, decimal comma accepted), and
optionally an identifier, the commune's INSEE code, an address and the number of places.
Each point is placed in the commune that contains it; a file is refused whole, with the lines
at fault, when anything is wrong: nothing is half-written.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodata import cache
from layers.catalogue import fold
from layers.ingest.errors import CafdataFormatError
from layers.ingest.reading import RawTable, decode, read_table
from layers.ingest.values import FORMULA
from layers.model import FACILITY_BY_SLUG, LAEP

MAX_BYTES = 20_000_000
MAX_ROWS = 200_000
MAX_ERRORS = 5
# A geocoded point may fall just outside its commune (address on the border, rounding).
TOLERANCE_KM = 2.0
FILE_NAME = "equipements.parquet"

# Accepted column names (folded: lower case, no accents) -> canonical column.
COLUMNS = {
    "nom": ("nom", "name", "nom_equipement", "raison_sociale", "libelle", "denomination"),
    "type": ("type", "type_equipement", "categorie", "type_structure", "nature"),
    "lon": ("lon", "longitude", "lng", "x", "coord_x"),
    "lat": ("lat", "latitude", "y", "coord_y"),
    "commune": ("commune", "code_commune", "codgeo", "code_insee", "insee", "depcom", "com"),
    "adresse": ("adresse", "address", "adresse_postale"),
    "places": ("places", "nb_places", "nombre_places", "capacite", "places_agreees"),
    "id": ("id", "identifiant", "code", "finess", "siret"),
}
REQUIRED = ("nom", "type", "lon", "lat")
# The file's types (folded) -> labels used everywhere else; the first matching pattern wins.
TYPE_PATTERNS: tuple[tuple[str, str], ...] = tuple(
    (pattern, FACILITY_BY_SLUG[slug].label)
    for pattern, slug in (
        (r"\blaep\b|lieu d.?accueil enfants?.?parents?", "laep"),
        (r"micro", "micro_creche"),
        (r"familial", "creche_familiale"),
        (r"parental", "creche_parentale"),
        (r"collecti|multi.?accueil|halte|creche|eaje", "creche_collective"),
    )
)
LON_RANGE, LAT_RANGE = (-180.0, 180.0), (-90.0, 90.0)


@dataclass(frozen=True)
class FacilityImport:
    table: pd.DataFrame  # id, nom, type, places, commune, adresse, lon, lat
    moved: int  # points outside the commune the file named, kept in the file's commune
    placed: int  # points whose commune came from the coordinates

    def resume(self) -> str:
        counts = self.table["type"].value_counts()
        parts = ", ".join(f"{n} {t}" for t, n in counts.items())
        return (
            f"{len(self.table)} équipements importés ({parts}) ; {self.placed} placés dans leur "
            f"commune d'après les coordonnées"
            + (
                f", {self.moved} à moins de {TOLERANCE_KM:g} km de la commune indiquée"
                if self.moved
                else ""
            )
        )


def _refuse(errors: list[str]) -> CafdataFormatError:
    more = " …" if len(errors) > MAX_ERRORS else ""
    return CafdataFormatError("; ".join(errors[:MAX_ERRORS]) + more)


def _columns(header: list[str]) -> dict[str, str]:
    """Canonical name -> the file's column name."""
    found: dict[str, str] = {}
    for name in header:
        key = re.sub(r"[^a-z0-9]+", "_", fold(name)).strip("_")
        for canon, aliases in COLUMNS.items():
            if key in aliases and canon not in found:
                found[canon] = name
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise CafdataFormatError(
            f"colonne(s) obligatoire(s) absente(s) : {', '.join(missing)} (en-tête lu : "
            f"{'; '.join(h[:30] for h in header[:12])}). Colonnes attendues : nom, type, "
            "longitude, latitude ; facultatives : identifiant, commune (code Insee), adresse, "
            "places."
        )
    return found


def facility_type(text: str) -> str | None:
    """The label of a facility type written freely ("Multi-accueil", "LAEP"...), or None."""
    key = fold(text).strip()
    for pattern, label in TYPE_PATTERNS:
        if re.search(pattern, key):
            return label
    return None


def _numbers(cells: pd.Series) -> pd.Series:
    text = cells.astype(str).str.strip().str.replace(r"[\s\u00a0\u202f]", "", regex=True)
    return pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")


def _place(
    lon: np.ndarray, lat: np.ndarray, given_arr: np.ndarray, communes: gpd.GeoDataFrame
) -> tuple[np.ndarray, int, int]:
    """Commune code of each point (contained, else the given one if near, else the nearest
    within the tolerance); '' when none. Also the counts of moved and coordinate-placed."""
    points = shapely.points(lon, lat)
    tree = shapely.STRtree(communes.geometry.values)
    codes = communes["code"].to_numpy().astype(str)
    inside = np.full(len(points), "", dtype=object)
    pt_idx, poly_idx = tree.query(points, predicate="within")
    inside[pt_idx] = codes[poly_idx]
    out = inside.copy()
    by_code = dict(zip(codes, communes.geometry.values, strict=True))
    # ~1 degree of latitude = 111 km; good enough for a 2 km tolerance.
    tol_deg = TOLERANCE_KM / 111.0
    moved = 0
    for i in np.flatnonzero((given_arr != "") & (inside != given_arr)):
        geom = by_code.get(given_arr[i])
        if geom is not None and shapely.distance(geom, points[i]) <= tol_deg:
            out[i] = given_arr[i]
            moved += 1
        elif geom is not None:
            out[i] = "!" + given_arr[i]  # far from the commune it names
    lost = np.flatnonzero(out == "")
    if lost.size:
        near_pt, near_poly = tree.query_nearest(points[lost], max_distance=tol_deg)
        out[lost[near_pt]] = codes[near_poly]
    placed = int(((given_arr == "") & (out != "")).sum())
    return out, moved, placed


def _read(raw: bytes) -> RawTable:
    if len(raw) > MAX_BYTES:
        raise CafdataFormatError(
            f"fichier trop volumineux ({len(raw) / 1e6:.1f} Mo, au plus {MAX_BYTES // 10**6} Mo)"
        )
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CafdataFormatError("fichier binaire : un CSV (texte) est attendu")
    text, _encoding = decode(raw)
    table = read_table(text)
    if len(table.cells) > MAX_ROWS:
        raise CafdataFormatError(f"{len(table.cells)} lignes : au plus {MAX_ROWS} équipements")
    return table


class _Fields:
    """The file's cells by canonical column, as stripped text ('' where empty)."""

    def __init__(self, table: RawTable) -> None:
        self.cells = table.cells
        self.lines = table.lines
        self.names = _columns(table.header)

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def text(self, name: str) -> pd.Series:
        return self.cells[self.names[name]].fillna("").astype(str).str.strip()

    def text_or_blank(self, name: str) -> pd.Series:
        return self.text(name) if name in self else pd.Series("", index=self.cells.index)

    def at_fault(self, mask: pd.Series | np.ndarray) -> list[tuple[int, int]]:
        """(position, file line) of the first rows flagged, one more than reported (for the
        final ' …')."""
        rows = np.flatnonzero(np.asarray(mask))[: MAX_ERRORS + 1]
        return [(i, self.lines[i]) for i in rows]


@dataclass(frozen=True)
class _Rows:
    """The parsed columns: names, type labels (None when unknown), coordinates, places."""

    names: pd.Series
    types: pd.Series
    lon: pd.Series
    lat: pd.Series
    places: pd.Series
    has_places: pd.Series

    @classmethod
    def parse(cls, f: _Fields) -> _Rows:
        index = f.cells.index
        if "places" in f:
            places, has_places = _numbers(f.text("places")), f.text("places") != ""
        else:
            places, has_places = pd.Series(np.nan, index=index), pd.Series(False, index=index)
        lon, lat = _numbers(f.text("lon")), _numbers(f.text("lat"))
        types = f.text("type").map(facility_type)
        return cls(f.text("nom"), types, lon, lat, places, has_places)


def _value_errors(f: _Fields, rows: _Rows) -> list[str]:
    """Spreadsheet formulas, empty names, unknown types, invalid coordinates and places."""
    errors = [
        f"ligne {line} : formule de tableur refusée ({f.names[name]})"
        for name in f.names
        for _, line in f.at_fault(f.text(name).str.contains(FORMULA, regex=True))
    ]
    errors += [f"ligne {line} : nom vide" for _, line in f.at_fault(rows.names == "")]
    errors += [
        f"ligne {line} : type « {f.text('type').iloc[i][:40]} » inconnu (crèche collective, "
        "micro-crèche, crèche familiale, crèche parentale, multi-accueil ou LAEP)"
        for i, line in f.at_fault(rows.types.isna())
    ]
    bad = ~(rows.lon.between(*LON_RANGE) & rows.lat.between(*LAT_RANGE))
    errors += [
        f"ligne {line} : coordonnées invalides ({f.text('lon').iloc[i][:20]} ; "
        f"{f.text('lat').iloc[i][:20]}), degrés décimaux WGS84 attendus"
        for i, line in f.at_fault(bad)
    ]
    places = rows.places
    bad_places = rows.has_places & ~(places.ge(0) & places.le(10_000) & (places % 1 == 0))
    errors += [
        f"ligne {line} : nombre de places « {f.text('places').iloc[i][:20]} » "
        "invalide (entier positif attendu)"
        for i, line in f.at_fault(bad_places)
    ]
    return errors


def _commune_errors(f: _Fields, given: pd.Series, communes: gpd.GeoDataFrame) -> list[str]:
    unknown = (given != "") & ~given.str.zfill(5).isin(set(communes["code"].astype(str)))
    return [
        f"ligne {line} : code commune « {given.iloc[i][:10]} » inconnu"
        for i, line in f.at_fault(unknown)
    ]


def _placement_errors(f: _Fields, rows: _Rows, codes: np.ndarray) -> list[str]:
    """Points in no known commune, or far from the commune the file names."""
    errors = [
        f"ligne {line} : le point ({rows.lon.iloc[i]:g} ; {rows.lat.iloc[i]:g}) n'est "
        "dans aucune commune connue"
        for i, line in f.at_fault(codes == "")
    ]
    errors += [
        f"ligne {line} : le point est à plus de {TOLERANCE_KM:g} km de la "
        f"commune {codes[i][1:]} indiquée"
        for i, line in f.at_fault(np.char.startswith(codes.astype(str), "!"))
    ]
    return errors


def _refuse_any(errors: list[str]) -> None:
    if errors:
        raise _refuse(errors)


def _identifiers(f: _Fields) -> pd.Series:
    """The file's identifiers, IMP-000001... where it gives none; refused when repeated."""
    ids = f.text_or_blank("id")
    ids = ids.where(ids != "", [f"IMP-{n:06d}" for n in range(1, len(f.cells) + 1)])
    dup = ids.duplicated(keep=False)
    if dup.any():
        first = int(np.flatnonzero(dup.to_numpy())[0])
        raise CafdataFormatError(
            f"ligne {f.lines[first]} : identifiant « {ids.iloc[first][:30]} » en double"
        )
    return ids


def parse_facilities(raw: bytes, communes: gpd.GeoDataFrame) -> FacilityImport:
    """Read a facilities CSV; `communes` has the commune `code` and WGS84 `geometry`.

    Raises `CafdataFormatError` (French, naming the lines) on anything wrong."""
    f = _Fields(_read(raw))
    rows = _Rows.parse(f)
    _refuse_any(_value_errors(f, rows))
    given = f.text_or_blank("commune")
    _refuse_any(_commune_errors(f, given, communes))
    # The file's codes, normalised ("1004" -> "01004"); "" where the file gives none.
    given_codes = given.str.zfill(5).where(given != "", "").to_numpy(dtype=object)
    lon, lat = rows.lon.to_numpy(float), rows.lat.to_numpy(float)
    codes, moved, placed = _place(lon, lat, given_codes, communes)
    _refuse_any(_placement_errors(f, rows, codes))
    ids = _identifiers(f)
    out = pd.DataFrame(
        {
            "id": ids.to_numpy(str),
            "nom": rows.names.to_numpy(str),
            "type": rows.types.to_numpy(str),
            # A LAEP has no approved places; a missing count stays missing, never 0.
            "places": rows.places.where(rows.has_places & rows.types.ne(LAEP)).astype("Float64"),
            "commune": codes.astype(str),
            "adresse": f.text_or_blank("adresse").replace("", None),
            "lon": rows.lon.round(6).to_numpy(float),
            "lat": rows.lat.round(6).to_numpy(float),
        }
    )
    return FacilityImport(out, moved, placed)


def install_facilities(root: Path, result: FacilityImport, source: str) -> Path:
    """Write the imported facilities as a new build of `root` and switch to it atomically."""
    build = cache.new_build(root)
    build.mkdir(parents=True)
    result.table.to_parquet(build / FILE_NAME, index=False)
    (build / "manifest.json").write_text(
        pd.Series(
            {
                "source": source,
                "equipements": len(result.table),
                "importe_le": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
        ).to_json(force_ascii=False),
        encoding="utf-8",
    )
    return cache.finish_build(root, build)


def remove_facilities(root: Path) -> bool:
    """Back to the demonstration facilities: drop the `current` link (builds are kept)."""
    link = root / "current"
    if link.is_symlink():
        link.unlink()
        return True
    return False
