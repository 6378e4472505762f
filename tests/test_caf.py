"""The Caf membership table: Pyrénées-Atlantiques split in two, the Seignanx canton, Mayotte."""

from __future__ import annotations

import pandas as pd

from geodata.caf import (
    BEARN_SOULE,
    MAYOTTE,
    PAYS_BASQUE,
    SEIGNANX_COMMUNES,
    caf_names,
    caf_of_communes,
)


def _communes(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["code", "departement", "arrondissement"])


def test_pyrenees_atlantiques_split_by_arrondissement_and_seignanx_canton() -> None:
    communes = _communes(
        [
            ("64102", "64", "641"),  # Bayonne
            ("64122", "64", "641"),  # Biarritz
            ("64445", "64", "643"),  # Pau
            ("64422", "64", "642"),  # Oloron-Sainte-Marie
            ("40312", "40", "401"),  # Tarnos: Landes, but Caf Pays Basque et Seignanx
            ("40192", "40", "402"),  # Mont-de-Marsan: Caf des Landes
            ("2A004", "2A", "2A1"),
        ]
    )
    assert caf_of_communes(communes).tolist() == [
        PAYS_BASQUE,
        PAYS_BASQUE,
        BEARN_SOULE,
        BEARN_SOULE,
        PAYS_BASQUE,
        "40",
        "2A",
    ]


def test_seignanx_canton_has_its_eight_communes() -> None:
    assert len(SEIGNANX_COMMUNES) == 8
    assert all(code.startswith("40") for code in SEIGNANX_COMMUNES)


def test_names_use_the_cog_article() -> None:
    deps = pd.DataFrame(
        {
            "code": ["01", "59", "51", "40", "64", "976"],
            "nom": ["Ain", "Nord", "Marne", "Landes", "Pyrénées-Atlantiques", "Mayotte"],
            "typeLiaison": [5, 2, 3, 4, 4, 0],
        }
    )
    names = caf_names(deps)
    assert names["01"] == "Caf de l'Ain"
    assert names["59"] == "Caf du Nord"
    assert names["51"] == "Caf de la Marne"
    assert names["40"] == "Caf des Landes"
    assert "64" not in names
    assert names[PAYS_BASQUE] == "Caf Pays Basque et Seignanx"
    assert names[BEARN_SOULE] == "Caf Béarn et Soule"
    assert names[MAYOTTE].startswith("CSSM")
