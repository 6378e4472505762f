"""Unit tests of layers/classify.py and layers/geometry_values.py (pure functions)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from layers import classify as cl
from layers.catalogue import GEOMETRY_INDICATORS as INDICATORS
from layers.geometry_values import compute
from layers.map_payload import carte_payload


def test_quantile_breaks_cover_min_and_max() -> None:
    values = np.arange(1, 101, dtype=float)
    breaks = cl.class_breaks(values, 5)
    assert breaks[0] == 1 and breaks[-1] == 100
    assert len(breaks) == 6
    assert breaks == sorted(breaks)


def test_class_index_missing_is_minus_one_and_zero_is_a_class() -> None:
    values = [0.0, 5.0, float("nan"), None, 10.0]
    arr = np.array(values, dtype="float64")
    breaks = cl.class_breaks(arr, 2)
    idx = cl.class_index(arr, breaks)
    assert idx.tolist() == [0, 0, -1, -1, 1]
    assert idx.dtype == np.int32


def test_quantiles_give_balanced_classes() -> None:
    rng = np.random.default_rng(1)
    values = rng.lognormal(5, 2, 10_000)
    breaks = cl.class_breaks(values, 5)
    counts = np.bincount(cl.class_index(values, breaks))
    assert counts.sum() == 10_000
    assert counts.min() > 1_900 and counts.max() < 2_100


def test_ties_reduce_the_number_of_classes() -> None:
    values = [1, 1, 1, 1, 1, 1, 2]
    breaks = cl.class_breaks(values, 5)
    # The tied minimum is a class of its own ("1"), the rest another; no empty class.
    assert breaks == [1.0, 1.0, 2.0]
    assert cl.class_index(values, breaks).tolist() == [0] * 6 + [1]
    values = [1, 2, 2, 2, 2, 2, 3]
    assert len(set(cl.class_breaks(values, 5))) == len(cl.class_breaks(values, 5)) < 6


def test_a_mass_at_zero_keeps_the_other_classes() -> None:
    # 80 % of communes without a crèche: quantiles alone would give a single class.
    values = np.r_[np.zeros(800), np.arange(1, 201)]
    breaks = cl.class_breaks(values, 5, decimals=0)
    counts = np.bincount(cl.class_index(values, breaks))
    assert breaks[:2] == [0.0, 0.0] and counts[0] == 800
    assert len(counts) == 5 and all(49 <= c <= 51 for c in counts[1:])
    rows = cl.legend_entries(breaks, cl.palette("YlGnBu", 5), cl.class_index(values, breaks))
    assert rows[0]["libelle"] == "0" and rows[0]["effectif"] == 800
    assert rows[1]["libelle"].startswith("> 0 ")


def test_constant_and_empty_inputs() -> None:
    assert cl.class_breaks([3, 3, 3], 5) == [3.0, 3.0]
    assert cl.class_index([3, 3], [3.0, 3.0]).tolist() == [0, 0]
    assert cl.class_breaks([float("nan")], 5) == []
    assert cl.class_index([float("nan"), 1], []).tolist() == [-1, -1]


def test_rounded_breaks_match_the_legend() -> None:
    values = np.linspace(0.123, 987.654, 500)
    breaks = cl.class_breaks(values, 4, decimals=1)
    for inner in breaks[1:-1]:
        assert round(inner, 1) == inner
    value_on_bound = breaks[1]
    assert cl.class_index([value_on_bound], breaks).tolist() == [0]


def test_equal_and_manual_methods() -> None:
    assert cl.class_breaks([0, 10], 5, "equal") == [0, 2, 4, 6, 8, 10]
    assert cl.class_breaks([0, 10], 5, "manual", manual=[5, 50, -1]) == [0, 5, 10]
    with pytest.raises(ValueError):
        cl.class_breaks([0, 10], 5, "manual")
    with pytest.raises(ValueError):
        cl.class_breaks([0, 10], 5, "bogus")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", cl.PALETTES)
@pytest.mark.parametrize("k", range(1, 8))
def test_palettes_have_k_distinct_hex_colours(name: str, k: int) -> None:
    colours = cl.palette(name, k)
    assert len(colours) == k == len(set(colours))
    assert all(c.startswith("#") and len(c) == 7 for c in colours)
    assert cl.NO_DATA_COLOUR not in colours


def test_palette_rejects_unknown_name_and_too_many_classes() -> None:
    with pytest.raises(ValueError):
        cl.palette("rainbow", 5)
    with pytest.raises(ValueError):
        cl.palette("YlGnBu", 12)


def test_french_number_format() -> None:
    assert cl.format_fr(1234.5, 1) == "1\u202f234,5"
    assert cl.format_fr(5678, 0) == "5\u202f678"
    assert cl.format_fr(1234567.891, 2) == "1\u202f234\u202f567,89"
    assert cl.format_fr(-0.04, 1) == "0,0"
    assert cl.format_fr(float("nan")) == ""
    assert cl.format_fr(None) == ""


def test_legend_entries_labels_counts_and_no_data_row() -> None:
    values = np.array([1000.0, 1234.5, 5678.0, np.nan])
    result = cl.classify(values, 2, decimals=1, unit="hab./km²")
    legend = result["legende"]
    assert len(legend) == 3
    assert legend[0]["libelle"].startswith("1\u202f000,0 \u2013 ")
    assert legend[0]["libelle"].endswith(" hab./km²")
    assert [row["effectif"] for row in legend] == [2, 1, 1]
    assert legend[-1]["libelle"] == "Pas de données"
    assert legend[-1]["min"] is None and legend[-1]["couleur"] == cl.NO_DATA_COLOUR


def test_indicators_are_aligned_and_missing_stays_missing() -> None:
    table = pd.DataFrame(
        {
            "code": ["a", "b", "c"],
            "nom": ["A", "B", "C"],
            "population": pd.array([100, None, 50], dtype="Int64"),
            "area_km2": [2.0, 1.0, 0.0],
        }
    )
    pop = compute(table, "population")
    dens = compute(table, "densite")
    assert pop.tolist()[0] == 100 and math.isnan(pop.tolist()[1])
    assert dens.tolist()[0] == 50
    assert math.isnan(dens.tolist()[1]) and math.isnan(dens.tolist()[2])
    assert set(INDICATORS) == {"population", "densite"}
    with pytest.raises(ValueError):
        compute(table, "inconnu")


def test_carte_payload_shape() -> None:
    values = pd.Series([10.0, 20.0, None, 40.0, 50.0, 60.0])
    payload = carte_payload("commune", "population", values, k=3)
    assert payload["niveau"] == "commune" and payload["unite"] == "habitants"
    assert payload["valeurs"] == [10, 20, None, 40, 50, 60]
    assert payload["classes"][2] == -1
    assert len(payload["classes"]) == len(values)
    assert len(payload["legende"]) == len(payload["couleurs"]) + 1
