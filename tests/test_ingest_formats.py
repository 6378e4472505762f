"""Every real Cafdata format and convention the importer meets (catalogue §2, §3, §6 and
SOURCES.md): multi-level rows of the older portal, tolerance of extra columns and repeated rows,
the current portal's dates, types and placeholder territories, IRIS and QPV keys, breakdown
dimensions, series ids and provenance. Files are shaped like the real ones: the real records
of ../shared/data/cafdata-samples converted to CSV, and rows mirroring the catalogue's examples.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from geodata.cog import Cog, load_cog
from geodata.sources import default_sources_dir
from layers.ingest import CafdataFormatError, ImportResult, parse_file
from layers.ingest.columns import series_id
from layers.ingest.infra_codes import sample_iris_codes
from layers.ingest.parse import FORMAT_PORTAL
from layers.ingest.places import EMPTY, IRIS_OUTSIDE, MASKED, NO_TERRITORY, PLACEHOLDER, QPV_2024
from layers.provenance import EXACT, PROVENANCE_COLUMNS, ROUNDED, SUPPRESSED, check_provenance

SOURCES = default_sources_dir()
SAMPLES = SOURCES / "cafdata-samples"
pytestmark = pytest.mark.skipif(
    not (SOURCES / "territoires").is_dir(), reason=f"sources absentes : {SOURCES}"
)
OLD_HEADER = (
    "NUMCOM;NOMCOM;NUMDEP;NOMDEP;NUMEPCI;NOMEPCI;"
    "TXCOUVGLO_COM_2014;TXCOUVGLO_DEP_2014;TXCOUVGLO_EPCI_2014\n"
)


@pytest.fixture(scope="module")
def cog() -> Cog:
    return load_cog(SOURCES / "territoires")


def write(tmp_path: Path, text: str, name: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def records_csv(tmp_path: Path, records: list[dict], name: str) -> Path:
    """Real JSON records as the portal's CSV export writes them (BOM, `;`, CRLF, nulls empty)."""
    fields = list(dict.fromkeys(k for r in records for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: "" if r.get(k) is None else r[k] for k in fields})
    return write(tmp_path, "\ufeff" + out.getvalue(), name)


def sample(name: str) -> list | dict:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def cell(result: ImportResult, indicator: str, level: str, code: str, period: str) -> pd.Series:
    rows = result.rows
    hit = rows[
        (rows["indicateur"] == indicator)
        & (rows["niveau"] == level)
        & (rows["code"] == code)
        & (rows["periode"] == period)
    ]
    assert len(hit) == 1, (indicator, level, code, period, len(hit))
    return hit.iloc[0]


def has(result: ImportResult, indicator: str, level: str, code: str) -> bool:
    rows = result.rows
    return bool(
        (
            (rows["indicateur"] == indicator) & (rows["niveau"] == level) & (rows["code"] == code)
        ).any()
    )


def members(cog: Cog, epci: str) -> list[str]:
    return sorted(cog.communes.loc[cog.communes["epci"] == epci, "code"])


# --- 1. multi-level rows of the older portal ---------------------------------------------------


def old_coverage(cog: Cog) -> tuple[str, dict]:
    """A coverage file of 2014 over two EPCI of the Ain: one current code, one older code of
    the same perimeter as a current EPCI; the département's value repeated on every row."""
    kept, renamed = "240100800", "240100610"
    rows, expected = [], {"commune": {}, "epci": {kept: 61.0, renamed: 48.3}, "dep": 55.2}
    for i, code in enumerate(members(cog, kept)):
        rate = 50.5 + i
        expected["commune"][code] = rate
        # leading zero lost as in the older files ("1249" for 01249)
        rows.append(f"{code.lstrip('0')};C{i};01;AIN;{kept};CC A;{rate:.1f};55,2;61,0")
    for i, code in enumerate(members(cog, renamed)):
        rate = 40.0 + i
        expected["commune"][code] = rate
        rows.append(f"{code};D{i};01;AIN;200000001;CC B (2014);{rate:.1f};55,2;48,3")
    text = OLD_HEADER + "\n".join(r.replace(".", ",") for r in rows) + "\n"
    return text, expected


def test_multi_level_old_file_imports_each_column_at_its_level(cog: Cog, tmp_path: Path) -> None:
    text, expected = old_coverage(cog)
    result = parse_file(write(tmp_path, text, "txcouv_2014.csv", "cp1252"), cog)
    report = result.report
    assert report.niveaux == ["commune", "departement", "epci"]
    assert report.periodes == ["2014-12"]
    for code, rate in expected["commune"].items():
        assert cell(result, "taux_couverture_global", "commune", code, "2014-12")["valeur"] == rate
    for code, rate in expected["epci"].items():
        assert cell(result, "taux_couverture_global", "epci", code, "2014-12")["valeur"] == rate
    dep = cell(result, "taux_couverture_global", "departement", "01", "2014-12")
    assert dep["valeur"] == expected["dep"]
    # placed once, though repeated on every row
    assert (result.rows["niveau"] == "departement").sum() == 1
    assert report.codes_convertis["200000001"] == "240100610"
    assert report.conflits == 0
    # one provenance row per level, the field as written in the file
    prov = result.provenance.set_index("niveau")
    assert prov.loc["departement", "champ"] == "TXCOUVGLO_DEP_2014"
    assert prov.loc["epci", "champ"] == "TXCOUVGLO_EPCI_2014"
    assert "répétées" in report.resume()


def test_multi_level_conflict_is_reported_and_that_cell_not_imported(
    cog: Cog, tmp_path: Path
) -> None:
    text, expected = old_coverage(cog)
    lines = text.splitlines()
    # the 4th data row gives another département value, and a blank EPCI value
    fields = lines[4].split(";")
    fields[7], fields[8] = "55,3", ""
    lines[4] = ";".join(fields)
    result = parse_file(write(tmp_path, "\n".join(lines) + "\n", "txcouv_2014.csv"), cog)
    report = result.report
    assert report.conflits == 2
    assert not has(result, "taux_couverture_global", "departement", "01")
    assert not has(result, "taux_couverture_global", "epci", "240100800")
    assert cell(result, "taux_couverture_global", "epci", "240100610", "2014-12")["valeur"] == 48.3
    message = " ".join(w for w in report.avertissements if "en conflit" in w)
    assert "code 01 (departement)" in message and "55,2 (ligne 2)" in message
    assert "55,3 (ligne 5)" in message and "vide (ligne 5)" in message
    # the communal values of the conflicting row are still imported
    code = members(cog, "240100800")[3]
    assert (
        cell(result, "taux_couverture_global", "commune", code, "2014-12")["valeur"]
        == (expected["commune"][code])
    )


def test_older_epci_split_since_is_reported(cog: Cog, tmp_path: Path) -> None:
    a, b = members(cog, "240100800")[0], members(cog, "240100610")[0]
    text = (
        OLD_HEADER + f"{a};A;01;AIN;200000002;CC X;50;55;60\n{b};B;01;AIN;200000002;CC X;40;55;60\n"
    )
    result = parse_file(write(tmp_path, text, "txcouv_2014.csv"), cog)
    assert (result.rows["niveau"] == "epci").sum() == 0
    assert any("EPCI 200000002" in w and "2 EPCI" in w for w in result.report.avertissements), (
        result.report.avertissements
    )


def test_current_rows_with_parent_codes_stay_communal(cog: Cog, tmp_path: Path) -> None:
    # txcouv_pe_com of the 2017-2022 parquet: numepci and numdep are attributes of the row.
    text = (
        "annee;numcom;nomcom;numepci;nomepci;numdep;nomdep;txcouv_com;pl_eaje_com\n"
        "2021;01004;AMBERIEU;240100883;CC X;01;AIN;57,5;120\n"
        "2021;01053;BOURG;200071751;CA Y;01;AIN;61,0;800\n"
    )
    result = parse_file(write(tmp_path, text, "txcouv_pe_com_hist.csv"), cog)
    assert result.report.niveaux == ["commune"]
    assert cell(result, "places_eaje", "commune", "01053", "2021-12")["valeur"] == 800


def test_other_level_column_without_its_code_is_set_aside(cog: Cog, tmp_path: Path) -> None:
    text = "NUMCOM;TXCOUVGLO_COM_2014;TXCOUVGLO_REG_2014\n01004;50;60\n"
    result = parse_file(write(tmp_path, text, "cov.csv"), cog)
    assert result.report.niveaux == ["commune"]
    assert "TXCOUVGLO_REG_2014" in result.report.colonnes_ecartees


# --- 2. tolerance ------------------------------------------------------------------------------


def test_extra_columns_are_reported_and_ignored(cog: Cog, tmp_path: Path) -> None:
    text = "dtreffre;numcomdo;nomcom;objectid;commentaire;zone_com;indfoy_ndur\n"
    text += "2024-12;01004;A;1;vu le 3 mars;urbain;8715\n2024-12;01053;B;2;à revoir;rural;20000\n"
    result = parse_file(write(tmp_path, text, "s_ben_com_f.csv"), cog)
    assert set(result.report.colonnes_ecartees) == {"objectid", "commentaire", "zone_com"}
    assert set(result.rows["indicateur"]) == {"allocataires"}
    assert "Colonne « objectid » ignorée" in result.report.resume()


def test_repeated_header_and_identical_rows_are_skipped(cog: Cog, tmp_path: Path) -> None:
    header = "dtreffre;numcomdo;nomcom;indfoy_ndur\n"
    row = "2024-12;01004;A;8715\n"
    text = header + row + header + "2024-12;01053;B;20000\n" + row
    result = parse_file(write(tmp_path, text, "s_ben_com_f.csv"), cog)
    assert result.report.entetes_repetees == 1
    assert result.report.doublons_identiques == 1
    assert cell(result, "allocataires", "commune", "01004", "2024-12")["valeur"] == 8715


def test_conflicting_duplicates_are_reported_not_refused(cog: Cog, tmp_path: Path) -> None:
    # "1004" and "01004" are the same commune; their RSA values differ.
    text = "dtreffre;numcomdo;nomcom;indfoy_ndur;indfoy_rsa\n"
    text += "2024-12;01004;A;8715;275\n2024-12;1004;A;8715;280\n2024-12;01053;B;20000;900\n"
    result = parse_file(write(tmp_path, text, "s_ben_com_f.csv"), cog)
    assert result.report.conflits == 1
    assert not has(result, "rsa", "commune", "01004")
    assert cell(result, "allocataires", "commune", "01004", "2024-12")["valeur"] == 8715
    assert cell(result, "rsa", "commune", "01053", "2024-12")["valeur"] == 900
    assert any("275 (ligne 2) / 280 (ligne 3)" in w for w in result.report.avertissements)


# --- 3. current portal conventions -------------------------------------------------------------


@pytest.mark.parametrize(
    "date", ["2024-12", "2024-12-01", "2024-12-01T00:00:00+00:00", "2024-11-30T23:00:00+00:00"]
)
def test_dtreffre_as_month_date_or_timestamp(cog: Cog, tmp_path: Path, date: str) -> None:
    text = f"dtreffre;numdep;indfoy_rsa\n{date};974;99187.0\n"
    result = parse_file(write(tmp_path, text, "s_ben_dep.csv"), cog)
    assert cell(result, "rsa", "departement", "974", "2024-12")["valeur"] == 99187


@pytest.mark.parametrize("year", ["2023", '"2023"', "2023.0", "2023-01-01T00:00:00+00:00"])
def test_annee_as_integer_string_or_timestamp(cog: Cog, tmp_path: Path, year: str) -> None:
    text = f"annee;national;txcouv_nat\n{year};FRANCE ENTIERE HORS MAYOTTE;60.9\n"
    result = parse_file(write(tmp_path, text, "txcouv_pe_nat.csv"), cog)
    assert cell(result, "taux_couverture_global", "france", "FR", "2023-12")["valeur"] == 60.9


def test_real_s_ben_dep_record(cog: Cog, tmp_path: Path) -> None:
    record = sample("s_ben_dep_974.first_record.json")
    result = parse_file(records_csv(tmp_path, [record], "s_ben_dep.csv"), cog)
    assert result.report.niveaux == ["departement"]
    # a count serialised as a float, a count published as text, labels never values
    assert cell(result, "asf", "departement", "974", "2021-07")["valeur"] == record["indfoy_asf"]
    aeeh = cell(result, "indben_aeeh", "departement", "974", "2021-07")
    assert aeeh["valeur"] == float(record["indben_aeeh"])
    assert not result.rows["indicateur"].isin(["lieures", "nomregi", "numregi"]).any()
    numeric = [k for k, v in record.items() if k.startswith("ind")]
    assert len(result.rows) == len(numeric)
    assert set(result.provenance["regime"]) == {EXACT}


def test_labelled_export_headers_become_fields(cog: Cog, tmp_path: Path) -> None:
    # exports/csv?use_labels=true: "Date référence", "Numéro commune", "Nombre foyers NDUR"...
    text = (
        "\ufeffDate référence;Numéro commune;Nom commune;Nombre foyers NDUR;"
        "Nombre personnes RSA;Montant total RSA\r\n"
        "2024-12;01004;AMBERIEU;8715;610;130900\r\n2024-12;;;33605;80;9000\r\n"
    )
    result = parse_file(write(tmp_path, text, "labels.csv"), cog, dataset_id="s_ben_com_f")
    assert result.report.format == FORMAT_PORTAL
    assert cell(result, "allocataires", "commune", "01004", "2024-12")["valeur"] == 8715
    assert cell(result, "rsa_montant", "commune", "01004", "2024-12")["valeur"] == 130900
    assert cell(result, "indnbp_rsa", "commune", "01004", "2024-12")["valeur"] == 610
    prov = result.provenance.set_index("indicateur")
    assert prov.loc["rsa_montant", "champ"] == "indmtt_rsa"
    assert prov.loc["rsa_montant", "arrondi"] == 100  # a `_f` dataset: rounded
    assert result.report.non_localises_sommes == {"indfoy_ndur": 33605, "indnbp_rsa": 80}


def test_json_exports_read_like_the_csv(cog: Cog, tmp_path: Path) -> None:
    # the real records as the portal's exports/json gives them, read as they are
    path = SAMPLES / "aah_s_tx_inca_dep_974.first_records.json"
    records = sample(path.name)
    from_json = parse_file(path, cog, dataset_id="aah_s_tx_inca_dep")
    from_csv = parse_file(
        records_csv(tmp_path, records, "a.csv"), cog, dataset_id="aah_s_tx_inca_dep"
    )
    pd.testing.assert_frame_equal(from_json.rows, from_csv.rows)
    pd.testing.assert_frame_equal(from_json.provenance, from_csv.provenance)
    # the records API wraps them in « results »; one record alone is a record too
    api = {"total_count": len(records), "results": records}
    wrapped = parse_file(write(tmp_path, json.dumps(api), "api.json"), cog)
    pd.testing.assert_frame_equal(wrapped.rows, from_json.rows)
    one = parse_file(SAMPLES / "s_ben_dep_974.first_record.json", cog)
    assert cell(one, "rsa", "departement", "974", "2021-07")["valeur"] == 99187


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"dtreffre": "2024-12", "numdep": "974"', "fichier JSON illisible (ligne 1)"),
        ('{"txcouv": [{"annee": 2023}]}', "fichier JSON non reconnu"),
        ("[]", "fichier vide"),
        ('[{"dtreffre": "2024-12", "numdep": "974", "indfoy_rsa": "abc"}]', "ligne 2 : valeur"),
    ],
)
def test_bad_json_is_a_french_error(cog: Cog, tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CafdataFormatError, match=f"^{re.escape(message)}"):
        parse_file(write(tmp_path, text, "x.json"), cog)


@pytest.mark.parametrize("absent", ["", "null", "None", "NULL"])
def test_absent_values_are_secret_never_zero(cog: Cog, tmp_path: Path, absent: str) -> None:
    text = f"dtreffre;numcomdo;indfoy_ndur;indfoy_rsa\n2024-12;01004;8715;{absent}\n"
    result = parse_file(write(tmp_path, text, "s_ben_com_f.csv"), cog)
    rsa = cell(result, "rsa", "commune", "01004", "2024-12")
    assert rsa["statut"] == "secret" and math.isnan(rsa["valeur"])


def test_placeholder_territories_reported_with_their_sums(cog: Cog, tmp_path: Path) -> None:
    rows = [
        ("01004", 8715, 275),
        ("", 33605, 33605),  # households the Caf cannot locate
        ("04XXX", 10, 5),
        ("XXXXX", 25, None),
        ("01053", 20000, 900),
    ]
    text = "dtreffre;numcomdo;nomcom;indfoy_ndur;indfoy_rsa\n" + "".join(
        f"2024-12;{c};;{a};{'' if r is None else r}\n" for c, a, r in rows
    )
    result = parse_file(write(tmp_path, text, "s_ben_com_f.csv"), cog)
    report = result.report
    lost = [r for r in rows if r[0] in ("", "04XXX", "XXXXX")]
    assert report.non_localises_lignes == len(lost)
    assert report.non_localises_sommes == {
        "indfoy_ndur": sum(a for _, a, _ in lost),
        "indfoy_rsa": sum(r for _, _, r in lost if r is not None),
    }
    assert report.non_placees[EMPTY] == 1 and report.non_placees[MASKED] == 1
    assert set(result.rows["code"]) == {"01004", "01053"}
    assert "Non localisés (hors carte) : 3 ligne(s)" in report.resume()


def test_placeholder_codes_of_childcare_files(cog: Cog, tmp_path: Path) -> None:
    dep = sample("cnaf-petite-enfance-dep-sample.json")["nbpla"]
    dep = [*dep, {**dep[0], "numdep": "XXX", "tot_offre_dep": 15}, {**dep[0], "numdep": "99"}]
    result = parse_file(records_csv(tmp_path, dep, "nbpla_pe_dep.csv"), cog)
    assert result.report.non_placees == {PLACEHOLDER: 1, NO_TERRITORY: 1}
    assert result.report.non_localises_sommes["tot_offre_dep"] == 15 + dep[0]["tot_offre_dep"]
    epci = sample("cnaf-petite-enfance-epci-sample.json")["nbpla"]
    result = parse_file(records_csv(tmp_path, epci, "nbpla_pe_epci.csv"), cog)
    xx = next(r for r in epci if r["numepci"] == "XX")
    assert result.report.non_localises_sommes["tot_offre_epci"] == xx["tot_offre_epci"]
    assert "XX" not in set(result.rows["code"])


@pytest.mark.parametrize(
    ("city", "prefix", "count"), [("75056", "751", 20), ("69123", "6938", 9), ("13055", "132", 16)]
)
def test_arrondissements_by_numcomdo_are_summed(
    cog: Cog, tmp_path: Path, city: str, prefix: str, count: int
) -> None:
    codes = [
        f"{prefix}{i:02d}" if len(prefix) == 3 else f"{prefix}{i}" for i in range(1, count + 1)
    ]
    text = "dtreffre;numcomdo;indfoy_ndur\n" + "".join(
        f"2024-12;{c};{5 * (i + 1)}\n" for i, c in enumerate(codes)
    )
    result = parse_file(write(tmp_path, text, "s_ben_com_f.csv"), cog)
    assert result.report.arrondissements_sommes == {city: count}
    total = sum(5 * (i + 1) for i in range(count))
    assert cell(result, "allocataires", "commune", city, "2024-12")["valeur"] == total


# --- 4. keys: IRIS, QPV, région, France ---------------------------------------------------------


def test_iris_keys_from_commune_and_suffix(cog: Cog, tmp_path: Path) -> None:
    known = sorted(sample_iris_codes())
    assert known, "géographie IRIS d'échantillon absente"
    text = "numcomdo;numirisd;dtreffre;indfoy_ndural\n"
    text += "".join(f"{c[:5]};{c[5:]};2024-12;{10 * (i + 1)}\n" for i, c in enumerate(known[:3]))
    text += "33063;0101;2024-12;45\n"  # Bordeaux: outside the sample geography
    result = parse_file(write(tmp_path, text, "al_s_type_parc_iris_f.csv"), cog)
    assert result.report.niveaux == ["iris"]
    assert set(result.rows["code"]) == set(known[:3])
    assert cell(result, "aides_logement", "iris", known[1], "2024-12")["valeur"] == 20
    assert result.report.non_placees == {IRIS_OUTSIDE: 1}


def test_qpv_2024_rows_are_kept_without_contour(cog: Cog, tmp_path: Path) -> None:
    """Rows of the 2024 geography stay at the QPV level (never summed into the commune), keyed
    by their QN code or by commune and name, and the report says they have no contour."""
    text = "numcomdo;nomqpv;dtreffre;qf_400;indfoy_ndur;indnbp_ndur\n"
    text += "94041;Gagarine Truillot;2024-12;Moins de 400 euros;120;300\n"
    text += "94041;Gagarine Truillot;2024-12;Inconnu;5;10\n"
    text += "94041;Monmousseau;2024-12;Inconnu;10;25\n"
    result = parse_file(write(tmp_path, text, "ndur_s_qf_400_qpv_f.csv"), cog)
    assert result.report.non_placees == {}
    assert f"{QPV_2024} : 3 lignes (gardées, listées avec leur commune)" in (
        result.report.avertissements
    )
    assert set(result.rows["niveau"]) == {"qpv"}
    assert set(result.rows["code"]) == {
        "QPV2024|94041|Gagarine Truillot",
        "QPV2024|94041|Monmousseau",
    }
    coded = "numqpv;dtreffre;indfoy_ndur\nqn09401m;2024-12;120\n"
    result = parse_file(write(tmp_path, coded, "qpv.csv"), cog)
    assert list(result.rows["code"]) == ["QN09401M"] and result.report.non_placees == {}


def test_codes_written_as_numbers_by_a_spreadsheet(cog: Cog, tmp_path: Path) -> None:
    text = "annee;numepci;txcouv_epci\n2023;200069193.0;61,5\n"
    result = parse_file(write(tmp_path, text, "txcouv_pe_epci.csv"), cog)
    assert cell(result, "taux_couverture_global", "epci", "200069193", "2023-12")["valeur"] == 61.5
    text = "dtreffre;numcomdo;numirisd;indfoy_ndur\n2024-12;69381.0;101;50\n"
    result = parse_file(write(tmp_path, text, "iris.csv"), cog)
    assert "693810101" in sample_iris_codes()
    assert set(result.rows["code"]) == {"693810101"}


def test_region_and_national_files(cog: Cog, tmp_path: Path) -> None:
    text = "annee;numregi;nomregi;txcouv_reg\n2022;84;AUVERGNE RHONE ALPES;66,1\n2022;XX;XX;10\n"
    result = parse_file(write(tmp_path, text, "txcouv_pe_reg.csv"), cog)
    assert cell(result, "taux_couverture_global", "region", "84", "2022-12")["valeur"] == 66.1
    nat = sample("cnaf-petite-enfance-nat-sample.json")
    result = parse_file(records_csv(tmp_path, nat, "txcouv_pe_nat.csv"), cog)
    for record in nat:
        period = f"{record['annee']}-12"
        got = cell(result, "taux_couverture_global", "france", "FR", period)["valeur"]
        assert got == record["txcouv_nat"]


# --- 5. breakdown dimensions -------------------------------------------------------------------


def test_one_series_per_dimension_value_with_its_field(cog: Cog, tmp_path: Path) -> None:
    records = sample("aah_s_tx_inca_dep_974.first_records.json")
    result = parse_file(records_csv(tmp_path, records, "aah_s_tx_inca_dep.csv"), cog)
    for r in records:
        sid = series_id("indben_aah", "aah_tx_inca", r["aah_tx_inca"])
        assert cell(result, sid, "departement", "974", r["dtreffre"])["valeur"] == r["indben_aah"]
    # the value as written (apostrophe ’, accents) round-trips into the provenance field
    champs = set(result.provenance["champ"])
    assert {f"indben_aah|aah_tx_inca={r['aah_tx_inca']}" for r in records} <= champs
    assert "indben_aah|aah_tx_inca=Taux d’incapacité supérieur ou égal à 80%" in champs
    # counts of 1 to 4 the exact file publishes are flagged for the secrecy pass
    small = sum(1 for r in records if 1 <= r["indben_aah"] <= 4)
    assert small and f"{small} effectif(s) de 1 à 4" in result.report.resume()


def test_rsa_type_series_and_provenance(cog: Cog, tmp_path: Path) -> None:
    text = "dtreffre;numcomdo;nomcom;rsa_type;indfoy_rsa;indnbp_rsa\n"
    text += "2024-12;94041;IVRY;RSA majoré;385;1210\n2024-12;94041;IVRY;RSA non majoré;2230;4105\n"
    result = parse_file(write(tmp_path, text, "x.csv"), cog, dataset_id="rsa_s_type_com_f")
    got = cell(result, "indfoy_rsa.rsa_type_rsa_majore", "commune", "94041", "2024-12")
    assert got["valeur"] == 385
    prov = result.provenance.set_index("indicateur")
    assert prov.loc["indfoy_rsa.rsa_type_rsa_majore", "champ"] == "indfoy_rsa|rsa_type=RSA majoré"
    assert prov.loc["indfoy_rsa.rsa_type_rsa_majore", "jeu"] == "rsa_s_type_com_f"
    assert "rsa" not in set(result.rows["indicateur"])  # no total made up from the parts


def test_two_dimensions_give_margins_summed_over_the_other(cog: Cog, tmp_path: Path) -> None:
    ages = ["Moins de 20 ans", "Entre 20 et 24 ans", "Age indéterminé"]
    kinds = ["AAH sans complément", "AAH avec complément"]
    base = sample("aah_s_complaah_age_5_dep.first_records.json")[0]
    records, n = [], 0
    for kind in kinds:
        for age in ages:
            n += 7
            records.append({**base, "aah_complaah": kind, "aah_age_5": age, "indben_aah": n})
    hidden = {**records[0], "dtreffre": "2023-11", "indben_aah": None}
    records += [hidden, {**records[1], "dtreffre": "2023-11"}]
    result = parse_file(records_csv(tmp_path, records, "aah_s_complaah_age_5_dep.csv"), cog)
    for kind in kinds:
        expected = sum(r["indben_aah"] for r in records[:6] if r["aah_complaah"] == kind)
        sid = series_id("indben_aah", "aah_complaah", kind)
        assert cell(result, sid, "departement", "974", "2023-12")["valeur"] == expected
    for age in ages:
        expected = sum(r["indben_aah"] for r in records[:6] if r["aah_age_5"] == age)
        sid = series_id("indben_aah", "aah_age_5", age)
        assert cell(result, sid, "departement", "974", "2023-12")["valeur"] == expected
    # a margin with a hidden part is hidden
    sid = series_id("indben_aah", "aah_complaah", kinds[0])
    assert cell(result, sid, "departement", "974", "2023-11")["statut"] == "secret"
    assert result.report.dimensions == {"aah_complaah": 2, "aah_age_5": 3}


def test_duplicated_breakdown_rows_are_not_double_counted(cog: Cog, tmp_path: Path) -> None:
    text = "dtreffre;numdep;rsa_type;aah_age_5;indfoy_rsa\n"
    row = "2024-12;974;RSA majoré;Moins de 20 ans;100\n"
    text += row + row + "2024-12;974;RSA majoré;Entre 20 et 24 ans;50\n"
    result = parse_file(write(tmp_path, text, "x.csv"), cog)
    sid = series_id("indfoy_rsa", "rsa_type", "RSA majoré")
    assert cell(result, sid, "departement", "974", "2024-12")["valeur"] == 150
    assert result.report.doublons_identiques == 1


def test_unnamed_dimension_found_by_the_rows_it_splits(cog: Cog, tmp_path: Path) -> None:
    # a breakdown column the importer does not know, coded in words or in numbers
    for values in (("public", "privé"), ("1", "2")):
        text = "dtreffre;numdep;parc;indfoy_ndural\n"
        text += f"2024-12;974;{values[0]};100\n2024-12;974;{values[1]};40\n"
        result = parse_file(write(tmp_path, text, "al_s_parc_dep.csv"), cog)
        assert result.report.dimensions == {"parc": 2}
        sid = series_id("indfoy_ndural", "parc", values[1])
        assert cell(result, sid, "departement", "974", "2024-12")["valeur"] == 40


# --- 6. series ids and provenance --------------------------------------------------------------


def test_one_field_is_one_series_at_every_level(cog: Cog, tmp_path: Path) -> None:
    com = "dtreffre;numcomdo;indfoy_rsa;indfoy_pn\n2024-12;01004;275;10\n"
    dep = "dtreffre;numdep;indfoy_rsa;indfoy_pn\n2024-12;01;14000;500\n"
    a = parse_file(write(tmp_path, com, "a.csv"), cog, dataset_id="s_ben_com_f")
    b = parse_file(write(tmp_path, dep, "b.csv"), cog, dataset_id="s_ben_dep")
    assert set(a.rows["indicateur"]) == set(b.rows["indicateur"]) == {"rsa", "indfoy_pn"}
    both = pd.concat([a.provenance, b.provenance])
    assert check_provenance(both).shape[0] == 4
    assert list(a.provenance.columns) == list(PROVENANCE_COLUMNS)
    assert set(both["mis_a_jour"]) == {""}


def test_regime_inferred_from_the_file(cog: Cog, tmp_path: Path) -> None:
    header = "dtreffre;numcomdo;indfoy_rsa;indmtt_rsa\n"
    rounded = header + "".join(
        f"2024-12;{c};{5 * k};{100 * k}\n" for k, c in enumerate(["01004", "01053", "01001"], 1)
    )
    prov = parse_file(write(tmp_path, rounded, "r.csv"), cog).provenance.set_index("indicateur")
    assert set(prov["regime"]) == {ROUNDED}
    assert prov.loc["rsa", "arrondi"] == 5 and prov.loc["rsa_montant", "arrondi"] == 100
    # rounding wins over blanks: the blank stays a secret cell of a rounded file
    blank = rounded + "2024-12;01033;;\n"
    result = parse_file(write(tmp_path, blank, "b.csv"), cog)
    prov = result.provenance.set_index("indicateur")
    assert set(prov["regime"]) == {ROUNDED} and prov.loc["rsa", "arrondi"] == 5
    assert cell(result, "rsa", "commune", "01033", "2024-12")["statut"] == "secret"
    exact = header + "2024-12;01004;273;131245\n2024-12;01053;912;401020\n"
    # blanks without rounding: suppressed, unless the dataset id says `_f`
    holed = exact + "2024-12;01033;;\n"
    prov = parse_file(write(tmp_path, holed, "h.csv"), cog).provenance
    assert set(prov["regime"]) == {SUPPRESSED} and set(prov["arrondi"]) == {0}
    by_id = parse_file(write(tmp_path, holed, "h.csv"), cog, dataset_id="s_ben_com_f").provenance
    assert set(by_id["regime"]) == {ROUNDED}
    assert set(parse_file(write(tmp_path, exact, "e.csv"), cog).provenance["regime"]) == {EXACT}
    by_id = parse_file(write(tmp_path, exact, "e.csv"), cog, dataset_id="s_ben_com_f").provenance
    assert set(by_id["regime"]) == {ROUNDED}
    rate = "annee;numcom;txcouv_com;pl_eaje_com\n2023;01004;57,5;120\n2023;01053;61,0;800\n"
    prov = parse_file(write(tmp_path, rate, "t.csv"), cog, dataset_id="x_com_f").provenance
    assert prov.set_index("indicateur")["regime"].to_dict() == {
        "taux_couverture_global": EXACT,
        "places_eaje": ROUNDED,
    }
    dep = "dtreffre;numdep;indfoy_rsa\n2024-12;01;14000\n2024-12;02;15005\n2024-12;03;900\n"
    assert set(parse_file(write(tmp_path, dep, "d.csv"), cog).provenance["regime"]) == {EXACT}


def test_a_bad_cell_still_refuses_the_whole_file(cog: Cog, tmp_path: Path) -> None:
    text = "dtreffre;numdep;rsa_type;indfoy_rsa\n2024-12;974;RSA majoré;12\n2024-12;974;X;abc\n"
    with pytest.raises(CafdataFormatError, match="^ligne 3 : valeur « abc » non numérique"):
        parse_file(write(tmp_path, text, "x.csv"), cog)
