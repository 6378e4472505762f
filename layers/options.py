"""Choices of the explore page's controls: themes, sub-themes, indicators, levels, periods,
filter territories and territory search results, as Dash `options` lists ({"label", "value"}).

Pure functions of the catalogue, the levels built and the store's periods: the page's layout
and its callbacks build the same lists from here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from layers import strings_fr as fr
from layers.catalogue import BY_ID, CATEGORIES, INDICATORS
from layers.model import FILTER_LEVELS, LEVEL, MAP_LEVELS, level_name
from layers.store import Store
from layers.territory_index import Territory, TerritoryIndex
from layers.url_state import DEFAULT_LEVEL
from layers.views import period_text

MAX_QUERY = 100  # characters of a territory search sent to the index
MAX_FOUND = 10


def theme_options() -> list[dict]:
    opts = [{"label": fr.ALL_THEMES, "value": ""}]
    for themes in CATEGORIES.values():
        for theme in themes:
            if not any(o["value"] == theme for o in opts):
                opts.append({"label": theme, "value": theme})
    return opts


def subtheme_options(theme: str | None) -> list[dict]:
    subs: list[str] = []
    for ind in INDICATORS:
        if (not theme or ind.theme == theme) and ind.subtheme not in subs:
            subs.append(ind.subtheme)
    return [{"label": fr.ALL_SUBTHEMES, "value": ""}] + [{"label": s, "value": s} for s in subs]


def indicator_options(theme: str | None, subtheme: str | None) -> list[dict]:
    return [
        {"label": ind.title, "value": ind.id}
        for ind in INDICATORS
        if (not theme or ind.theme == theme) and (not subtheme or ind.subtheme == subtheme)
    ]


@dataclass(frozen=True)
class IndicatorChoice:
    """The sub-theme and indicator pickers after a theme or sub-theme change."""

    subthemes: list[dict]
    subtheme: str | None
    indicators: list[dict]
    indicator: str | None  # None: no indicator in that theme and sub-theme


def indicator_choice(
    theme: str | None, subtheme: str | None, current: str | None, theme_changed: bool = False
) -> IndicatorChoice:
    """Options and values of the sub-theme and indicator pickers for a theme and sub-theme: a
    new theme drops a sub-theme it lacks; the current indicator stays when still offered."""
    subs = subtheme_options(theme)
    if theme_changed and subtheme not in [o["value"] for o in subs]:
        subtheme = ""
    options = indicator_options(theme, subtheme)
    values = [o["value"] for o in options]
    value = current if current in values else (values[0] if values else None)
    return IndicatorChoice(subs, subtheme, options, value)


def level_options(
    indicator: str, built: list[str], with_data: Collection[str] | None = None
) -> list[dict]:
    """Every map level, greyed out where the indicator is not declared, not built or (given
    `with_data`, the levels where the store has it) has no data."""
    ind = BY_ID[indicator]
    return [
        {
            "label": LEVEL[lv].plural,
            "value": lv,
            "disabled": lv not in ind.levels
            or lv not in built
            or (with_data is not None and lv not in with_data),
        }
        for lv in MAP_LEVELS
    ]


def level_choice(
    indicator: str,
    current: str | None,
    built: list[str],
    with_data: Collection[str] | None = None,
) -> tuple[list[dict], str]:
    """The level picker for an indicator: its options, and the current level when still usable,
    else the département (or the first usable level)."""
    options = level_options(indicator, built, with_data)
    usable = [o["value"] for o in options if not o["disabled"]]
    if current not in usable:
        current = DEFAULT_LEVEL if DEFAULT_LEVEL in usable else (usable or [None])[0]
    return options, current


def levels_with_data(store: Store | None, indicator: str) -> set[str] | None:
    """Levels where the store has the indicator (None without a store: nothing to check)."""
    if store is None:
        return None
    return {
        lv for (ind, lv), periods in store.availability().items() if ind == indicator and periods
    }


def period_options(periods: list[str]) -> list[dict]:
    return [{"label": period_text(p), "value": p} for p in reversed(periods)]


def period_choice(periods: list[str], current: str | None) -> str | None:
    """The current period when the store has it, else the latest one."""
    return current if current in periods else (periods[-1] if periods else None)


def territory_label(name: str, level: str, code: str) -> str:
    """« Lyon (commune 69123) »."""
    return f"{name} ({level_name(level)} {code})"


def filter_options(index: TerritoryIndex | None) -> list[dict]:
    """Régions, départements, Caf and EPCI to restrict the map to (and zoom on): built once per
    build (~1,500 options, most of the map page's CPU when built for every visit)."""
    if index is None:
        return []
    return list(index.derived("filter_options", lambda: _filter_options(index)))


def _filter_options(index: TerritoryIndex) -> tuple[dict, ...]:
    opts = []
    for level in FILTER_LEVELS:
        if level not in index.levels():
            continue
        table = index.table(level).sort_values("code")
        opts += [
            {"label": territory_label(nom, level, code), "value": f"{level}:{code}"}
            for code, nom in zip(table["code"].tolist(), table["nom"].tolist(), strict=True)
        ]
    return tuple(opts)


def territory_choices(found: list[Territory], query: str, sep: str) -> list[dict]:
    """Options of a territory search box, valued "<level><sep><code>". Each option's `search`
    is the query itself: the index already matched accents and postal codes."""
    return [
        {
            "label": territory_label(t.name, t.level, t.code),
            "value": f"{t.level}{sep}{t.code}",
            "search": query,
        }
        for t in found
    ]


def search_territories(index: TerritoryIndex | None, query: str | None) -> list[Territory] | None:
    """Territories matching a search box's text; None when there is nothing to search (under 2
    characters, or no territories built)."""
    if not query or len(query) < 2 or index is None:
        return None
    return index.search(query[:MAX_QUERY], MAX_FOUND)


def territory_of(index: TerritoryIndex | None, value: object) -> Territory | None:
    """The territory of a "<level>:<code>" value (a filter, the map's selection), None when
    the value is empty, malformed or unknown."""
    level, sep, code = str(value or "").partition(":")
    if index is None or not sep:
        return None
    return index.get(level, code)
