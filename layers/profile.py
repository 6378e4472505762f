"""The territory profile ("fiche territoire") as typed, immutable data.

`profile()` reads a `Store` and a `TerritoryIndex` and returns a `Profile`: frozen dataclasses
and tuples, French texts included, for the Dash page, the PDF export and the atlas alike (the
cached profile is shared between requests, hence immutable). A hidden cell (secret, missing,
not applicable) keeps its status and its French text with a `value` of None: never 0, never
interpolated, and no rank, change nor share is computed from it. The Plotly figures built from
this data are in `layers.profile_figures`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from layers.catalogue import BY_ID, CATEGORIES, INDICATORS
from layers.classify import format_fr
from layers.model import LEVEL, LEVELS, REFERENCE_LEVELS, Indicator, level_name, parent_levels
from layers.provenance import Provenance
from layers.series_notes import APPROX, is_approximate, note, provenance_of, source_line
from layers.store import MISSING, NOT_APPLICABLE, PUBLISHED, SECRET, Store
from layers.territory_index import TerritoryIndex
from layers.views import STATUS_FR, ViewError, indicator, period_text, value_text

SOURCE_LINE = "Source : Cnaf, fichier FILEAS - BENETRIM ; Insee ; IGN"
COMPOSITION = ("isoles", "monoparentales", "couples_sans_enfant", "couples_avec_enfants")
COMPOSITION_FR = {
    "isoles": "Isolés sans enfant",
    "monoparentales": "Familles monoparentales",
    "couples_sans_enfant": "Couples sans enfant",
    "couples_avec_enfants": "Couples avec enfant(s)",
}
BENEFITS = (
    "af",
    "cf",
    "asf",
    "ars",
    "paje",
    "aides_logement",
    "apl",
    "alf",
    "als",
    "rsa",
    "ppa",
    "aah",
    "aeeh",
)
BENEFIT_SHORT_FR = {
    "af": "Allocations familiales (AF)",
    "cf": "Complément familial (CF)",
    "asf": "Allocation de soutien familial (ASF)",
    "ars": "Allocation de rentrée scolaire (ARS)",
    "paje": "Prestation d'accueil du jeune enfant (PAJE)",
    "aides_logement": "Aides personnelles au logement",
    "apl": "Aide personnalisée au logement (APL)",
    "alf": "Allocation de logement familiale (ALF)",
    "als": "Allocation de logement sociale (ALS)",
    "rsa": "Revenu de solidarité active (RSA)",
    "ppa": "Prime d'activité",
    "aah": "Allocation aux adultes handicapés (AAH)",
    "aeeh": "Allocation d'éducation de l'enfant handicapé (AEEH)",
}
NEIGHBOUR_DEFAULTS = ("part_aides_logement", "taux_personnes_couvertes", "allocataires")
# From the composite views (« communes et arrondissements »): the city each part (an
# arrondissement) belongs to, its first reference; and the view its neighbours are found in.
CITY_OF_PART = {lv.composite[1]: lv.composite[0] for lv in LEVELS if lv.composite}
PART_NEIGHBOURS = {lv.composite[1]: lv.code for lv in LEVELS if lv.composite}


# ---------------------------------------------------------------------------------------------
# Types (frozen, tuples only: the cached profile is shared between requests)


def as_number(value: Any) -> float | None:
    """A float, or None for None, NaN or anything that is not a number (never 0)."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


@dataclass(frozen=True, slots=True)
class Cell:
    """One value as every consumer shows it. A hidden cell (secret, missing, not applicable)
    has `value` None and keeps its `status` and its French `text` (« secret »...)."""

    indicator: str
    title: str
    unit: str
    period: str | None
    value: float | None
    status: str
    text: str  # French: « 1 234 foyers », « 12,3 % », « secret », « pas de données »

    @classmethod
    def of(cls, ind: Indicator, period: str | None, value: Any, status: str | None) -> Cell:
        """The cell of a stored (value, status): a value only when published and a number."""
        status = status or MISSING
        v = as_number(value) if status == PUBLISHED else None
        if status == PUBLISHED and v is None:
            status = MISSING
        return cls(ind.id, ind.title, ind.unit, period, v, status, value_text(v, status, ind))


@dataclass(frozen=True, slots=True)
class Evolution:
    """First and latest published values of a series and the change between them."""

    start: Cell
    end: Cell
    change: float  # in the unit, percentage points for a rate
    change_pct: float | None  # None for a rate, or from a zero start
    text: str  # « +1 234 foyers (+5,6 %) entre décembre 2021 et décembre 2024 »


@dataclass(frozen=True, slots=True)
class Rank:
    """1 = highest published value of the set; `total` counts published values only."""

    rank: int
    total: int
    text: str  # « 3 sur 59 »
    epci: str | None = None  # the EPCI whose communes are ranked


@dataclass(frozen=True, slots=True)
class ParentRef:
    """A territory containing the profile's one (nearest first), France included."""

    level: str
    level_label: str  # « département », « EPCI »...
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Reference:
    """An indicator's cell for one of the reference territories (EPCI, département...)."""

    parent: ParentRef
    cell: Cell


@dataclass(frozen=True, slots=True)
class Identity:
    level: str
    level_label: str
    code: str
    name: str
    parents: tuple[ParentRef, ...]  # nearest first, France last
    population: float | None
    population_text: str  # "" when unknown, like the two other texts
    area_km2: float | None
    area_text: str
    density: float | None
    density_text: str
    postal_codes: tuple[str, ...]
    # The municipal arrondissements of Paris, Lyon or Marseille (links on the city's profile).
    parts: tuple[ParentRef, ...] = ()


@dataclass(frozen=True, slots=True)
class CompositionRow:
    label: str
    cell: Cell
    share: float | None  # % of the allocataires; None unless both counts are published
    share_text: str


@dataclass(frozen=True, slots=True)
class BenefitRow:
    label: str
    cell: Cell


@dataclass(frozen=True, slots=True)
class KeyFigures:
    period: str | None  # latest period of the allocataires at the level
    period_label: str
    recipients: Cell  # foyers allocataires
    covered_people: Cell
    coverage_rate: Cell
    composition: tuple[CompositionRow, ...]
    benefits: tuple[BenefitRow, ...]  # published (largest first), then secret ones

    @property
    def headline(self) -> tuple[Cell, Cell, Cell]:
        return (self.recipients, self.covered_people, self.coverage_rate)


@dataclass(frozen=True, slots=True)
class IndicatorRow:
    """An indicator of a theme: the territory's cell, its references, rank and evolution."""

    cell: Cell
    nature: str
    subtheme: str
    references: tuple[Reference, ...]
    epci_rank: Rank | None  # communes only; None for a hidden value
    evolution: Evolution | None  # None with fewer than two published values
    source: str = ""  # « Source : Cnaf, data.caf.fr, jeu … » when the store knows it
    note: str = ""  # disclosure regime (« Valeurs arrondies à 5 … »)


@dataclass(frozen=True, slots=True)
class Theme:
    category: str
    name: str
    rows: tuple[IndicatorRow, ...]


@dataclass(frozen=True, slots=True)
class NeighbourRow:
    code: str
    name: str
    is_territory: bool  # the profile's own territory
    cell: Cell


@dataclass(frozen=True, slots=True)
class Neighbours:
    """The territory and its neighbours for one indicator: published highest first, hidden
    cells after."""

    indicator: str
    title: str
    unit: str
    nature: str
    period: str | None
    period_label: str
    rows: tuple[NeighbourRow, ...]


@dataclass(frozen=True, slots=True)
class Profile:
    identity: Identity
    key_figures: KeyFigures
    themes: tuple[Theme, ...]
    neighbours: Neighbours | None  # None for France or without any neighbour indicator
    references: tuple[ParentRef, ...]  # the context columns, nearest first
    source: str
    notice: str | None  # the demonstration notice, None for real data

    @property
    def period(self) -> str | None:
        return self.key_figures.period

    @property
    def period_label(self) -> str:
        return self.key_figures.period_label

    @property
    def demo(self) -> bool:
        return self.notice is not None

    def indicator_rows(self) -> Iterator[IndicatorRow]:
        """Every theme's rows, in page order."""
        return (row for theme in self.themes for row in theme.rows)


# ---------------------------------------------------------------------------------------------
# Cells, changes and ranks


def _signed(value: float, ndigits: int) -> str:
    text = format_fr(value, ndigits)
    if text.startswith("-"):
        return "\u2212" + text[1:]  # a real minus sign
    return text if float(value) == 0 or text.lstrip("0,") == "" else "+" + text


def evolution(ind: Indicator, rows: pd.DataFrame) -> Evolution | None:
    """First and latest published values of a series, and the change between them.

    `rows`: periode, valeur, statut of one territory. Rates change in percentage points,
    counts and amounts in their unit and in per cent. None with fewer than two published values.
    """
    pub = rows[rows["statut"] == PUBLISHED].sort_values("periode")
    pairs = list(zip(pub["periode"].astype(str), pub["valeur"], strict=True))
    return _evolution(ind, pairs)


def _evolution(ind: Indicator, published: list[tuple[str, Any]]) -> Evolution | None:
    """`evolution()` from the published (period, value) pairs, oldest first."""
    if len(published) < 2:
        return None
    (p0, first), (p1, last) = published[0], published[-1]
    v0, v1 = float(first), float(last)
    diff = v1 - v0
    nd = ind.decimals
    if ind.is_rate:
        pct = None
        plural = "points" if abs(round(diff, nd)) >= 2 else "point"
        text = f"{_signed(diff, nd)}\u00a0{plural}"
    else:
        pct = diff / v0 * 100 if v0 else None
        text = f"{_signed(diff, nd)}\u00a0{ind.unit}"
        if pct is not None:
            text += f" ({_signed(pct, 1)}\u00a0%)"
    return Evolution(
        start=Cell.of(ind, p0, v0, PUBLISHED),
        end=Cell.of(ind, p1, v1, PUBLISHED),
        change=diff,
        change_pct=pct,
        text=f"{text} entre {period_text(p0)} et {period_text(p1)}",
    )


def rank_in(own_code: str, cells: pd.DataFrame) -> Rank | None:
    """Rank of a territory among `cells` (code, valeur, statut): 1 = highest published value,
    ties share the best rank; N counts only published values. None when the territory's own
    value is hidden."""
    pub = cells[cells["statut"] == PUBLISHED]
    mine = pub.loc[pub["code"] == own_code, "valeur"]
    return _rank(float(mine.iloc[0]) if len(mine) else None, pub["valeur"].astype(float))


def _rank(own: float | None, published: pd.Series | None, epci: str | None = None) -> Rank | None:
    """Rank from the territory's value (None: hidden) and its set's published values."""
    if own is None or published is None:
        return None
    rank = 1 + int((published > own).sum())
    total = int(len(published))
    return Rank(rank, total, f"{rank} sur {total}", epci)


def _at(df: pd.DataFrame, level: str, code: str, period: str | None) -> pd.Series | None:
    try:  # `_fetch` indexes by (niveau, code, periode): a lookup, not a scan per cell
        row = df.loc[(level, code, period)]
    except KeyError:
        return None
    return row.iloc[0] if isinstance(row, pd.DataFrame) else row


def _cell_at(ind: Indicator, df: pd.DataFrame, level: str, code: str, period: str | None) -> Cell:
    row = _at(df, level, code, period)
    if row is None:
        return Cell.of(ind, period, None, MISSING)
    return Cell.of(ind, period, row["valeur"], str(row["statut"]))


def _fetch(
    store: Store, inds: Indicator | list[str], territories: list[tuple[str, str]]
) -> pd.DataFrame:
    df = store.series_many(inds.id if isinstance(inds, Indicator) else inds, territories)
    for col in ("indicateur", "niveau", "code", "periode", "statut"):
        df[col] = df[col].astype(str)
    df.index = pd.MultiIndex.from_arrays(
        [df["niveau"], df["code"], df["periode"]], names=["_niveau", "_code", "_periode"]
    )
    return df.sort_index()


# ---------------------------------------------------------------------------------------------
# The territory and the territories read beside it


def _identity(index: TerritoryIndex, level: str, code: str) -> Identity:
    terr = index.get(level, code)
    if terr is None:
        raise ViewError(f"Territoire inconnu : {level_name(level)} « {code} ».", 404)
    parents = []
    city = (CITY_OF_PART[level],) if level in CITY_OF_PART else ()
    for plevel in (*city, *parent_levels("commune")):  # nearest first; an IRIS lists no commune
        pcode = terr.parents.get(plevel)
        if pcode:
            name = "France" if plevel == "france" else index.name(plevel, pcode) or pcode
            parents.append(ParentRef(plevel, level_name(plevel), pcode, name))
    density = None
    if terr.population is not None and terr.area_km2:
        density = terr.population / terr.area_km2
    return Identity(
        level=level,
        level_label=level_name(level),
        code=code,
        name=terr.name,
        parents=tuple(parents),
        population=terr.population,
        population_text=format_fr(terr.population, 0) if terr.population is not None else "",
        area_km2=terr.area_km2,
        area_text=f"{format_fr(terr.area_km2, 1)}\u00a0km²" if terr.area_km2 is not None else "",
        density=density,
        density_text=f"{format_fr(density, 0)}\u00a0hab./km²" if density is not None else "",
        postal_codes=tuple(terr.postal_codes),
        parts=_parts(index, level, code),
    )


def _parts(index: TerritoryIndex, level: str, code: str) -> tuple[ParentRef, ...]:
    """The arrondissements of a city split into them (none for other territories)."""
    part = next((p for p, whole in CITY_OF_PART.items() if whole == level), None)
    if part is None or part not in index.levels():
        return ()
    by_city = index.derived(f"profile-parts-{part}-{level}", lambda: _grouped(index, part, level))
    label = level_name(part)
    return tuple(ParentRef(part, label, c, n) for c, n in sorted(by_city.get(code, ())))


def warm_lookups(index: TerritoryIndex) -> None:
    """The per-build lookups of `_parts` and `_siblings`, made before gunicorn forks (shared by
    the workers instead of built in each)."""
    for part, whole in CITY_OF_PART.items():
        if part in index.levels():
            _parts(index, whole, "")
    if "commune" in index.levels():
        index.derived("profile-parts-commune-epci", lambda: _grouped(index, "commune", "epci"))


def _grouped(index: TerritoryIndex, level: str, parent: str) -> dict[str, list[tuple[str, str]]]:
    """(code, name) of `level`'s territories by their `parent` code, in the table's order:
    computed once per build, so that a page does not scan the level's table (~1.5-3 ms each
    for the arrondissements of a city and the communes of an EPCI)."""
    table = index.table(level)
    if parent not in table.columns:
        return {}
    out: dict[str, list[tuple[str, str]]] = {}
    names = table["nom"].astype(str).tolist()
    for pcode, code, name in zip(
        table[parent].tolist(), table["code"].tolist(), names, strict=True
    ):
        out.setdefault(pcode, []).append((str(code), name))
    return out


def _references(identity: Identity) -> tuple[ParentRef, ...]:
    """The context columns, nearest first: an arrondissement's city, then the reference levels
    coarser than the territory's."""
    order = LEVEL[identity.level].order
    refs = [
        p for p in identity.parents if p.level in REFERENCE_LEVELS and LEVEL[p.level].order < order
    ]
    city = [p for p in identity.parents if p.level == CITY_OF_PART.get(identity.level)]
    return (*city, *sorted(refs, key=lambda p: REFERENCE_LEVELS.index(p.level)))


def _siblings(index: TerritoryIndex, identity: Identity) -> tuple[str, list[str]] | None:
    """The EPCI and its communes, for the rank of a commune (other levels: no rank)."""
    if identity.level != "commune":
        return None
    epci = next((p.code for p in identity.parents if p.level == "epci"), None)
    if not epci:
        return None
    by_epci = index.derived(
        "profile-parts-commune-epci", lambda: _grouped(index, "commune", "epci")
    )
    return epci, [c for c, _ in by_epci.get(epci, ())]


def _theme_indicators(level: str) -> list[tuple[str, str, list[Indicator]]]:
    out = []
    for cat, themes in CATEGORIES.items():
        for theme in themes:
            inds = [
                i
                for i in INDICATORS
                if i.category == cat and i.theme == theme and level in i.levels
            ]
            if inds:
                out.append((cat, theme, inds))
    return out


# ---------------------------------------------------------------------------------------------
# Every cell of a page, read once


@dataclass(frozen=True)
class _Page:
    """What one profile page reads: the territory, its references and the EPCI's communes,
    and their cells as plain lookups. Built from one query with numpy and dictionaries, no
    pandas work per cell or per group (a pandas selection per cell cost ~0.2 ms, and the
    groupbys by indicator ~200 ms on all France)."""

    level: str
    code: str
    refs: tuple[ParentRef, ...]
    siblings: tuple[str, list[str]] | None  # (EPCI, its communes) for a commune's rank
    neighbours: tuple[str, list[str]]  # (their level, the territory's code then theirs)
    cells: dict[tuple[str, str, str, str], tuple[Any, str]]  # (ind, level, code, period)
    own_published: dict[str, list[tuple[str, Any]]]  # the territory's (period, value), by ind
    sibling_values: dict[tuple[str, str], np.ndarray]  # (ind, period): published values

    def cell(self, ind: Indicator, level: str, code: str, period: str | None) -> Cell:
        hit = self.cells.get((ind.id, level, code, period))
        return Cell.of(ind, period, None, MISSING) if hit is None else Cell.of(ind, period, *hit)


def _read_page(
    store: Store,
    index: TerritoryIndex,
    identity: Identity,
    ids: list[str],
    periods: dict[str, str | None],
) -> _Page:
    """The page's cells: the territory's series, every other territory at `periods` only
    (the page looks nothing else up)."""
    level, code = identity.level, identity.code
    refs = _references(identity)
    siblings = _siblings(index, identity)
    nlevel, codes = _neighbour_codes(index, level, code)
    near = codes[1:]
    wanted = [(level, code), *[(p.level, p.code) for p in refs], *[(nlevel, c) for c in near]]
    if nlevel != level:
        wanted.append((nlevel, code))
    latest = sorted({p for p in periods.values() if p})
    col = store.page_columns(ids, wanted[0], wanted[1:], latest)
    values = col["valeur"]
    keys = zip(col["indicateur"], col["niveau"], col["code"], col["periode"], strict=True)
    own: dict[str, list[tuple[str, Any]]] = {}
    is_own = (col["niveau"] == level) & (col["code"] == code) & (col["statut"] == PUBLISHED)
    for i in np.flatnonzero(is_own):
        own.setdefault(col["indicateur"][i], []).append((col["periode"][i], values[i]))
    for series in own.values():
        series.sort(key=lambda pv: pv[0])
    return _Page(
        level=level,
        code=code,
        refs=refs,
        siblings=siblings,
        neighbours=(nlevel, codes),
        cells=dict(zip(keys, zip(values, col["statut"], strict=True), strict=True)),
        own_published=own,
        sibling_values=_sibling_values(store, ids, periods, siblings),
    )


def _sibling_values(
    store: Store,
    ids: list[str],
    periods: dict[str, str | None],
    siblings: tuple[str, list[str]] | None,
) -> dict[tuple[str, str], np.ndarray]:
    """The published values of the EPCI's communes, by (indicator, latest period); a secret
    cell is left out, as it always was: ranks count published values only."""
    if siblings is None:
        return {}
    at = {i: p for i in ids if (p := periods.get(i))}
    return store.published_values([("commune", c) for c in siblings[1]], at)


# ---------------------------------------------------------------------------------------------
# The profile


def profile(
    store: Store,
    index: TerritoryIndex,
    level: str,
    code: str,
    demo_notice: str | None = None,
    neighbour_indicator: str | None = None,
) -> Profile:
    """The whole profile of one territory: identity, key figures, themes, neighbours.

    `neighbour_indicator` picks the neighbours' indicator (default: part_aides_logement).
    Raises `ViewError` (French message, HTTP status) for an unknown level or territory.
    """
    if level not in LEVEL or level not in index.levels():
        raise ViewError(f"Niveau inconnu : « {str(level)[:40]} ».", 404)
    level = index.source_level(level, code)  # a commune or arrondissement of the combined view
    identity = _identity(index, level, code)
    grouped = _theme_indicators(level)
    # Two queries for the whole page (latest periods, then every series), not two per indicator.
    periods: dict[str, str | None] = dict(store.latest_periods(level))
    ids = [i.id for _, _, inds in grouped for i in inds]
    page = _read_page(store, index, identity, ids, periods)
    themes = _themes(page, grouped, periods, store)
    by_id = {row.cell.indicator: row.cell for theme in themes for row in theme.rows}
    key = _key_figures(store, level, code, periods, by_id)
    chosen = _neighbour_indicator(level, neighbour_indicator, by_id)
    near = None
    if chosen is not None and level != "france":  # France has no neighbour to compare with
        near = _neighbours(index, chosen, page.neighbours, periods.get(chosen.id), page.cell)
    return Profile(
        identity=identity,
        key_figures=key,
        themes=themes,
        neighbours=near,
        references=page.refs,
        source=profile_source(themes),
        notice=demo_notice,
    )


def profile_source(themes: tuple[Theme, ...]) -> str:
    """The page's source line: the portal datasets its rows come from, when the store says."""
    datasets: list[str] = []
    for theme in themes:
        for row in theme.rows:
            head = row.source.partition(", jeu ")[2].partition(",")[0].partition(" (")[0]
            if row.source.startswith("Source : Cnaf, data.caf.fr") and head not in datasets:
                datasets.append(head)
    if not datasets:
        return SOURCE_LINE
    return f"Source : Cnaf, data.caf.fr (jeux {', '.join(datasets)}) ; Insee ; IGN"


def _themes(
    page: _Page,
    grouped: list[tuple[str, str, list[Indicator]]],
    periods: dict[str, str | None],
    store: Store | None = None,
) -> tuple[Theme, ...]:
    themes = []
    for cat, theme, inds in grouped:
        rows = tuple(
            _indicator_row(page, ind, period, provenance_of(store, ind.id, page.level, period))
            for ind in inds
            if (period := periods.get(ind.id)) is not None  # None: not in this store at all
        )
        if rows:
            themes.append(Theme(cat, theme, rows))
    return tuple(themes)


def _indicator_row(
    page: _Page, ind: Indicator, period: str, prov: Provenance | None = None
) -> IndicatorRow:
    own = page.cell(ind, page.level, page.code, period)
    if is_approximate(prov) and own.value is not None:
        own = replace(own, text=f"{APPROX} {own.text}")
    rank = None
    if page.siblings is not None:  # a commune: its rank among its EPCI's communes
        published = page.sibling_values.get((ind.id, period))
        rank = _rank(own.value, published, epci=page.siblings[0])
    return IndicatorRow(
        cell=own,
        nature=ind.nature,
        subtheme=ind.subtheme,
        references=tuple(Reference(p, page.cell(ind, p.level, p.code, period)) for p in page.refs),
        epci_rank=rank,
        evolution=_evolution(ind, page.own_published.get(ind.id, [])),
        source=source_line(prov, ind) if prov is not None else "",
        note=note(prov),
    )


def _key_figures(
    store: Store, level: str, code: str, periods: dict[str, str | None], by_id: dict[str, Cell]
) -> KeyFigures:
    period = periods.get("allocataires")

    def at(ident: str) -> Cell:
        ind = BY_ID[ident]
        known = by_id.get(ident)
        if known is not None and known.period == period:
            return known
        if level not in ind.levels or period is None:
            return Cell.of(ind, period, None, NOT_APPLICABLE)
        return _cell_at(ind, _fetch(store, ind, [(level, code)]), level, code, period)

    recipients = at("allocataires")
    composition = tuple(_composition_row(i, at(i), recipients.value) for i in COMPOSITION)
    benefits = [BenefitRow(BENEFIT_SHORT_FR[i], at(i)) for i in BENEFITS]
    shown = [b for b in benefits if b.cell.status in (PUBLISHED, SECRET)]
    # Published first, largest first; secrets after, by catalogue order (their value is unknown).
    shown.sort(key=lambda b: (b.cell.status != PUBLISHED, -(b.cell.value or 0)))
    return KeyFigures(
        period=period,
        period_label=period_text(period) if period else "",
        recipients=recipients,
        covered_people=at("personnes_couvertes"),
        coverage_rate=at("taux_personnes_couvertes"),
        composition=composition,
        benefits=tuple(shown),
    )


def _composition_row(ident: str, count: Cell, total: float | None) -> CompositionRow:
    # A share only from two published values: nothing hidden can be recovered from it.
    share = count.value / total * 100 if count.value is not None and total else None
    return CompositionRow(COMPOSITION_FR[ident], count, share, _share_text(share, count.status))


def _share_text(share: float | None, status: str) -> str:
    if share is not None:
        return f"{format_fr(share, 1)}\u00a0%"
    if status == PUBLISHED:
        return "non calculable"  # the count is published, the total is not
    return STATUS_FR.get(status, "pas de données")


def neighbour_level(index: TerritoryIndex, level: str) -> str:
    """Where a territory's neighbours are looked for: an arrondissement's in the « communes et
    arrondissements » view (the arrondissements beside it, and the communes at the city's edge),
    when that view is built; every other level's at its own level."""
    view = PART_NEIGHBOURS.get(level)
    return view if view is not None and view in index.levels() else level


def _neighbour_indicator(
    level: str, wanted: str | None, by_id: dict[str, Cell]
) -> Indicator | None:
    if wanted:
        ind = indicator(wanted)
        if level not in ind.levels:
            raise ViewError(f"L'indicateur « {ind.title} » n'existe pas à ce niveau.")
        return ind
    for ident in NEIGHBOUR_DEFAULTS:
        if ident in by_id:
            return indicator(ident)
    return None


def neighbours(
    store: Store,
    index: TerritoryIndex,
    ind: Indicator,
    level: str,
    code: str,
    period: str | None = None,
) -> Neighbours:
    """The territory and its neighbours (sharing a border) for one indicator at one period
    (default: the latest).

    Rows sorted by published value, highest first, hidden cells after (value None), then by
    name; the territory's row has `is_territory`.
    """
    if period is None:
        periods = store.periods(ind.id, level)
        period = periods[-1] if periods else None
    nlevel, codes = _neighbour_codes(index, level, code)
    df = _fetch(store, ind, [(nlevel, c) for c in codes])
    return _neighbours(
        index, ind, (nlevel, codes), period, lambda i, lv, c, p: _cell_at(i, df, lv, c, p)
    )


def _neighbour_codes(index: TerritoryIndex, level: str, code: str) -> tuple[str, list[str]]:
    """The level neighbours are compared at, and the territory's code then its neighbours'."""
    nlevel = neighbour_level(index, level)
    return nlevel, [code, *[c for c in index.neighbours(nlevel, code) if c != code]]


def _neighbours(
    index: TerritoryIndex,
    ind: Indicator,
    found: tuple[str, list[str]],
    period: str | None,
    cell: Callable[[Indicator, str, str, str | None], Cell],
) -> Neighbours:
    """`neighbours()` from `_neighbour_codes` and a cell lookup (the profile's page, or the
    rows read for the chart)."""
    nlevel, codes = found
    code = codes[0]
    rows = [
        NeighbourRow(c, index.name(nlevel, c) or c, c == code, cell(ind, nlevel, c, period))
        for c in codes
    ]
    rows.sort(key=lambda r: (r.cell.value is None, -(r.cell.value or 0), r.name))
    return Neighbours(
        indicator=ind.id,
        title=ind.title,
        unit=ind.unit,
        nature=ind.nature,
        period=period,
        period_label=period_text(period) if period else "",
        rows=tuple(rows),
    )


@lru_cache(maxsize=256)
def _profile_cached(
    store: Store, index: TerritoryIndex, level: str, code: str, notice: str | None
) -> Profile:
    return profile(store, index, level, code, notice)


def cached_profile(
    store: Store, index: TerritoryIndex, level: str, code: str, notice: str | None = None
) -> Profile:
    """`profile()` remembered per (store, index, territory): the page, its PDF and an atlas ask
    for the same one (~120 ms each on all France). A new build brings new Store and index
    objects, hence new keys. Shared between requests, hence frozen."""
    return _profile_cached(store, index, level, code, notice)
