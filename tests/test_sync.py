"""`cafcarto sync` against a fake Cafdata portal on loopback (`tests/fake_portal.py`): a full
sync the app serves, cell by cell; resume after a truncated download; incremental runs; one
dataset failing alone; every dataset failing (the previous store keeps serving); offline;
Parquet refused (CSV fallback); files and synced datasets in one real store."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import socket
from dataclasses import replace
from pathlib import Path

import flask
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dashboard.api import v1
from dashboard.cli import main
from geodata.cache import active_dir
from layers.appdata import AppData, init_app
from layers.config import Settings
from layers.ingest import sync as sync_module
from layers.ingest.errors import CafdataFormatError
from layers.ingest.parquet_table import read_parquet_table
from layers.ingest.portal import PortalClient
from layers.ingest.reading import decode, read_table
from layers.ingest.sync_progress import SyncProgress
from layers.provenance import EXACT, ROUNDED
from layers.real_store import PORTAL_FILE, compact
from layers.store import Store, StoreError, write_store
from tests.fake_portal import FakeDataset, FakePortal, csv_bytes
from tests.fake_portal_data import portal_datasets

# Datasets today's parser reads; the others (`lieures`, `national`, breakdown dimensions)
# need the real conventions the ingest branch teaches it. Tests that need every dataset to
# succeed sync these only.
PARSED = ["s_ben_nat", "s_ben_com_f", "s_ben_epci_f", "txcouv_pe_com", "txcouv_pe_dep"]


@pytest.fixture(scope="module")
def communes(small_cache: Path) -> pd.DataFrame:
    columns = ["code", "population", "epci", "departement", "region"]
    return pd.read_parquet(active_dir(small_cache) / "geo" / "commune.parquet", columns=columns)


@pytest.fixture()
def portal(communes: pd.DataFrame, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")  # a proxy never sees loopback
    with FakePortal(portal_datasets(communes), slow_seconds=2.5) as fake:
        yield fake


@pytest.fixture()
def settings(
    small_cache: Path, small_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """A cache of its own (the small cut's geometry and demonstration store linked in), so that
    the real store written here is never served to the other tests."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "current").symlink_to(active_dir(small_cache))
    (cache / "demo").symlink_to(small_store)
    monkeypatch.setenv("CAFCARTO_CACHE", str(cache))
    monkeypatch.delenv("CAFCARTO_PORTAL", raising=False)
    return replace(Settings.from_env(), cache=cache)


def sync(portal: FakePortal, *jeux: str, delay: int = 5) -> int:
    args = ["sync", "--portail", portal.url, "--delai", str(delay)]
    return main(args + (["--jeux", ",".join(jeux)] if jeux else []))


def store_of(settings: Settings) -> Store:
    return Store(active_dir(settings.store_import))


def source_table(portal: FakePortal, dataset_id: str) -> pd.DataFrame:
    return portal.datasets[dataset_id].table.to_pandas()


def api_rows(settings: Settings, query: str) -> dict:
    server = flask.Flask(__name__)
    init_app(server, AppData(settings))
    server.register_blueprint(v1.bp)
    resp = server.test_client().get(f"/api/v1/data?{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_json()


def test_full_sync_publishes_what_the_api_serves(
    portal: FakePortal, settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    code = sync(portal)
    out, err = capsys.readouterr()
    assert re.findall(r"^Échec : .+$", out, re.M) == [] and code == 0
    assert "10 conservés, 2 écartés, 0 inchangés, 10 téléchargés, 0 en échec" in out
    assert "Jeu écarté : s_ben_caf (clé géographique non reconnue (numcaf))" in out
    assert "Jeu écarté : s_ben_epci_f-copy (copie destinée à la datavisualisation)" in out
    store = store_of(settings)
    series = int(re.search(r"; (\d+) séries ;", out).group(1))
    assert series == store.query("SELECT count(DISTINCT indicateur) n FROM v")["n"][0] > 5
    ids = set(store.query("SELECT DISTINCT indicateur FROM v")["indicateur"])
    # one series per breakdown value (rsa_type of rsa_s_type_com_f, aah_tx_inca of the AAH file)
    assert {"indfoy_rsa.rsa_type_rsa_majore", "indfoy_rsa.rsa_type_rsa_non_majore"} <= ids
    assert sum(i.startswith("indben_aah.aah_tx_inca_") for i in ids) >= 2
    assert "\x1b" not in err and "[3/10] s_ben_com_f : téléchargé" in err  # not a tty
    # the publication's long steps have bars of their own, in order, after the downloads
    assert "fusion des jeux [####################] 20/20 étapes (100 %)" in err
    tables = re.search(r"secret statistique \(passe 1\) \[#{20}\] (\d+)/\1 tableaux", err)
    assert tables and int(tables.group(1)) > 10
    assert "valeurs dérivées [####################] 3/3 étapes (100 %)" in err
    assert re.search(r"écriture de l'entrepôt \[#{20}\] .+ lignes \(100 %\)", err)
    steps = ["[10/10]", "fusion", "secret statistique", "valeurs dérivées", "écriture"]
    assert [err.index(s) for s in steps] == sorted(err.index(s) for s in steps)
    assert portal.user_agents == {"cafdata-carto"}

    # commune level: rsa (indfoy_rsa of s_ben_com_f), December 2023, cell by cell
    body = api_rows(settings, "indicator=rsa&level=commune&period=2023-12")
    assert not body["notice"]  # the real store, not the demonstration beside it
    src = source_table(portal, "s_ben_com_f")
    src = src[src["dtreffre"] == dt.date(2023, 12, 1)].set_index("numcomdo")["indfoy_rsa"]
    served = {r["code"]: r["value"] for r in body["rows"]}
    plain = [c for c in served if not c.startswith(("69123", "75", "13"))]
    assert len(plain) > 500 and all(served[c] == src[c] for c in plain)
    assert served["69123"] == src[[c for c in src.index if c.startswith("6938")]].sum()

    # département level: global coverage rate (txcouv_dep of txcouv_pe_dep), 2023
    body = api_rows(settings, "indicator=taux_couverture_global&level=departement&period=2023-12")
    src = source_table(portal, "txcouv_pe_dep")
    src = src[src["annee"] == 2023].set_index("numdep")["txcouv_dep"]
    assert {r["code"]: r["value"] for r in body["rows"]} == src.to_dict()

    rounded = store.provenance("rsa", "commune", "2023-12")
    assert (rounded.dataset, rounded.field, rounded.regime, rounded.rounding) == (
        "s_ben_com_f",
        "indfoy_rsa",
        ROUNDED,
        5,
    )
    assert rounded.updated == "2026-01-16"
    assert store.provenance("rsa_montant", "commune", "2023-12").rounding == 100
    assert store.provenance("rsa", "france", "2024-12").regime == EXACT
    meta = json.loads((store.folder / PORTAL_FILE).read_text(encoding="utf-8"))
    assert meta["portail"] == portal.url
    champs = meta["jeux"]["s_ben_com_f"]["champs"]
    assert champs["indfoy_rsa"]["libelle"] == "Nombre foyers RSA"
    assert meta["jeux"]["s_ben_com_f"]["mis_a_jour"] == "2026-01-16"
    assert meta["jeux"]["s_ben_com_f"]["traite_le"] == "2026-01-16T08:00:00+00:00"


def test_interrupted_download_resumes(
    portal: FakePortal, settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    portal.faults["s_ben_com_f"] = "truncated"
    assert sync(portal, "s_ben_nat", "s_ben_com_f") == 1
    out = capsys.readouterr().out
    assert re.search(r"Échec : s_ben_com_f : .*réponse tronquée", out)
    parts = list(settings.downloads.glob("s_ben_com_f.parquet.*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size > 0
    assert not (settings.downloads / "s_ben_com_f.parquet").exists()  # never a partial file
    assert store_of(settings).periods("rsa", "commune") == []  # nothing of it imported
    assert store_of(settings).periods("rsa", "france")  # the other one is

    received = parts[0].stat().st_size
    del portal.faults["s_ben_com_f"]
    portal.requests.clear()
    assert sync(portal, "s_ben_nat", "s_ben_com_f") == 0
    resumed = [r for p, r in portal.requests if "s_ben_com_f/exports/parquet" in p]
    assert resumed == [f"bytes={received}-"]  # answered 206: only the rest was sent
    assert portal.downloads() == ["s_ben_com_f"]  # s_ben_nat is unchanged
    layer = store_of(settings).layer("rsa", "commune", "2022-12").set_index("code")["valeur"]
    src = source_table(portal, "s_ben_com_f")
    src = src[src["dtreffre"] == dt.date(2022, 12, 1)].set_index("numcomdo")["indfoy_rsa"]
    assert layer["2A004"] == src["2A004"] and layer["66136"] == src["66136"]
    assert not list(settings.downloads.glob("*.part"))


def test_a_server_ignoring_range_restarts_the_download(
    portal: FakePortal, settings: Settings
) -> None:
    portal.faults["s_ben_com_f"] = "truncated"
    assert sync(portal, "s_ben_com_f") == 1
    portal.faults["s_ben_com_f"] = "no_range"  # answers 200 with the whole body
    assert sync(portal, "s_ben_com_f") == 0
    ranges = [r for p, r in portal.requests if "s_ben_com_f/exports/parquet" in p]
    assert ranges[0] is None and ranges[1].startswith("bytes=")
    downloaded = (settings.downloads / "s_ben_com_f.parquet").read_bytes()
    assert downloaded == portal.body("s_ben_com_f", "parquet")  # not appended to the half


def test_a_republished_dataset_never_resumes_an_older_part(
    portal: FakePortal, settings: Settings
) -> None:
    portal.faults["s_ben_com_f"] = "truncated"
    assert sync(portal, "s_ben_com_f") == 1
    del portal.faults["s_ben_com_f"]
    table = portal.datasets["s_ben_com_f"].table
    portal.republish("s_ben_com_f", table.slice(0, table.num_rows // 2))
    portal.requests.clear()
    assert sync(portal, "s_ben_com_f") == 0
    assert [r for p, r in portal.requests if "/exports/" in p] == [None]  # from the start
    downloaded = (settings.downloads / "s_ben_com_f.parquet").read_bytes()
    assert downloaded == portal.body("s_ben_com_f", "parquet")


def test_a_body_that_does_not_parse_fails_that_dataset(
    portal: FakePortal, settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    portal.faults["s_ben_com_f"] = "bad_parquet"
    assert sync(portal, "s_ben_com_f", "s_ben_nat") == 1
    assert re.search(r"Échec : s_ben_com_f : fichier Parquet illisible", capsys.readouterr().out)
    assert store_of(settings).periods("rsa", "commune") == []
    assert store_of(settings).periods("rsa", "france")


def test_progress_in_a_log_is_plain_lines() -> None:
    log = io.StringIO()
    progress = SyncProgress(log, tty=False)
    progress.start(2, 5, "s_ben_dep")
    for got in range(0, 1_000_001, 50_000):
        progress.bytes(got, 1_000_000)
    progress.finish(1_000_000)
    lines = log.getvalue().splitlines()
    assert lines[0] == "[2/5] s_ben_dep : téléchargement…"
    assert [line.rsplit("(", 1)[-1] for line in lines[1:-1]] == ["0 %)", "25 %)", "50 %)", "75 %)"]
    assert lines[-1] == "[2/5] s_ben_dep : téléchargé (1,0 Mo)" and "\x1b" not in log.getvalue()
    screen = io.StringIO()
    SyncProgress(screen, tty=True).note(1, 5, "s_ben_nat", "inchangé")
    assert screen.getvalue() == "\r\x1b[K[1/5] s_ben_nat : inchangé\n"


def test_progress_estimates_the_time_left_for_the_whole_sync() -> None:
    now = [100.0]
    log = io.StringIO()
    progress = SyncProgress(log, tty=False, clock=lambda: now[0])
    progress.note(1, 4, "s_ben_nat", "inchangé")
    progress.start(2, 4, "s_ben_dep")
    now[0] += 30.0
    progress.finish(2_000_000)
    now[0] += 10.0
    progress.note(3, 4, "s_ben_reg", "inchangé")
    progress.start(4, 4, "s_ben_com")
    now[0] += 5.0
    progress.finish(1_000)
    lines = log.getvalue().splitlines()
    assert lines[0] == "[1/4] s_ben_nat : inchangé"
    assert lines[2] == "[2/4] s_ben_dep : téléchargé (2,0 Mo), reste ≈ 30 s"
    assert lines[3] == "[3/4] s_ben_reg : inchangé, reste ≈ 13 s"
    assert lines[-1] == "[4/4] s_ben_com : téléchargé (1 ko)"


def test_second_sync_downloads_nothing_and_a_change_only_that_dataset(
    portal: FakePortal, settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    assert sync(portal, *PARSED) == 0
    first = active_dir(settings.store_import)
    assert sorted(portal.downloads()) == sorted(PARSED)
    portal.requests.clear()
    capsys.readouterr()

    assert sync(portal, *PARSED) == 0
    assert portal.downloads() == []
    out = capsys.readouterr().out
    assert "rien à télécharger" in out and f"{len(PARSED)} inchangés" in out
    assert active_dir(settings.store_import) == first  # nothing published again

    table = portal.datasets["s_ben_epci_f"].table
    doubled = table.set_column(
        table.column_names.index("indfoy_rsa"),
        "indfoy_rsa",
        pa.compute.multiply(table.column("indfoy_rsa"), 2),
    )
    portal.republish("s_ben_epci_f", doubled)
    assert sync(portal, *PARSED) == 0
    assert portal.downloads() == ["s_ben_epci_f"]
    store = store_of(settings)
    code = table.column("numepci")[0].as_py()
    src = doubled.to_pandas()
    expected = src[(src["numepci"] == code) & (src["dtreffre"] == dt.date(2023, 12, 1))]
    assert (
        store.series("rsa", "epci", code).set_index("periode")["valeur"]["2023-12"]
        == (expected["indfoy_rsa"].iloc[0])
    )
    assert store.periods("rsa", "commune") == ["2022-12", "2023-12"]  # others kept


def test_a_version_downloaded_but_not_imported_is_read_again(
    portal: FakePortal, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Downloaded, then refused by the parser: the next run reads the same file again (no
    download) instead of calling the older version in the store unchanged."""
    assert sync(portal, "s_ben_epci_f") == 0
    table = portal.datasets["s_ben_epci_f"].table
    column = table.column_names.index("indfoy_rsa")
    portal.republish(
        "s_ben_epci_f",
        table.set_column(
            column, "indfoy_rsa", pa.array([v + 5 for v in table.column("indfoy_rsa").to_pylist()])
        ),
    )

    def refuse(*args: object, **kwargs: object) -> None:
        raise CafdataFormatError("ligne 2 : refusé pour le test")

    parse_file = sync_module.parse_file
    monkeypatch.setattr(sync_module, "parse_file", refuse)
    assert sync(portal, "s_ben_epci_f") == 1
    monkeypatch.setattr(sync_module, "parse_file", parse_file)
    portal.requests.clear()
    capsys.readouterr()
    assert sync(portal, "s_ben_epci_f") == 0
    assert portal.downloads() == []
    assert "[1/1] s_ben_epci_f : déjà téléchargé, relu" in capsys.readouterr().err
    code = table.column("numepci")[0].as_py()
    first = table.to_pandas()
    first = first[(first["numepci"] == code) & (first["dtreffre"] == dt.date(2023, 12, 1))]
    served = store_of(settings).series("rsa", "epci", code).set_index("periode")["valeur"]
    assert served["2023-12"] == first["indfoy_rsa"].iloc[0] + 5


def test_an_interrupted_run_keeps_its_downloads(
    portal: FakePortal, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during the second dataset: nothing is published, and the next run downloads only
    what the first did not finish."""
    parse_file = sync_module.parse_file
    seen: list[str] = []

    def interrupted(path: Path, *args: object, **kwargs: object):
        seen.append(path.name)
        if len(seen) == 2:
            raise KeyboardInterrupt
        return parse_file(path, *args, **kwargs)

    monkeypatch.setattr(sync_module, "parse_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sync(portal, "s_ben_nat", "s_ben_com_f")
    assert active_dir(settings.store_import) is None  # nothing half-published
    monkeypatch.setattr(sync_module, "parse_file", parse_file)
    portal.requests.clear()
    assert sync(portal, "s_ben_nat", "s_ben_com_f") == 0
    assert portal.downloads() == []  # both files were complete: read again, not downloaded
    assert store_of(settings).periods("rsa", "commune") == ["2022-12", "2023-12"]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("404", "le portail a répondu 404 (jeu introuvable)"),
        ("500", "le portail a répondu 500 (erreur du portail"),
        ("timeout", "le portail n'a pas répondu en 1 s"),
    ],
)
def test_one_failing_dataset_fails_alone(
    portal: FakePortal, settings: Settings, capsys: pytest.CaptureFixture, fault, message
) -> None:
    portal.faults["s_ben_epci_f"] = fault
    assert sync(portal, *PARSED, delay=1) == 1
    out = capsys.readouterr().out
    assert f"Échec : s_ben_epci_f : jeu « s_ben_epci_f » : {message}" in out
    assert len(re.findall(r"^Échec", out, re.M)) == 1
    store = store_of(settings)
    assert store.periods("rsa", "epci") == []
    assert store.periods("rsa", "commune") == ["2022-12", "2023-12"]
    assert store.periods("taux_couverture_global", "departement") == ["2022-12", "2023-12"]


def test_every_dataset_failing_keeps_the_previous_store(
    portal: FakePortal, settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    assert sync(portal, "s_ben_nat", "txcouv_pe_dep") == 0
    before = active_dir(settings.store_import)
    for dataset_id in ("s_ben_nat", "txcouv_pe_dep"):
        portal.republish(dataset_id)
        portal.faults[dataset_id] = "500"
    capsys.readouterr()
    assert sync(portal, "s_ben_nat", "txcouv_pe_dep") == 1
    out = capsys.readouterr().out
    assert "Rien n'a été publié : l'entrepôt en service reste inchangé." in out
    assert active_dir(settings.store_import) == before and before.is_dir()
    body = api_rows(settings, "indicator=taux_couverture_global&level=departement")
    assert {r["status"] for r in body["rows"]} == {"published"}


def test_the_proxy_variables_are_honoured(
    portal: FakePortal, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `http_proxy` set, every request goes through the proxy (here the fake portal
    itself, answering for a portal name that does not resolve)."""
    monkeypatch.setenv("http_proxy", portal.url)
    monkeypatch.setenv("no_proxy", "")
    assert main(["sync", "--portail", "http://portail.invalid", "--jeux", "s_ben_nat"]) == 0
    assert portal.requests and all(
        p.startswith("http://portail.invalid/api/explore/v2.1/") for p, _ in portal.requests
    )
    assert store_of(settings).periods("rsa", "france")


def test_offline_says_so_in_french_and_touches_nothing(
    settings: Settings, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["sync", "--portail", f"http://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert f"le portail http://127.0.0.1:{port} est injoignable (hors ligne ?)" in err
    assert "importez des fichiers déjà téléchargés avec « cafcarto import fichier.csv »" in err
    assert not settings.store_import.exists() and not settings.downloads.exists()


@pytest.mark.parametrize("fault", ["refuse_parquet", "not_parquet"])
def test_parquet_refused_falls_back_to_csv(
    portal: FakePortal, settings: Settings, fault: str
) -> None:
    portal.faults["s_ben_com_f"] = fault
    assert sync(portal, "s_ben_com_f") == 0
    assert (settings.downloads / "s_ben_com_f.csv").is_file()
    assert not (settings.downloads / "s_ben_com_f.parquet").exists()
    assert any("s_ben_com_f/exports/csv?delimiter=%3B" in p for p, _ in portal.requests)
    layer = store_of(settings).layer("rsa", "commune", "2023-12").set_index("code")["valeur"]
    src = source_table(portal, "s_ben_com_f")
    src = src[src["dtreffre"] == dt.date(2023, 12, 1)].set_index("numcomdo")["indfoy_rsa"]
    assert layer["2A004"] == src["2A004"] and layer["97209"] == src["97209"]


def test_imported_files_and_synced_datasets_share_one_store(
    portal: FakePortal, settings: Settings
) -> None:
    assert sync(portal, "s_ben_com_f") == 0
    fixture = Path(__file__).parent / "fixtures" / "cafdata" / "txcouv_pe_epci.csv"
    assert main(["import", str(fixture)]) == 0
    store = store_of(settings)
    assert store.periods("rsa", "commune") == ["2022-12", "2023-12"]  # synced, kept
    assert store.periods("taux_couverture_global", "epci")  # imported
    assert set(store.meta["sources"]) == {"s_ben_com_f", "txcouv_pe_epci.csv"}
    meta = json.loads((store.folder / PORTAL_FILE).read_text(encoding="utf-8"))
    assert list(meta["jeux"]) == ["s_ben_com_f"]  # the portal metadata survives an import
    # a second sync finds the dataset in the store: nothing to download
    portal.requests.clear()
    assert sync(portal, "s_ben_com_f") == 0 and portal.downloads() == []


def test_parquet_export_reads_as_the_csv_export(portal: FakePortal, tmp_path: Path) -> None:
    """The same dataset through both exports gives the same text cells (dates, floats as
    integers, nulls empty), hence the same rows."""
    for dataset_id in ("s_ben_dep", "txcouv_pe_nat", "nbpla_pe_epci"):
        table = portal.datasets[dataset_id].table
        pq.write_table(table, tmp_path / f"{dataset_id}.parquet")
        csv_table = read_table(decode(csv_bytes(table))[0])
        parquet = read_parquet_table(tmp_path / f"{dataset_id}.parquet")
        assert parquet.header == csv_table.header
        for column in parquet.header:
            left = parquet.cells[column].tolist()
            # the CSV writes floats as Python does (37793.0), the parser reads both
            right = [re.sub(r"^(\d+)\.0$", r"\1", v) for v in csv_table.cells[column]]
            assert left == right, column
    cells = read_parquet_table(tmp_path / "s_ben_dep.parquet").cells
    assert cells["dtreffre"][0] == "2024-01" and cells["indfoy_asf"][3] == ""


def test_parquet_dates_in_paris_time(tmp_path: Path) -> None:
    """A December month stored as a UTC instant (30 November 23:00) is December in Paris."""
    instant = pa.array([dt.datetime(2024, 11, 30, 23, 0)], pa.timestamp("ms", tz="UTC"))
    pq.write_table(pa.table({"dtreffre": instant, "numdep": ["01"]}), tmp_path / "x.parquet")
    assert read_parquet_table(tmp_path / "x.parquet").cells["dtreffre"][0] == "2024-12"
    pq.write_table(pa.table({"d": [dt.date(2024, 12, 15)]}), tmp_path / "y.parquet")
    assert read_parquet_table(tmp_path / "y.parquet").cells["d"][0] == "2024-12-15"
    (tmp_path / "z.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(Exception, match="Parquet illisible"):
        read_parquet_table(tmp_path / "z.parquet")


def test_compact_rows_are_written_and_duplicates_refused(tmp_path: Path) -> None:
    """The real store's rows travel as categories; the store reads them back as text, and two
    cells with the same key are still refused."""
    rows = pd.DataFrame(
        {
            "indicateur": ["rsa", "rsa", "af"],
            "niveau": ["commune"] * 3,
            "code": ["01001", "01002", "01001"],
            "periode": ["2023-12"] * 3,
            "valeur": [5.0, 10.0, 5.0],
            "statut": ["publie"] * 3,
        }
    )
    write_store(compact(rows), tmp_path / "a", {})
    layer = Store(tmp_path / "a").layer("rsa", "commune", "2023-12")
    assert layer["code"].tolist() == ["01001", "01002"] and layer["valeur"].tolist() == [5, 10]
    with pytest.raises(StoreError, match="double"):
        write_store(compact(pd.concat([rows, rows.iloc[[1]]])), tmp_path / "b", {})
    assert not (tmp_path / "b" / "valeurs.parquet").exists()


def test_catalogue_is_read_page_by_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    tiny = pa.table({"dtreffre": [dt.date(2024, 12, 1)], "numdep": ["01"], "indfoy_af": [5]})
    datasets = [FakeDataset(f"af_s_jeu{n:03d}_dep", f"Jeu {n}", tiny) for n in range(250)]
    with FakePortal(datasets) as fake:
        found = PortalClient(fake.url, timeout=5).catalogue()
        offsets = [re.search(r"offset=(\d+)", p).group(1) for p, _ in fake.requests]
    assert [d.dataset_id for d in found] == [d.dataset_id for d in datasets]
    assert offsets == ["0", "100", "200"]
    assert found[7].fields[2].name == "indfoy_af" and found[7].fields[0].type == "date"
    assert found[7].version == "2026-01-16T08:00:00+00:00" and found[7].updated == "2026-01-16"
