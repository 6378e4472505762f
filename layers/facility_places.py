"""Where a facility is: its coordinates (WGS84 or Lambert-93, reprojected), its commune (from the
INSEE code, the postcode, the commune's name, or the point itself) and, in Paris, Lyon and
Marseille, its municipal arrondissement.

A point's commune is the city (13055) and its arrondissement (13201...) is kept beside it:
from the arrondissements' polygons when the build has them (`geo/arm.parquet`), else from the
postcode (13001 -> 13201), read in the COG (`territoires/communes.json`, `codesPostaux`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from layers.catalogue import fold

WGS84, LAMBERT93 = 4326, 2154
CRS_WORDS = {
    "4326": WGS84,
    "wgs84": WGS84,
    "epsg:4326": WGS84,
    "2154": LAMBERT93,
    "lambert93": LAMBERT93,
    "lambert-93": LAMBERT93,
    "l93": LAMBERT93,
    "epsg:2154": LAMBERT93,
}
# Lambert-93 covers metropolitan France: x about 100-1,250 km, y about 6,000-7,200 km.
L93_X, L93_Y = (-100_000.0, 1_400_000.0), (5_900_000.0, 7_300_000.0)
# France (metropolitan and the five DROM) in WGS84: (lon min, lon max, lat min, lat max).
FRANCE_BOXES = (
    (-5.6, 10.0, 41.2, 51.2),
    (-61.9, -60.9, 15.8, 16.6),  # Guadeloupe
    (-61.3, -60.7, 14.3, 14.95),  # Martinique
    (-54.7, -51.5, 2.0, 6.0),  # Guyane
    (55.1, 56.0, -21.5, -20.8),  # La Réunion
    (44.9, 45.4, -13.1, -12.5),  # Mayotte
)
# A geocoded point may fall just outside its commune (address on the border, rounding).
TOLERANCE_KM = 2.0
OUTSIDE = "hors des communes construites"
DEPARTEMENT_CODE = re.compile(r"^(\d{2,3}|2[AB])$")
NEAR_ARM_DEG = 0.5 / 111.0  # 500 m
COMMUNE_CODE = re.compile(r"^(\d[\dAB]\d{3})$")


def parse_crs(text: str | None) -> int | None:
    """`--crs` value -> EPSG code (None: detect); ValueError with a French message."""
    if not text:
        return None
    found = CRS_WORDS.get(text.strip().lower().replace(" ", ""))
    if found is None:
        raise ValueError(
            f"--crs « {text} » inconnu : 4326 (WGS84, degrés) ou 2154 (Lambert-93, mètres)"
        )
    return found


def detect_crs(x: np.ndarray, y: np.ndarray) -> int:
    """Lambert-93 when most given points lie in its range (metres), else WGS84 (degrees)."""
    ok = ~(np.isnan(x) | np.isnan(y))
    if not ok.any():
        return WGS84
    in_l93 = (x[ok] >= L93_X[0]) & (x[ok] <= L93_X[1]) & (y[ok] >= L93_Y[0]) & (y[ok] <= L93_Y[1])
    return LAMBERT93 if in_l93.mean() > 0.5 else WGS84


def to_wgs84(x: np.ndarray, y: np.ndarray, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    if epsg == WGS84:
        return x, y
    lon, lat = _transformer(epsg).transform(x, y)
    return np.asarray(lon, float), np.asarray(lat, float)


@lru_cache(maxsize=8)
def _transformer(epsg: int) -> Transformer:
    return Transformer.from_crs(epsg, WGS84, always_xy=True)


def in_france(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lon), bool)
    for x0, x1, y0, y1 in FRANCE_BOXES:
        out |= (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    return out


def name_key(text: str) -> str:
    """« Saint-Étienne » and « ST ETIENNE » compare equal."""
    key = re.sub(r"[^a-z0-9]+", " ", fold(text)).strip()
    return re.sub(r"\bst(e?)\b", r"saint\1", key).replace("saint e ", "sainte ")


@dataclass
class Gazetteer:
    """The communes of the build (polygons, label points, postcodes) and the arrondissements of
    Paris, Lyon and Marseille (COG postcodes, polygons when the build has them)."""

    communes: gpd.GeoDataFrame  # code, nom, departement, codes_postaux, label_lon/lat, geometry
    arm: pd.DataFrame  # code, nom, commune, codes_postaux (COG); geometry when built
    # Any commune code of the COG (older codes too) -> its current commune, all France: a code
    # outside the build is a place elsewhere, not an error.
    to_current: dict[str, str] = field(default_factory=dict)
    by_postcode: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    by_name: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for row in self.communes.itertuples():
            for cp in str(row.codes_postaux or "").split():
                self.by_postcode.setdefault(cp, []).append((row.code, ""))
            self.by_name.setdefault(name_key(row.nom), []).append((row.code, ""))
        for row in self.arm.itertuples():
            for cp in str(row.codes_postaux or "").split():
                # The arrondissement's postcode names it: it replaces the city's bare entry.
                found = self.by_postcode.setdefault(cp, [])
                found[:] = [c for c in found if c[0] != row.commune] + [(row.commune, row.code)]
            self.by_name.setdefault(name_key(row.nom), []).append((row.commune, row.code))
        self.codes = set(self.communes["code"].astype(str))
        self.arm_parent = dict(zip(self.arm["code"], self.arm["commune"], strict=True))
        self.departement = dict(
            zip(self.communes["code"], self.communes["departement"].astype(str), strict=True)
        )

    @classmethod
    def load(cls, geo_build: Path, sources: Path | None) -> Gazetteer:
        cols = ["code", "nom", "departement", "codes_postaux", "label_lon", "label_lat"]
        communes = gpd.read_parquet(
            geo_build / "geo" / "commune.parquet", columns=[*cols, "geometry"]
        )
        arm, to_current = _cog_tables(sources, set(communes["code"]))
        polygons = geo_build / "geo" / "arm.parquet"
        if polygons.is_file() and not arm.empty:
            shapes = gpd.read_parquet(polygons, columns=["code", "geometry"])
            arm = arm.merge(pd.DataFrame(shapes), on="code", how="left")
        return cls(communes, arm, to_current)

    @property
    def arm_polygons(self) -> bool:
        return "geometry" in self.arm.columns and self.arm["geometry"].notna().any()

    def resolve(
        self, insee: str, postcode: str, town: str, departement: str = ""
    ) -> tuple[str, str, str]:
        """(commune, arrondissement, problem) from what a row says of its place; '' where
        unknown. The INSEE code wins, then the postcode, then the name (among homonyms, the
        one of the postcode's or the given département)."""
        if COMMUNE_CODE.match(town.strip().upper()) and not insee:
            insee, town = town, ""  # an old-style « commune » column holding codes
        if insee:
            return self._by_code(insee)
        cp = postcode.strip().zfill(5) if postcode.strip() else ""
        choices = self.by_postcode.get(cp, []) if cp else []
        if town:
            named = self.by_name.get(name_key(town), [])
            both = [c for c in choices if c[0] in {n[0] for n in named}]
            dep = departement.strip().upper().zfill(2) if departement.strip() else ""
            area = dep if DEPARTEMENT_CODE.match(dep) else cp  # a name there is not used
            choices = both or [n for n in named if self._same_departement(n[0], area)]
        communes = {c[0] for c in choices}
        if len(communes) == 1:
            arms = {c[1] for c in choices}
            return communes.pop(), arms.pop() if len(arms) == 1 else "", ""
        if choices:
            return "", "", f"commune ambiguë ({len(communes)} possibles)"
        if cp or town:
            return "", "", f"commune « {town or postcode} » inconnue"
        return "", "", ""

    def _by_code(self, insee: str) -> tuple[str, str, str]:
        code = insee.strip().upper().zfill(5)
        if code in self.codes:
            return code, "", ""
        if code in self.arm_parent:
            return self.arm_parent[code], code, ""
        current = self.to_current.get(code)
        if current in self.codes:  # an older code of a commune of the build
            return current, "", ""
        if current is not None:
            return "", "", OUTSIDE
        return "", "", f"code Insee « {insee[:10]} » inconnu"

    def _same_departement(self, commune: str, area: str) -> bool:
        """Is the commune in the département given, or of the postcode given ('' : yes)?"""
        dep = self.departement.get(commune, "")
        if len(area) < 5:  # a département code
            return not area or dep == area
        return dep.startswith(area[:2]) or (area[:2] == "20" and dep in ("2A", "2B"))

    def point_arm(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """The arrondissement containing each point ('' elsewhere, or without polygons)."""
        out = np.full(len(lon), "", dtype=object)
        if not self.arm_polygons or not len(lon):
            return out
        shapes = self.arm.dropna(subset=["geometry"])
        tree = shapely.STRtree(shapes["geometry"].to_numpy())
        points = shapely.points(lon, lat)
        codes = shapes["code"].to_numpy()
        pt, poly = tree.query(points, predicate="within")
        out[pt] = codes[poly]
        # On the coast or a border the simplified polygons may miss a point by a few metres.
        lost = np.flatnonzero(out == "")
        if lost.size:
            near_pt, near_poly = tree.query_nearest(points[lost], max_distance=NEAR_ARM_DEG)
            out[lost[near_pt]] = codes[near_poly]
        return out

    def label_point(self, commune: str, arm: str) -> tuple[float, float]:
        """The representative point of an arrondissement (when built) or of a commune."""
        if arm and self.arm_polygons:
            geom = self.arm.set_index("code")["geometry"].get(arm)
            if geom is not None:
                p = shapely.point_on_surface(geom)
                return float(p.x), float(p.y)
        row = self.communes[self.communes["code"] == commune].iloc[0]
        return float(row["label_lon"]), float(row["label_lat"])


def _cog_tables(sources: Path | None, communes: set[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """The arrondissements of the build's cities (code, nom, commune, codes_postaux) and every
    COG code (current, delegated, associated, older) -> its current commune."""
    columns = ["code", "nom", "commune", "codes_postaux"]
    path = None if sources is None else sources / "territoires" / "communes.json"
    if path is None or not path.is_file():
        return pd.DataFrame(columns=columns), {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    rows = [
        (r["code"], r["nom"], r["commune"], " ".join(r.get("codesPostaux", [])))
        for r in raw
        if r.get("type") == "arrondissement-municipal" and r.get("commune") in communes
    ]
    to_current: dict[str, str] = {}
    for r in raw:  # a current code wins over any older meaning of the same code
        current = r.get("chefLieu") or r.get("commune") or r["code"]
        to_current.setdefault(r["code"], current)
        for old in r.get("anciensCodes", []):
            to_current.setdefault(old, r["code"])
    for r in raw:
        if r.get("type") == "commune-actuelle":
            to_current[r["code"]] = r["code"]
    return pd.DataFrame(rows, columns=columns), to_current


def place_points(
    lon: np.ndarray, lat: np.ndarray, given: np.ndarray, communes: gpd.GeoDataFrame
) -> tuple[np.ndarray, int]:
    """Commune code of each point: the one containing it, else the given one if within the
    tolerance, else the nearest within the tolerance; '' when none, '!<code>' when far from the
    commune the file names. Also the number kept in their given commune though just outside."""
    points = shapely.points(lon, lat)
    tree = shapely.STRtree(communes.geometry.values)
    codes = communes["code"].to_numpy().astype(str)
    inside = np.full(len(points), "", dtype=object)
    pt_idx, poly_idx = tree.query(points, predicate="within")
    inside[pt_idx] = codes[poly_idx]
    out = inside.copy()
    by_code = dict(zip(codes, communes.geometry.values, strict=True))
    tol_deg = TOLERANCE_KM / 111.0  # ~1 degree of latitude = 111 km: enough for 2 km
    moved = 0
    for i in np.flatnonzero((given != "") & (inside != given)):
        geom = by_code.get(given[i])
        if geom is not None and shapely.distance(geom, points[i]) <= tol_deg:
            out[i] = given[i]
            moved += 1
        elif geom is not None:
            out[i] = "!" + given[i]
    lost = np.flatnonzero(out == "")
    if lost.size:
        near_pt, near_poly = tree.query_nearest(points[lost], max_distance=tol_deg)
        out[lost[near_pt]] = codes[near_poly]
    return out, moved
