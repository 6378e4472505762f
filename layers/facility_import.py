"""Import a facilities file (crèches, LAEP, relais petite enfance) as people have it.

The file is read by `layers/facility_formats.py` (CSV, GeoJSON, Opendatasoft exports), its
columns recognised by `layers/facility_columns.py`, its rows placed by
`layers/facility_places.py`; the result accumulates beside earlier imports
(`layers/facility_store.py`). What cannot be right is refused whole, naming the rows at fault
(spreadsheet formulas, empty names, unreadable coordinates or places, points outside France
or far from the commune the file names, repeated identifiers): nothing is half-written.
What is merely incomplete is imported and reported: rows without coordinates are listed (or
placed at their commune's point when asked, flagged approximate), rows of an unknown type are
counted and left out (a wrong kind on the map would mislead more than a missing point).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from layers.catalogue import fold
from layers.facility_columns import ColumnMap, map_columns
from layers.facility_formats import SourceTable, read_source
from layers.facility_places import (
    COMMUNE_CODE,
    OUTSIDE,
    TOLERANCE_KM,
    WGS84,
    Gazetteer,
    detect_crs,
    in_france,
    place_points,
    to_wgs84,
)
from layers.ingest.errors import CafdataFormatError
from layers.ingest.values import FORMULA
from layers.model import FACILITY_BY_SLUG, FACILITY_MATCH_ORDER, PLACELESS_LABELS

MAX_ERRORS = 5
MAX_LISTED = 30
GENERIC = FACILITY_BY_SLUG["eaje_non_precise"].label
COLUMNS = ("id", "nom", "type", "places", "commune", "arm", "adresse", "lon", "lat", "approx")


def facility_type(text: str) -> str | None:
    """The label of a facility type written freely (« Multi accueil », « RAM »...), or None."""
    key = re.sub(r"[\s\-_’']+", " ", fold(text)).strip()
    for kind in FACILITY_MATCH_ORDER:
        if any(re.search(pattern, key) for pattern in kind.synonyms):
            return kind.label
    return None


@dataclass
class FacilityImport:
    table: pd.DataFrame  # COLUMNS: the facilities placed
    form: str  # what was read (« CSV (séparateur « , », UTF-8) »)
    columns: ColumnMap
    crs: int
    listed: pd.DataFrame  # nom, adresse, commune, raison: rows not placed
    unknown_types: dict[str, int] = field(default_factory=dict)
    outside: int = 0  # points in France but outside the communes of the build
    moved: int = 0  # points just outside the commune the file names, kept in it
    approximate: int = 0  # rows without coordinates placed at their commune's point

    def resume(self) -> str:
        counts = self.table["type"].value_counts()
        parts = ", ".join(f"{n} {t}" for t, n in counts.items())
        lines = [
            f"{len(self.table)} équipements placés et importés ({parts})",
            f"lu comme {self.form} ; " + self._crs_text(),
            "colonnes : " + " ; ".join(self.columns.lines()),
        ]
        if self.approximate:
            lines.append(
                f"{self.approximate} sans coordonnées placés au centre de leur commune ou "
                "arrondissement (position approximative)"
            )
        if self.moved:
            lines.append(f"{self.moved} à moins de {TOLERANCE_KM:g} km de la commune indiquée")
        if self.outside:
            lines.append(f"{self.outside} {OUTSIDE} (non importés)")
        for kind, n in sorted(self.unknown_types.items(), key=lambda kv: -kv[1]):
            lines.append(f"type « {kind} » inconnu : {n} ligne(s) non importée(s)")
        lines += self._listed_lines()
        return "\n".join(lines)

    def _crs_text(self) -> str:
        if self.table["approx"].all():
            return "aucune coordonnée"
        if self.crs == WGS84:
            return "coordonnées WGS84 (degrés)"
        return f"coordonnées EPSG:{self.crs} reprojetées en WGS84"

    def _listed_lines(self) -> list[str]:
        if self.listed.empty:
            return []
        out = [
            f"{len(self.listed)} sans coordonnées, non placés (--placer-sans-coordonnees pour "
            "les placer au centre de leur commune) :"
        ]
        for r in self.listed.head(MAX_LISTED).itertuples():
            where = ", ".join(x for x in (r.adresse, r.commune) if x)
            out.append(f"  - {r.nom}" + (f" ({where})" if where else "") + f" : {r.raison}")
        if len(self.listed) > MAX_LISTED:
            out.append(f"  … et {len(self.listed) - MAX_LISTED} autres")
        return out


class _Fields:
    """The file's cells by role, as stripped text ('' where empty)."""

    def __init__(self, source: SourceTable, columns: ColumnMap) -> None:
        self.source = source
        self.cells = source.cells
        self.names = columns.names

    def __contains__(self, role: str) -> bool:
        return role in self.names

    def text(self, role: str) -> pd.Series:
        if role not in self.names:
            return pd.Series("", index=self.cells.index, dtype=object)
        return self.cells[self.names[role]].fillna("").astype(str).str.strip()

    def at_fault(self, mask: pd.Series | np.ndarray) -> list[tuple[int, str]]:
        """(position, « ligne 12 ») of the first rows flagged, one more than reported."""
        rows = np.flatnonzero(np.asarray(mask))[: MAX_ERRORS + 1]
        return [(i, f"{self.source.unit} {self.source.lines[i]}") for i in rows]


def _numbers(cells: pd.Series) -> pd.Series:
    text = cells.astype(str).str.strip().str.replace(r"[\s\u00a0\u202f]", "", regex=True)
    return pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")


def _refuse_any(errors: list[str]) -> None:
    if errors:
        more = " …" if len(errors) > MAX_ERRORS else ""
        raise CafdataFormatError("; ".join(errors[:MAX_ERRORS]) + more)


@dataclass(frozen=True)
class _Rows:
    names: pd.Series
    types: pd.Series  # label, None when unknown
    x: np.ndarray
    y: np.ndarray
    has_xy: np.ndarray
    places: pd.Series

    @classmethod
    def parse(cls, f: _Fields) -> _Rows:
        types = f.text("type").map(lambda t: facility_type(t) if t else GENERIC)
        if "type" not in f:
            types = pd.Series(GENERIC, index=f.cells.index)
        x, y = _numbers(f.text("lon")).to_numpy(float), _numbers(f.text("lat")).to_numpy(float)
        has_xy = ~(np.isnan(x) | np.isnan(y))
        return cls(f.text("nom"), types, x, y, has_xy, _numbers(f.text("places")))


def _value_errors(f: _Fields, rows: _Rows) -> list[str]:
    """Spreadsheet formulas, empty names, unreadable coordinates and places."""
    errors = [
        f"{where} : formule de tableur refusée ({f.names[role]})"
        for role in f.names
        for _, where in f.at_fault(f.text(role).str.contains(FORMULA, regex=True))
    ]
    errors += [f"{where} : nom vide" for _, where in f.at_fault(rows.names == "")]
    written = (f.text("lon") != "") | (f.text("lat") != "")
    errors += [
        f"{where} : coordonnées illisibles ({f.text('lon').iloc[i][:20]} ; "
        f"{f.text('lat').iloc[i][:20]})"
        for i, where in f.at_fault(written.to_numpy() & ~rows.has_xy)
    ]
    places = rows.places
    given = f.text("places") != ""
    bad = given & ~(places.ge(0) & places.le(10_000) & (places % 1 == 0))
    errors += [
        f"{where} : nombre de places « {f.text('places').iloc[i][:20]} » invalide (entier "
        "positif attendu)"
        for i, where in f.at_fault(bad)
    ]
    return errors


def _coordinates(f: _Fields, rows: _Rows, crs: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """WGS84 longitude and latitude of each row (NaN without coordinates); refused outside
    France (inverted columns, wrong system)."""
    epsg = crs or detect_crs(rows.x, rows.y)
    lon, lat = to_wgs84(rows.x, rows.y, epsg)
    outside = rows.has_xy & ~in_france(lon, lat)
    _refuse_any(
        [
            f"{where} : coordonnées hors de France ({rows.x[i]:g} ; {rows.y[i]:g}) : vérifiez "
            "l'ordre longitude/latitude, ou le système avec --crs 4326 (WGS84) ou 2154 "
            "(Lambert-93)"
            for i, where in f.at_fault(outside)
        ]
    )
    return lon, lat, epsg


def _where_named(f: _Fields, places: Gazetteer) -> pd.DataFrame:
    """Commune, arrondissement and problem of each row from its INSEE code, postcode, name."""
    texts = (f.text("insee"), f.text("cp"), f.text("ville"), f.text("dep"))
    found = [places.resolve(*row) for row in zip(*texts, strict=True)]
    out = pd.DataFrame(found, columns=["commune", "arm", "probleme"], index=f.cells.index)
    bad = out["probleme"].str.startswith("code Insee")
    _refuse_any([f"{where} : {out['probleme'].iloc[i]}" for i, where in f.at_fault(bad)])
    return out


def _identifiers(f: _Fields, keep: np.ndarray, prefix: str) -> pd.Series:
    """The file's identifiers, `<prefix>-0001`... where it gives none; refused when repeated."""
    ids = f.text("id")
    generated = pd.Series([f"{prefix}-{n:04d}" for n in range(1, len(ids) + 1)], index=ids.index)
    ids = ids.where(ids != "", generated)
    dup = ids.duplicated(keep=False).to_numpy() & keep
    _refuse_any(
        [f"{where} : identifiant « {ids.iloc[i][:30]} » en double" for i, where in f.at_fault(dup)]
    )
    return ids


@dataclass(frozen=True)
class ImportOptions:
    columns: dict[str, str] | None = None  # --colonnes
    crs: int | None = None  # --crs (None: detected)
    place_without_coordinates: bool = False  # --placer-sans-coordonnees
    id_prefix: str = "IMP"


def parse_facilities(
    raw: bytes | SourceTable, places: Gazetteer, options: ImportOptions | None = None
) -> FacilityImport:
    """Read a facilities file (bytes, or a table already read: the BPE) and place its rows.

    Raises `CafdataFormatError` (French, naming the rows) on anything wrong."""
    options = options or ImportOptions()
    source = raw if isinstance(raw, SourceTable) else read_source(raw)
    columns = map_columns(source.header, options.columns)
    f = _Fields(source, columns)
    rows = _Rows.parse(f)
    _refuse_any(_value_errors(f, rows))
    lon, lat, epsg = _coordinates(f, rows, options.crs)
    named = _where_named(f, places)
    placed = _place(rows, (lon, lat), named, places, f)
    if options.place_without_coordinates:
        _place_at_communes(placed, ~rows.has_xy, named, places)
    known = rows.types.notna().to_numpy()
    unknown = f.text("type")[~known].value_counts().to_dict()
    if not known.any():
        _refuse_any([f"aucun type d'équipement reconnu ({_some(unknown)})"])
    keep = known & (placed["commune"] != "").to_numpy()
    elsewhere = known & ~keep & (rows.has_xy | (named["probleme"] == OUTSIDE).to_numpy())
    listed = _listed(rows, f, named, places, known & ~keep & ~elsewhere)
    if not keep.any():
        _refuse_any(
            [
                f"aucun équipement placé ({len(listed)} sans coordonnées : "
                "--placer-sans-coordonnees les place au centre de leur commune ; "
                f"{int(elsewhere.sum())} {OUTSIDE})"
            ]
        )
    ids = _identifiers(f, keep, options.id_prefix)
    kinds = rows.types.fillna("")
    table = pd.DataFrame(
        {
            "id": ids.to_numpy(str),
            "nom": rows.names.to_numpy(str),
            "type": kinds.to_numpy(str),
            # A LAEP or a relais has no approved places; a missing count stays missing.
            "places": rows.places.where(~kinds.isin(PLACELESS_LABELS)).astype("Float64"),
            "commune": placed["commune"].to_numpy(str),
            "arm": placed["arm"].to_numpy(str),
            "adresse": f.text("adresse").replace("", None),
            "lon": placed["lon"].round(6).to_numpy(float),
            "lat": placed["lat"].round(6).to_numpy(float),
            "approx": placed["approx"].to_numpy(bool),
        }
    )[keep].reset_index(drop=True)
    return FacilityImport(
        table,
        source.form,
        columns,
        epsg,
        listed,
        unknown,
        outside=int(elsewhere.sum()),
        moved=int(placed.attrs.get("moved", 0)),
        approximate=int((placed["approx"].to_numpy() & keep).sum()),
    )


def _some(counts: dict[str, int]) -> str:
    return ", ".join(f"« {k[:30]} » {n}" for k, n in list(counts.items())[:5]) or "aucun"


def _place(
    rows: _Rows,
    points: tuple[np.ndarray, np.ndarray],
    named: pd.DataFrame,
    places: Gazetteer,
    f: _Fields,
) -> pd.DataFrame:
    """Commune, arrondissement, point and approximate flag of each row ('' when unplaced)."""
    has, (lon, lat) = rows.has_xy, points
    # Only an INSEE code is checked against the point (a postcode spans several communes).
    coded = (f.text("insee") != "") | f.text("ville").str.upper().str.match(COMMUNE_CODE.pattern)
    given = named["commune"].where(coded, "").to_numpy(dtype=object)
    codes = np.full(len(has), "", dtype=object)
    codes[has], moved = place_points(lon[has], lat[has], given[has], places.communes)
    far = np.char.startswith(codes.astype(str), "!")
    _refuse_any(
        [
            f"{where} : le point est à plus de {TOLERANCE_KM:g} km de la commune "
            f"{codes[i][1:]} indiquée"
            for i, where in f.at_fault(far)
        ]
    )
    arm = np.full(len(has), "", dtype=object)
    if places.arm_polygons:
        arm[has] = places.point_arm(lon[has], lat[has])
        parent = np.array([places.arm_parent.get(a, "") for a in arm], dtype=object)
        arm[parent != codes] = ""  # a neighbour's point near the city's edge
    else:  # the postcode's arrondissement, when the point is in its city
        same = has & (codes == named["commune"].to_numpy(dtype=object))
        arm[same] = named["arm"].to_numpy(dtype=object)[same]
    out = pd.DataFrame({"commune": codes, "arm": arm, "lon": lon, "lat": lat, "approx": False})
    out.attrs["moved"] = moved
    return out


def _place_at_communes(
    placed: pd.DataFrame, without: np.ndarray, named: pd.DataFrame, places: Gazetteer
) -> None:
    """Rows without coordinates at their arrondissement's or commune's point, approximate."""
    for i in np.flatnonzero(without & named["commune"].isin(places.codes).to_numpy()):
        commune, arm = named["commune"].iloc[i], named["arm"].iloc[i]
        lon, lat = places.label_point(commune, arm)
        placed.iloc[i, :] = [commune, arm, lon, lat, True]


def _listed(
    rows: _Rows, f: _Fields, named: pd.DataFrame, places: Gazetteer, mask: np.ndarray
) -> pd.DataFrame:
    names = places.communes.set_index("code")["nom"]
    commune = named["commune"].map(lambda c: names.get(c, "")).fillna("")
    reason = named["probleme"].where(named["probleme"] != "", "sans coordonnées")
    return pd.DataFrame(
        {
            "nom": rows.names,
            "adresse": f.text("adresse"),
            "commune": commune.where(commune != "", f.text("ville")),
            "raison": reason,
        }
    )[mask].reset_index(drop=True)
