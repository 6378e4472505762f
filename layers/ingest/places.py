"""Source codes to current territories (COG 2026), or the reason a row cannot be placed."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from geodata.caf import BEARN_SOULE, PAYS_BASQUE
from geodata.cog import OUT_OF_SCOPE_PREFIXES, PLM, Cog, normalise_commune_code

FRANCE = "FR"
EMPTY = "code vide (foyers que la Caf ne peut pas localiser)"
ABROAD = "99999 (allocataires résidant à l'étranger)"
UNKNOWN_COMMUNE = "XXXXX (commune inconnue)"
PLACEHOLDER = "ligne de regroupement sans territoire (XX, XXX)"
MARITIME = "Caisse maritime d'allocations familiales (17M), sans territoire"
OUT_OF_SCOPE = "collectivité d'outre-mer hors du réseau des Caf"
UNKNOWN = "code inconnu du COG 2026"
MASKED = "code masqué (04XXX : commune non diffusée)"
NO_TERRITORY = "99 (territoire non précisé)"
QPV_2024 = "QPV 2024 sans contour"
IRIS_OUTSIDE = "IRIS hors de la géographie IRIS disponible (échantillon)"
# Rows of households the portal cannot place on the map: reported with their sums.
NOT_LOCATED = frozenset({EMPTY, ABROAD, UNKNOWN_COMMUNE, PLACEHOLDER, MASKED, NO_TERRITORY})

PLM_CITIES = frozenset(PLM.values())
ARRONDISSEMENT_PREFIX = {"75056": "751", "69123": "6938", "13055": "132"}
CAF_ONLY = frozenset({PAYS_BASQUE, BEARN_SOULE})
_QPV = re.compile(r"^Q[A-Z]\d{5,6}[A-Z0-9]?$")
_QPV_2024 = re.compile(r"^QN\d")
_MASKED = re.compile(r"^[0-9AB]{1,4}X+$")
_FRANCE_WORDS = frozenset({"FR", "FRA", "FRANCE", "TOTAL", "FRANCE ENTIERE", "FRANCE ENTIÈRE"})


@dataclass
class Placement:
    """Per distinct source code: normalised code, current code, level, reason when unplaced."""

    source: pd.Series  # raw text -> normalised code
    target: pd.Series  # raw text -> current code (None when unplaced)
    level: pd.Series  # raw text -> niveau
    reason: pd.Series  # raw text -> French reason (None when placed)


def _normalise_short(code: str) -> str:
    text = code.strip().upper()
    if text.endswith(".0"):
        text = text[:-2]
    return text.zfill(2) if text.isdigit() and len(text) == 1 else text


# A placed code: normalised source code, current code (None when unplaced), level, reason.
Placed = tuple[str, str | None, str, str | None]


@dataclass(frozen=True)
class _Known:
    """What codes are placed against: the COG and its codes, and whether the file is by Caf."""

    cog: Cog
    caf_file: bool
    departements: frozenset[str]
    regions: frozenset[str]
    epci: frozenset[str]
    iris: frozenset[str]


def _listed(code: str, level: str, found: bool) -> Placed:
    return (code, code, level, None) if found else (code, None, level, UNKNOWN)


def _place_commune(text: str, level: str, known: _Known) -> Placed:
    code = normalise_commune_code(text)
    if code == "99999":
        return code, None, level, ABROAD
    current = known.cog.to_current.get(code)
    if current:
        return code, current, level, None
    if code.startswith(OUT_OF_SCOPE_PREFIXES):
        return code, None, level, OUT_OF_SCOPE
    return code, None, level, UNKNOWN


def _place_departement(text: str, level: str, known: _Known) -> Placed:
    """A département or Caf code: the Pays basque and Béarn-Soule Caf are Caf only, and a file
    by Caf places a département's code on its Caf (except 64, shared by two Caf)."""
    code = _normalise_short(text)
    if code in _FRANCE_WORDS:
        return code, FRANCE, "france", None
    if code == "99":
        return code, None, level, NO_TERRITORY
    if code == "17M":
        return code, None, level, MARITIME
    if code in CAF_ONLY:
        return code, code, "caf", None
    if code not in known.departements:
        return code, None, level, UNKNOWN
    by_caf = (known.caf_file or level == "caf") and code != "64"
    return code, code, "caf" if by_caf else "departement", None


def _place_region(text: str, level: str, known: _Known) -> Placed:
    code = _normalise_short(text)
    if code == "99":
        return code, None, level, NO_TERRITORY
    return _listed(code, level, code in known.regions)


def _place_epci(text: str, level: str, known: _Known) -> Placed:
    code = text.upper().removesuffix(".0")  # a SIREN read as a number by a spreadsheet
    return _listed(code, level, code in known.epci)


def is_qpv2024(code: str) -> bool:
    """A QPV of the 2024 geography: a QN... code, or the commune and name key of a file
    without codes (`QPV2024|<commune>|<nom>`)."""
    text = str(code).upper()
    return text.startswith("QPV2024|") or bool(_QPV_2024.match(text))


def _place_qpv(text: str, level: str, known: _Known) -> Placed:
    """QPV 2015 codes (QP...) are placed; so are the 2024 ones (QN... codes, or a commune and a
    name), kept in the store and listed with their commune until a 2024 contour file draws
    them (`geodata/qpv2024.py`)."""
    code = text.upper()
    if is_qpv2024(code):
        kept = text if code.startswith("QPV2024|") else code
        return kept, kept, level, None
    return _listed(code, level, bool(_QPV.match(code)))


def _place_iris(text: str, level: str, known: _Known) -> Placed:
    code = text.upper()
    if len(code) != 9:
        return code, None, level, UNKNOWN
    return (code, code, level, None) if code in known.iris else (code, None, level, IRIS_OUTSIDE)


_PLACERS = {
    "commune": _place_commune,
    "departement": _place_departement,
    "caf": _place_departement,
    "region": _place_region,
    "epci": _place_epci,
    "qpv": _place_qpv,
    "iris": _place_iris,
}


def _place_one(raw: str, level: str, known: _Known) -> Placed:
    text = raw.strip()
    if text == "":
        return "", None, level, EMPTY
    if level == "france":
        return FRANCE, FRANCE, "france", None
    upper = text.upper()
    if set(upper) == {"X"}:
        return upper, None, level, UNKNOWN_COMMUNE if level == "commune" else PLACEHOLDER
    if _MASKED.match(upper):
        return upper, None, level, MASKED
    if level not in _PLACERS:
        raise ValueError(level)
    return _PLACERS[level](text, level, known)


def place_codes(
    raw: pd.Series, level: str, cog: Cog, iris: frozenset[str] = frozenset()
) -> Placement:
    """Place the distinct codes of a key column; a file holding 641/642 is a file by Caf;
    `iris` holds the IRIS codes of the geography."""
    distinct = pd.Index(raw.fillna("").astype(str).unique())
    caf_file = level == "caf" or (
        level == "departement" and bool({_normalise_short(c) for c in distinct} & CAF_ONLY)
    )
    known = _Known(
        cog,
        caf_file,
        frozenset(cog.departements["code"]),
        frozenset(cog.regions["code"]),
        frozenset(cog.epci["code"]),
        iris,
    )
    placed = [_place_one(c, level, known) for c in distinct]
    columns = list(zip(*placed, strict=True)) if placed else [(), (), (), ()]
    return Placement(
        source=pd.Series(columns[0], index=distinct, dtype=object),
        target=pd.Series(columns[1], index=distinct, dtype=object),
        level=pd.Series(columns[2], index=distinct, dtype=object),
        reason=pd.Series(columns[3], index=distinct, dtype=object),
    )


def is_arrondissement(code: str, current: str | None) -> bool:
    prefix = ARRONDISSEMENT_PREFIX.get(current or "")
    return bool(prefix) and code != current and code.startswith(prefix)


def city_of(code: str) -> str | None:
    """Paris, Lyon or Marseille for one of its municipal arrondissements (None otherwise)."""
    return next(
        (c for c, prefix in ARRONDISSEMENT_PREFIX.items() if code.startswith(prefix) and code != c),
        None,
    )


def arrondissement_counts(cog: Cog) -> dict[str, int]:
    """How many municipal arrondissements each of Paris, Lyon and Marseille has."""
    counts = dict.fromkeys(PLM_CITIES, 0)
    for code, current in cog.to_current.items():
        if is_arrondissement(code, current):
            counts[current] += 1
    return counts
