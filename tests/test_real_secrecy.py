"""Secrecy of real rows before the store: exact départemental files with counts of 1 to 4 (AAH by
age band, RSA by type with persons covered and amounts), their région and France totals; the
LP attacker of tests/attacker.py, given relations built here from the rows, recovers nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geodata.cog import Cog, load_cog
from geodata.sources import default_sources_dir
from layers.ingest.columns import series_id
from layers.model import COUNT
from layers.provenance import EXACT, PROVENANCE_COLUMNS, ROUNDED
from layers.real_secrecy import _tables, nature_of, per_value, protect_real
from layers.real_store import compact
from layers.store import PUBLISHED, SECRET, check_rows
from tests.attacker import Cells, Relation, attack, recovered

SOURCES = default_sources_dir()
pytestmark = pytest.mark.skipif(
    not (SOURCES / "territoires").is_dir(), reason=f"sources absentes : {SOURCES}"
)
PERIOD = "2024-12"
DEP, REG, FR = "departement", "region", "france"
AGES = ("Moins de 20 ans", "Entre 20 et 24 ans", "Entre 25 et 29 ans", "60 ans ou plus")
TYPES = ("RSA majoré", "RSA non majoré")


@pytest.fixture(scope="module")
def cog() -> Cog:
    return load_cog(SOURCES / "territoires")


def _series(field: str, dim: str, labels: tuple[str, ...]) -> list[tuple[str, str]]:
    """(store id, provenance field) of a field and its breakdown values."""
    return [(series_id(field), field)] + [
        (series_id(field, dim, v), f"{field}|{dim}={v}") for v in labels
    ]


def _sums(parts: dict[str, np.ndarray], deps: pd.DataFrame) -> list[tuple[str, str, dict]]:
    """(level, code, {label: value}) for départements, their régions and France."""
    out = [(DEP, d, {k: v[i] for k, v in parts.items()}) for i, d in enumerate(deps["code"])]
    for reg in sorted(set(deps["region"])):
        inside = (deps["region"] == reg).to_numpy()
        out.append((REG, reg, {k: v[inside].sum() for k, v in parts.items()}))
    out.append((FR, "FR", {k: v.sum() for k, v in parts.items()}))
    return out


def _table(field: str, dim: str, labels: tuple[str, ...], parts: dict, deps: pd.DataFrame):
    """Rows of a field broken down by `dim` at three levels, the total the sum of the parts."""
    ids = _series(field, dim, labels)
    rows = []
    for level, code, values in _sums(parts, deps):
        total = sum(values.values())
        for (sid, _), value in zip(ids, [total, *(values[v] for v in labels)], strict=True):
            rows.append((sid, level, code, PERIOD, float(value), PUBLISHED))
    prov = [
        (sid, lv, PERIOD, "test", champ, "", EXACT, 0)
        for sid, champ in ids
        for lv in (DEP, REG, FR)
    ]
    return rows, prov


def frame_key(rows: list[tuple], indicator: str, level: str, code: str) -> int:
    return next(i for i, r in enumerate(rows) if r[:3] == (indicator, level, code))


@pytest.fixture(scope="module")
def real(cog: Cog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """AAH beneficiaries by age band, RSA households / persons / amounts by type, per
    département (a few with 1 to 4), with their régions and France; a rounded communal series."""
    rng = np.random.default_rng(11)
    deps = cog.departements.sort_values("code").reset_index(drop=True)
    n = len(deps)
    ages = {a: rng.integers(40, 900, n) for a in AGES}
    ages[AGES[0]][rng.choice(n, 12, replace=False)] = rng.integers(1, 5, 12)
    households = {t: rng.integers(30, 4000, n) for t in TYPES}
    households[TYPES[0]][rng.choice(n, 9, replace=False)] = rng.integers(1, 5, 9)
    persons = {t: h * 2 + rng.integers(0, 3, n) for t, h in households.items()}
    amounts = {t: h * 600 + rng.integers(0, 500, n) for t, h in households.items()}
    rows, prov = [], []
    for field, dim, labels, parts in (
        ("indben_aah", "aah_age_5", AGES, ages),
        ("indfoy_rsa", "rsa_type", TYPES, households),
        ("indnbp_rsa", "rsa_type", TYPES, persons),
        ("indmtt_rsa", "rsa_type", TYPES, amounts),
    ):
        r, p = _table(field, dim, labels, parts, deps)
        rows += r
        prov += p
    # a communal file rounded to 5, one cell left blank: never touched
    rows += [
        ("rsa", "commune", c, PERIOD, v, PUBLISHED) for c, v in (("01004", 5.0), ("01053", 0.0))
    ]
    rows.append(("rsa", "commune", "01001", PERIOD, np.nan, SECRET))
    prov.append(("rsa", "commune", PERIOD, "test_f", "indfoy_rsa", "", ROUNDED, 5))
    # a cell of the exact file left blank by the portal: it stays blank, and protected
    blank = frame_key(rows, series_id("indben_aah", "aah_age_5", AGES[1]), DEP, "69")
    rows[blank] = (*rows[blank][:4], np.nan, SECRET)
    frame = pd.DataFrame(
        rows, columns=["indicateur", "niveau", "code", "periode", "valeur", "statut"]
    )
    return frame, pd.DataFrame(prov, columns=list(PROVENANCE_COLUMNS))


@pytest.fixture(scope="module")
def protected(real, cog: Cog):
    rows, prov = real
    return protect_real(rows, prov, cog)


def _relations(rows: pd.DataFrame, cog: Cog) -> list[Relation]:
    """Every sum the generator built, read from the rows (not from the code under test)."""
    region = dict(zip(cog.departements["code"], cog.departements["region"], strict=True))
    out = []
    at = rows[rows["niveau"] != "commune"]
    for ind, grp in at.groupby("indicateur"):
        deps = [(ind, DEP, c) for c in grp.loc[grp["niveau"] == DEP, "code"]]
        regs = [(ind, REG, c) for c in grp.loc[grp["niveau"] == REG, "code"]]
        out.append(Relation((ind, FR, "FR"), deps, True))
        out.append(Relation((ind, FR, "FR"), regs, True))
        for *_, code in regs:
            out.append(Relation((ind, REG, code), [d for d in deps if region[d[2]] == code], True))
    bases = {i.split(".")[0] for i in at["indicateur"] if "." in i}
    for base in bases:
        parts = sorted({i for i in at["indicateur"] if i.startswith(base + ".")})
        for level, code in at[["niveau", "code"]].drop_duplicates().itertuples(index=False):
            total = (series_id(base), level, code)
            out.append(Relation(total, [(p, level, code) for p in parts], True))
    return out


def _cells(rows: pd.DataFrame) -> Cells:
    cells = Cells()
    for r in rows.itertuples(index=False):
        key = (r.indicateur, r.niveau, r.code)
        cells.status[key] = "published" if r.statut == PUBLISHED else "secret"
        cells.value[key] = r.valeur if r.statut == PUBLISHED else None
    return cells


def test_no_count_below_the_threshold_is_published(real, protected) -> None:
    rows, _ = real
    out, report = protected
    small = rows["valeur"].between(1, 4) & rows["indicateur"].map(nature_of).eq(COUNT)
    assert small.sum() >= 21 and (out.loc[small, "statut"] == SECRET).all()
    published = out[out["statut"] == PUBLISHED]
    counts = published["indicateur"].map(nature_of).eq(COUNT)
    assert not published.loc[counts, "valeur"].between(1, 4).any()
    assert report.primaire == small.sum() and report.secondaire > 0
    assert out.loc[out["statut"] == SECRET, "valeur"].isna().all()
    check_rows(out)  # the store accepts them


def test_the_attacker_recovers_no_hidden_cell(protected, cog: Cog) -> None:
    out, _ = protected
    cells = _cells(out[out["niveau"] != "commune"])
    report, keys = attack(cells, _relations(out, cog), protection=5)
    assert len(cells.secret()) > 40
    assert recovered(cells, report, keys) == []


def test_persons_and_amounts_hidden_with_their_households(real, protected) -> None:
    out, report = protected
    status = out.set_index(["indicateur", "niveau", "code"])["statut"]
    small = real[0]["indicateur"].str.startswith("indfoy_rsa.") & real[0]["valeur"].between(1, 4)
    assert small.sum() >= 9
    for ind, level, code in (
        real[0].loc[small, ["indicateur", "niveau", "code"]].itertuples(index=False)
    ):
        suffix = ind.partition(".")[2]
        for field in ("indnbp_rsa", "indmtt_rsa"):
            assert status[(f"{field}.{suffix}", level, code)] == SECRET
    # amounts are never primary: each hidden household hides its amount through the link
    assert report.lies >= small.sum()
    assert "liée(s) aux mêmes foyers" in report.resume()


def test_rounded_rows_and_blanks_untouched(real, protected) -> None:
    out, report = protected
    com = out["niveau"] == "commune"
    pd.testing.assert_frame_equal(out[com], real[0][com])
    blank = real[0]["statut"] == SECRET
    assert blank.sum() == 2 and out.loc[blank, "valeur"].isna().all()
    assert (out.loc[blank, "statut"] == SECRET).all()
    # the exact file's blank is given back by its sums: taken as a hidden cell to protect
    assert report.deduites == 1 and "déductibles par différence" in report.resume()


def test_idempotent(protected, real, cog: Cog) -> None:
    out, _ = protected
    again, report = protect_real(out, real[1], cog)
    pd.testing.assert_frame_equal(again, out)
    assert report.masquees == 0
    # deterministic: the same rows give the same cells hidden
    pd.testing.assert_frame_equal(protect_real(*real, cog)[0], out)


def test_relations_with_a_rounded_total_are_skipped(cog: Cog) -> None:
    # départements exact, France rounded: no secondary cell through France
    deps = ["01", "02", "03"]
    rows = pd.DataFrame(
        [
            ("indben_aah", DEP, d, PERIOD, v, PUBLISHED)
            for d, v in zip(deps, (3.0, 40.0, 50.0), strict=True)
        ]
        + [("indben_aah", FR, "FR", PERIOD, 95.0, PUBLISHED)],
        columns=["indicateur", "niveau", "code", "periode", "valeur", "statut"],
    )
    prov = pd.DataFrame(
        [
            ("indben_aah", DEP, PERIOD, "d", "indben_aah", "", EXACT, 0),
            ("indben_aah", FR, PERIOD, "f", "indben_aah", "", ROUNDED, 5),
        ],
        columns=list(PROVENANCE_COLUMNS),
    )
    out, report = protect_real(rows, prov, cog)
    assert list(out["statut"]) == [SECRET, PUBLISHED, PUBLISHED, PUBLISHED]
    assert report.primaire == 1 and report.secondaire == 0 and report.relations == 0
    # the same France exact: one more département hidden
    exact = prov.assign(regime=EXACT, arrondi=0)
    rows.loc[3, "valeur"] = 93.0
    out, report = protect_real(rows, exact, cog)
    assert report.secondaire >= 1 and (out["statut"] == SECRET).sum() == 1 + report.secondaire


def _rows(cells: list[tuple[str, str, str, float, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(i, lv, c, PERIOD, v, s) for i, lv, c, v, s in cells],
        columns=["indicateur", "niveau", "code", "periode", "valeur", "statut"],
    )


def test_rate_hidden_with_its_count_and_missing_cells_left_alone(cog: Cog) -> None:
    rows = _rows(
        [
            ("rsa", DEP, "01", 3.0, PUBLISHED),
            ("allocataires", DEP, "01", 500.0, PUBLISHED),
            ("part_rsa", DEP, "01", 0.6, PUBLISHED),
            ("rsa", DEP, "02", 70.0, PUBLISHED),
            ("part_rsa", DEP, "02", 9.1, PUBLISHED),
            ("indnbp_rsa", DEP, "01", np.nan, "manquant"),
            ("tx_inconnu", DEP, "01", 2.0, PUBLISHED),  # a rate of no catalogue: not a count
        ]
    )
    # no provenance at all: every series taken as exact
    out, report = protect_real(rows, pd.DataFrame(columns=list(PROVENANCE_COLUMNS)), cog)
    assert list(out["statut"]) == [SECRET, PUBLISHED, SECRET, PUBLISHED, PUBLISHED] + [
        "manquant",
        PUBLISHED,
    ]
    assert (report.primaire, report.lies, report.secondaire) == (1, 1, 0)


def test_nature_of_series() -> None:
    assert nature_of("rsa") == COUNT and nature_of("rsa_montant") == "montant"
    assert nature_of("indben_aah.aah_age_5_moins_de_20_ans") == COUNT
    assert nature_of("tot_offre") == COUNT and nature_of("indmtt_aah") == "montant"
    assert nature_of("part_rsa") == "taux" and nature_of("txcouv_eaje") == "taux"
    assert nature_of("indfoy_inconnu") == COUNT and nature_of("champ_sans_prefixe") == COUNT


def test_rows_held_as_categories_hide_the_same_cells(real, protected, cog: Cog) -> None:
    # a sync hands its millions of rows over with their text as categories
    rows, prov = real
    out, report = protected
    again, again_report = protect_real(compact(rows), prov, cog)
    assert isinstance(again["code"].dtype, pd.CategoricalDtype)
    text = ["indicateur", "niveau", "code", "periode", "statut"]
    pd.testing.assert_frame_equal(again.astype(dict.fromkeys(text, str)), out)
    assert again_report == report and report.secondaire > 0


def test_tables_are_those_of_the_sorted_groupby() -> None:
    rows = pd.DataFrame(
        {
            "indicateur": ["b", "a", "x", "b", "a", "b", "a"],
            "periode": pd.Categorical(
                ["2024-12", "2023-12", "2024-12", "2023-12"] + ["2024-12"] * 3
            ),
            "raw": np.arange(7.0),
        },
        index=[10, 3, 7, 1, 5, 2, 8],
    )
    group = per_value(rows["indicateur"], lambda i: None if i == "x" else f"g{i}")
    assert group.isna().tolist() == [False, False, True, False, False, False, False]
    count, tables = _tables(rows, group)
    expected = [sub for _, sub in rows.groupby([group.astype(object), rows["periode"]])]
    got = list(tables)
    assert count == len(got) == len(expected) == 4
    for a, b in zip(got, expected, strict=True):
        pd.testing.assert_frame_equal(a, b)
