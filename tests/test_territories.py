"""Levels, neighbours and topology-preserving simplification on a real cut (Landes, Pyr.-Atl.)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geodata.cog import load_cog
from geodata.levels import build_admin_levels, build_communes, read_commune_polygons
from geodata.neighbours import shared_borders
from geodata.simplify import TOLERANCES, simplify_coverage
from geodata.sources import default_sources_dir

SOURCES = default_sources_dir()
CUT = ["40", "64"]
pytestmark = pytest.mark.skipif(
    not (SOURCES / "geo" / "communes-2018").is_dir(), reason=f"sources absentes : {SOURCES}"
)


@pytest.fixture(scope="module")
def levels() -> dict[str, gpd.GeoDataFrame]:
    cog = load_cog(SOURCES / "territoires")
    cog.communes = cog.communes[cog.communes["departement"].isin(CUT)]
    cog.departements = cog.departements[cog.departements["code"].isin(CUT)]
    polygons = read_commune_polygons(SOURCES / "geo" / "communes-2018", CUT)
    communes, _ = build_communes(polygons, cog)
    return build_admin_levels(communes, cog)


def test_caf_territories_follow_the_membership_table(levels) -> None:
    caf = levels["caf"].set_index("code")
    assert set(caf.index) == {"40", "641", "642"}
    communes = levels["commune"].set_index("code")
    assert communes.loc["40312", "caf"] == "641"  # Tarnos
    assert communes.loc["64445", "caf"] == "642"  # Pau
    # Caf areas add up to the two départements, nothing lost or counted twice.
    deps_area = levels["departement"]["area_km2"].sum()
    assert caf["area_km2"].sum() == pytest.approx(deps_area, rel=1e-6)
    assert caf["population"].sum() == levels["departement"]["population"].sum()


def test_every_level_has_a_label_point_inside(levels) -> None:
    for name in ("commune", "epci", "departement", "caf"):
        gdf = levels[name]
        points = shapely.points(gdf["label_lon"], gdf["label_lat"])
        # Rounded to 5 decimals (1 m): allow that much.
        inside = shapely.dwithin(gdf.geometry.values, points, 2e-5)
        assert inside.all(), f"{name}: label outside for {gdf.loc[~inside, 'code'].tolist()}"


def test_neighbours_share_a_border_and_are_symmetric(levels) -> None:
    nb = shared_borders(levels["commune"])
    bayonne = set(nb.loc[nb["code"] == "64102", "voisin"])
    # Anglet, Boucau, Saint-Pierre-d'Irube, and Tarnos across the Landes border; not Biarritz.
    assert {"64024", "64140", "64496", "40312"} <= bayonne
    assert "64122" not in bayonne
    pairs = set(zip(nb["code"], nb["voisin"], strict=True))
    assert all((b, a) in pairs for a, b in pairs)
    assert not (nb["code"] == nb["voisin"]).any()
    assert (nb["frontiere_km"] > 0).all()


def _overlap_and_gaps(geoms: np.ndarray, pairs: np.ndarray) -> tuple[float, int]:
    a, b = geoms[pairs[:, 0]], geoms[pairs[:, 1]]
    overlap = shapely.area(shapely.intersection(a, b)).max()
    lost = int(
        (shapely.length(shapely.intersection(shapely.boundary(a), shapely.boundary(b))) <= 0).sum()
    )
    return float(overlap), lost


@pytest.mark.parametrize("level", ["commune", "epci"])
def test_simplification_keeps_neighbours_touching_without_overlap(levels, level) -> None:
    gdf = levels[level]
    nb = shared_borders(gdf)
    index = {code: i for i, code in enumerate(gdf["code"])}
    pairs = np.array([[index[a], index[b]] for a, b in zip(nb["code"], nb["voisin"], strict=True)])
    tolerance = TOLERANCES[level]["national"]
    ours = simplify_coverage(gdf.geometry, tolerance)
    overlap, lost = _overlap_and_gaps(ours, pairs)
    assert overlap < 1e-9  # deg², about 0.01 km² at this latitude... far below: exactly shared
    assert lost == 0
    assert (
        shapely.get_num_coordinates(ours).sum()
        < 0.6 * shapely.get_num_coordinates(gdf.geometry.values).sum()
    )
    # The naive per-polygon simplification does open overlaps or gaps: the test can fail.
    naive = shapely.simplify(gdf.geometry.values, tolerance)
    naive_overlap, naive_lost = _overlap_and_gaps(naive, pairs)
    assert naive_overlap > 1e-7 or naive_lost > 0
