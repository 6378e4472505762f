"""Importing a user's facilities file: placed in the right commune, refused whole when wrong,
then served by the API, the map layer and the lists instead of the demonstration's."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from dashboard.cli import main as cli
from geodata.cache import active_dir
from layers.appdata import AppData
from layers.config import Settings
from layers.facility_import import facility_type, parse_facilities
from layers.facility_places import Gazetteer
from layers.facility_store import install_facilities
from layers.ingest import CafdataFormatError

# Real places of the test cut: Lyon (Bellecour), Villeurbanne, Ajaccio, Perpignan.
GOOD = (
    "Identifiant;Nom;Type;Longitude;Latitude;Commune;Adresse;Places\n"
    "A1;Les Petits Canuts;Multi-accueil;4,8320;45,7578;69123;Place Bellecour;45\n"
    "A2;Micro-crèche Gratte-Ciel;micro crèche;4,8800;45,7700;;;10\n"
    "A3;LAEP La Passerelle;LAEP;8,7369;41,9192;2A004;;\n"
    "A4;Crèche familiale du Vernet;Crèche familiale;2,8948;42,7100;66136;12 rue X;\n"
)


@pytest.fixture(scope="module")
def places(small_cache: Path) -> Gazetteer:
    return Gazetteer.load(active_dir(small_cache), Settings.from_env().sources)


def _errors(text: str, places, encoding: str = "utf-8") -> str:
    with pytest.raises(CafdataFormatError) as err:
        parse_facilities(text.encode(encoding), places)
    return str(err.value)


def test_a_good_file_is_placed_in_its_communes(places) -> None:
    result = parse_facilities(GOOD.encode("cp1252"), places)
    t = result.table.set_index("id")
    assert list(t["commune"]) == ["69123", "69266", "2A004", "66136"]
    assert list(t["type"]) == [
        "Multi-accueil",
        "Micro-crèche",
        "Lieu d'accueil enfants-parents",
        "Crèche familiale",
    ]
    assert t.loc["A1", "places"] == 45 and t.loc["A1", "lon"] == pytest.approx(4.832)
    # A LAEP has no places; a blank count stays blank, never 0.
    assert t["places"].isna().tolist() == [False, False, True, True]
    report = result.resume()
    assert "4 équipements placés et importés" in report and "Nom ← Nom" in report


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("B1;Crèche;Multi-accueil;483;45,75;;;", "ligne 2 : coordonnées hors de France"),
        ("B1;Crèche;Multi-accueil;abc;45,75;;;", "ligne 2 : coordonnées illisibles"),
        ('B1;"=HYPERLINK(""http://x"",""y"")";LAEP;4,83;45,75;;;', "formule de tableur refusée"),
        ("B1;Crèche;LAEP;-30,0;40,0;;;", "hors de France"),
        ("B1;Crèche;LAEP;4,83;45,75;2A004;;", "à plus de 2 km de la commune 2A004"),
        ("B1;Crèche;LAEP;4,83;45,75;99999;;", "code Insee « 99999 » inconnu"),
        ("B1;Crèche;Multi-accueil;4,83;45,75;;;-3", "nombre de places « -3 » invalide"),
        ("B1;;Multi-accueil;4,83;45,75;;;", "ligne 2 : nom vide"),
        ("A1;Autre;LAEP;4,83;45,75;;;", "identifiant « A1 » en double"),
    ],
)
def test_a_bad_line_refuses_the_whole_file(places, line: str, expected: str) -> None:
    header, first = GOOD.splitlines()[:2]
    text = "\n".join([header, line, first]) + "\n"
    assert expected in _errors(text, places)


def test_bad_files_get_a_french_error(places) -> None:
    assert "ni coordonnées ni commune reconnues" in _errors("nom;type\nA;LAEP\n", places)
    assert "aucune colonne de nom reconnue" in _errors("type;lon;lat\nLAEP;4.8;45.7\n", places)
    assert "vide" in _errors("", places)
    assert "aucune ligne de données" in _errors("nom;lon;lat\n", places)
    assert "binaire" in _errors("\x00\x01\x02PK" * 50, places, "latin-1")
    assert "JSON mal formé" in _errors('{"type": "FeatureCollection", "features": [', places)
    # Every fault is listed (up to five), not only the first.
    bad = "nom;type;lon;lat\n" + "".join(f"N{i};Halte;x;y\n" for i in range(8))
    message = _errors(bad, places)
    assert message.count("coordonnées illisibles") == 5 and message.endswith("…")


def test_unknown_types_are_counted_and_left_out(places) -> None:
    text = GOOD + "Z1;Piscine Nord;Piscine;4,83;45,75;;;\nZ2;Piscine Sud;Piscine;4,84;45,75;;;\n"
    result = parse_facilities(text.encode(), places)
    assert len(result.table) == 4 and result.unknown_types == {"Piscine": 2}
    assert "type « Piscine » inconnu : 2 ligne(s) non importée(s)" in result.resume()
    assert "aucun type d'équipement reconnu" in _errors(
        "nom;type;lon;lat\nA;Piscine;4.83;45.75\n", places
    )


def test_free_type_names() -> None:
    assert facility_type("MICRO-CRECHE") == "Micro-crèche"
    assert facility_type("Micro crèches") == "Micro-crèche"
    assert facility_type("Multi accueil") == "Multi-accueil"
    assert facility_type("Accueil Occasionnel") == "Halte-garderie"
    assert facility_type("Halte-garderie") == "Halte-garderie"
    assert facility_type("Crèche collective") == "Crèche collective"
    assert facility_type("RAM") == "Relais petite enfance"
    assert facility_type("Relais Petite Enfance (RPE)") == "Relais petite enfance"
    assert facility_type("Jardin d'enfants") == "Jardin d'enfants"
    assert facility_type("Lieu d'accueil enfants parents") == "Lieu d'accueil enfants-parents"
    assert facility_type("crèche parentale") == "Crèche parentale"
    assert facility_type("EAJE") == "EAJE (type non précisé)"
    assert facility_type("Piscine") is None


@pytest.fixture
def own_cache(tmp_path: Path, small_cache: Path) -> Path:
    """A cache sharing the small build and demonstration store, with its own imports."""
    root = tmp_path / "cache"
    root.mkdir()
    for name in ("builds", "demo"):
        (root / name).symlink_to(small_cache / name)
    (root / "current").symlink_to(os.readlink(small_cache / "current"))
    return root


def test_imported_facilities_replace_the_demonstration(own_cache, settings, places) -> None:
    from dashboard.app import create_app

    local = replace(settings, cache=own_cache)
    data = AppData(local)
    assert data.facilities().demo
    install_facilities(local.facilities_import, parse_facilities(GOOD.encode(), places).table, "x")
    points = data.facilities()
    assert not points.demo and points.notice is None and len(points.table) == 4

    client = create_app(local).server.test_client()
    body = client.get("/api/v1/facilities?commune=69123&near=1").get_json()
    assert [f["name"] for f in body["facilities"]] == [
        "Les Petits Canuts",
        "Micro-crèche Gratte-Ciel",
    ]
    assert body["notice"] is None and body["facilities"][0]["address"] == "Place Bellecour"
    layer = json.loads(client.get("/geo/equipements.geojson").data)
    assert {f["properties"]["id"] for f in layer["features"]} == {"A1", "A2", "A3", "A4"}


def test_cli_imports_or_refuses_without_touching_the_previous(
    own_cache, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("CAFCARTO_CACHE", str(own_cache))
    good, bad = tmp_path / "bons.csv", tmp_path / "faux.csv"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text(GOOD + "Z9;Crèche;LAEP;4,8;95,7;;;\n", encoding="utf-8")
    assert cli(["equipements", str(good)]) == 0
    assert "4 équipements placés et importés" in capsys.readouterr().out
    installed = active_dir(own_cache / "equipements")
    assert cli(["equipements", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "ligne 6 : coordonnées hors de France" in err and "fichier non importé" in err
    assert active_dir(own_cache / "equipements") == installed  # the good import still serves
    assert not list((own_cache / "equipements" / "builds").glob("*.partial"))
    assert cli(["equipements", "--retirer"]) == 0
    assert active_dir(own_cache / "equipements") is None
