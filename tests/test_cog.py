"""COG harmonisation: older codes, delegated communes and arrondissements to current communes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geodata.cog import Cog, harmonise_codes, load_cog, normalise_commune_code
from geodata.levels import read_commune_polygons
from geodata.sources import default_sources_dir

SOURCES = default_sources_dir()
pytestmark = pytest.mark.skipif(
    not (SOURCES / "territoires").is_dir(), reason=f"sources absentes : {SOURCES}"
)


@pytest.fixture(scope="module")
def cog() -> Cog:
    return load_cog(SOURCES / "territoires")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1001", "01001"),
        ("01001", "01001"),
        ("1001.0", "01001"),
        (" 2a004 ", "2A004"),
        ("75056", "75056"),
        (97105, "97105"),
    ],
)
def test_normalise_restores_leading_zero(raw: object, expected: str) -> None:
    assert normalise_commune_code(raw) == expected


def test_current_communes_exclude_overseas_collectivities(cog: Cog) -> None:
    codes = cog.communes["code"]
    assert len(cog.communes) == 34_875  # 34,969 current communes less 94 in COM (975, 977, 98x)
    assert not codes.str.startswith(("975", "977", "978", "98")).any()
    assert codes.str.startswith("976").sum() == 17  # Mayotte stays


def test_old_and_finer_codes_lead_to_the_current_commune(cog: Cog) -> None:
    assert cog.current_code("01340") == "01015"  # absorbed into Arboys en Bugey
    assert cog.current_code("1340") == "01015"  # leading zero lost by a spreadsheet
    assert cog.current_code("75108") == "75056"  # Paris 8e
    assert cog.current_code("69381") == "69123"  # Lyon 1er
    assert cog.current_code("13215") == "13055"  # Marseille 15e
    assert cog.current_code("12076") == "12218"  # Conques, now in Conques-en-Rouergue
    assert cog.current_code("99999") is None  # living abroad: not a commune


def test_harmonise_places_every_2018_polygon_and_lists_recreated_communes(cog: Cog) -> None:
    polygons = read_commune_polygons(SOURCES / "geo" / "communes-2018", ["14", "15"])
    calvados_cantal = cog.communes["departement"].isin(["14", "15"])
    harm = harmonise_codes(
        polygons["code"],
        Cog(
            cog.communes[calvados_cantal],
            cog.epci,
            cog.departements,
            cog.regions,
            cog.arrondissements,
            cog.to_current,
        ),
    )
    assert harm.unplaced == []
    assert len(harm.mapping) == len(polygons)
    # Merged communes of 2018 collapse into fewer current communes.
    assert harm.mapping.nunique() < len(polygons)
    bare = set(harm.without_polygon["code"])
    assert {"14666", "15031", "15035", "15047", "15171"} <= bare  # re-created after 2018
    assert isinstance(harm.mapping, pd.Series)


def test_unknown_codes_are_reported_not_dropped(cog: Cog) -> None:
    harm = harmonise_codes(pd.Series(["01001", "XXXXX", "99999"]), cog)
    assert harm.unplaced == ["99999", "XXXXX"]
    assert harm.mapping.to_dict() == {"01001": "01001"}


def test_loader_reads_the_real_file_layout(tmp_path: Path) -> None:
    # A missing table must raise, not silently give an empty COG.
    with pytest.raises(FileNotFoundError):
        load_cog(tmp_path)
