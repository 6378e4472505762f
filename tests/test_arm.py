"""The municipal arrondissements in the app: search, the « communes et arrondissements » view
(read at query time from the commune and arrondissement cells), API, level picker, profile.

The store here is made of the small cut's demonstration cells with Lyon's arrondissements
added as an imported store holds them (each arrondissement's allocataires, their sum Lyon's value).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import flask
import numpy as np
import pandas as pd
import pytest

from geodata.cache import active_dir
from layers.appdata import AppData
from layers.catalogue import CURATED
from layers.config import Settings
from layers.model import COUNT
from layers.options import level_options, levels_with_data
from layers.profile import profile
from layers.store import PUBLISHED, SECRET, Store, write_store
from layers.territory_index import TerritoryIndex
from tests.test_api import get_json, register_api

LYON = "69123"
CURATED_BY_ID = {i.id: i for i in CURATED.indicators}
TEST_FIRST = "2021-12"
IND = "allocataires"
OTHER = "rsa"  # not given by arrondissement


@pytest.fixture(scope="module")
def index(small_cache: Path) -> TerritoryIndex:
    return TerritoryIndex(active_dir(small_cache))


def _arm_rows(cells: pd.DataFrame, index: TerritoryIndex) -> pd.DataFrame:
    """Lyon's allocataires split among its arrondissements by population (exact sum), the
    split hidden where Lyon's cell is; the first arrondissement secret at the last period."""
    arms = index.table("arm")
    arms = arms[arms["commune"] == LYON].sort_values("code")
    weights = arms["population"].to_numpy(float) / arms["population"].sum()
    lyon = cells[(cells["niveau"] == "commune") & (cells["code"] == LYON)]
    frames = []
    for row in lyon.itertuples():
        values = np.floor(weights * (row.valeur if row.statut == PUBLISHED else 0))
        values[-1] += (row.valeur if row.statut == PUBLISHED else 0) - values.sum()
        statut = np.full(len(arms), row.statut, dtype=object)
        frames.append(
            pd.DataFrame(
                {
                    "indicateur": row.indicateur,
                    "niveau": "arm",
                    "code": arms["code"].to_numpy(),
                    "periode": row.periode,
                    "valeur": np.where(statut == PUBLISHED, values, np.nan),
                    "statut": statut,
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    last = out["periode"] == out["periode"].max()
    first_two = out["code"].isin(arms["code"].iloc[:2])  # two hidden: no difference reveals one
    out.loc[last & first_two, ["valeur", "statut"]] = [np.nan, SECRET]
    return out


@pytest.fixture(scope="module")
def arm_settings(settings: Settings, small_store: Path, index, tmp_path_factory) -> Settings:
    """The small build and a store holding Lyon's arrondissements for `allocataires`."""
    root = tmp_path_factory.mktemp("armcache")
    (root / "current").symlink_to(active_dir(settings.cache))
    demo = Store(active_dir(small_store) or small_store)
    cells = demo.query("SELECT * FROM v WHERE indicateur IN (?, ?)", [IND, OTHER])
    for col in ("indicateur", "niveau", "periode", "statut"):
        cells[col] = cells[col].astype(str)
    cells = cells[cells["niveau"] != "arm"]  # replaced by the arrondissements below
    arms = _arm_rows(cells[cells["indicateur"] == IND], index)
    rows = pd.concat([cells, arms], ignore_index=True)
    # As an imported store: its catalogue lists the levels it holds (the arrondissements).
    write_store(rows, root / "import" / "s1", {"mode": "import"})
    (root / "import" / "current").symlink_to(root / "import" / "s1")
    return replace(settings, cache=root)


@pytest.fixture(scope="module")
def arm_data(arm_settings: Settings) -> AppData:
    return AppData(arm_settings)


@pytest.fixture(scope="module")
def client(arm_data: AppData):
    server = flask.Flask(__name__)
    register_api(server, arm_data)
    return server.test_client()


# --------------------------------------------------------------------------------------------
# Search


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("Lyon 1er", "69381"),
        ("lyon 3e", "69383"),
        ("Lyon 3", "69383"),
        ("Lyon 3ème", "69383"),
        ("LYON 9E ARRONDISSEMENT", "69389"),
        ("69385", "69385"),
    ],
)
def test_search_finds_an_arrondissement(index: TerritoryIndex, query: str, code: str) -> None:
    found = index.search(query, 5)
    assert found, query
    assert (found[0].level, found[0].code) == ("arm", code)
    assert found[0].parents["commune"] == LYON and "Lyon" in found[0].name


def test_postal_code_names_the_arrondissement_before_its_city(index: TerritoryIndex) -> None:
    # 69007 is also the INSEE code of a commune (exact code first), then the 7th, then Lyon.
    keys = [(t.level, t.code) for t in index.search("69007", 5)]
    assert keys[0] == ("commune", "69007")
    assert keys.index(("arm", "69387")) < keys.index(("commune", LYON))


def test_search_lists_each_territory_once(index: TerritoryIndex) -> None:
    """The composite view is not searched: a commune is found once, at its own level."""
    found = index.search("Lyon", 10)
    assert found[0].level == "commune" and found[0].code == LYON
    keys = [(t.level, t.code) for t in found]
    assert len(set(t.code for t in found)) == len(keys)
    assert not any(t.level == "commune_arm" for t in found)


# --------------------------------------------------------------------------------------------
# The composite view


def test_commune_arm_is_communes_with_lyon_split(arm_data: AppData, index) -> None:
    store = arm_data.store().store
    period = store.periods(IND, "arm")[-1]
    assert period in store.periods(IND, "commune_arm")
    view = store.layer(IND, "commune_arm", period).set_index("code")
    communes = store.layer(IND, "commune", period).set_index("code")
    arms = store.layer(IND, "arm", period).set_index("code")
    assert LYON not in view.index and LYON in communes.index
    assert set(arms.index) <= set(view.index) and len(arms) == 9
    assert set(view.index) == (set(communes.index) - {LYON}) | set(arms.index)
    for code in ("69266", "69381", "69389"):  # Villeurbanne, two arrondissements
        source = arms if code in arms.index else communes
        assert str(view.at[code, "statut"]) == str(source.at[code, "statut"])
        assert view["valeur"].get(code) == source["valeur"].get(code) or (
            pd.isna(view.at[code, "valeur"]) and pd.isna(source.at[code, "valeur"])
        )
    # Nothing stored for the view: it is read from its two source levels.
    stored = store.query("SELECT count(*) AS n FROM v WHERE niveau = 'commune_arm'")
    assert int(stored["n"].iloc[0]) == 0
    # The view's territories are exactly those of its geometry.
    assert set(view.index) == set(index.table("commune_arm")["code"])


def test_api_data_at_arm_and_commune_arm(client, arm_data: AppData) -> None:
    store = arm_data.store().store
    arm = get_json(client, f"/api/v1/data?indicator={IND}&level=arm")
    rows = {r["code"]: r for r in arm["rows"]}
    assert set(rows) == {f"6938{i}" for i in range(1, 10)}
    lyon = store.series(IND, "commune", LYON).set_index("periode").loc[arm["period"]]
    published = [r["value"] for r in rows.values() if r["status"] == "published"]
    assert str(lyon["statut"]) != PUBLISHED or len(published) < 9  # one hidden at the last period
    assert any(r["status"] == "secret" and r["value"] is None for r in rows.values())
    both = get_json(client, f"/api/v1/data?indicator={IND}&level=commune_arm")
    assert both["period"] == arm["period"]
    by_code = {r["code"]: r for r in both["rows"]}
    assert LYON not in by_code and "69266" in by_code
    for code, row in rows.items():
        assert by_code[code]["value"] == row["value"] and by_code[code]["status"] == row["status"]
    first = get_json(client, f"/api/v1/data?indicator={IND}&level=arm&period={TEST_FIRST}")
    values = [r["value"] for r in first["rows"] if r["status"] == "published"]
    lyon_first = store.series(IND, "commune", LYON).set_index("periode").loc[TEST_FIRST]
    if str(lyon_first["statut"]) == PUBLISHED:  # every part published: they add up to Lyon
        assert len(values) == 9 and sum(values) == pytest.approx(lyon_first["valeur"])


def test_key_figures_of_the_combined_view_are_the_arrondissements(client) -> None:
    """A territory of « communes et arrondissements » has the key figures of its source level."""
    code = "69383"
    both = get_json(client, f"/api/v1/territories/commune_arm/{code}")["key_figures"]
    arm = get_json(client, f"/api/v1/territories/arm/{code}")["key_figures"]
    assert both and both == arm


def test_level_picker_offers_levels_with_geometry_and_data(arm_data: AppData, index) -> None:
    store = arm_data.store().store
    built = index.levels()
    assert {"arm", "commune_arm"} <= set(built)
    opts = {
        o["value"]: o["disabled"] for o in level_options(IND, built, levels_with_data(store, IND))
    }
    assert opts["arm"] is False and opts["commune_arm"] is False
    # An indicator without arrondissement data: both greyed out (the communes still offered).
    other = "rsa"
    opts = {
        o["value"]: o["disabled"]
        for o in level_options(other, built, levels_with_data(store, other))
    }
    assert opts["arm"] and opts["commune_arm"]
    # Without the geometry, a level with data is not offered either.
    no_arm = [lv for lv in built if lv != "arm"]
    opts = {
        o["value"]: o["disabled"] for o in level_options(IND, no_arm, levels_with_data(store, IND))
    }
    assert opts["arm"] and not opts["commune_arm"]


# --------------------------------------------------------------------------------------------
# Profile


def test_profile_of_an_arrondissement_compares_it_with_its_neighbours_and_city(
    arm_data: AppData, index: TerritoryIndex
) -> None:
    store = arm_data.store().store
    prof = profile(store, index, "arm", "69383")
    ident = prof.identity
    assert ident.name.startswith("Lyon 3e") and ident.level_label == "arrondissement municipal"
    assert ident.parents[0].level == "commune" and ident.parents[0].code == LYON
    # The city first among the references, then the EPCI, département, région, France.
    refs = [(r.level, r.code) for r in prof.references]
    assert refs[0] == ("commune", LYON)
    assert [lv for lv, _ in refs[1:]] == ["epci", "departement", "region", "france"]
    # Neighbours: the arrondissements beside the 3rd and the communes at Lyon's edge.
    near = index.neighbours("commune_arm", "69383")
    assert prof.neighbours is not None
    rows = {r.code: r for r in prof.neighbours.rows}
    assert set(rows) == {"69383", *near}
    assert {"69382", "69387", "69388", "69386"} & set(rows)  # arrondissements beside it
    assert "69266" in rows  # Villeurbanne, across the city's edge
    assert "Villeurbanne" in rows["69266"].name
    period = prof.neighbours.period
    cells = store.layer(prof.neighbours.indicator, "commune_arm", period).set_index("code")
    for code, row in rows.items():
        status = str(cells.at[code, "statut"])
        assert row.cell.status == status
        if status == PUBLISHED:
            assert row.cell.value == pytest.approx(cells.at[code, "valeur"])
        else:
            assert row.cell.value is None


def test_city_reference_is_the_city_cell(arm_data: AppData, index: TerritoryIndex) -> None:
    store = arm_data.store().store
    prof = profile(store, index, "arm", "69381")
    row = next(r for t in prof.themes for r in t.rows if r.cell.indicator == IND)
    city = next(r for r in row.references if r.parent.level == "commune")
    lyon = store.series(IND, "commune", LYON).set_index("periode").loc[row.cell.period]
    assert city.cell.status == str(lyon["statut"])
    if city.cell.status == PUBLISHED:
        assert city.cell.value == pytest.approx(lyon["valeur"])


def test_city_profile_lists_its_arrondissements(arm_data: AppData, index: TerritoryIndex) -> None:
    prof = profile(arm_data.store().store, index, "commune", LYON)
    assert [p.code for p in prof.identity.parts] == [f"6938{i}" for i in range(1, 10)]
    assert all(p.level == "arm" and p.name.startswith("Lyon ") for p in prof.identity.parts)
    other = profile(arm_data.store().store, index, "commune", "69266")
    assert other.identity.parts == ()


def test_city_profile_page_links_its_arrondissements(arm_data: AppData) -> None:
    from dashboard.pages.profile import profile_layout

    city = str(profile_layout(arm_data, "commune", LYON))
    assert "/territoire/arm/69381" in city and "/territoire/arm/69389" in city
    part = str(profile_layout(arm_data, "arm", "69381"))
    assert f"/territoire/commune/{LYON}" in part and "/territoire/arm/6938" not in part


# --------------------------------------------------------------------------------------------
# The demonstration store


def test_demonstration_arrondissements_add_up_to_their_city(settings: Settings) -> None:
    data = AppData(settings)
    store = data.store().store
    assert data.store().demo
    cells = store.query(
        "SELECT indicateur, niveau, code, periode, valeur, statut FROM v "
        "WHERE niveau = 'arm' OR (niveau = 'commune' AND code = ?)",
        [LYON],
    )
    for col in ("indicateur", "niveau", "periode", "statut"):
        cells[col] = cells[col].astype(str)
    arms = cells[cells["niveau"] == "arm"]
    assert set(arms["code"]) == {f"6938{i}" for i in range(1, 10)}
    checked = 0
    for (ind, period), group in cells.groupby(["indicateur", "periode"]):
        if CURATED_BY_ID[ind].nature != COUNT:
            continue
        city = group[group["niveau"] == "commune"]
        parts = group[group["niveau"] == "arm"]
        assert len(parts) == 9 and len(city) == 1, (ind, period)
        if (group["statut"] == PUBLISHED).all():  # the test store is not rounded
            assert parts["valeur"].sum() == pytest.approx(city["valeur"].iloc[0]), (ind, period)
            checked += 1
    assert checked > 20
    # Rates at the arrondissements too, computed from their own counts.
    rate = store.layer("part_rsa", "arm", store.periods("part_rsa", "arm")[-1])
    assert len(rate) == 9 and rate["valeur"].between(0, 100).all()
    assert {"arm", "commune_arm"} <= set(CURATED_BY_ID["allocataires"].levels)


def test_profile_from_the_combined_view_is_the_source_territory(arm_data: AppData, index) -> None:
    store = arm_data.store().store
    part = profile(store, index, "commune_arm", "69383")
    assert part.identity.level == "arm" and part.identity.parents[0].code == LYON
    whole = profile(store, index, "commune_arm", "69266")
    assert whole.identity.level == "commune" and whole.identity.name == "Villeurbanne"
    assert index.source_level("commune", "69266") == "commune"
