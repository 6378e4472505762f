"""The indicator catalogue: complete metadata, every theme, accent-insensitive search."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers.catalogue import (
    BREAKDOWNS,
    BY_ID,
    INDICATORS,
    CatalogueError,
    fold,
    load_catalogue,
    search,
    tree,
)
from layers.model import LEVEL

THEMES = {
    "Données socio-démographiques",
    "Petite enfance",
    "Enfance et jeunesse",
    "Logement",
    "Solidarité et insertion",
    "Handicap et autonomie",
    "Soutien aux familles",
}


def test_at_least_thirty_indicators_over_every_theme() -> None:
    assert len(INDICATORS) >= 30
    assert len(BY_ID) == len(INDICATORS)
    assert {i.theme for i in INDICATORS} == THEMES
    assert {i.nature for i in INDICATORS} == {"effectif", "taux", "montant"}


def test_every_indicator_has_its_metadata() -> None:
    for ind in INDICATORS:
        for key in ("title", "definition", "unit", "source", "scope", "last_update"):
            assert getattr(ind, key), f"{ind.id}: {key} vide"
        assert set(ind.levels) <= set(LEVEL)
        if "commune" in ind.levels:
            assert ind.frequency("commune") == "annuelle"
        assert ind.frequency("departement") == "trimestrielle"
        assert ind.keywords, ind.id
        if ind.nature == "taux":
            assert ind.computed_from and ind.unit == "%"


def test_breakdowns_name_known_counts() -> None:
    for total, parts in BREAKDOWNS.items():
        assert total.split("@")[0] in BY_ID
        assert all(BY_ID[p].nature == "effectif" for p in parts)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("aah", "aah"),
        ("allocation adultes handicapes", "aah"),
        ("AAH", "aah"),
        ("crèche", "places_eaje"),
        ("CRECHE", "places_eaje"),
        ("rsa", "rsa"),
        ("quotient familial", "qf_moins_400"),
        ("nounou", "paje_cmg"),
        ("aide personnalisée au logement", "apl"),
        ("prime d'activité", "ppa"),
    ],
)
def test_search_is_accent_and_case_insensitive(query: str, expected: str) -> None:
    found = [i.id for i in search(query)]
    assert found and found[0] == expected, found


def test_search_without_match_is_empty() -> None:
    assert search("zzz inconnu") == []
    assert search("  ") == []


def test_tree_holds_every_indicator_once() -> None:
    ids = [
        i for c in tree() for t in c["themes"] for s in t["sous_themes"] for i in s["indicateurs"]
    ]
    assert sorted(ids) == sorted(BY_ID)
    assert fold("Éducation") == "education"


EXTRA = """
[level_sets]
departemental = ["france", "region", "departement"]

[[category]]
name = "Prestations légales"
[[category.theme]]
name = "Logement"
subthemes = ["Aides personnelles au logement", "Montants"]

[[indicator]]
id = "al_montant"
title = "Montant des aides au logement"
definition = "Montant mensuel versé."
nature = "montant"
unit = "euros"
category = "Prestations légales"
theme = "Logement"
subtheme = "Montants"
levels = "departemental"
"""


def test_a_second_file_adds_indicators_without_code(tmp_path: Path) -> None:
    extra = tmp_path / "portail.toml"
    extra.write_text(EXTRA, encoding="utf-8")
    cat = load_catalogue([Path("layers/catalogue.toml"), extra])
    added = cat.indicators[-1]
    assert [i.id for i in cat.indicators[:-1]] == [i.id for i in INDICATORS]
    assert added.id == "al_montant" and added.levels == ("france", "region", "departement")
    # Nature defaults apply to the added series too (amounts rounded to 100 euros).
    assert added.rounding == 100 and added.decimals == 0 and added.api_kind == "amount"
    subs = cat.categories["Prestations légales"]["Logement"]
    assert subs == ("Aides personnelles au logement", "Montants")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[indicator]]\nid = "x"\ntitre = "X"\n', "champs inconnus titre"),
        ('[[indicator]]\nid = "x"\nlevels = ["canton"]\n', "niveaux inconnus canton"),
        ('[[indicator]]\nid = "x"\nlevels = "nulle_part"\n', "ensemble de niveaux inconnu"),
        ('[[indicator]]\nid = "x"\nlevels = []\n', "indicateur x"),
        ("[[indicator]\n", "Catalogue illisible"),
        (EXTRA.replace('"al_montant"', '"rsa"'), "indicateur « rsa » déclaré deux fois"),
    ],
)
def test_a_bad_catalogue_is_refused_in_french(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "mauvais.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError, match=message):
        load_catalogue([Path("layers/catalogue.toml"), bad])
