"""Which column of a facilities file says what: the usual headers of municipal and
departmental open-data portals (and of INSEE's BPE), recognised whatever their case, accents
and spacing, or named by the user (`--colonnes nom="Nom de la crèche",places=capacite`).

The mapping is shown in the import report (« Nom ← Nom de la crèche »), so a wrong guess is
seen and corrected, never silent.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

from layers.catalogue import fold
from layers.ingest.errors import CafdataFormatError

# Canonical role -> (French name in the report, accepted headers once folded, first wins).
# Coordinates from a GeoJSON geometry or an Opendatasoft `geo_point_2d` come as the synthetic
# columns `geometry_lon`... (see layers/facility_formats.py), after any explicit column.
ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "nom": (
        "Nom",
        (
            "nom", "name", "nom_de_la_creche", "nom_creche", "nom_etablissement",
            "nom_de_l_etablissement", "nom_de_la_structure", "nom_structure", "nom_equipement",
            "raison_sociale", "denomination", "nom_eaje", "appellation", "libelle",
            "etablissement", "structure", "enseigne", "nomrs",
        ),
    ),
    "type": (
        "Type",
        (
            "type", "type_accueil", "type_d_accueil", "type_structure", "type_de_structure",
            "type_etablissement", "type_d_etablissement", "type_equipement", "mode_d_accueil",
            "mode_accueil", "categorie", "nature", "typologie", "type_eaje", "typequ",
        ),
    ),
    "lon": (
        "Longitude",
        (
            "longitude", "lon", "lng", "long", "x_wgs84", "coord_x", "coordonnee_x", "x",
            "lambert_x", "x_l93", "geometry_lon", "geo_point_2d_lon",
        ),
    ),
    "lat": (
        "Latitude",
        (
            "latitude", "lat", "y_wgs84", "coord_y", "coordonnee_y", "y", "lambert_y", "y_l93",
            "geometry_lat", "geo_point_2d_lat",
        ),
    ),
    "insee": (
        "Code Insee",
        (
            "code_insee", "code_commune", "code_commune_insee", "code_insee_commune", "insee",
            "codgeo", "depcom", "com", "cog", "codecommune", "code_com",
        ),
    ),
    # A city's « Arrondissement » column holds postcodes (13001), never INSEE codes (13201).
    "cp": (
        "Code postal",
        ("code_postal", "cp", "codepostal", "postal_code", "arrondissement"),
    ),
    "ville": (
        "Commune",
        ("commune", "ville", "nom_commune", "nom_de_la_commune", "libelle_commune", "localite"),
    ),
    # With a commune's name only: which of the homonyms (Vitrolles 05 or 13).
    "dep": (
        "Département",
        ("code_departement", "departement", "num_departement", "numdep", "code_dep", "dep"),
    ),
    "adresse": (
        "Adresse",
        ("adresse", "address", "adresse_postale", "adresse_complete", "adresse_1", "voie", "rue"),
    ),
    "places": (
        "Places",
        (
            "places", "nombre_de_places", "nombre_places", "nb_places", "capacite",
            "capacite_d_accueil", "capacite_theorique", "places_agreees", "nb_places_agreees",
            "agrement",
        ),
    ),
    "id": ("Identifiant", ("identifiant", "id", "finess", "numero_finess", "siret")),
}  # fmt: skip
# Words the user may write on the left of `--colonnes` (besides the role codes themselves).
ROLE_WORDS = {
    "longitude": "lon",
    "latitude": "lat",
    "code_insee": "insee",
    "code_postal": "cp",
    "commune": "ville",
    "identifiant": "id",
    "departement": "dep",
}


def header_key(name: str) -> str:
    """« Nom de la crèche » -> "nom_de_la_creche": lower case, no accents, `_` between words."""
    return re.sub(r"[^a-z0-9]+", "_", fold(name).replace("’", "'")).strip("_")


@dataclass(frozen=True)
class ColumnMap:
    """Role -> the file's column name; `forced` are the roles the user named."""

    names: dict[str, str]
    forced: frozenset[str] = frozenset()

    def __contains__(self, role: str) -> bool:
        return role in self.names

    def lines(self) -> list[str]:
        """« Nom ← Nom de la crèche » for each role found, in the order of ROLES."""
        out = []
        for role, (label, _aliases) in ROLES.items():
            if role in self.names:
                given = " (indiquée par --colonnes)" if role in self.forced else ""
                out.append(f"{label} ← {self.names[role]}{given}")
        return out


def parse_overrides(text: str | None) -> dict[str, str]:
    """`nom="Nom de la crèche",places=capacite` -> {"nom": "Nom de la crèche", "places": ...}."""
    if not text:
        return {}
    out: dict[str, str] = {}
    for item in next(csv.reader([text], skipinitialspace=True)):
        key, sep, value = item.partition("=")
        role = ROLE_WORDS.get(header_key(key), header_key(key))
        if not sep or not value.strip() or role not in ROLES:
            known = ", ".join(ROLES)
            raise CafdataFormatError(
                f"--colonnes : « {item} » n'est pas de la forme rôle=colonne (rôles : {known})"
            )
        out[role] = value.strip().strip('"')
    return out


def map_columns(header: list[str], overrides: dict[str, str] | None = None) -> ColumnMap:
    """The role of each recognised column; the user's overrides win (and must exist)."""
    by_key: dict[str, str] = {}
    for name in header:
        by_key.setdefault(header_key(name), name)
    names: dict[str, str] = {}
    for role, (_label, aliases) in ROLES.items():
        found = next((by_key[a] for a in aliases if a in by_key), None)
        if found is not None and found not in names.values():
            names[role] = found
    overrides = overrides or {}
    for role, column in overrides.items():
        match = column if column in header else by_key.get(header_key(column))
        if match is None:
            raise CafdataFormatError(
                f"--colonnes : colonne « {column} » absente du fichier (en-tête lu : "
                f"{'; '.join(h[:30] for h in header[:15])})"
            )
        names = {r: c for r, c in names.items() if c != match}
        names[role] = match
    _check(header, names)
    return ColumnMap(names, frozenset(overrides))


def _check(header: list[str], names: dict[str, str]) -> None:
    read = "; ".join(h[:30] for h in header[:15])
    if "nom" not in names:
        raise CafdataFormatError(
            f"aucune colonne de nom reconnue (en-tête lu : {read}). Nommez-la avec "
            '--colonnes nom="…" (par exemple --colonnes nom="Nom de la structure").'
        )
    if ("lon" in names) != ("lat" in names):
        raise CafdataFormatError(
            "une seule colonne de coordonnées reconnue "
            f"({', '.join(names[r] for r in ('lon', 'lat') if r in names)}) : indiquez "
            "l'autre avec --colonnes longitude=… ou latitude=…"
        )
    if "lon" not in names and not {"insee", "cp", "ville"} & set(names):
        raise CafdataFormatError(
            f"ni coordonnées ni commune reconnues (en-tête lu : {read}) : une colonne "
            "longitude/latitude, code Insee, code postal ou commune est attendue"
        )
