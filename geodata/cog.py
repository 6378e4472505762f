"""The COG (Code officiel géographique) tables and the harmonisation of older commune codes.

The commune polygons are COG 2018, the territory tables COG 2026, and Cafdata files may be of any
year in between. Every older code is brought to the current commune through `anciensCodes`
(codes absorbed by a commune nouvelle) and `chefLieu` (delegated / associated communes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

CURRENT = "commune-actuelle"
MUNICIPAL_ARRONDISSEMENT = "arrondissement-municipal"
# Collectivités d'outre-mer (975, 977, 978, 98x) are outside the Caf network and have no polygon.
OUT_OF_SCOPE_PREFIXES = ("975", "977", "978", "98")
# Paris, Lyon and Marseille: data may come by municipal arrondissement.
PLM = {"75": "75056", "69": "69123", "13": "13055"}


def _read_json(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


@dataclass
class Cog:
    """Current communes and the ways an older or finer code leads to one of them."""

    communes: pd.DataFrame  # one row per current commune, index = code
    epci: pd.DataFrame  # code, nom, type
    departements: pd.DataFrame  # code, nom, region
    regions: pd.DataFrame  # code, nom
    arrondissements: pd.DataFrame  # code, nom, departement
    to_current: dict[str, str] = field(default_factory=dict)  # any known code -> current code
    # The 45 municipal arrondissements: code, nom, commune (the city), population, codes_postaux.
    municipal: pd.DataFrame = field(default_factory=pd.DataFrame)

    def current_code(self, code: str) -> str | None:
        """The current commune a code of any vintage (or a municipal arrondissement) belongs to."""
        return self.to_current.get(normalise_commune_code(code))


def normalise_commune_code(code: object) -> str:
    """Restore leading zeros lost by spreadsheets ("1001" -> "01001"); keep Corsica's 2A / 2B."""
    text = str(code).strip().upper()
    if text.endswith(".0"):
        text = text[:-2]
    if text.isdigit() and len(text) == 4:
        text = "0" + text
    return text


def load_cog(territoires: Path) -> Cog:
    """Read the @etalab/decoupage-administratif tables (COG 2026) from a `territoires/` folder."""
    raw = _read_json(territoires / "communes.json")
    current = [
        r for r in raw if r["type"] == CURRENT and not r["code"].startswith(OUT_OF_SCOPE_PREFIXES)
    ]
    epci_raw = _read_json(territoires / "epci.json")
    commune_epci = {m["code"]: e["code"] for e in epci_raw for m in e["membres"]}

    communes = pd.DataFrame(
        {
            "code": [r["code"] for r in current],
            "nom": [r["nom"] for r in current],
            "departement": [r["departement"] for r in current],
            "region": [r["region"] for r in current],
            "arrondissement": [r.get("arrondissement") for r in current],
            "epci": [commune_epci.get(r["code"]) for r in current],
            "population": [r.get("population") for r in current],
            "codes_postaux": [" ".join(r.get("codesPostaux", [])) for r in current],
            "anciens_codes": [" ".join(r.get("anciensCodes", [])) for r in current],
        }
    ).set_index("code", drop=False)
    communes["population"] = communes["population"].astype("Int64")

    to_current: dict[str, str] = {}
    # Order matters: a current code wins over any older meaning of the same code.
    for r in raw:
        if r["type"] in ("commune-deleguee", "commune-associee") and r.get("chefLieu"):
            to_current.setdefault(r["code"], r["chefLieu"])
        elif r["type"] == MUNICIPAL_ARRONDISSEMENT:
            to_current[r["code"]] = PLM[r["departement"]]
    for r in current:
        for old in r.get("anciensCodes", []):
            to_current[old] = r["code"]
    for r in current:
        to_current[r["code"]] = r["code"]

    epci = pd.DataFrame(
        {
            "code": [e["code"] for e in epci_raw],
            "nom": [e["nom"] for e in epci_raw],
            "type": [e["type"] for e in epci_raw],
        }
    )
    in_scope = set(communes["departement"])
    deps = pd.DataFrame(_read_json(territoires / "departements.json"))
    deps = deps[deps["code"].isin(in_scope)][["code", "nom", "region", "typeLiaison"]]
    regs = pd.DataFrame(_read_json(territoires / "regions.json"))
    regs = regs[regs["code"].isin(set(communes["region"]))][["code", "nom"]]
    arrs = pd.DataFrame(_read_json(territoires / "arrondissements.json"))[
        ["code", "nom", "departement"]
    ]
    return Cog(communes, epci, deps, regs, arrs, to_current, _municipal(raw))


def _municipal(raw: list[dict]) -> pd.DataFrame:
    """The municipal arrondissements of Paris, Lyon and Marseille, with their city."""
    rows = [r for r in raw if r["type"] == MUNICIPAL_ARRONDISSEMENT]
    table = pd.DataFrame(
        {
            "code": [r["code"] for r in rows],
            "nom": [r["nom"] for r in rows],
            "commune": [PLM[r["departement"]] for r in rows],
            "population": pd.array([r.get("population") for r in rows], dtype="Int64"),
            "codes_postaux": [" ".join(r.get("codesPostaux", [])) for r in rows],
        }
    )
    return table.sort_values("code", ignore_index=True)


@dataclass
class Harmonised:
    """2018 polygon codes mapped to current communes, with what could not be matched."""

    mapping: pd.Series  # 2018 code -> current code
    unplaced: list[str]  # 2018 codes that lead nowhere
    without_polygon: pd.DataFrame  # current communes no 2018 polygon covers alone (re-created)


def harmonise_codes(codes_2018: pd.Series, cog: Cog) -> Harmonised:
    """Map each 2018 polygon code to its current commune; list the current communes left bare."""
    mapped = codes_2018.map(lambda c: cog.to_current.get(c))
    unplaced = sorted(codes_2018[mapped.isna()].tolist())
    mapping = pd.Series(mapped.values, index=codes_2018.values).dropna()
    covered = set(mapping.values)
    bare = cog.communes[~cog.communes["code"].isin(covered)][["code", "nom", "departement"]]
    return Harmonised(mapping, unplaced, bare.reset_index(drop=True))
