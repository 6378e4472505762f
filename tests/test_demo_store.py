"""Demonstration cells through secrecy, on a real cut (Marne): published rows and the audit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geodata.cog import load_cog
from geodata.levels import build_communes, read_commune_polygons
from geodata.sources import default_sources_dir
from layers.audit import audit
from layers.demo import generate
from layers.demo_store import publish_demo
from layers.publish import build_table, protect_table, territories
from layers.secrecy import primary_mask
from layers.store import NOT_APPLICABLE, PUBLISHED, SECRET, check_rows

SOURCES = default_sources_dir()
pytestmark = pytest.mark.skipif(
    not (SOURCES / "geo" / "communes-2018").is_dir(), reason=f"sources absentes : {SOURCES}"
)
CUT = ["51"]


@pytest.fixture(scope="module")
def data():
    cog = load_cog(SOURCES / "territoires")
    cog.communes = cog.communes[cog.communes["departement"].isin(CUT)]
    gdf, _ = build_communes(read_commune_polygons(SOURCES / "geo" / "communes-2018", CUT), cog)
    return generate(pd.DataFrame(gdf.drop(columns="geometry")))


@pytest.fixture(scope="module")
def published(data):
    rows, meta = publish_demo(
        data, periods=["2015-12", "2024-12", "2025-03"], workers=1, log=lambda _: None
    )
    return check_rows(rows), meta


def test_every_cell_is_published_or_secret_without_value(published) -> None:
    rows, meta = published
    secret = rows["statut"] == SECRET
    assert secret.sum() > 0 and rows.loc[secret, "valeur"].isna().all()
    assert rows.loc[rows["statut"] == PUBLISHED, "valeur"].notna().all()
    assert meta["mode"] == "demonstration" and "démonstration" in meta["avertissement"]
    assert {"commune", "epci", "departement", "region", "caf", "france"} <= set(rows["niveau"])
    # quarterly periods carry no commune
    assert not ((rows["periode"] == "2025-03") & (rows["niveau"] == "commune")).any()


def test_small_counts_are_never_published(published) -> None:
    rows, _ = published
    counts = rows[rows["indicateur"].isin(["rsa", "cf", "asf", "aah", "allocataires"])]
    shown = counts.loc[counts["statut"] == PUBLISHED, "valeur"]
    assert not ((shown > 0) & (shown < 5)).any()


def test_two_processes_publish_the_same_rows_as_one(data, published) -> None:
    """The pool starts the longest tables first and gathers them as they end: the rows, their
    order and the statistics must not depend on it."""
    rows, meta = publish_demo(
        data, periods=["2015-12", "2024-12", "2025-03"], workers=2, log=lambda _: None
    )
    pd.testing.assert_frame_equal(check_rows(rows), published[0])
    for key in ("cells", "primary", "secondary", "tables"):
        assert meta["secret"][key] == published[1]["secret"][key]


def test_secrecy_bar_counts_tables_and_estimates_by_weight() -> None:
    """One big table done of a big and ten small ones: the wait left is the small ones' weight
    at the pace of the big one, not ten times a big table, and the bar shows nine tenths of the
    work done, not one table in eleven (9 %)."""
    import io
    import time

    from layers.progress import WeightedBar

    out = io.StringIO()
    bar = WeightedBar(
        "secret statistique", [90.0] + [1.0] * 10, unit="tableaux", stream=out, tty=False
    )
    bar.started = time.monotonic() - 90.0
    bar.add(90.0)
    assert bar.done == 1 and bar.total == 11
    assert 9.0 <= bar.remaining_s() < 12.0
    assert "1/11 tableaux (90 %)" in out.getvalue()
    for _ in range(10):
        bar.add(1.0)
    bar.close()
    assert "11/11 tableaux (100 %)" in out.getvalue()


def test_rates_are_hidden_with_their_numerator(published) -> None:
    rows, _ = published
    key = ["niveau", "code", "periode"]
    rsa = rows[rows["indicateur"] == "rsa"].set_index(key)["statut"]
    part = rows[rows["indicateur"] == "part_rsa"].set_index(key)["statut"]
    both = pd.concat([rsa.rename("n"), part.rename("r")], axis=1).dropna()
    assert ((both["n"] == SECRET) <= (both["r"] == SECRET)).all()
    ppa_2015 = rows[(rows["indicateur"] == "ppa") & (rows["periode"] == "2015-12")]
    assert (ppa_2015["statut"] == NOT_APPLICABLE).all()


@pytest.mark.parametrize(
    ("columns", "weak_fails"),
    [(("cf",), False), (("aah",), True), (("aides_logement", "apl", "alf", "als"), True)],
)
def test_audit_passes_on_published_cells_and_fails_on_primary_only(
    data, columns, weak_fails
) -> None:
    period = data.periods.index("2024-12")
    terr = territories(data, local=True)
    table = build_table(data, terr, columns, period, True)
    hidden, _ = protect_table(table)
    published = np.where(hidden, np.nan, table.values)
    report = audit(published, table.relations, hidden, protection=5)
    assert report.ok, report.summary()
    weak = primary_mask(table.values, 5, zone_kind=table.zone_kind, allocataires=table.allocataires)
    weak_report = audit(np.where(weak, np.nan, table.values), table.relations, weak)
    # Primary suppression alone leaves cells recoverable wherever few cells are small.
    assert weak_report.ok is not weak_fails


def test_quarterly_table_links_caf_and_departements(data) -> None:
    period = data.periods.index("2025-03")
    terr = territories(data, local=False)
    table = build_table(data, terr, ("rsa",), period, False)
    assert set(terr.level) == {"departement", "region", "caf", "france"}
    # région = sum of départements, France = sum of départements, Caf 51 = département 51
    assert table.relations.eq.shape[0] == 3
    assert np.allclose(table.relations.eq @ table.values, 0)


def test_store_fingerprint_covers_exactly_what_builds_the_store() -> None:
    """Every `layers` module that building the store imports is hashed; pages are not."""
    import subprocess
    import sys

    from layers.build_store import store_modules

    root = store_modules()[0].parent
    while root.name != "layers":
        root = root.parent
    hashed = {
        ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for p in store_modules()
    }
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, layers.build_store; "
            "print(' '.join(m.split('.', 1)[1] for m in sys.modules if m.startswith('layers.')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set(out) <= hashed, set(out) - hashed
    assert {"secrecy", "demo", "store"} <= hashed
    assert not {"views", "profile", "map_payload", "export_tables"} & hashed


def test_hidden_masks_read_pieces_over_other_territories(data) -> None:
    """A rounded period's mask comes in two pieces (national levels, then local ones): read over
    the local territories, each territory gets its own piece's flag, and one no piece covers
    reads hidden."""
    from layers.demo_masks import HiddenMasks

    national = territories(data, local=False)
    local = territories(data, local=True)
    masks = HiddenMasks()
    assert masks.over((0, "rsa"), local) is None
    flags = np.arange(len(national)) % 2 == 0
    masks.add((0, "rsa"), national, np.arange(len(national)), flags)
    communes = np.flatnonzero(local.level == "commune")
    masks.add((0, "rsa"), local, communes[1:], np.zeros(communes.size - 1, dtype=bool))
    got = masks.over((0, "rsa"), local)
    keys = list(zip(local.level, local.code, strict=True))
    for i, key in enumerate(zip(national.level, national.code, strict=True)):
        assert got[keys.index(key)] == flags[i]
    assert got[communes[0]] and not got[communes[1:]].any()
    assert got[local.level == "epci"].all()  # no piece covers the EPCI
    assert (0, "rsa") in masks and (1, "rsa") not in masks
