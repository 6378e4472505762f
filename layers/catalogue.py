"""The indicator catalogue: categories -> themes -> sub-themes -> indicators, as Cafdata files them.

The curated indicators are data (`catalogue.toml`, beside this module), turned into
`layers.model.Indicator` objects once at import (`CURATED`). The catalogue in service is the
curated one for the demonstration, and curated + the portal's series for a real store
(`layers/portal_catalogue.py`), activated by `layers.appdata.AppData.store()`; `BY_ID`,
`INDICATORS`, `CATEGORIES`, `search`, `tree` read the active one. Code that must see the
curated catalogue whatever the store (the demonstration generator, the importer) uses `CURATED`.
`BREAKDOWNS` lists the linked tables (a total and its parts) that secrecy treats together.
"""

from __future__ import annotations

import tomllib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from layers.model import LEVEL, Indicator

CATALOGUE_FILE = Path(__file__).with_name("catalogue.toml")
# TOML keys that are lists but tuples in the model.
_TUPLES = ("levels", "keywords", "computed_from")
_FIELDS = {f.name for f in fields(Indicator)}


class CatalogueError(ValueError):
    """A catalogue file that cannot be read; the message (French) names the file and entry."""


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (a cache key)
class Catalogue:
    indicators: tuple[Indicator, ...]
    categories: Mapping[str, Mapping[str, tuple[str, ...]]]  # category -> theme -> sub-themes
    breakdowns: Mapping[str, tuple[str, ...]]
    geometry_indicators: tuple[Indicator, ...]
    # Known by id but not offered: the curated indicators a real store lacks (pages that name
    # a curated id, such as the profile's key figures, still read its words; no value comes).
    known: tuple[Indicator, ...] = ()

    @property
    def by_id(self) -> Mapping[str, Indicator]:
        # Built once per catalogue (a frozen dataclass cannot hold a cached property).
        found = self.__dict__.get("_by_id")
        if found is None:
            found = MappingProxyType({i.id: i for i in (*self.known, *self.indicators)})
            object.__setattr__(self, "_by_id", found)
        return found

    @property
    def offered_ids(self) -> frozenset[str]:
        found = self.__dict__.get("_offered")
        if found is None:
            found = frozenset(i.id for i in self.indicators)
            object.__setattr__(self, "_offered", found)
        return found


def _indicator(entry: Mapping[str, Any], doc: Mapping[str, Any], where: str) -> Indicator:
    nature = entry.get("nature")
    values: dict[str, Any] = {
        **doc.get("defaults", {}),
        **doc.get("nature", {}).get(nature, {}),
        **entry,
    }
    unknown = set(values) - _FIELDS
    if unknown:
        raise CatalogueError(f"{where} : champs inconnus {', '.join(sorted(unknown))}.")
    levels = values.get("levels", ())
    if isinstance(levels, str):
        levels = doc.get("level_sets", {}).get(levels)
        if levels is None:
            raise CatalogueError(f"{where} : ensemble de niveaux inconnu « {values['levels']} ».")
    values["levels"] = levels
    bad = [lv for lv in levels if lv not in LEVEL]
    if bad:
        raise CatalogueError(f"{where} : niveaux inconnus {', '.join(bad)}.")
    for name in _TUPLES:
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    if values.get("rounding") == 0:
        values["rounding"] = None
    try:
        return Indicator(**values)
    except TypeError as exc:  # a required field is missing
        raise CatalogueError(f"{where} : {exc}.") from None


def load_catalogue(paths: Iterable[Path] = (CATALOGUE_FILE,)) -> Catalogue:
    """Read catalogue files in order; a later file may add categories, themes and indicators
    (an indicator id already declared is an error, never a silent override). Defaults, nature
    defaults and level sets carry over from one file to the next."""
    context: dict[str, dict] = {"defaults": {}, "nature": {}, "level_sets": {}}
    indicators: dict[str, Indicator] = {}
    geometry: list[Indicator] = []
    categories: dict[str, dict[str, list[str]]] = {}
    breakdowns: dict[str, tuple[str, ...]] = {}
    for path in paths:
        try:
            doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CatalogueError(f"Catalogue illisible : {path} ({exc}).") from None
        context["defaults"].update(doc.get("defaults", {}))
        context["level_sets"].update(doc.get("level_sets", {}))
        for nature, values in doc.get("nature", {}).items():
            context["nature"].setdefault(nature, {}).update(values)
        for cat in doc.get("category", []):
            themes = categories.setdefault(cat["name"], {})
            for theme in cat.get("theme", []):
                subs = themes.setdefault(theme["name"], [])
                subs += [s for s in theme.get("subthemes", []) if s not in subs]
        for entry in doc.get("indicator", []):
            ind = _indicator(entry, context, f"{Path(path).name}, indicateur {entry.get('id')}")
            if ind.id in indicators:
                raise CatalogueError(
                    f"{Path(path).name} : indicateur « {ind.id} » déclaré deux fois."
                )
            indicators[ind.id] = ind
        for entry in doc.get("geometry_indicator", []):
            fixed = {"category": "", "theme": "", "subtheme": "", "levels": (), **entry}
            geometry.append(_indicator({**fixed, "from_geometry": True}, {}, Path(path).name))
        breakdowns.update({k: tuple(v) for k, v in doc.get("breakdowns", {}).items()})
    return Catalogue(
        indicators=tuple(indicators.values()),
        categories=MappingProxyType(
            {
                c: MappingProxyType({t: tuple(s) for t, s in th.items()})
                for c, th in categories.items()
            }
        ),
        breakdowns=MappingProxyType(breakdowns),
        geometry_indicators=tuple(geometry),
    )


CURATED = load_catalogue()
BREAKDOWNS = CURATED.breakdowns
GEOMETRY_INDICATORS: Mapping[str, Indicator] = MappingProxyType(
    {i.id: i for i in CURATED.geometry_indicators}
)

# The catalogue in service follows the store in service (`layers.appdata.AppData.store()`
# activates it): curated only for the demonstration, curated + the portal's series for a real
# store. Some twenty modules import `BY_ID`, `INDICATORS`, `CATEGORIES` by name, so these names
# are views that read the active catalogue at each use; activating swaps one reference, which
# is atomic in CPython: a reader sees the old catalogue or the new one, never a mix.
_active: Catalogue = CURATED


def activate(catalogue: Catalogue | None) -> None:
    """Serve `catalogue` (None: the curated one) to every page, callback, export and API."""
    global _active
    _active = catalogue if catalogue is not None else CURATED


def active() -> Catalogue:
    return _active


def offered(ident: object) -> bool:
    """Whether the catalogue in service offers this indicator (a real store may lack a
    curated one: it is then refused, never shown empty)."""
    return isinstance(ident, str) and ident in _active.offered_ids


class _ActiveIndicators(Sequence[Indicator]):
    """`INDICATORS`: the indicators offered by the active catalogue, in order."""

    def __getitem__(self, i):  # type: ignore[override]
        return _active.indicators[i]

    def __len__(self) -> int:
        return len(_active.indicators)

    def __iter__(self) -> Iterator[Indicator]:
        return iter(_active.indicators)


class _ActiveById(Mapping[str, Indicator]):
    """`BY_ID`: id -> indicator of the active catalogue."""

    def __getitem__(self, key: str) -> Indicator:
        return _active.by_id[key]

    def __len__(self) -> int:
        return len(_active.by_id)

    def __iter__(self) -> Iterator[str]:
        return iter(_active.by_id)


class _ActiveCategories(Mapping[str, Mapping[str, tuple[str, ...]]]):
    """`CATEGORIES`: category -> theme -> sub-themes of the active catalogue."""

    def __getitem__(self, key: str) -> Mapping[str, tuple[str, ...]]:
        return _active.categories[key]

    def __len__(self) -> int:
        return len(_active.categories)

    def __iter__(self) -> Iterator[str]:
        return iter(_active.categories)


INDICATORS: Sequence[Indicator] = _ActiveIndicators()
BY_ID: Mapping[str, Indicator] = _ActiveById()
CATEGORIES: Mapping[str, Mapping[str, tuple[str, ...]]] = _ActiveCategories()


def fold(text: str) -> str:
    """Lower case without accents: "Crèche" and "creche" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def search(query: str, limit: int = 10) -> list[Indicator]:
    """Indicators matching every word of the query in their id, title, keywords or definition.

    Accent- and case-insensitive; title and keyword hits rank before definition hits.
    """
    words = [w for w in fold(query).replace("'", " ").split() if len(w) > 1]
    if not words:
        return []
    scored = []
    for order, ind in enumerate(_active.indicators):
        strong = fold(" ".join((ind.id.replace("_", " "), ind.title, *ind.keywords)))
        weak = fold(" ".join((ind.definition, ind.theme, ind.subtheme)))
        score = 0
        for w in words:
            if w in strong:
                score += 3 if f" {w} " in f" {strong} " else 2
            elif w in weak:
                score += 1
            else:
                break
        else:
            scored.append((-score, order, ind))
    return [ind for _, _, ind in sorted(scored)[:limit]]


def in_subtheme(
    category: str, theme: str, subtheme: str, catalogue: Catalogue | None = None
) -> list[str]:
    """Ids of the indicators filed under one sub-theme, in catalogue order."""
    cat = catalogue or _active
    key = (category, theme, subtheme)
    return [i.id for i in cat.indicators if (i.category, i.theme, i.subtheme) == key]


def tree() -> list[dict]:
    """Category -> theme -> sub-theme -> indicator ids, in catalogue order (for the side panel)."""
    cat_ = _active  # one catalogue for the whole answer, even if another is activated meanwhile
    return [
        {
            "categorie": cat,
            "themes": [
                {
                    "theme": theme,
                    "sous_themes": [
                        {"sous_theme": sub, "indicateurs": in_subtheme(cat, theme, sub, cat_)}
                        for sub in subs
                    ],
                }
                for theme, subs in themes.items()
            ],
        }
        for cat, themes in cat_.categories.items()
    ]
