"""Views over the store and the territories: layers in feature order, series, search, parents."""

from __future__ import annotations

import math

import numpy as np
import pytest

from layers.appdata import AppData
from layers.catalogue import BY_ID
from layers.model import SINGLE_IRIS
from layers.store import NOT_APPLICABLE, PUBLISHED, SECRET
from layers.views import (
    ViewError,
    indicator,
    layer,
    level_of,
    parent_of,
    period_of,
    series_with_references,
)


@pytest.fixture(scope="module")
def data(settings):
    app = AppData(settings)
    return app.index(), app.store()


def test_layer_is_in_feature_order_and_hides_secrets(data) -> None:
    index, info = data
    assert info.demo and "démonstration" in info.notice
    ind = BY_ID["allocataires"]
    period = period_of(info.store, ind, "commune", None)
    df = layer(info.store, index, ind, "commune", period)
    assert df["code"].tolist() == index.table("commune")["code"].tolist()
    assert df["fid"].tolist() == list(range(len(df)))
    assert (df["statut"] == SECRET).any() and (df["statut"] == PUBLISHED).any()
    assert df.loc[df["statut"] != PUBLISHED, "valeur"].isna().all()


def test_an_iris_that_is_its_whole_commune_is_not_applicable(data) -> None:
    """IRIS of type Z have no value of their own (the Caf publishes the commune's): the map
    says « non concerné », not « pas de données »; a split commune's IRIS keep their cells."""
    index, info = data
    ind = BY_ID["allocataires"]
    period = period_of(info.store, ind, "iris", None)
    df = layer(info.store, index, ind, "iris", period)
    single = (index.table("iris")["type_iris"] == SINGLE_IRIS).to_numpy()
    assert single.any() and (~single).any()
    assert (df.loc[single, "statut"] == NOT_APPLICABLE).all()
    assert df.loc[~single, "statut"].isin([PUBLISHED, SECRET]).any()
    assert not (df.loc[~single, "statut"] == NOT_APPLICABLE).any()


def test_layer_places_each_cell_on_its_feature(data) -> None:
    """Arrays placed by feature id give the rows of a plain merge of the territories and the
    store's cells, on every built level (values, statuses and dtypes), and a code of the store
    that no feature has is left out."""
    index, info = data
    checked = 0
    for level in index.levels():
        for ind in [i for i in BY_ID.values() if level in i.levels][:4]:
            period = period_of(info.store, ind, level, None)
            cells = info.store.layer(ind.id, level, period)
            table = index.table(level)
            expected = table[["code", "nom"]].merge(cells, on="code", how="left")
            got = layer(info.store, index, ind, level, period)
            published = got["statut"] == PUBLISHED
            assert got["code"].tolist() == table["code"].tolist()
            assert got["valeur"][published].tolist() == expected["valeur"][published].tolist()
            stored = expected["statut"].notna().to_numpy()
            assert got["statut"][stored].tolist() == expected["statut"][stored].tolist()
            assert got.loc[~published, "valeur"].isna().all()
            assert str(got["statut"].dtype) == str(got["code"].dtype) == "str"
            checked += int(stored.sum())
    assert checked > 5_000
    codes = index.table("departement")["code"].tolist()
    found = index.positions("departement", np.array([codes[-1], "zz", codes[0]], dtype=object))
    assert found.tolist() == [len(codes) - 1, -1, 0]
    assert index.positions("departement", np.array([], dtype=object)).tolist() == []


def test_parent_filter_keeps_only_children(data) -> None:
    index, info = data
    ind = BY_ID["rsa"]
    parent = parent_of(index, "commune", "departement:66")
    df = layer(info.store, index, ind, "commune", "2024-12", parent)
    table = index.table("commune")
    assert len(df) == int((table["departement"] == "66").sum()) > 100
    assert parent_of(index, "commune", "2A") == ("departement", "2A")
    with pytest.raises(ViewError):
        parent_of(index, "commune", "departement:99")


@pytest.mark.parametrize(
    ("ind", "level", "period"),
    [
        ("nope", "commune", None),
        ("rsa", "canton", None),
        ("rsa", "commune", "2024-13"),
        ("rsa_montant", "qpv", None),
    ],
)
def test_bad_parameters_give_french_errors(data, ind, level, period) -> None:
    index, info = data
    with pytest.raises(ViewError) as err:
        i = indicator(ind)
        level_of(i, level)
        period_of(info.store, i, level, period)
    assert any(w in err.value.message for w in ("inconnu", "n'existe pas", "Période"))


def test_series_with_references_keeps_secrets_as_gaps(data) -> None:
    index, info = data
    ind = BY_ID["allocataires"]
    df = series_with_references(info.store, index, ind, "commune", "69123")
    roles = set(df["role"])
    assert {"territoire", "epci", "departement", "region", "france"} <= roles
    own = df[df["role"] == "territoire"]
    assert own["periode"].is_monotonic_increasing and len(own) >= 4
    # references are on the commune's periods (annual) even though they are quarterly
    assert set(df["periode"]) == set(own["periode"])
    hidden = df[df["statut"] != PUBLISHED]
    assert all(math.isnan(v) for v in hidden["valeur"])


def test_territory_search_by_name_code_and_postal_code(data) -> None:
    index, _ = data
    assert index.search("lyon")[0].code == "69123"
    assert index.search("69123")[0].name == "Lyon"
    assert index.search("Ajaccio")[0].code == "2A004"
    assert "2A004" in [t.code for t in index.search("20000")]
    assert index.search("perpignan")[0].code == "66136"
    # accents optional
    assert index.search("venissieux")[0].name == "Vénissieux"
    assert index.search("") == [] and index.search("x" * 500) == []


def test_territory_parents_and_neighbours(data) -> None:
    index, _ = data
    lyon = index.get("commune", "69123")
    assert lyon.parents["departement"] == "69" and lyon.parents["region"] == "84"
    assert lyon.parents["epci"] == "200046977"
    near = index.neighbours("commune", "69123")
    assert "69266" in near  # Villeurbanne
    assert index.get("commune", "00000") is None


def test_a_bare_code_both_departement_and_region_is_ambiguous() -> None:
    class Index:  # région 84 (Auvergne-Rhône-Alpes) and département 84 (Vaucluse)
        def levels(self) -> list[str]:
            return ["region", "departement", "commune"]

        def get(self, level: str, code: str) -> object | None:
            return (
                object()
                if (level, code) in {("region", "84"), ("departement", "84"), ("departement", "69")}
                else None
            )

    with pytest.raises(ViewError, match="Code ambigu.*departement:84 ou region:84"):
        parent_of(Index(), "commune", "84")
    assert parent_of(Index(), "commune", "region:84") == ("region", "84")
    assert parent_of(Index(), "commune", "69") == ("departement", "69")
