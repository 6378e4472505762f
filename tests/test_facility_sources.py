"""Facilities from the files people actually have: the real list of Marseille's crèches as its
portal publishes it, Opendatasoft exports of the same rows, Lambert-93, postcodes of the
arrondissements, `--colonnes`, several files accumulating, and INSEE's BPE."""

from __future__ import annotations

import json
import urllib.error
from argparse import Namespace
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from geodata.build import build
from geodata.cache import active_dir
from layers.config import Settings
from layers.facility_cli import import_facilities_file
from layers.facility_columns import parse_overrides
from layers.facility_import import ImportOptions, parse_facilities
from layers.facility_places import LAMBERT93, Gazetteer
from layers.facility_store import FILE_NAME, SOURCES_NAME, install_facilities
from layers.ingest import CafdataFormatError

SOURCES = Settings.from_env().sources
MARSEILLE = SOURCES / "equipements" / "marseille-creches-2020.csv"
IRIS = SOURCES / "iris" / "iris-2020-metropole.geojson.gz"
# Three rows of the real Marseille file (name, type, places, postcode, lon, lat).
ROWS = [
    ("MISSION", "Multi accueil", 50, "13001", 5.380003, 43.29858),
    ("BELSUNCE", "Multi accueil", 85, "13001", 5.378468, 43.30022),
    ("REPUBLIQUE", "Multi accueil", 40, "13002", 5.372456, 43.3013211),
]


@pytest.fixture(scope="module")
def geo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real build of Hautes-Alpes, Bouches-du-Rhône, Rhône, Paris and Martinique (seconds)."""
    if not MARSEILLE.is_file():
        pytest.skip(f"raw sources not found in {SOURCES}")
    root = tmp_path_factory.mktemp("cache13")
    build(SOURCES, root, departements=["05", "13", "69", "75", "972"], log=lambda _: None)
    return root


@pytest.fixture(scope="module")
def places(geo: Path) -> Gazetteer:
    return Gazetteer.load(active_dir(geo), SOURCES)


@pytest.fixture(scope="module")
def arm_build(geo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same build with the arrondissements of Marseille dissolved from the real IRIS, as
    the build of issue 12 writes them (`geo/arm.parquet`, named from the COG)."""
    if not IRIS.is_file():
        pytest.skip("national IRIS file absent")
    copy = tmp_path_factory.mktemp("with_arm")
    (copy / "geo").mkdir()
    (copy / "geo" / "commune.parquet").symlink_to(active_dir(geo) / "geo" / "commune.parquet")
    iris = gpd.read_file(f"/vsigzip/{IRIS}", where="INSEE_COM LIKE '132%'", columns=["INSEE_COM"])
    arm = iris.dissolve("INSEE_COM").reset_index().rename(columns={"INSEE_COM": "code"})
    cog = pd.read_json(SOURCES / "territoires" / "communes.json", dtype=False)
    arm = arm.merge(cog[["code", "nom", "commune", "population"]], on="code")
    label = arm.geometry.representative_point()
    arm = arm.assign(
        departement="13", region="93", label_lon=label.x, label_lat=label.y, area_km2=1.0
    )
    arm.to_parquet(copy / "geo" / "arm.parquet")
    return copy


@pytest.fixture(scope="module")
def with_arm(arm_build: Path) -> Gazetteer:
    return Gazetteer.load(arm_build, SOURCES)


def test_the_real_marseille_list_imports_as_it_is(places) -> None:
    result = parse_facilities(MARSEILLE.read_bytes(), places)
    t = result.table
    assert len(t) == 198 and len(result.listed) == 13
    assert set(t["commune"]) == {"13055"}
    # Each crèche keeps its arrondissement (the file's postcode 13001 -> INSEE 13201).
    assert sorted(set(t["arm"])) == [f"132{n:02d}" for n in range(1, 17)]
    # The build's arrondissement polygons place the points; the file's postcodes agree for
    # nearly all (a geocoded point near a boundary can fall in the next arrondissement).
    raw = pd.read_csv(MARSEILLE, dtype=str).dropna(subset=["Latitude"])
    declared = ("132" + raw["Arrondissement"].str[-2:]).to_numpy()
    assert (t["arm"].to_numpy() == declared).mean() >= 0.9
    assert t["type"].value_counts().to_dict() == {
        "Multi-accueil": 143,
        "Micro-crèche": 47,
        "Halte-garderie": 8,
    }
    assert t["places"].sum() == pd.to_numeric(raw["Nombre de Places"]).sum()
    report = result.resume()
    assert "Nom ← Nom de la crèche" in report and "Code postal ← Arrondissement" in report
    assert "13 sans coordonnées, non placés" in report and "LES PETITS KOALAS" in report


def test_the_command_imports_the_real_list(geo, tmp_path, monkeypatch, capsys) -> None:
    from dashboard.cli import main as cli

    cache = tmp_path / "cache"
    cache.mkdir()
    for name in ("builds", "current"):
        (cache / name).symlink_to((geo / name).resolve())
    monkeypatch.setenv("CAFCARTO_CACHE", str(cache))
    assert cli(["equipements", str(MARSEILLE)]) == 0
    out = capsys.readouterr().out
    assert "198 équipements placés" in out and "13 sans coordonnées, non placés" in out
    assert len(pd.read_parquet(active_dir(cache / "equipements") / FILE_NAME)) == 198
    # A wrong --colonnes refuses the file and keeps the import in service.
    assert cli(["equipements", str(MARSEILLE), "--colonnes", "nom=Inconnue"]) == 2
    assert "colonne « Inconnue » absente" in capsys.readouterr().err
    assert len(pd.read_parquet(active_dir(cache / "equipements") / FILE_NAME)) == 198


def test_rows_without_coordinates_are_placed_only_when_asked(places) -> None:
    asked = ImportOptions(place_without_coordinates=True)
    result = parse_facilities(MARSEILLE.read_bytes(), places, asked)
    t = result.table
    assert len(t) == 211 and result.listed.empty and t["approx"].sum() == 13
    assert t.loc[t["approx"], "arm"].str.startswith("132").all()
    assert "13 sans coordonnées placés" in result.resume()


def test_approximate_points_say_so_in_the_tables(places, geo) -> None:
    from layers.appdata import AppData
    from layers.facility_search import display_rows

    asked = ImportOptions(place_without_coordinates=True)
    t = parse_facilities(MARSEILLE.read_bytes(), places, asked).table
    index = AppData(replace(Settings.from_env(), cache=geo)).index()
    rows = display_rows(t, index, limit=len(t))
    flagged = [r["nom"] for r in rows if r["adresse"].endswith("(position approximative)")]
    assert sorted(flagged) == sorted(t.loc[t["approx"], "nom"]) and len(flagged) == 13


def test_a_list_without_any_coordinates(places) -> None:
    text = (
        "Raison sociale;Type de structure;Capacité;Code postal;Ville\n"
        "Les Lutins;Crèche collective;30;13008;Marseille\n"
        "La Ribambelle;RAM;;69003;Lyon\n"
    ).encode("cp1252")
    with pytest.raises(CafdataFormatError, match="aucun équipement placé .2 sans coordonnées"):
        parse_facilities(text, places)
    asked = ImportOptions(place_without_coordinates=True)
    result = parse_facilities(text, places, asked)
    t = result.table.set_index("nom")
    assert t["arm"].to_dict() == {"Les Lutins": "13208", "La Ribambelle": "69383"}
    assert t.loc["La Ribambelle", "type"] == "Relais petite enfance"
    assert pd.isna(t.loc["La Ribambelle", "places"]) and "aucune coordonnée" in result.resume()


def test_points_fall_in_the_arrondissements_polygons(with_arm) -> None:
    t = parse_facilities(MARSEILLE.read_bytes(), with_arm).table
    assert len(t) == 198 and t["arm"].str.match(r"^132(0[1-9]|1[0-6])$").all()
    raw = pd.read_csv(MARSEILLE, dtype=str).dropna(subset=["Latitude"])
    postcode = ("132" + raw["Arrondissement"].str[-2:]).to_numpy()
    # The polygon and the postcode agree for nearly every crèche (a postcode is an address,
    # the polygon the ground: a few near the borders differ).
    assert (t["arm"].to_numpy() == postcode).mean() > 0.9


def test_an_arrondissement_lists_its_crèches(with_arm, arm_build) -> None:
    from layers.facility_listing import facility_listing, nearby_rows
    from layers.territory_index import TerritoryIndex

    t = parse_facilities(MARSEILLE.read_bytes(), with_arm).table
    index = TerritoryIndex(arm_build)
    labels = list(t["type"].unique())
    listing = facility_listing(t, index, labels, "arm:13201")
    assert listing.total == int((t["arm"] == "13201").sum()) > 0
    assert "Marseille 1er Arrondissement" in listing.title
    assert {r["commune"] for r in listing.rows} == {"Marseille 1er Arrondissement"}
    rows = nearby_rows(t, index, "13203", labels)  # the profile of an arrondissement
    assert len(rows) == int((t["arm"] == "13203").sum()) > 0
    distances = [float(r["distance"].replace(",", ".")) for r in rows]
    assert distances == sorted(distances)


def _geojson_export() -> bytes:
    """Shaped like an Opendatasoft GeoJSON export: flat properties, `geo_point_2d` too."""
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {
                "nom_etablissement": name,
                "type_structure": kind,
                "capacite": places,
                "code_postal": cp,
                "geo_point_2d": {"lon": lon, "lat": lat},
            },
        }
        for name, kind, places, cp, lon, lat in ROWS
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _old_api_json() -> bytes:
    records = [
        {
            "datasetid": "creches",
            "recordid": f"r{i}",
            "fields": {"nom": n, "type": k, "nombre_de_places": p, "cp": c, "geo_point_2d": [y, x]},
            "geometry": {"type": "Point", "coordinates": [x, y]},
        }
        for i, (n, k, p, c, x, y) in enumerate(ROWS)
    ]
    return json.dumps(records).encode()


def _v21_json() -> bytes:
    records = [
        {
            "raison_sociale": n,
            "type_accueil": k,
            "capacite": p,
            "geo_point_2d": {"lon": x, "lat": y},
        }
        for n, k, p, _c, x, y in ROWS
    ]
    return json.dumps(records).encode()


def _ods_csv() -> bytes:
    lines = ["Nom de la crèche;Type accueil;Nombre de places;Code postal;geo_point_2d"]
    lines += [f'{n};{k};{p};{c};"{y}, {x}"' for n, k, p, c, x, y in ROWS]
    return ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8")


@pytest.mark.parametrize(
    ("raw", "form"),
    [
        (_geojson_export(), "GeoJSON"),
        (_old_api_json(), "ancienne API"),
        (_v21_json(), "JSON"),
        (b'{"nhits": 3, "records": ' + _old_api_json() + b"}", "ancienne API"),
        (_ods_csv(), "CSV"),
    ],
)
def test_opendatasoft_exports_import_the_same_way(places, raw: bytes, form: str) -> None:
    result = parse_facilities(raw, places)
    t = result.table
    assert form in result.form
    assert t["nom"].tolist() == [r[0] for r in ROWS]
    assert t["type"].eq("Multi-accueil").all() and t["places"].tolist() == [50, 85, 40]
    assert t["lon"].tolist() == pytest.approx([r[4] for r in ROWS])
    assert (t["commune"] == "13055").all() and set(t["arm"]) <= {"13201", "13202", ""}


def _lambert_rows() -> str:
    to_l93 = Transformer.from_crs(4326, LAMBERT93, always_xy=True)
    lines = ["nom;type;x;y"]
    for name, kind, _p, _c, lon, lat in ROWS:
        x, y = to_l93.transform(lon, lat)
        lines.append(f"{name};{kind};{x:.1f};{y:.1f}")
    return "\n".join(lines) + "\n"


def test_lambert93_is_detected_and_reprojected(places) -> None:
    result = parse_facilities(_lambert_rows().encode(), places)
    assert result.crs == LAMBERT93 and "EPSG:2154 reprojetées" in result.resume()
    assert result.table["lon"].tolist() == pytest.approx([r[4] for r in ROWS], abs=1e-5)
    assert (result.table["commune"] == "13055").all()
    # Told the wrong system, the points leave France: refused, with the hint.
    with pytest.raises(CafdataFormatError, match="hors de France.*--crs"):
        parse_facilities(_lambert_rows().encode(), places, ImportOptions(crs=4326))


def test_postcodes_name_the_arrondissements(places) -> None:
    assert places.resolve("", "13001", "")[:2] == ("13055", "13201")
    assert places.resolve("", "75015", "Paris")[:2] == ("75056", "75115")
    assert places.resolve("", "69003", "")[:2] == ("69123", "69383")
    assert places.resolve("13203", "", "")[:2] == ("13055", "13203")
    assert places.resolve("", "", "Villeurbanne")[:2] == ("69266", "")
    assert places.resolve("", "", "Fort-de-France")[:2] == ("97209", "")
    assert "inconnue" in places.resolve("", "", "Atlantide")[2]
    # Vitrolles is in Hautes-Alpes and in Bouches-du-Rhône: the postcode or département says.
    assert "ambiguë (2 possibles)" in places.resolve("", "", "VITROLLES")[2]
    assert places.resolve("", "13127", "Vitrolles")[:2] == ("13117", "")
    assert places.resolve("", "", "Vitrolles", "05")[:2] == ("05184", "")


def test_columns_named_by_the_user(places) -> None:
    text = "Structure d'accueil;Agrément total;lat;lon\nLes Lutins;12;43.2986;5.3800\n"
    with pytest.raises(CafdataFormatError, match="aucune colonne de nom reconnue"):
        parse_facilities(text.encode(), places)
    overrides = parse_overrides('nom="Structure d\'accueil",places=Agrément total')
    result = parse_facilities(text.encode(), places, ImportOptions(columns=overrides))
    assert result.table["places"].tolist() == [12]
    assert "Nom ← Structure d'accueil (indiquée par --colonnes)" in result.resume()
    # No type column: imported as an EAJE of unspecified kind, and the report says so.
    assert result.table["type"].tolist() == ["EAJE (type non précisé)"]
    with pytest.raises(CafdataFormatError, match="rôle=colonne"):
        parse_overrides("surface=m2")
    with pytest.raises(CafdataFormatError, match="colonne « Absente » absente"):
        parse_facilities(text.encode(), places, ImportOptions(columns={"nom": "Absente"}))


def test_files_accumulate_duplicates_merge_reimport_replaces(places, tmp_path) -> None:
    root = tmp_path / "equipements"
    city = parse_facilities(MARSEILLE.read_bytes(), places).table
    # A national source naming MISSION 30 m away, and a crèche the city's list lacks.
    # BELSUNCE unnamed 20 m away; REPUBLIQUE unnamed but 150 m away (kept apart).
    national = parse_facilities(
        (
            "nom;type;longitude;latitude\n"
            "Crèche Mission;EAJE;5.38035;43.29860\n"
            "Les Calanques;Micro-crèche;5.4400;43.2200\n"
            "EAJE (type non précisé) (BPE);EAJE;5.37870;43.30030\n"
            "EAJE (type non précisé) (BPE);EAJE;5.37430;43.30100\n"
        ).encode(),
        places,
    ).table
    install_facilities(root, national, "BPE 2024")
    served = install_facilities(root, city, MARSEILLE.name)
    assert len(served) == 198 + 2
    belsunce = served[served["nom"] == "BELSUNCE"].iloc[0]
    assert belsunce["sources"] == f"{MARSEILLE.name} ; BPE 2024"
    # That unnamed point is 34 m from another crèche of the list too: the two stay apart.
    capucins = served[served["nom"] == "LES MINOTS DES CAPUCINS"]
    assert len(capucins) == 1 and capucins.iloc[0]["sources"] == MARSEILLE.name
    mission = served[served["nom"] == "MISSION"].iloc[0]
    assert mission["sources"] == f"{MARSEILLE.name} ; BPE 2024"
    assert mission["type"] == "Multi-accueil"  # the city's kind wins over the generic one
    first = active_dir(root)
    again = install_facilities(root, city, MARSEILLE.name)
    assert len(again) == len(served) and active_dir(root) != first
    kept = pd.read_parquet(active_dir(root) / SOURCES_NAME)
    assert kept["source"].value_counts().to_dict() == {MARSEILLE.name: 198, "BPE 2024": 4}
    assert len(pd.read_parquet(active_dir(root) / FILE_NAME)) == 200


def _bpe_files(folder: Path, with_nomenclature: bool = True) -> Path:
    """Test data, not the BPE: a few rows shaped like its detail file (real column names,
    Lambert-93 coordinates of real places, and a Martinique row in its UTM system)."""
    to_l93 = Transformer.from_crs(4326, LAMBERT93, always_xy=True)
    to_utm20 = Transformer.from_crs(4326, 5490, always_xy=True)
    rows = [
        ("13201", "D502", "CRECHE MISSION TEST", *to_l93.transform(5.38003, 43.29858)),
        ("13208", "D509", "MICRO TEST", *to_l93.transform(5.3900, 43.2600)),
        ("69383", "D504", "RPE TEST", *to_l93.transform(4.8500, 45.7600)),
        ("97209", "D502", "", *to_utm20.transform(-61.0700, 14.6050)),
        ("13201", "A101", "POLICE TEST", *to_l93.transform(5.3800, 43.3000)),
        ("33063", "D502", "BORDEAUX TEST", *to_l93.transform(-0.5800, 44.8400)),
    ]
    lines = ["AN;DEPCOM;TYPEQU;NOMRS;LAMBERT_X;LAMBERT_Y;QUALITE_XY"]
    lines += [f"2024;{d};{t};{n};{x:.2f};{y:.2f};Bonne" for d, t, n, x, y in rows]
    lines.append(
        f"2024;13201;D509;MICRO-CRÈCHE ÉTOILE;{rows[0][3] + 30:.2f};{rows[0][4]:.2f};Bonne"
    )
    data = folder / "bpe24_ensemble_xy.csv"
    data.write_text("\n".join(lines) + "\n", encoding="cp1252" if with_nomenclature else "utf-8")
    if with_nomenclature:
        (folder / "varmod_ensemble_xy_2024.csv").write_text(
            "COD_VAR;LIB_VAR;COD_MOD;LIB_MOD\n"
            "TYPEQU;Type d'équipement;A101;Police\n"
            "TYPEQU;Type d'équipement;D502;Établissement d'accueil du jeune enfant\n"
            "TYPEQU;Type d'équipement;D504;Relais petite enfance\n"
            "TYPEQU;Type d'équipement;D509;Micro-crèche\n",
            encoding="cp1252",  # as older nomenclatures are
        )
    return data


def _args(**kw) -> Namespace:
    base = {"fichier": None, "bpe": False, "colonnes": None, "crs": None}
    return Namespace(**{**base, "placer_sans_coordonnees": False, **kw})


def test_a_bpe_file_imports_its_childcare_codes(geo, tmp_path) -> None:
    data = _bpe_files(tmp_path)
    settings = replace(Settings.from_env(), cache=geo)
    lines = import_facilities_file(_args(fichier=str(data)), settings, active_dir(geo))
    text = "\n".join(lines)
    assert text.startswith("BPE 2024 : 5 équipements placés et importés")
    # Bordeaux is a real commune outside this build: counted, not an error.
    assert "1 hors des communes construites (non importés)" in text
    assert "D502 (EAJE (type non précisé)), D504 (Relais petite enfance), D509 (Micro-crèche)" in (
        text
    )
    t = pd.read_parquet(active_dir(settings.facilities_import) / FILE_NAME).set_index("nom")
    assert t.loc["CRECHE MISSION TEST", "arm"] == "13201"
    assert t.loc["RPE TEST", "commune"] == "69123" and pd.isna(t.loc["RPE TEST", "places"])
    martinique = t[t["commune"] == "97209"].iloc[0]
    assert martinique["lon"] == pytest.approx(-61.07, abs=1e-4)
    assert "POLICE TEST" not in t.index
    assert t.loc["MICRO-CRÈCHE ÉTOILE", "type"] == "Micro-crèche"  # read as Windows-1252


def test_the_bpe_zip_as_insee_ships_it(geo, tmp_path) -> None:
    import zipfile

    data = _bpe_files(tmp_path)
    archive = tmp_path / "bpe24_ensemble_xy_csv.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for member in (data, tmp_path / "varmod_ensemble_xy_2024.csv"):
            zf.write(member, member.name)
    settings = replace(Settings.from_env(), cache=geo)
    lines = import_facilities_file(_args(fichier=str(archive)), settings, active_dir(geo))
    assert lines[0].startswith("BPE 2024 : 5 équipements placés")
    assert any("D509 (Micro-crèche)" in line for line in lines)


def test_without_its_nomenclature_the_bpe_uses_the_known_codes(geo, tmp_path) -> None:
    data = _bpe_files(tmp_path, with_nomenclature=False)
    settings = replace(Settings.from_env(), cache=geo)
    lines = import_facilities_file(_args(fichier=str(data), bpe=True), settings, active_dir(geo))
    assert any("nomenclature absente : codes connus utilisés" in line for line in lines)


def test_the_bpe_offline_is_a_french_error(geo, tmp_path, monkeypatch) -> None:
    def offline(*_a, **_k):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    settings = replace(Settings.from_env(), cache=tmp_path)
    with pytest.raises(CafdataFormatError, match="téléchargement de la BPE impossible"):
        import_facilities_file(_args(bpe=True), settings, active_dir(geo))
    assert not list(tmp_path.rglob("*.partial"))


def test_the_app_lists_and_draws_marseilles_crèches(geo, places, tmp_path) -> None:
    from dashboard.app import create_app
    from layers.appdata import AppData
    from layers.facility_listing import facility_listing

    settings = replace(Settings.from_env(), cache=tmp_path / "cache")
    for name in ("builds", "current"):
        (settings.cache / name).parent.mkdir(exist_ok=True)
        (settings.cache / name).symlink_to((geo / name).resolve())
    install_facilities(
        settings.facilities_import,
        parse_facilities(MARSEILLE.read_bytes(), places).table,
        MARSEILLE.name,
    )
    client = create_app(settings).server.test_client()
    layer = json.loads(client.get("/geo/equipements.geojson").data)
    assert len(layer["features"]) == 198
    marseille = places.communes.set_index("code").geometry["13055"]
    points = shapely.points([f["geometry"]["coordinates"] for f in layer["features"]])
    assert shapely.contains(marseille.buffer(0.01), points).all()
    body = client.get("/api/v1/facilities?commune=13055&limit=500").get_json()
    assert body["total"] == 198 and body["notice"] is None
    data = AppData(settings)
    listing = facility_listing(
        data.facilities().table, data.index(), ["Multi-accueil"], "commune:13055"
    )
    assert listing.total == 143
    # Each row names its arrondissement (from the build's arrondissement level).
    shown = {r["commune"] for r in listing.rows}
    names = {data.index().name("arm", f"132{n:02d}") for n in range(1, 17)}
    assert shown == names and len(shown) == 16
