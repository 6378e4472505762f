"""Rows of the 2024 QPV geography in a real store: kept at the QPV level, listed with their
commune in the data table and the exports, counted in the legend, and under the Caf rule
(nothing for a zone of fewer than 100 allocataires).

The files are shaped like the portal's QPV datasets (`numqpv` QN codes; `numcomdo` + `nomqpv`
in `ndur_s_qf_400_qpv_f`); their values are made up by the test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from geodata.cache import active_dir
from geodata.cog import Cog, load_cog
from geodata.sources import default_sources_dir
from layers.catalogue import CURATED
from layers.explore_view import table_rows
from layers.export_tables import ExportMeta, export_rows, to_csv, with_uncontoured
from layers.ingest import parse_file
from layers.map_payload import store_payload
from layers.qpv_uncontoured import LEGEND_LABEL, listed_cells, uncontoured
from layers.real_store import publish_real
from layers.store import SECRET, Store
from layers.territory_index import TerritoryIndex
from layers.views import layer

PERIOD = "2024-12"
CODED = (
    "numqpv;dtreffre;indfoy_ndur;indnbp_ndur\n"
    "QN06601M;2024-12;240;610\n"
    "QN06602M;2024-12;60;150\n"  # fewer than 100 allocataires: nothing published
)
NAMED = (
    "numcomdo;nomqpv;dtreffre;qf_400;indfoy_ndur;indnbp_ndur\n"
    "66136;Quartier nommé (test);2024-12;Moins de 400 euros;120;300\n"
    "66136;Quartier nommé (test);2024-12;Inconnu;15;30\n"
)


@pytest.fixture(scope="module")
def cog() -> Cog:
    return load_cog(default_sources_dir() / "territoires")


@pytest.fixture(scope="module")
def store(cog: Cog, tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("qpv2024")
    results = []
    for name, text in (("ndur_s_qpv_f.csv", CODED), ("ndur_s_qf_400_qpv_f.csv", NAMED)):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        results.append(parse_file(path, cog))
    root = folder / "import"
    publish_real(root, results, ["test"], cog=cog, min_households=100, log=lambda _: None)
    return Store(active_dir(root))


@pytest.fixture(scope="module")
def index(small_cache: Path) -> TerritoryIndex:
    return TerritoryIndex(active_dir(small_cache))


def test_rows_are_kept_and_the_small_zone_hidden(store: Store, index: TerritoryIndex) -> None:
    cells = uncontoured(store, index, "allocataires", "qpv", PERIOD)
    by_code = cells.set_index("code")
    assert by_code.loc["QN06601M", "valeur"] == 240
    assert by_code.loc["QN06602M", "statut"] == SECRET  # 60 allocataires < 100
    assert by_code.loc["QN06602M", "valeur"] != by_code.loc["QN06602M", "valeur"]  # NaN
    persons = uncontoured(store, index, "personnes_couvertes", "qpv", PERIOD).set_index("code")
    assert persons.loc["QN06602M", "statut"] == SECRET  # every value of the zone
    named = store.query("SELECT DISTINCT code FROM v WHERE niveau = 'qpv'")["code"]
    assert "QPV2024|66136|Quartier nommé (test)" in set(named)


def test_data_table_lists_them_with_their_commune(store: Store, index: TerritoryIndex) -> None:
    ind = CURATED.by_id["allocataires"]
    rows = {r["code"]: r for r in table_rows(store, index, ind, "qpv", PERIOD, None)}
    assert rows["QN06601M"]["nom"] == "QN06601M (commune non précisée, sans contour)"
    assert rows["QN06602M"]["valeur"] == "secret" and rows["QN06602M"]["tri"] is None
    drawn = set(index.table("qpv")["code"])
    assert drawn and drawn <= set(rows)  # the contoured QPV are still all there
    field = "indfoy_ndur.qf_400_moins_de_400_euros"  # the named file's breakdown series
    named = listed_cells(store, index, field, "qpv", PERIOD)
    assert list(named["nom"]) == ["Quartier nommé (test) (Perpignan, sans contour)"]
    assert len(listed_cells(store, index, field, "qpv", PERIOD, ("commune", "66136"))) == 1
    assert len(listed_cells(store, index, field, "qpv", PERIOD, ("departement", "66"))) == 1
    assert listed_cells(store, index, field, "qpv", PERIOD, ("departement", "69")).empty
    assert listed_cells(store, index, field, "commune", PERIOD).empty


def test_exports_list_them_and_the_legend_counts_them(store: Store, index: TerritoryIndex) -> None:
    ind = CURATED.by_id["allocataires"]
    cells = layer(store, index, ind, "qpv", PERIOD)
    extra = listed_cells(store, index, ind.id, "qpv", PERIOD)
    meta = ExportMeta.of(ind, "qpv", PERIOD, None, store.provenance(ind.id, "qpv", PERIOD))
    text = to_csv(export_rows(with_uncontoured(cells, extra), meta), meta).decode("utf-8-sig")
    assert "QN06601M;QN06601M (commune non précisée, sans contour);qpv" in text
    line = next(x for x in text.splitlines() if x.startswith("QN06602M"))
    assert ";secret;" in line and ";60;" not in line
    payload = store_payload(cells, ind, "qpv", PERIOD, uncontoured=len(extra))
    row = next(r for r in payload["legende"] if r["libelle"] == LEGEND_LABEL)
    assert row["effectif"] == len(extra) >= 2
    assert len(payload["valeurs"]) == len(index.table("qpv"))  # one value per drawn feature


def test_the_real_audit_checks_the_caf_rule(store: Store, index, tmp_path: Path) -> None:
    """The audit passes on the store, and fails once a small zone's value is published."""
    from layers.real_audit import audit_real_store
    from layers.real_derived import geography_of
    from layers.store import PUBLISHED, VALUES_FILE

    geography = geography_of(index.build_dir)
    report = audit_real_store(store.folder, geography, min_households=100)
    assert report.zones == 0
    leaked = tmp_path / "leaked"
    shutil.copytree(store.folder, leaked)
    rows = pd.read_parquet(leaked / VALUES_FILE)
    hit = (rows["code"].astype(str) == "QN06602M") & (rows["indicateur"] != "allocataires")
    rows["statut"] = rows["statut"].astype(str)
    rows.loc[hit, ["statut", "valeur"]] = [PUBLISHED, 150.0]
    rows.to_parquet(leaked / VALUES_FILE)
    report = audit_real_store(leaked, geography, min_households=100)
    assert report.zones == int(hit.sum()) > 0 and not report.ok
    assert any("moins de 100 allocataires" in line for line in report.failures)
