"""OpenAPI 3.1 description of the public API v1 (served at /api/v1/openapi.json).

Built in Python so that its enums (levels, formats, statuses, indicators) follow the code.
Each parameter carries an `example` that answers 200 on the test cut (Lyon, Rhône).
"""

from __future__ import annotations

from functools import lru_cache

from layers.catalogue import Catalogue, active
from layers.model import FACILITY_CATEGORIES, FACILITY_TYPES, LEVEL_CODES
from layers.views import STATUS_API

FORMATS: tuple[str, ...] = ("json", "csv", "xlsx", "geojson")
KINDS: tuple[str, ...] = ("count", "rate", "share", "amount")
FACILITY_TYPE_SLUGS: tuple[str, ...] = (*(ft.slug for ft in FACILITY_TYPES), "eaje")

_ERR = {"$ref": "#/components/responses/Erreur"}
_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_NUM = {"type": ["number", "null"]}
_STRS = {"type": "array", "items": _STR}


def _param(
    name: str, where: str, schema: dict, description: str, example: object, required: bool = False
) -> dict:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": schema,
        "example": example,
    }


def _ok(schema: dict, description: str, media: str = "application/json") -> dict:
    return {"description": description, "content": {media: {"schema": schema}}}


def _obj(props: dict, optional: tuple[str, ...] = ()) -> dict:
    return {
        "type": "object",
        "properties": props,
        "required": [key for key in props if key not in optional],
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


_STATUS = {"type": "string", "enum": list(STATUS_API.values())}
_LEVEL = {"type": "string", "enum": list(LEVEL_CODES)}
_PARENT_REF = _obj({"code": _STR, "name": _NSTR})
_NINT = {"type": ["integer", "null"]}
# Where a series comes from and how the Cnaf disclosed it (/api/v1/data, key figures).
_PROVENANCE = {
    "source": _obj(
        {
            "text": {
                **_STR,
                "description": "« Source : Cnaf, data.caf.fr, jeu …, mis à jour le … »",
            },
            "jeu": {**_NSTR, "description": "Jeu de données du portail (s_ben_com_f)."},
            "champ": {**_NSTR, "description": "Champ source (indfoy_rsa)."},
            "mis_a_jour": {**_NSTR, "description": "Date de mise à jour du jeu (AAAA-MM-JJ)."},
            "url": {**_NSTR, "description": "Page du jeu sur data.caf.fr."},
        }
    ),
    "regime": {
        "type": ["string", "null"],
        "enum": ["exact", "arrondi", "supprime", None],
        "description": "Régime de diffusion : exact, arrondi (à `arrondi`), supprime (secret).",
    },
    "arrondi": {**_NINT, "description": "Pas d'arrondi (5 foyers, 100 euros)."},
    "note": {**_NSTR, "description": "Ce que le régime signifie (un 0, une case vide)."},
    "approximatif": {
        "type": "boolean",
        "description": "Taux calculé à partir d'effectifs arrondis : valeur approchée (≈).",
    },
}
_ERRORS = {"400": _ERR, "404": _ERR, "500": _ERR, "503": _ERR}


def _catalogue_schemas() -> dict:
    return {
        "Erreur": _obj(
            {
                "erreur": {"type": "string", "description": "Message en français."},
                "statut": {"type": "integer", "description": "Code HTTP."},
            }
        ),
        "Indicateur": _obj(
            {
                "id": _STR,
                "title": _STR,
                "kind": {"type": "string", "enum": list(KINDS)},
                "unit": _STR,
                "decimals": {"type": "integer"},
                "levels": {"type": "array", "items": _LEVEL},
                "periods": {**_STRS, "description": "Périodes AAAA-MM, de la plus ancienne."},
                "periods_by_level": {"type": "object", "additionalProperties": _STRS},
                "definition": _STR,
                "source": _STR,
                "frequency": {"type": "object", "additionalProperties": _STR},
                "field": _STR,
                "granularity": _STR,
                "observations": _STR,
                "last_update": _STR,
                "keywords": _STRS,
                "labelled_series": {"type": "boolean"},
                "computed_from": {"type": ["array", "null"], "items": _STR},
                "category": _STR,
                "theme": _STR,
                "subtheme": _STR,
            }
        ),
        "Catalogue": _obj(
            {
                "themes": {
                    "type": "array",
                    "items": _obj(
                        {
                            "category": _STR,
                            "theme": _STR,
                            "subthemes": {
                                "type": "array",
                                "items": _obj({"subtheme": _STR, "indicators": _STRS}),
                            },
                        }
                    ),
                },
                "indicators": {"type": "array", "items": _ref("Indicateur")},
                "demo": {"type": "boolean"},
                "notice": _NSTR,
            }
        ),
    }


def _data_schemas() -> dict:
    return {
        "Ligne": _obj(
            {
                "code": _STR,
                "name": _STR,
                "value": {**_NUM, "description": "null sauf si status = published."},
                "status": _STATUS,
            }
        ),
        "Donnees": _obj(
            {
                "indicator": _STR,
                "title": _STR,
                "level": _LEVEL,
                "period": _STR,
                "parent": {
                    "oneOf": [
                        {"type": "null"},
                        _obj({"level": _LEVEL, "code": _STR, "name": _NSTR}),
                    ]
                },
                "unit": _STR,
                "kind": {"type": "string", "enum": list(KINDS)},
                "decimals": {"type": "integer"},
                **_PROVENANCE,
                "notice": _NSTR,
                "total": {"type": "integer"},
                "offset": {"type": "integer"},
                "limit": {"type": "integer"},
                "rows": {"type": "array", "items": _ref("Ligne")},
            }
        ),
    }


def _territory_schemas() -> dict:
    return {
        "ChiffreCle": _obj(
            {
                "indicator": _STR,
                "title": _STR,
                "unit": _STR,
                "period": _STR,
                "value": _NUM,
                "status": _STATUS,
                **_PROVENANCE,
            }
        ),
        "Territoire": _obj(
            {
                "level": _LEVEL,
                "code": _STR,
                "name": _STR,
                "parents": {"type": "object", "additionalProperties": _PARENT_REF},
                "neighbours": {**_STRS, "description": "Codes des territoires limitrophes."},
                "population": _NUM,
                "area_km2": _NUM,
                "label": {
                    "type": ["array", "null"],
                    "items": {"type": "number"},
                    "description": "[longitude, latitude] d'un point intérieur.",
                },
                "postal_codes": _STRS,
                "key_figures": {"type": "array", "items": _ref("ChiffreCle")},
                "demo": {"type": "boolean"},
                "notice": _NSTR,
            }
        ),
        "Resultat": _obj(
            {
                "level": _LEVEL,
                "code": _STR,
                "name": _STR,
                "parents": {"type": "object", "additionalProperties": _PARENT_REF},
            }
        ),
    }


def _facility_schemas() -> dict:
    return {
        "Equipement": _obj(
            {
                "id": _STR,
                "name": _STR,
                "type": _STR,
                "category": {"type": "string", "enum": list(FACILITY_CATEGORIES)},
                "places": {"type": ["integer", "null"]},
                "address": _NSTR,
                "commune": _STR,
                "commune_name": _NSTR,
                "lon": _NUM,
                "lat": _NUM,
                "distance_km": {**_NUM, "description": "Seulement avec near=1."},
            },
            optional=("distance_km",),
        ),
        "Equipements": _obj(
            {
                "commune": _PARENT_REF,
                "near": {"type": "boolean"},
                "communes": _STRS,
                "total": {"type": "integer"},
                "limit": {"type": "integer"},
                "notice": _NSTR,
                "facilities": {"type": "array", "items": _ref("Equipement")},
            }
        ),
        "Sante": _obj(
            {
                # "degrade": the shared Redis is unreachable (long exports unavailable)
                "statut": {"type": "string", "enum": ["ok", "degrade"]},
                "geometrie": {"type": "boolean"},
                "donnees": {"type": "string", "enum": ["demonstration", "reel"]},
                "redis": {"type": "boolean"},
                "avertissement": {"type": "string"},
            },
            optional=("redis", "avertissement"),
        ),
    }


def _schemas() -> dict:
    return {
        **_catalogue_schemas(),
        **_data_schemas(),
        **_territory_schemas(),
        **_facility_schemas(),
    }


def _data_params(catalogue: Catalogue) -> list[dict]:
    return [
        _param(
            "indicator",
            "query",
            {"type": "string", "enum": [i.id for i in catalogue.indicators]},
            "Identifiant de l'indicateur (voir /api/v1/catalog).",
            "allocataires",
            True,
        ),
        _param("level", "query", _LEVEL, "Niveau géographique.", "commune", True),
        _param(
            "period",
            "query",
            {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
            "Période AAAA-MM ; la plus récente si absente.",
            "2024-12",
        ),
        _param(
            "parent",
            "query",
            {"type": "string", "maxLength": 100},
            "Territoire englobant : niveau:code (departement:69, epci:200046977) ou code.",
            "departement:69",
        ),
        _param(
            "format",
            "query",
            {"type": "string", "enum": list(FORMATS), "default": "json"},
            "Format de la réponse.",
            "json",
        ),
        _param(
            "limit",
            "query",
            {"type": "integer", "minimum": 1, "maximum": 50000, "default": 50000},
            "Nombre maximal de lignes.",
            100,
        ),
        _param(
            "offset",
            "query",
            {"type": "integer", "minimum": 0, "default": 0},
            "Rang de la première ligne (pagination).",
            0,
        ),
    ]


def _export_media() -> dict:
    """The bodies /api/v1/data answers, by media type (`format`)."""
    return {
        "application/json": {"schema": _ref("Donnees")},
        "text/csv": {
            "schema": {
                "type": "string",
                "description": (
                    "Séparateur « ; », UTF-8 avec BOM, virgule décimale. Colonnes : code, nom, "
                    "niveau, indicateur, libelle, periode, valeur, statut, unite, source, "
                    "avertissement."
                ),
            }
        },
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": "Feuilles « donnees » et « metadonnees ».",
            }
        },
        "application/geo+json": {
            "schema": {
                "type": "object",
                "description": (
                    "FeatureCollection ; propriétés code, nom, valeur, statut, unite, periode, "
                    "source, avertissement."
                ),
            }
        },
    }


def _data_paths(catalogue: Catalogue) -> dict:
    return {
        "/api/v1/catalog": {
            "get": {
                "summary": "Catalogue des indicateurs (thèmes, niveaux et périodes disponibles)",
                "operationId": "catalog",
                "responses": {"200": _ok(_ref("Catalogue"), "Catalogue."), "503": _ERR},
            }
        },
        "/api/v1/data": {
            "get": {
                "summary": "Valeurs d'un indicateur pour tous les territoires d'un niveau",
                "description": (
                    "Une valeur n'est donnée que pour une cellule publiée ; une cellule secrète, "
                    "manquante ou non concernée a une valeur vide (null) et son statut."
                ),
                "operationId": "data",
                "parameters": _data_params(catalogue),
                "responses": {
                    "200": {
                        "description": "Données (JSON) ou fichier à télécharger.",
                        "content": _export_media(),
                    },
                    **_ERRORS,
                },
            }
        },
    }


def _territory_paths() -> dict:
    search = _param(
        "q",
        "query",
        {"type": "string", "minLength": 1, "maxLength": 100},
        "Texte recherché.",
        "lyon",
        True,
    )
    code = _param(
        "code",
        "path",
        {"type": "string", "maxLength": 100},
        "Code du territoire (Insee, SIREN, QPV, IRIS).",
        "69123",
    )
    return {
        "/api/v1/territories": {
            "get": {
                "summary": "Recherche de territoires (nom sans accents, code Insee, code postal)",
                "operationId": "searchTerritories",
                "parameters": [search],
                "responses": {
                    "200": _ok(
                        {"type": "array", "maxItems": 20, "items": _ref("Resultat")},
                        "Au plus 20 territoires.",
                    ),
                    "400": _ERR,
                    "503": _ERR,
                },
            }
        },
        "/api/v1/territories/{level}/{code}": {
            "get": {
                "summary": "Fiche d'un territoire : parents, voisins, population, chiffres clés",
                "operationId": "territory",
                "parameters": [
                    _param("level", "path", _LEVEL, "Niveau géographique.", "commune"),
                    code,
                ],
                # 400: a path refused before routing (\\, ..)
                "responses": {
                    "200": _ok(_ref("Territoire"), "Fiche."),
                    "400": _ERR,
                    "404": _ERR,
                    "503": _ERR,
                },
            }
        },
    }


def _facility_params() -> list[dict]:
    types = ", ".join(FACILITY_TYPE_SLUGS)
    return [
        _param(
            "commune",
            "query",
            {"type": "string", "maxLength": 100},
            "Code Insee de la commune.",
            "69123",
            True,
        ),
        _param(
            "type",
            "query",
            {
                "type": "string",
                "description": f"Un ou plusieurs types séparés par des virgules : {types} "
                "ou leur libellé.",
            },
            "Filtre par type.",
            "eaje",
        ),
        _param(
            "near",
            "query",
            {"type": "string", "enum": ["0", "1"]},
            "1 : ajoute les communes voisines, triées par distance.",
            "1",
        ),
        _param(
            "limit",
            "query",
            {"type": "integer", "minimum": 1, "maximum": 5000, "default": 500},
            "Nombre maximal d'équipements.",
            50,
        ),
    ]


def _service_paths() -> dict:
    """The facilities, this document and the health check."""
    return {
        "/api/v1/facilities": {
            "get": {
                "summary": "Équipements d'accueil du jeune enfant (EAJE) et LAEP d'une commune",
                "operationId": "facilities",
                "parameters": _facility_params(),
                "responses": {"200": _ok(_ref("Equipements"), "Équipements."), **_ERRORS},
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "Ce document",
                "operationId": "openapi",
                "responses": {"200": _ok({"type": "object"}, "Document OpenAPI 3.1.")},
            }
        },
        "/healthz": {
            "get": {
                "summary": "État du service (géométries et données chargées)",
                "operationId": "health",
                "responses": {
                    "200": _ok(_ref("Sante"), "Service prêt."),
                    "503": {
                        "description": "Géométries ou données absentes.",
                        "content": {"application/json": {"schema": _ref("Erreur")}},
                    },
                },
            }
        },
    }


_ERROR_RESPONSE = {
    "description": "Erreur (paramètre invalide, territoire inconnu...).",
    "content": {
        "application/json": {
            "schema": _ref("Erreur"),
            "example": {
                "erreur": "Indicateur inconnu : « x ». La liste est dans /api/v1/catalog.",
                "statut": 400,
            },
        }
    },
}


def openapi_document() -> dict:
    """The OpenAPI 3.1 document of the catalogue in service (its indicator ids)."""
    return _document(active())


@lru_cache(maxsize=4)
def _document(catalogue: Catalogue) -> dict:
    # Keyed by the catalogue in service: a real store's portal series are valid indicators.
    # (A fresh copy is not needed: callers only serialise it.)
    statuses = ", ".join(STATUS_API.values())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "API Cafdata Carto",
            "version": "1.0.0",
            "description": (
                "Données ouvertes de la branche Famille par territoire, après secret "
                'statistique. Toutes les erreurs sont du JSON {"erreur", "statut"} ; les '
                f"paramètres inconnus sont ignorés. Statuts des cellules : {statuses}."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": {**_data_paths(catalogue), **_territory_paths(), **_service_paths()},
        "components": {"schemas": _schemas(), "responses": {"Erreur": _ERROR_RESPONSE}},
    }
