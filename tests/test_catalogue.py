"""The indicator catalogue: complete metadata, every theme, accent-insensitive search."""

from __future__ import annotations

import pytest

from layers.catalogue import BREAKDOWNS, BY_ID, INDICATORS, fold, search, tree

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
        meta = ind.as_dict()
        for key in ("titre", "definition", "unite", "source", "champ", "mise_a_jour"):
            assert meta[key], f"{ind.id}: {key} vide"
        assert set(meta["frequences"]) == set(ind.niveaux)
        assert meta["frequences"]["commune"] == "annuelle"
        assert meta["frequences"]["departement"] == "trimestrielle"
        assert ind.mots_cles, ind.id
        if ind.nature == "taux":
            assert ind.calcul and ind.unite == "%"


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
