"""Importing a user's facilities file: placed in the right commune, refused whole when wrong,
then served by the API, the map layer and the lists instead of the demonstration's."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import pytest

from dashboard.cli import main as cli
from geodata.cache import active_dir
from layers.appdata import AppData
from layers.facility_import import facility_type, install_facilities, parse_facilities
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
def communes(small_cache: Path) -> gpd.GeoDataFrame:
    return gpd.read_parquet(
        active_dir(small_cache) / "geo" / "commune.parquet", columns=["code", "geometry"]
    )


def _errors(text: str, communes, encoding: str = "utf-8") -> str:
    with pytest.raises(CafdataFormatError) as err:
        parse_facilities(text.encode(encoding), communes)
    return str(err.value)


def test_a_good_file_is_placed_in_its_communes(communes) -> None:
    result = parse_facilities(GOOD.encode("cp1252"), communes)
    t = result.table.set_index("id")
    assert list(t["commune"]) == ["69123", "69266", "2A004", "66136"]
    assert list(t["type"]) == [
        "Crèche collective",
        "Micro-crèche",
        "Lieu d'accueil enfants-parents",
        "Crèche familiale",
    ]
    assert t.loc["A1", "places"] == 45 and t.loc["A1", "lon"] == pytest.approx(4.832)
    # A LAEP has no places; a blank count stays blank, never 0.
    assert t["places"].isna().tolist() == [False, False, True, True]
    assert result.placed == 1  # Villeurbanne came from its coordinates
    assert "4 équipements importés" in result.resume()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("B1;Crèche;Garderie privée;4,83;45,75;;;", "ligne 2 : type « Garderie privée » inconnu"),
        ("B1;Crèche;Multi-accueil;483;45,75;;;", "ligne 2 : coordonnées invalides"),
        ("B1;Crèche;Multi-accueil;abc;45,75;;;", "ligne 2 : coordonnées invalides"),
        ('B1;"=HYPERLINK(""http://x"",""y"")";LAEP;4,83;45,75;;;', "formule de tableur refusée"),
        ("B1;Crèche;LAEP;-30,0;40,0;;;", "n'est dans aucune commune connue"),
        ("B1;Crèche;LAEP;4,83;45,75;2A004;;", "à plus de 2 km de la commune 2A004"),
        ("B1;Crèche;LAEP;4,83;45,75;99999;;", "code commune « 99999 » inconnu"),
        ("B1;Crèche;Multi-accueil;4,83;45,75;;;-3", "nombre de places « -3 » invalide"),
        ("B1;;Multi-accueil;4,83;45,75;;;", "ligne 2 : nom vide"),
        ("A1;Autre;LAEP;4,83;45,75;;;", "identifiant « A1 » en double"),
    ],
)
def test_a_bad_line_refuses_the_whole_file(communes, line: str, expected: str) -> None:
    header, first = GOOD.splitlines()[:2]
    text = "\n".join([header, line, first]) + "\n"
    assert expected in _errors(text, communes)


def test_bad_files_get_a_french_error(communes) -> None:
    assert "colonne(s) obligatoire(s) absente(s) : lon, lat" in _errors(
        "nom;type\nA;LAEP\n", communes
    )
    assert "vide" in _errors("", communes)
    assert "binaire" in _errors("\x00\x01\x02PK" * 50, communes, "latin-1")
    # Every fault is listed (up to five), not only the first.
    bad = "nom;type;lon;lat\n" + "".join(f"N{i};Halte;x;y\n" for i in range(8))
    message = _errors(bad, communes)
    assert message.count("coordonnées invalides") == 5 and message.endswith("…")


def test_free_type_names() -> None:
    assert facility_type("MICRO-CRECHE") == "Micro-crèche"
    assert facility_type("Halte-garderie") == "Crèche collective"
    assert facility_type("Lieu d'accueil enfants parents") == "Lieu d'accueil enfants-parents"
    assert facility_type("crèche parentale") == "Crèche parentale"
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


def test_imported_facilities_replace_the_demonstration(own_cache, settings, communes) -> None:
    from dashboard.app import create_app

    local = replace(settings, cache=own_cache)
    data = AppData(local)
    assert data.facilities().demo
    install_facilities(local.facilities_import, parse_facilities(GOOD.encode(), communes), "x.csv")
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
    bad.write_text(GOOD + "Z9;Crèche;Piscine;4,8;45,7;;;\n", encoding="utf-8")
    assert cli(["equipements", str(good)]) == 0
    assert "4 équipements importés" in capsys.readouterr().out
    installed = active_dir(own_cache / "equipements")
    assert cli(["equipements", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "ligne 6 : type « Piscine » inconnu" in err and "fichier non importé" in err
    assert active_dir(own_cache / "equipements") == installed  # the good import still serves
    assert not list((own_cache / "equipements" / "builds").glob("*.partial"))
    assert cli(["equipements", "--retirer"]) == 0
    assert active_dir(own_cache / "equipements") is None
