"""Statistical secrecy under attack: what the running app publishes must not pin a secret cell.

The attacker (tests/attacker.py) only uses HTTP: /api/v1/data at every level, its `parent=`
filters for who sums into whom, and public geography (the COG) to know which EPCI and régions
lie wholly inside the 4-département test cut (the others only bound their parts from above,
and so does France). Every secret cell must keep a feasible range of at least the protection
width (SECRECY.md). Then the exports (CSV, Excel, GeoJSON), the map route of the map and of the
embed view, and the data table callback must publish exactly the same cells, no more.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import urllib.request

import aiohttp
import numpy as np
import pytest
from attacker import (
    LEVELS,
    Cells,
    Linear,
    Relation,
    attack,
    download,
    get_json,
    members,
    recovered,
)
from conftest import FIXTURE_DEPARTEMENTS
from scipy.optimize import linprog

from bench.dash_client import DashSession
from geodata.cog import load_cog
from geodata.sources import default_sources_dir
from layers.catalogue import BREAKDOWNS, INDICATORS
from layers.model import COUNT

INDICATOR = "allocataires"  # foyers allocataires: the count every table is built around
PROTECTION = 5  # SECRECY.md: no secret cell pinned or narrower than the threshold


@pytest.fixture(scope="module")
def catalog(live_app) -> dict[str, dict]:
    return {i["id"]: i for i in get_json(live_app.url, "/api/v1/catalog")["indicators"]}


def levels_with(catalog: dict[str, dict], indicator: str, period: str) -> list[str]:
    by_level = catalog[indicator]["periods_by_level"]
    return [lv for lv in LEVELS if period in by_level.get(lv, [])]


@pytest.fixture(scope="module")
def period(catalog: dict[str, dict]) -> str:
    return catalog[INDICATOR]["periods_by_level"]["commune"][-1]


@pytest.fixture(scope="module")
def levels(catalog: dict[str, dict], period: str) -> list[str]:
    return levels_with(catalog, INDICATOR, period)


@pytest.fixture(scope="module")
def cells(live_app, period: str, levels: list[str]) -> Cells:
    return download(live_app.url, INDICATOR, period, levels)


Place = tuple[str, str]  # (level, code)


@pytest.fixture(scope="module")
def geography(live_app, cells: Cells, period: str) -> list[tuple[Place, list[Place], bool]]:
    """Who sums into whom, as an outsider can establish it, valid inside the cut:
    (total, parts, exact); not exact means the parts add up to at most the total."""
    base = live_app.url
    cog = load_cog(default_sources_dir() / "territoires")
    cut = set(FIXTURE_DEPARTEMENTS)
    by_level: dict[str, list[str]] = {}
    for _, level, code in cells.status:
        by_level.setdefault(level, []).append(code)

    def rel(level: str, code: str, part_level: str, exact: bool):
        parts = members(base, INDICATOR, period, part_level, f"{level}:{code}")
        return (level, code), [(part_level, p) for p in parts], exact

    out = []
    # The cut holds whole départements: each is exactly the sum of its communes, and so is
    # each Caf (one per département here).
    out += [rel("departement", d, "commune", True) for d in by_level.get("departement", [])]
    out += [rel("caf", c, "commune", True) for c in by_level.get("caf", [])]
    epci_deps = cog.communes.groupby("epci")["departement"].agg(set)
    for e in by_level.get("epci", []):
        inside = e in epci_deps.index and epci_deps[e] <= cut
        out.append(rel("epci", e, "commune", inside))
    region_deps = cog.departements.groupby("region")["code"].agg(set)
    for r in by_level.get("region", []):
        inside = r in region_deps.index and region_deps[r] <= cut
        out.append(rel("region", r, "departement", inside))
    if by_level.get("france"):  # the cut is a small part of France: a lower bound only
        out.append((("france", "FR"), [("region", r) for r in by_level.get("region", [])], False))
    # The IRIS of a commune cover it (INSEE's definition; the cut holds whole communes, and a
    # commune not split is one IRIS): they add up to it. QPV only lie within their commune.
    for level in ("iris", "qpv"):
        communes = set()
        for code in by_level.get(level, []):
            terr = get_json(base, f"/api/v1/territories/{level}/{code}")
            communes.add(terr["parents"]["commune"]["code"])
        out += [rel("commune", c, level, level == "iris") for c in sorted(communes)]
    # The municipal arrondissements make up their city exactly; the « communes et
    # arrondissements » view repeats the cells of both levels.
    cities = {
        get_json(base, f"/api/v1/territories/arm/{code}")["parents"]["commune"]["code"]
        for code in by_level.get("arm", [])
    }
    out += [rel("commune", c, "arm", True) for c in sorted(cities)]
    arms = set(by_level.get("arm", []))
    for code in by_level.get("commune_arm", []):
        out.append((("commune_arm", code), [("arm" if code in arms else "commune", code)], True))
    return out


def table_relations(geo, cells: Cells, table: tuple[str, ...]) -> list[Relation]:
    """The geographic relations for every indicator of the table, and per territory the
    total = sum of its breakdown (the first indicator is the total)."""
    out = [
        Relation((ind, *total), [(ind, *p) for p in parts], exact)
        for ind in table
        for total, parts, exact in geo
    ]
    total, *parts = table
    for key in [k for k in cells.status if k[0] == total]:
        for group in _groups(parts):
            pieces = [(ind, key[1], key[2]) for ind in group]
            if all(p in cells.status for p in pieces):
                out.append(Relation(key, pieces, True))
    return out


def _groups(parts: list[str]) -> list[list[str]]:
    """Breakdowns of a total among `parts` (family types; QF bands; housing benefits)."""
    return [
        [p for p in parts if p in group]
        for group in BREAKDOWNS.values()
        if set(group) <= set(parts)
    ]


@pytest.fixture(scope="module")
def relations(geography, cells: Cells) -> list[Relation]:
    return table_relations(geography, cells, (INDICATOR,))


def test_the_attacker_has_material(cells: Cells, relations: list[Relation]) -> None:
    assert len(cells.secret()) > 10, "pas de cellule secrète : l'attaque ne prouve rien"
    assert sum(r.exact for r in relations) > 10
    for rel in relations:
        assert rel.parts, f"{rel.total} : aucune partie"
    for k in cells.secret():
        assert cells.value[k] is None, f"{k} : une cellule secrète porte une valeur"


def _tables() -> list[tuple[str, ...]]:
    """The linked tables (a total and its breakdowns), then every other count alone."""
    linked = [
        (t, *BREAKDOWNS[t], *BREAKDOWNS.get(t + "@qf", ()))
        for t in ("allocataires", "aides_logement")
    ]
    inside = {i for t in linked for i in t}
    return linked + [(i.id,) for i in INDICATORS if i.nature == COUNT and i.id not in inside]


@pytest.mark.parametrize("table", _tables(), ids="+".join)
def test_no_secret_cell_is_recovered_from_the_api(
    live_app, catalog, geography, period: str, table: tuple[str, ...]
) -> None:
    data = Cells()
    for ind in table:
        got = download(live_app.url, ind, period, levels_with(catalog, ind, period))
        if not got.status:
            pytest.skip(f"{ind} : pas de données pour {period}")
        data.status.update(got.status)
        data.value.update(got.value)
    rels = table_relations(geography, data, table)
    _check_relations(data, rels)
    report, keys = attack(data, rels, PROTECTION)
    assert report.infeasible_components == 0, "relations fausses : le système est infaisable"
    found = recovered(data, report, keys)
    assert not found, "SECRET ROMPU : " + "; ".join(
        f"{k[0]} {k[1]} {k[2]} dans [{lo:g}, {hi:g}]" for k, lo, hi in found[:10]
    )
    # narrowest exact range over every unpublished cell (secret, missing or not applicable)
    lo, hi = report.narrowest[1:] if report.narrowest else (np.inf, np.inf)
    print(
        f"\n{'+'.join(table)} : {len(data.status)} cellules, {len(data.secret())} secrètes, "
        f"{len(rels)} relations, {report.lp_solves} PL ; intervalle le plus étroit : "
        f"[{lo:g}, {hi:g}] ({report.seconds:.1f} s)"
    )


def _feasible_point(cells: Cells, relations: list[Relation]) -> dict:
    """Some values of the hidden cells consistent with everything published."""
    hidden = sorted(
        {k for r in relations for k in (r.total, *r.parts) if cells.status.get(k) != "published"}
    )
    col = {k: i for i, k in enumerate(hidden)}
    a_eq, b_eq, a_ub, b_ub = [], [], [], []
    for rel in relations:
        row, const = np.zeros(len(hidden)), 0.0
        for k, sign in [(rel.total, -1.0)] + [(p, 1.0) for p in rel.parts]:
            if k in col:
                row[col[k]] += sign
            else:
                const += sign * cells.value[k]
        (a_eq if rel.exact else a_ub).append(row)
        (b_eq if rel.exact else b_ub).append(-const)
    res = linprog(
        np.ones(len(hidden)),
        A_eq=a_eq,
        b_eq=b_eq,
        A_ub=a_ub or None,
        b_ub=b_ub or None,
        bounds=(0, None),
        method="highs",
    )
    assert res.status == 0, res.message
    return {k: float(res.x[i]) for k, i in col.items()}


def test_the_attacker_pins_a_leaked_cell(cells: Cells, relations: list[Relation]) -> None:
    """Test of the test: publish all but one secret cell of a relation (consistently) and the
    attacker must recover the last one."""
    x = _feasible_point(cells, relations)
    rel = next(
        r
        for r in relations
        if r.exact and sum(cells.status[k] == "secret" for k in (r.total, *r.parts)) >= 2
    )
    secret = [k for k in (rel.total, *rel.parts) if cells.status[k] == "secret"]
    target, leaked = secret[0], secret[1:]
    copy = Cells(dict(cells.status), dict(cells.value))
    for k in leaked:
        copy.status[k], copy.value[k] = "published", round(x[k], 6)
    report, keys = attack(copy, relations, PROTECTION)
    found = {k: (lo, hi) for k, lo, hi in recovered(copy, report, keys)}
    assert target in found, f"l'attaquant n'a pas retrouvé {target}"
    lo, hi = found[target]
    assert hi - lo < 1e-6 and abs(lo - x[target]) < 1e-4


# --------------------------------------------------------------------------------------------
# Every other way out publishes the same cells


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return resp.read()


def _api_cells(cells: Cells, level: str) -> dict[str, tuple[str, float | None]]:
    return {
        c: (s, cells.value[(i, lv, c)]) for (i, lv, c), s in cells.status.items() if lv == level
    }


def _number(text: str) -> float | None:
    return None if text == "" else float(text.replace(",", "."))


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson"])
def test_exports_publish_exactly_the_api_cells(
    live_app, cells: Cells, levels: list[str], period: str, fmt: str
) -> None:
    from openpyxl import load_workbook

    for level in levels:
        url = (
            f"{live_app.url}/api/v1/data?indicator={INDICATOR}&level={level}"
            f"&period={period}&format={fmt}"
        )
        body = _fetch(url)
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
            got = {r["code"]: (r["statut"], _number(r["valeur"])) for r in rows}
        elif fmt == "xlsx":
            ws = load_workbook(io.BytesIO(body), read_only=True)["donnees"]
            it = ws.iter_rows(values_only=True)
            head = next(it)
            rows = [dict(zip(head, r, strict=True)) for r in it]
            got = {r["code"]: (r["statut"], r["valeur"]) for r in rows}
        else:
            feats = json.loads(body)["features"]
            got = {
                f["properties"]["code"]: (f["properties"]["statut"], f["properties"]["valeur"])
                for f in feats
            }
        assert got == _api_cells(cells, level), f"{fmt} {level} : cellules différentes de l'API"


@pytest.mark.parametrize("page", ["carte", "embed"])
def test_map_values_carry_no_secret(
    live_app, cells: Cells, levels: list[str], period: str, page: str
) -> None:
    """/api/carte/<level> (map and embed view): values, classes and ranks of the published
    cells only; a secret cell has no value, no rank, and the secret class."""
    for level in levels:
        query = f"indicateur={INDICATOR}&periode={period}"
        if page == "embed":  # the embed view asks its values through its own map spec
            query += "&palette=RdBu&classes=4&representation=cercles"
        doc = json.loads(_fetch(f"{live_app.url}/api/carte/{level}?{query}"))
        codes = [
            f["properties"]["code"]
            for f in json.loads(
                _fetch(
                    f"{live_app.url}/api/v1/data?indicator={INDICATOR}&level={level}"
                    f"&period={period}&format=geojson"
                )
            )["features"]
        ]
        api = _api_cells(cells, level)
        assert len(doc["valeurs"]) == len(codes)
        for i, code in enumerate(codes):
            status, value = api[code]
            if status == "published":
                assert doc["valeurs"][i] == pytest.approx(value), (level, code)
                continue
            assert doc["valeurs"][i] is None, f"{level} {code} : valeur d'une cellule {status}"
            assert doc["rangs"][i] is None, f"{level} {code} : rang d'une cellule {status}"
            assert doc["classes"][i] < 0, f"{level} {code} : classe d'une cellule {status}"
            if "rayons" in doc:
                assert doc["rayons"][i] is None, f"{level} {code} : cercle d'une cellule {status}"


def test_data_table_callback_carries_no_secret(live_app, cells: Cells, period: str) -> None:
    """The explore page's data table (a Dash callback) shows 'secret', never a number."""

    async def run() -> dict:
        async with aiohttp.ClientSession() as http:

            async def send(method: str, path: str, body=None):
                async with http.request(method, live_app.url + path, json=body) as resp:
                    out = await resp.json() if resp.status == 200 else None
                    calls.append((body or {}).get("output", path)[:60] + f" {resp.status}")
                    return resp.status, out

            _, deps = await send("GET", "/_dash-dependencies")
            tab = DashSession(deps, send)
            await tab.open_page("/", f"?indicateur={INDICATOR}&niveau=commune&periode={period}")
            # the user's choices in the panel (whatever the page's defaults are)
            for cid, value in (
                ("indicateur", INDICATOR),
                ("niveau", "commune"),
                ("periode", period),
                ("filtre", None),
            ):
                tab.props[(cid, "value")] = value
            await tab.set("bloc-table", "open", True)
            return tab.props

    calls: list[str] = []
    props = asyncio.run(run())
    rows = props.get(("table-vue", "data"))
    table = str(props.get(("table-donnees", "children")))[:300]
    assert rows, f"le tableau de données n'a pas été rendu : {calls} {table} {period}"
    api = _api_cells(cells, "commune")
    for row in rows:
        status, value = api[row["code"]]
        if status != "published":
            assert row["tri"] is None and not any(ch.isdigit() for ch in row["valeur"]), row


def _check_relations(cells: Cells, relations: list[Relation]) -> None:
    """Sanity of the attacker's model: where every cell of an exact relation is published,
    the published values add up (else the attack would reason on false equations)."""
    for rel in relations:
        keys = (rel.total, *rel.parts)
        if rel.exact and all(cells.status.get(k) == "published" for k in keys):
            total = cells.value[rel.total]
            assert sum(cells.value[p] for p in rel.parts) == pytest.approx(total), rel.total


# --------------------------------------------------------------------------------------------
# Linked tables: households, the persons they cover, the amounts they are paid, and the rates


LINKED_COUNTS = ("allocataires", "personnes_couvertes", "rsa")
AMOUNT, SHARE, POPULATION_SHARE = "rsa_montant", "part_rsa", "taux_personnes_couvertes"
# Public facts an attacker may use: a household counts at least one person, no household is
# paid more than this much RSA in a month (a generous ceiling).
MAX_MONTHLY_RSA = 3000.0


def _rate_rows(data: Cells, rate: str, num: str, den: str) -> list[Linear]:
    """A published rate s = round(100 num / den, 1): 100 num - (s +/- 0.05) den within 0."""
    out = []
    for (ind, level, code), status in data.status.items():
        value = data.value[(ind, level, code)]
        if ind != rate or status != "published" or value is None:
            continue
        n, d = (num, level, code), (den, level, code)
        if n not in data.status or d not in data.status:
            continue
        out.append(Linear({n: 100.0, d: -(value + 0.05)}))
        out.append(Linear({n: -100.0, d: value - 0.05}))
    return out


def _pairs(data: Cells, small: str, big: str, factor: float = 1.0) -> list[Linear]:
    """small <= factor * big, territory by territory."""
    return [
        Linear({(small, lv, code): 1.0, (big, lv, code): -factor})
        for (ind, lv, code) in list(data.status)
        if ind == small and (big, lv, code) in data.status
    ]


def test_linked_tables_give_no_household_back(
    live_app, settings, catalog, geography, period: str
) -> None:
    """The LP attacker over households, persons covered, RSA households and amounts, the share
    of RSA households and the share of the population covered (with the public populations):
    no secret cell pinned or narrower than the protection width."""
    import pandas as pd

    from geodata.cache import active_dir

    data = Cells()
    for ind in (*LINKED_COUNTS, AMOUNT, SHARE, POPULATION_SHARE):
        got = download(live_app.url, ind, period, levels_with(catalog, ind, period))
        data.status.update(got.status)
        data.value.update(got.value)
    geo_file = active_dir(settings.cache) / "geo" / "commune.parquet"
    population = pd.read_parquet(geo_file, columns=["code", "population"]).dropna()
    for code, pop in population.itertuples(index=False):
        data.status[("population", "commune", code)] = "published"
        data.value[("population", "commune", code)] = float(pop)
    rels: list = []
    for ind in (*LINKED_COUNTS, AMOUNT):
        rels += table_relations(geography, data, (ind,))
    rels += _pairs(data, "allocataires", "personnes_couvertes")
    rels += _pairs(data, "rsa", "allocataires")
    rels += _pairs(data, AMOUNT, "rsa", MAX_MONTHLY_RSA)
    rels += _rate_rows(data, SHARE, "rsa", "allocataires")
    rels += _rate_rows(data, POPULATION_SHARE, "personnes_couvertes", "population")
    rounding = {k: 100.0 for k in data.status if k[0] == AMOUNT}
    secret = data.secret()
    assert sum(k[0] == "allocataires" for k in secret) > 10
    assert sum(k[0] == "personnes_couvertes" for k in secret) > 10
    report, keys = attack(data, rels, PROTECTION, rounding)
    assert report.infeasible_components == 0, "relations fausses : le système est infaisable"
    found = recovered(data, report, keys)
    assert not found, "SECRET ROMPU : " + "; ".join(
        f"{k[0]} {k[1]} {k[2]} dans [{lo:g}, {hi:g}]" for k, lo, hi in found[:10]
    )
    print(
        f"\ntables liées : {len(data.status)} cellules, {len(secret)} secrètes, {len(rels)} "
        f"relations, {report.lp_solves} PL ({report.seconds:.1f} s)"
    )
