"""Demonstration data: deterministic, additive, plausible, with small cells for secrecy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geodata.cog import load_cog
from geodata.levels import build_communes, read_commune_polygons
from geodata.sources import default_sources_dir
from layers.catalogue import BREAKDOWNS
from layers.demo import generate

SOURCES = default_sources_dir()
pytestmark = pytest.mark.skipif(
    not (SOURCES / "geo" / "communes-2018").is_dir(), reason=f"sources absentes : {SOURCES}"
)


@pytest.fixture(scope="module")
def communes() -> pd.DataFrame:
    cog = load_cog(SOURCES / "territoires")
    cog.communes = cog.communes[cog.communes["departement"].isin(["51", "971"])]
    gdf, _ = build_communes(
        read_commune_polygons(SOURCES / "geo" / "communes-2018", ["51", "971"]), cog
    )
    return pd.DataFrame(gdf.drop(columns="geometry"))


def test_same_seed_same_data_other_seed_other_data(communes) -> None:
    a, b = generate(communes, seed=7), generate(communes, seed=7)
    c = generate(communes, seed=8)
    assert all(np.array_equal(a.counts[k], b.counts[k]) for k in a.counts)
    assert not np.array_equal(a.counts["allocataires"], c.counts["allocataires"])


def test_the_draw_shows_its_progress_and_draws_the_same(communes) -> None:
    """`cafcarto build`'s bar over the draw's parts (counts by kind, childcare): it reaches
    every part and changes no value drawn."""
    import io

    out = io.StringIO()
    shown, quiet = generate(communes, seed=7, bars=out), generate(communes, seed=7)
    assert all(np.array_equal(shown.counts[k], quiet.counts[k]) for k in quiet.counts)
    assert shown.facilities.equals(quiet.facilities)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("données de démonstration [-") and "0/5 étapes" in lines[0]
    assert "5/5 étapes (100 %)" in lines[-1]
    assert len(lines) >= 4  # its quarters on the way


def test_breakdowns_add_up_exactly(communes) -> None:
    data = generate(communes)
    for total, parts in BREAKDOWNS.items():
        summed = sum(data.counts[p] for p in parts)
        assert np.array_equal(summed, data.counts[total.split("@")[0]]), total
    assert (data.counts["personnes_couvertes"] >= data.counts["allocataires"]).all()
    assert (data.counts["paje_ab"] <= data.counts["paje"]).all()


def test_plausible_levels_and_small_cells(communes) -> None:
    data = generate(communes)
    pop = communes.set_index("code")["population"]
    alloc = pd.Series(data.counts["allocataires"][:, -1], index=data.communes["code"])
    ratio = alloc.sum() / pop.sum()
    assert 0.12 < ratio < 0.35
    overseas = data.communes["departement"] == "971"
    share = alloc / pop.reindex(alloc.index).clip(lower=1)
    assert share[overseas.to_numpy()].median() > share[~overseas.to_numpy()].median()
    small = ((data.counts["rsa"] > 0) & (data.counts["rsa"] < 5)).sum()
    assert small > 100  # secrecy really bites
    assert data.counts["ppa"][:, data.not_applicable["ppa"]].sum() == 0  # before 2016
    vitry = data.communes.index[data.communes["code"] == "51649"][0]  # Vitry-le-François
    assert data.counts["allocataires"][vitry, -1] > 1000
