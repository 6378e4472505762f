"""Import of real Cafdata files: the three CSV formats, harmonisation, errors (the portal's API:
test_sync.py)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geodata.cog import Cog, load_cog
from geodata.sources import default_sources_dir
from layers.ingest import (
    ROW_COLUMNS,
    CafdataFormatError,
    ImportResult,
    parse_file,
)
from layers.ingest.parse import FORMAT_OLD, FORMAT_PORTAL, FORMAT_QUARTERLY
from layers.ingest.places import ABROAD, EMPTY, MARITIME, PLACEHOLDER, UNKNOWN_COMMUNE

SOURCES = default_sources_dir()
FIXTURES = Path(__file__).parent / "fixtures" / "cafdata"
pytestmark = pytest.mark.skipif(
    not (SOURCES / "territoires").is_dir(), reason=f"sources absentes : {SOURCES}"
)

HEADER = "dtreffre;numcomdo;nomcom;indfoy_ndur;indfoy_af;indfoy_rsa;indmtt_rsa\n"
GOOD = "2024-12;01004;Ambérieu-en-Bugey;8715;2430;275;130900\n"


@pytest.fixture(scope="module")
def cog() -> Cog:
    return load_cog(SOURCES / "territoires")


def value(result: ImportResult, indicateur: str, code: str, periode: str) -> pd.Series:
    rows = result.rows
    hit = rows[
        (rows["indicateur"] == indicateur) & (rows["code"] == code) & (rows["periode"] == periode)
    ]
    assert len(hit) == 1, (indicateur, code, periode, len(hit))
    return hit.iloc[0]


def source_rows(name: str, encoding: str = "utf-8-sig", sep: str = ";") -> list[dict]:
    """The fixture read independently with the csv module (the expected values)."""
    with (FIXTURES / name).open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh, delimiter=sep))


def write(tmp_path: Path, text: str, name: str = "s_ben_com_f.csv", encoding="utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def check_contract(result: ImportResult) -> None:
    rows = result.rows
    assert list(rows.columns) == ROW_COLUMNS
    assert rows["valeur"].dtype == np.float64
    assert set(rows["statut"]) <= {"publie", "secret"}
    secret = rows["statut"] == "secret"
    assert rows.loc[secret, "valeur"].isna().all()  # a blank is never 0
    assert rows.loc[~secret, "valeur"].notna().all()
    assert rows["periode"].str.fullmatch(r"\d{4}-\d{2}").all()
    assert not rows.duplicated(["indicateur", "niveau", "code", "periode"]).any()


# --- 1. current portal exports -----------------------------------------------------------------


def test_commune_export_sums_paris_and_lyon(cog: Cog) -> None:
    result = parse_file(FIXTURES / "s_ben_com_f.csv", cog)
    check_contract(result)
    report = result.report
    assert report.format == FORMAT_PORTAL
    assert report.encodage == "UTF-8 (avec BOM)" and report.separateur == ";"
    assert report.niveaux == ["arm", "commune"]  # arrondissements kept, and summed
    assert report.periodes == ["2023-12", "2024-12"]
    assert report.colonnes_reconnues["indfoy_ndur"] == "allocataires"
    assert report.colonnes_reconnues["indmtt_rsa"] == "rsa_montant"
    assert report.colonnes_inconnues == {"indfoy_xyz": "indfoy_xyz"}
    assert report.arrondissements_sommes == {"75056": 20, "69123": 9}
    assert report.effectifs_arrondis_a_5

    src = source_rows("s_ben_com_f.csv")
    paris = [r for r in src if r["numcomdo"].startswith("751") and r["dtreffre"] == "2023-12"]
    assert len(paris) == 20
    expected = sum(int(r["indfoy_ndur"]) for r in paris)
    assert value(result, "allocataires", "75056", "2023-12")["valeur"] == expected
    assert value(result, "rsa", "75056", "2023-12")["valeur"] == sum(
        int(r["indfoy_rsa"]) for r in paris
    )
    # 2024: the 7th arrondissement's RSA is blank -> Paris RSA secret, allocataires still summed.
    paris24 = [r for r in src if r["numcomdo"].startswith("751") and r["dtreffre"] == "2024-12"]
    assert [r["numcomdo"] for r in paris24 if r["indfoy_rsa"] == ""] == ["75107"]
    rsa = value(result, "rsa", "75056", "2024-12")
    assert rsa["statut"] == "secret" and math.isnan(rsa["valeur"])
    assert value(result, "allocataires", "75056", "2024-12")["valeur"] == sum(
        int(r["indfoy_ndur"]) for r in paris24
    )
    # Lyon: 69385 hides its allocataires -> Lyon allocataires secret; AF published and summed.
    lyon = [r for r in src if r["numcomdo"].startswith("6938")]
    assert value(result, "allocataires", "69123", "2024-12")["statut"] == "secret"
    assert value(result, "af", "69123", "2024-12")["valeur"] == sum(
        int(r["indfoy_af"]) for r in lyon
    )
    # The arrondissements are kept at their own level, as the file gives them (a blank stays
    # secret), and only there; Lyon did not exist in 2023 in this file.
    rows = result.rows
    arm_codes = rows["code"].str.match(r"^(751|6938|132)\d\d$")
    assert (rows.loc[arm_codes, "niveau"] == "arm").all() and (rows["niveau"] == "arm").any()
    arm = rows[(rows["niveau"] == "arm") & (rows["indicateur"] == "allocataires")]
    arm = arm.set_index(["code", "periode"])
    for r in paris + paris24 + lyon:
        cell = arm.loc[(r["numcomdo"], r["dtreffre"])]
        if r["indfoy_ndur"] == "":
            assert cell["statut"] == "secret" and math.isnan(cell["valeur"])
        else:
            assert cell["statut"] == "publie" and cell["valeur"] == int(r["indfoy_ndur"])
    rsa7 = rows[(rows["code"] == "75107") & (rows["indicateur"] == "rsa")]
    assert set(rsa7.loc[rsa7["periode"] == "2024-12", "statut"]) == {"secret"}
    paris23 = arm.xs("2023-12", level="periode").loc[[r["numcomdo"] for r in paris], "valeur"]
    assert paris23.sum() == value(result, "allocataires", "75056", "2023-12")["valeur"]
    assert not ((result.rows["code"] == "69123") & (result.rows["periode"] == "2023-12")).any()


def test_blank_cell_is_secret_never_zero(cog: Cog) -> None:
    result = parse_file(FIXTURES / "s_ben_com_f.csv", cog)
    af = value(result, "af", "01001", "2023-12")
    assert af["statut"] == "secret" and math.isnan(af["valeur"])
    assert value(result, "allocataires", "01001", "2023-12")["valeur"] == 95
    assert value(result, "allocataires", "2A004", "2024-12")["statut"] == "publie"


def test_unlocated_households_are_reported_not_placed(cog: Cog) -> None:
    report = parse_file(FIXTURES / "s_ben_com_f.csv", cog).report
    assert report.lignes_lues == 65
    assert report.lignes_non_placees == 2 and report.lignes_placees == 63
    assert report.non_placees == {EMPTY: 2}
    assert report.codes_non_places == ["(vide)"]


def test_a_field_is_one_series_whatever_the_dataset(cog: Cog) -> None:
    # series_id: the portal field names the series (no more "<dataset>.<field>"); the dataset
    # goes to the provenance.
    result = parse_file(FIXTURES / "s_ben_com_f.csv", cog, dataset_id="s_ben_com_f_v2")
    assert "indfoy_xyz" in set(result.rows["indicateur"])
    assert set(result.provenance["jeu"]) == {"s_ben_com_f_v2"}


def test_comma_separated_coverage_by_epci(cog: Cog) -> None:
    result = parse_file(FIXTURES / "txcouv_pe_epci.csv", cog)
    check_contract(result)
    report = result.report
    assert report.separateur == "," and report.format == FORMAT_PORTAL
    assert report.niveaux == ["epci"] and report.periodes == ["2022-12", "2023-12", "2024-12"]
    assert report.colonnes_reconnues == {
        "txcouv_epci": "taux_couverture_global",
        "txcouv_eaje_epci": "taux_couverture_eaje",
        "pl_eaje_epci": "places_eaje",
    }
    assert report.non_placees == {PLACEHOLDER: 2} and report.codes_non_places == ["XX"]
    src = [r for r in source_rows("txcouv_pe_epci.csv", sep=",") if r["annee"] == "2022"]
    lyon = next(r for r in src if r["numepci"] == "200046977")
    assert value(result, "taux_couverture_global", "200046977", "2022-12")["valeur"] == float(
        lyon["txcouv_epci"]
    )
    assert value(result, "taux_couverture_global", "200069193", "2024-12")["valeur"] == 104.3
    assert value(result, "taux_couverture_eaje", "200069193", "2024-12")["statut"] == "secret"


def test_quoted_and_unquoted_files_read_the_same(cog: Cog, tmp_path: Path) -> None:
    text = (FIXTURES / "s_ben_com_f.csv").read_text(encoding="utf-8-sig")
    quoted = text.replace(";Ajaccio;", ';"Ajaccio";').replace(";Tarnos;", ';"Tarnos";')
    plain = parse_file(write(tmp_path, text), cog).rows
    careful = parse_file(
        write(tmp_path, quoted, "s_ben_com_f_q.csv"), cog, dataset_id="s_ben_com_f"
    ).rows
    pd.testing.assert_frame_equal(plain, careful)


def test_city_row_wins_over_its_arrondissements(cog: Cog, tmp_path: Path) -> None:
    text = HEADER + "2024-12;75056;Paris;1000;10;20;300\n"
    text += "".join(f"2024-12;751{i:02d};Paris {i};5;;;\n" for i in range(1, 21))
    result = parse_file(write(tmp_path, text), cog)
    assert value(result, "allocataires", "75056", "2024-12")["valeur"] == 1000
    assert any("arrondissement" in w for w in result.report.avertissements)
    # The arrondissements are still kept at their own level.
    arm = result.rows[
        (result.rows["niveau"] == "arm") & (result.rows["indicateur"] == "allocataires")
    ]
    assert len(arm) == 20 and (arm["valeur"] == 5).all()


def test_missing_arrondissement_hides_the_city_total(cog: Cog, tmp_path: Path) -> None:
    text = HEADER + "".join(f"2024-12;751{i:02d};Paris {i};5;5;5;100\n" for i in range(1, 20))
    result = parse_file(write(tmp_path, text), cog)
    assert value(result, "allocataires", "75056", "2024-12")["statut"] == "secret"
    assert any("19 arrondissement(s) sur 20" in w for w in result.report.avertissements)


# --- 2. older portal (2009-2015) ---------------------------------------------------------------


def test_old_portal_commune_file(cog: Cog) -> None:
    result = parse_file(FIXTURES / "CAF_2014_paje_communes.csv", cog)
    check_contract(result)
    report = result.report
    assert report.format == FORMAT_OLD
    assert report.encodage == "Windows-1252"
    assert report.entetes_repetees == 1
    assert report.periodes == ["2014-12"]
    assert any("nom du fichier" in w for w in report.avertissements)
    assert report.non_placees == {ABROAD: 1, UNKNOWN_COMMUNE: 1}
    assert report.codes_non_places == ["99999", "XXXXX"]
    assert report.colonnes_reconnues["NB_Allocataires"] == "allocataires"
    assert report.colonnes_reconnues["ALL_CMG"] == "paje_cmg"

    src = {r["Codes_Insee"]: r for r in source_rows("CAF_2014_paje_communes.csv", "latin-1")}
    # Lost leading zero: "1001" is L'Abergement-Clémenciat, 01001.
    assert value(result, "allocataires", "01001", "2014-12")["valeur"] == int(
        src["1001"]["NB_Allocataires"]
    )
    # Valserhône (01033) = Bellegarde (01033) + Châtillon-en-Michaille (01091) + Lancrans (01205).
    parts = ("1033", "1091", "1205")
    assert value(result, "allocataires", "01033", "2014-12")["valeur"] == sum(
        int(src[c]["NB_Allocataires"]) for c in parts
    )
    assert src["1205"]["ALL_BASEP"] == ""
    assert value(result, "paje_ab", "01033", "2014-12")["statut"] == "secret"
    assert report.communes_fusionnees == {"01033": ["01033", "01091", "01205"]}
    # Marseille's 16 arrondissements summed.
    assert report.arrondissements_sommes == {"13055": 16}
    assert value(result, "allocataires", "13055", "2014-12")["valeur"] == sum(
        int(r["NB_Allocataires"]) for c, r in src.items() if c.startswith("132")
    )


def test_old_portal_period_from_argument_or_error(cog: Cog, tmp_path: Path) -> None:
    raw = (FIXTURES / "CAF_2014_paje_communes.csv").read_bytes()
    path = tmp_path / "paje_communes.csv"
    path.write_bytes(raw)
    assert parse_file(path, cog, periode="2013-12").report.periodes == ["2013-12"]
    with pytest.raises(CafdataFormatError, match=r"^ligne 1 : aucune colonne de date"):
        parse_file(path, cog)
    with pytest.raises(ValueError, match="AAAA-MM"):
        parse_file(path, cog, periode="2013")


def test_old_coverage_year_in_column_names(cog: Cog) -> None:
    result = parse_file(FIXTURES / "txcouv_communes_2014.csv", cog)
    check_contract(result)
    assert result.report.format == FORMAT_OLD
    assert result.report.periodes == ["2013-12", "2014-12"]
    assert value(result, "taux_couverture_global", "01004", "2014-12")["valeur"] == 62.4  # "62,4"
    assert value(result, "taux_couverture_global", "01004", "2013-12")["valeur"] == 60.1
    # Two old communes now form Valserhône: their rates are not summed, the result is secret.
    for periode in ("2013-12", "2014-12"):
        merged = value(result, "taux_couverture_global", "01033", periode)
        assert merged["statut"] == "secret" and math.isnan(merged["valeur"])
    assert any("taux" in w for w in result.report.avertissements)


def test_rate_of_a_single_old_code_is_kept(cog: Cog, tmp_path: Path) -> None:
    text = "NUMCOM;NOMCOM;TXCOUVGLO_COM_2014\n1091;Châtillon-en-Michaille;48,3\n"
    result = parse_file(write(tmp_path, text, "cov.csv", "latin-1"), cog)
    assert value(result, "taux_couverture_global", "01033", "2014-12")["valeur"] == 48.3
    assert result.report.codes_convertis == {"01091": "01033"}


def test_old_epci_file_with_dtref(cog: Cog, tmp_path: Path) -> None:
    text = (
        "NOMEPCI;NUMEPCI;DEPSEPCI;DTREF;NB_Allocataires;ALL_RSA\n"
        "CC de la Dombes;200069193;01;31/12/2013;4520;310\n"
        "EPCI disparu;240100000;01;31/12/2013;120;\n"
    )
    result = parse_file(write(tmp_path, text, "epci.csv"), cog)
    assert result.report.format == FORMAT_OLD
    assert value(result, "allocataires", "200069193", "2013-12")["valeur"] == 4520
    assert value(result, "rsa", "200069193", "2013-12")["valeur"] == 310
    assert result.report.codes_non_places == ["240100000"]


# --- 3. quarterly wide files -------------------------------------------------------------------


def test_quarterly_file_by_caf_latin1(cog: Cog) -> None:
    result = parse_file(FIXTURES / "AFCafdepuis1993.csv", cog)
    check_contract(result)
    report = result.report
    assert report.format == FORMAT_QUARTERLY
    assert report.encodage == "Windows-1252"
    assert report.periodes == ["2014-09", "2014-12", "2015-03", "2015-06"]
    assert report.niveaux == ["caf"]
    assert set(result.rows["indicateur"]) == {"af"}
    assert set(result.rows["code"]) == {"01", "2A", "40", "641", "642", "971", "976"}
    assert report.non_placees == {MARITIME: 1} and report.codes_non_places == ["17M"]
    src = {r["dep"]: r for r in source_rows("AFCafdepuis1993.csv", "cp1252")}
    assert value(result, "af", "01", "2014-12")["valeur"] == int(src["1"]["déc.-14"])
    assert value(result, "af", "641", "2015-06")["valeur"] == int(src["641"]["juin-15"])
    assert value(result, "af", "976", "2014-09")["statut"] == "secret"


def test_quarterly_file_by_departement_from_dataset_id(cog: Cog, tmp_path: Path) -> None:
    text = "dep;deplib;reg;déc. 2015;sept-15;juin-2015\n64;Pyrénées-Atlantiques;75;10;20;30\n"
    text += "01;Ain;84;1;2;\n"
    result = parse_file(write(tmp_path, text, "export.csv"), cog, dataset_id="RSAdepdepuis2009")
    assert result.report.encodage == "UTF-8"
    assert set(result.rows["indicateur"]) == {"rsa"}
    assert result.report.niveaux == ["departement"]
    assert value(result, "rsa", "64", "2015-12")["valeur"] == 10
    assert value(result, "rsa", "01", "2015-06")["statut"] == "secret"


def test_quarterly_file_with_unknown_name_gets_generic_id(cog: Cog, tmp_path: Path) -> None:
    text = "dep;deplib;mars-16\n1;Ain;12\n"
    result = parse_file(write(tmp_path, text, "Serie mystere.csv"), cog)
    assert set(result.rows["indicateur"]) == {"serie_mystere"}
    assert any("non reconnu" in w for w in result.report.avertissements)


# --- errors: all or nothing, French message naming the line ------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("", "fichier vide", None),
        ("\n \n", "fichier vide", None),
        ("foo;bar\n1;2\n", "ligne 1 : en-tête non reconnu (colonnes attendues : ", 1),
        (
            HEADER + GOOD * 6 + "2024-12;01001;A;1;2\n" + GOOD,
            "ligne 8 : 5 champs au lieu de 7",
            8,
        ),
        (HEADER + GOOD * 3 + "2024-12;01001;L'Aber", "ligne 5 : 3 champs au lieu de 7", 5),
        (
            HEADER + GOOD * 12 + "2024-12;01001;A;95;abc;;\n",
            "ligne 14 : valeur « abc » non numérique dans la colonne indfoy_af",
            14,
        ),
        (HEADER + GOOD + "2024-12;01001;A;nan;;;\n", "ligne 3 : valeur « nan » non numérique", 3),
        (HEADER + GOOD + "2024-12;01001;A;-5;;;\n", "ligne 3 : effectif négatif « -5 »", 3),
        (
            HEADER + GOOD + "2024-12;01001;A;=SUM(A1);;;\n",
            "ligne 3 : formule de tableur « =SUM(A1) »",
            3,
        ),
        (HEADER + GOOD * 2 + "2024-12;01001;@cmd;5;;;\n", "ligne 4 : formule de tableur", 4),
        (HEADER + GOOD + "2024-12;01001;A;5;-abc;;\n", "ligne 3 : formule de tableur", 3),
        (HEADER + GOOD + '2024-12;01001;"A;5;;;\n' + GOOD, "ligne 3 : structure CSV invalide", 3),
        (HEADER + GOOD + "2024-13;01001;A;5;;;\n", "ligne 3 : date « 2024-13 » non reconnue", 3),
        ("dtreffre;numcomdo;indfoy_af;indfoy_af\n", "ligne 1 : colonne « indfoy_af » en double", 1),
    ],
)
def test_bad_input_names_the_line(
    cog: Cog, tmp_path: Path, text: str, message: str, line: int | None
) -> None:
    with pytest.raises(CafdataFormatError) as caught:
        parse_file(write(tmp_path, text), cog)
    assert str(caught.value).startswith(message), str(caught.value)
    assert caught.value.line == line


def test_errors_are_the_same_through_the_quoted_reader(cog: Cog, tmp_path: Path) -> None:
    text = HEADER + '2024-12;01004;"Ambérieu";8715;2430;275;130900\n' * 1
    text += "2024-12;01001;A;95;12,5x;;\n"
    with pytest.raises(CafdataFormatError, match=r"^ligne 3 : valeur « 12,5x » non numérique"):
        parse_file(write(tmp_path, text), cog)


def test_identical_repeated_rows_are_dropped(cog: Cog, tmp_path: Path) -> None:
    result = parse_file(write(tmp_path, HEADER + GOOD + GOOD), cog)
    assert result.report.doublons_identiques == 1
    assert value(result, "allocataires", "01004", "2024-12")["valeur"] == 8715


def test_decimal_comma_and_thousands_spaces(cog: Cog, tmp_path: Path) -> None:
    text = 'numcom;nomcom;annee;txcouv_com;pl_eaje_com\n01004;Ambérieu;2023;"57,5";1 250\n'
    result = parse_file(write(tmp_path, text, "txcouv_pe_com.csv"), cog)
    assert value(result, "taux_couverture_global", "01004", "2023-12")["valeur"] == 57.5
    assert value(result, "places_eaje", "01004", "2023-12")["valeur"] == 1250


def test_a_large_commune_file_parses_whole(cog: Cog, tmp_path: Path) -> None:
    codes = cog.communes["code"].to_numpy()
    columns = [f"indfoy_c{i}" for i in range(15)]
    rng = np.random.default_rng(1)
    lines = ["dtreffre;numcomdo;nomcom;" + ";".join(columns)]
    for year in (2023, 2024):
        values = rng.integers(0, 400, size=(len(codes), len(columns))) * 5
        body = np.char.add(f"{year}-12;", codes.astype(str))
        cells = [";".join(map(str, row)) for row in values.tolist()]
        lines += [f"{prefix};X;{cell}" for prefix, cell in zip(body, cells, strict=True)]
    path = write(tmp_path, "\n".join(lines) + "\n", "big.csv")
    result = parse_file(path, cog)  # its speed is measured in bench/ingest_bench.py
    assert len(result.rows) == 2 * 15 * len(codes)
    assert set(result.provenance["regime"]) == {"arrondi"}
