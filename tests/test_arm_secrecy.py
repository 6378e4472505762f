"""Secrecy of data given by municipal arrondissement: the arrondissements add up to their city,
so a hidden arrondissement must not be the city's total minus the others. Real rows of an
exact (non-rounded) communal file for Lyon's 9 arrondissements and Lyon, as the importer makes
them; the LP attacker of tests/attacker.py, given « arrondissements = city », recovers nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geodata.cog import Cog, load_cog
from geodata.sources import default_sources_dir
from layers.ingest.columns import series_id
from layers.provenance import EXACT, PROVENANCE_COLUMNS
from layers.real_secrecy import protect_real
from layers.store import PUBLISHED, SECRET, check_rows
from tests.attacker import Cells, Relation, attack, recovered

SOURCES = default_sources_dir()
pytestmark = pytest.mark.skipif(
    not (SOURCES / "territoires").is_dir(), reason=f"sources absentes : {SOURCES}"
)
PERIOD = "2024-12"
LYON = "69123"
ARMS = [f"6938{i}" for i in range(1, 10)]


@pytest.fixture(scope="module")
def cog() -> Cog:
    return load_cog(SOURCES / "territoires")


def _rows(values: dict[str, list[float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per series: the 9 arrondissements and Lyon (their exact sum), published."""
    rows, prov = [], []
    for ind, parts in values.items():
        rows += [
            (ind, "arm", c, PERIOD, float(v), PUBLISHED) for c, v in zip(ARMS, parts, strict=True)
        ]
        rows.append((ind, "commune", LYON, PERIOD, float(sum(parts)), PUBLISHED))
        field = ind.split(".")[0]
        prov += [(ind, lv, PERIOD, "test_com", field, "", EXACT, 0) for lv in ("arm", "commune")]
    frame = pd.DataFrame(
        rows, columns=["indicateur", "niveau", "code", "periode", "valeur", "statut"]
    )
    return frame, pd.DataFrame(prov, columns=list(PROVENANCE_COLUMNS))


def _attack(out: pd.DataFrame) -> list:
    cells = Cells()
    relations = []
    for ind, grp in out.groupby("indicateur"):
        for r in grp.itertuples(index=False):
            key = (r.indicateur, r.niveau, r.code)
            cells.status[key] = "published" if r.statut == PUBLISHED else "secret"
            cells.value[key] = r.valeur if r.statut == PUBLISHED else None
        # The relation is read from the codes (not from the code under test).
        relations.append(Relation((ind, "commune", LYON), [(ind, "arm", c) for c in ARMS], True))
    report, keys = attack(cells, relations, protection=5)
    return recovered(cells, report, keys)


@pytest.mark.parametrize("small", [0, 4, 8])
def test_a_small_arrondissement_is_not_the_city_minus_the_others(cog: Cog, small: int) -> None:
    rng = np.random.default_rng(small)
    parts = rng.integers(300, 5000, len(ARMS)).astype(float)
    parts[small] = 3  # below the threshold of 5: hidden, primary
    ind = series_id("indfoy_rsa")
    rows, prov = _rows({ind: list(parts)})
    out, report = protect_real(rows, prov, cog)
    check_rows(out)
    hidden = out[out["statut"] == SECRET]
    assert (ind, "arm", ARMS[small]) in set(
        zip(hidden["indicateur"], hidden["niveau"], hidden["code"], strict=True)
    )
    assert report.primaire == 1 and report.secondaire >= 1  # the city or another arrondissement
    assert report.relations >= 1
    assert _attack(out) == []


def test_the_city_sum_protected_when_the_portal_blanked_an_arrondissement(cog: Cog) -> None:
    """The portal left one arrondissement blank (secret) but the city is published: the blank
    is the city minus the others, so another cell is hidden."""
    ind = series_id("indfoy_rsa")
    parts = [float(v) for v in (1200, 900, 2400, 800, 1000, 1500, 2000, 1800, 1300)]
    rows, prov = _rows({ind: parts})
    blank = (rows["niveau"] == "arm") & (rows["code"] == ARMS[2])
    rows.loc[blank, ["valeur", "statut"]] = [np.nan, SECRET]
    out, report = protect_real(rows, prov, cog)
    assert report.deduites == 1 and report.secondaire >= 1
    assert (out["statut"] == SECRET).sum() >= 2
    assert _attack(out) == []
