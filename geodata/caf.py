"""The 101 Caf territories: one explicit membership table.

Each département is served by one Caf, except the Pyrénées-Atlantiques, split between the
Caf Pays Basque et Seignanx (arrondissement of Bayonne, plus the Landes canton of
Saint-Martin-de-Seignanx) and the Caf Béarn et Soule (the rest of the département). Source: the
Cnaf's notes to its Caf-level files ("Landes : le canton de Saint-Martin-de-Seignanx est géré par
la Caf du Pays Basque et Seignanx").

Hence 101 Caf, plus Mayotte's CSSM.

The two Pyrénées-Atlantiques codes follow the arrondissement numbering of the COG (641 Bayonne);
to be checked against a real Cafdata file by Caf when one is imported.
"""

from __future__ import annotations

import pandas as pd

PAYS_BASQUE = "641"
BEARN_SOULE = "642"

# The eight communes of the Landes canton of Saint-Martin-de-Seignanx (COG 2026 codes).
SEIGNANX_COMMUNES: dict[str, str] = {
    "40042": "Biarrotte",
    "40044": "Biaudos",
    "40209": "Ondres",
    "40248": "Saint-André-de-Seignanx",
    "40251": "Saint-Barthélemy",
    "40268": "Saint-Laurent-de-Gosse",
    "40273": "Saint-Martin-de-Seignanx",
    "40312": "Tarnos",
}
BAYONNE_ARRONDISSEMENT = "641"

# Mayotte has no Caf: the Caisse de sécurité sociale de Mayotte pays family benefits there. It
# stays on the Caf level (overseas territories are never dropped) but is not counted as a Caf.
MAYOTTE = "976"

SPECIAL_CAF_NAMES = {
    PAYS_BASQUE: "Caf Pays Basque et Seignanx",
    BEARN_SOULE: "Caf Béarn et Soule",
    MAYOTTE: "CSSM de Mayotte (Caisse de sécurité sociale)",
}


def caf_of_communes(communes: pd.DataFrame) -> pd.Series:
    """Caf code per commune (columns `code`, `departement`, `arrondissement`)."""
    caf = communes["departement"].astype(str).copy()
    in_64 = communes["departement"] == "64"
    caf[in_64] = BEARN_SOULE
    caf[in_64 & (communes["arrondissement"] == BAYONNE_ARRONDISSEMENT)] = PAYS_BASQUE
    caf[communes["code"].isin(SEIGNANX_COMMUNES)] = PAYS_BASQUE
    return caf


# COG "type de nom en clair" (typeLiaison) -> the form of "de" before the name.
_CHARNIERE = {
    0: "de ",
    1: "d'",
    2: "du ",
    3: "de la ",
    4: "des ",
    5: "de l'",
    6: "des ",
    7: "de las ",
    8: "de los ",
}


def caf_names(departements: pd.DataFrame) -> dict[str, str]:
    """Display name of every Caf ("Caf de l'Ain", "Caf du Nord", ...) keyed by Caf code.

    `departements` needs `code`, `nom` and `typeLiaison` (COG article type).
    """
    names = {
        code: f"Caf {_CHARNIERE.get(int(liaison), 'de ')}{nom}"
        for code, nom, liaison in zip(
            departements["code"], departements["nom"], departements["typeLiaison"], strict=True
        )
        if code != "64"
    }
    names.update(SPECIAL_CAF_NAMES)
    return names
