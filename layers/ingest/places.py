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

PLM_CITIES = frozenset(PLM.values())
ARRONDISSEMENT_PREFIX = {"75056": "751", "69123": "6938", "13055": "132"}
CAF_ONLY = frozenset({PAYS_BASQUE, BEARN_SOULE})
_QPV = re.compile(r"^Q[A-Z]\d{5,6}[A-Z0-9]?$")
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


def _place_one(raw: str, level: str, cog: Cog, caf_file: bool, known: dict) -> tuple:
    text = raw.strip()
    if text == "":
        return "", None, level, EMPTY
    if level == "france":
        return FRANCE, FRANCE, "france", None
    upper = text.upper()
    if set(upper) == {"X"}:
        return upper, None, level, UNKNOWN_COMMUNE if level == "commune" else PLACEHOLDER
    if level == "commune":
        code = normalise_commune_code(text)
        if code == "99999":
            return code, None, level, ABROAD
        current = cog.to_current.get(code)
        if current:
            return code, current, level, None
        if code.startswith(OUT_OF_SCOPE_PREFIXES):
            return code, None, level, OUT_OF_SCOPE
        return code, None, level, UNKNOWN
    if level in ("departement", "caf"):
        code = _normalise_short(text)
        if code in _FRANCE_WORDS:
            return code, FRANCE, "france", None
        if code == "17M":
            return code, None, level, MARITIME
        if code in CAF_ONLY:
            return code, code, "caf", None
        if code in known["departement"]:
            return (
                code,
                code,
                "caf" if (caf_file or level == "caf") and code != "64" else ("departement"),
                None,
            )
        return code, None, level, UNKNOWN
    if level == "region":
        code = _normalise_short(text)
        return (
            (code, code, level, None) if code in known["region"] else (code, None, level, UNKNOWN)
        )
    if level == "epci":
        code = upper
        return (code, code, level, None) if code in known["epci"] else (code, None, level, UNKNOWN)
    if level == "qpv":
        code = upper
        return (code, code, level, None) if _QPV.match(code) else (code, None, level, UNKNOWN)
    raise ValueError(level)


def place_codes(raw: pd.Series, level: str, cog: Cog) -> Placement:
    """Place the distinct codes of a key column; a file holding 641/642 is a file by Caf."""
    distinct = pd.Index(raw.fillna("").astype(str).unique())
    caf_file = level == "caf" or (
        level == "departement" and bool({_normalise_short(c) for c in distinct} & CAF_ONLY)
    )
    known = {
        "departement": set(cog.departements["code"]),
        "region": set(cog.regions["code"]),
        "epci": set(cog.epci["code"]),
    }
    placed = [_place_one(c, level, cog, caf_file, known) for c in distinct]
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


def arrondissement_counts(cog: Cog) -> dict[str, int]:
    """How many municipal arrondissements each of Paris, Lyon and Marseille has."""
    counts = dict.fromkeys(PLM_CITIES, 0)
    for code, current in cog.to_current.items():
        if is_arrondissement(code, current):
            counts[current] += 1
    return counts
