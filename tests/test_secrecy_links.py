"""The household is the unit of secrecy: no published cell describes a hidden household count.

Persons covered, amounts paid and the rates computed from a count are hidden with it, at every
period and level of the (small) demonstration store, and through the API.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from attacker import get_json

from geodata.cache import active_dir
from layers.household_links import (
    DESCRIBES,
    household_counts,
    link_groups,
    linked_exposures,
    under_secrecy,
)
from layers.store import PUBLISHED, SECRET, Store


@pytest.fixture(scope="module")
def cells(small_store: Path) -> pd.DataFrame:
    store = Store(active_dir(small_store))
    df = store.query("SELECT indicateur, niveau, code, periode, valeur, statut FROM v")
    return df.astype({"indicateur": str, "niveau": str, "periode": str, "statut": str})


def test_links_are_read_from_the_portal_stems_and_the_catalogue() -> None:
    # indnbp_ndur / indfoy_ndur, indmtt_rsa / indfoy_rsa: same benefit, other stem
    assert DESCRIBES["personnes_couvertes"] == "allocataires"
    assert DESCRIBES["rsa_montant"] == "rsa"
    # a share of the population covered describes persons, hence their households
    assert set(household_counts("taux_personnes_couvertes")) == {
        "personnes_couvertes",
        "allocataires",
    }
    assert set(household_counts("part_rsa")) == {"rsa", "allocataires"}
    assert household_counts("allocataires") == ()
    assert not under_secrecy("places_eaje")  # places in crèches are not households
    tables = link_groups([("allocataires", "isoles"), ("allocataires", "qf_moins_400"), ("rsa",)])
    assert tables[0] == ("allocataires", "isoles", "qf_moins_400") and tables[1] == ("rsa",)
    assert ("allocataires", "personnes_couvertes") in link_groups(
        [("allocataires",), ("personnes_couvertes",)]
    )


def test_linked_exposures_finds_a_published_share_of_a_secret_count() -> None:
    """Test of the check: the Ambrief case (households secret, persons and share published)."""
    rows = pd.DataFrame(
        {
            "indicateur": ["allocataires", "personnes_couvertes", "taux_personnes_couvertes"],
            "niveau": "commune",
            "code": "02012",
            "periode": "2024-12",
            "statut": [SECRET, PUBLISHED, PUBLISHED],
        }
    )
    found = linked_exposures(rows)
    assert sorted(found["indicateur"]) == ["personnes_couvertes", "taux_personnes_couvertes"]
    rows["statut"] = SECRET
    assert linked_exposures(rows).empty


def test_no_published_cell_describes_a_hidden_household_count(cells: pd.DataFrame) -> None:
    """Every period and level of the store: 0 (the code before this rule published 78 such
    cells on this store: persons covered and their share for 39 commune-years with secret
    households)."""
    hidden = cells[(cells["indicateur"] == "allocataires") & (cells["statut"] == SECRET)]
    assert len(hidden) > 20 and hidden["niveau"].nunique() >= 2  # material to check
    found = linked_exposures(cells)
    by = found.groupby(["periode", "niveau", "indicateur"]).size()
    assert found.empty, f"cellules liées publiées : {by.to_dict()}"


def test_store_checks_of_a_store_without_rounded_period(small_store: Path, small_cache) -> None:
    """`cafcarto audit`'s checks on the suppression-only store: nothing linked, nothing
    rounded to check."""
    from layers.build_store import check_lines, store_checks

    store = Store(active_dir(small_store))
    checks = store_checks(store, active_dir(small_cache))
    assert checks["cellules_liees"] == 0 and checks["arrondi_verifiees"] == 0
    assert (checks["liees"]["liees"] == 0).all() and len(checks["liees"]) > 10
    assert check_lines(checks)[0].startswith("Cellules publiées liées à un nombre de foyers")


def test_persons_and_households_share_one_mask(cells: pd.DataFrame) -> None:
    both = cells[cells["indicateur"].isin(["allocataires", "personnes_couvertes"])]
    wide = both.pivot_table(
        index=["periode", "niveau", "code"], columns="indicateur", values="statut", aggfunc="first"
    ).dropna()
    assert len(wide) > 100
    assert (wide["allocataires"] == wide["personnes_couvertes"]).all()


def test_the_api_hides_persons_and_shares_with_their_households(live_app) -> None:
    base = live_app.url
    catalog = {i["id"]: i for i in get_json(base, "/api/v1/catalog")["indicators"]}
    period = catalog["allocataires"]["periods_by_level"]["commune"][-1]

    def rows(indicator: str) -> dict[str, dict]:
        doc = get_json(base, "/api/v1/data", indicator=indicator, level="commune", period=period)
        return {r["code"]: r for r in doc["rows"]}

    households = rows("allocataires")
    secret = sorted(c for c, r in households.items() if r["status"] == "secret")
    assert len(secret) > 10
    linked = [i for i in catalog if "allocataires" in household_counts(i)]
    assert {"personnes_couvertes", "taux_personnes_couvertes"} <= set(linked)
    for indicator in linked:
        got = rows(indicator)
        leaked = [c for c in secret if got.get(c, {}).get("status") == "published"]
        assert not leaked, f"{indicator} publié pour des foyers secrets : {leaked[:5]}"
    for code in secret[:5]:  # the territory route (profile, API) says the same
        doc = get_json(base, f"/api/v1/territories/commune/{code}")
        figures = {f["indicator"]: f for f in doc["key_figures"]}
        for indicator in ("allocataires", *linked):
            if indicator in figures and figures[indicator]["period"] == period:
                assert figures[indicator]["value"] is None, (code, indicator)
