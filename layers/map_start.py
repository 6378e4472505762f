"""The map's start without Dash: the first spec of a page URL, put in the index HTML, and the
choices that let the browser recolour on its own.

- `first_spec`: what `callbacks.explore.update_spec` will send for the page's initial panel
  (same URL checks, `layers.url_state`), so that `assets/cafmap.js` creates the map, asks for
  its tiles and fetches its values while Dash starts; Dash's own spec then only confirms it.
- `map_choices`: per indicator its title, nature and periods by level (`/api/carte-choix`),
  from which the browser makes the values URL of a new indicator or period exactly as
  `layers.map_spec.values_query` does, without waiting for the server's callbacks.
"""

from __future__ import annotations

from collections.abc import Mapping

from layers.appdata import AppData
from layers.catalogue import BY_ID
from layers.geocache import web_geometries
from layers.map_options import default_representation
from layers.map_spec import Relative, view_spec
from layers.model import LEVEL, MAP_LEVELS
from layers.options import period_choice
from layers.store import Store
from layers.url_state import ViewState, parse_state
from layers.views import period_text


def initial_state(state: ViewState, periods: list[str]) -> dict[str, object]:
    """The values of the panel's map inputs (`MAP_INPUTS`) as the explore page lays them out
    (dashboard/pages/explore.py) for the URL's state."""
    return {
        "indicateur": state.indicateur,
        "niveau": state.niveau,
        "periode": period_choice(periods, state.periode),
        "representation": state.representation
        or default_representation(BY_ID.get(state.indicateur)),
        "methode": state.methode,
        "classes": state.classes,
        "bornes": state.bornes,
        "palette": state.palette,
        "filtre": state.filtre or None,
    }


def first_spec(query: Mapping[str, str], data: AppData, rel: Relative) -> dict | None:
    """The map spec of a page URL's query (forged values fall back to their defaults, as on
    the page), or None when there is nothing to draw yet (no store, level not built)."""
    info, index = data.store(), data.index()
    if info is None or index is None:
        return None
    built = index.levels()
    state, _ignored = parse_state(query, info.store, index, built)
    periods = info.store.periods(state.indicateur, state.niveau)
    geometries = web_geometries(data.settings.cache)
    found = view_spec(initial_state(state, periods), geometries, rel)
    return found[0] if found is not None else None


def map_choices(store: Store, built: list[str]) -> dict:
    """Per indicator of the store: title, whether a rate, and periods (indexes into
    `periodes`) by built map level; with each period's label and each level's singular name
    (the map's title)."""
    available = store.availability()
    periods = sorted({p for found in available.values() for p in found})
    position = {p: i for i, p in enumerate(periods)}
    indicators: dict[str, dict] = {}
    for (ind_id, level), found in sorted(available.items()):
        ind = BY_ID.get(ind_id)
        if ind is None or level not in built or level not in MAP_LEVELS or not found:
            continue
        if level not in ind.levels:
            continue
        entry = indicators.setdefault(
            ind_id, {"titre": ind.title, "taux": ind.is_rate, "niveaux": {}}
        )
        entry["niveaux"][level] = [position[p] for p in found]
    return {
        "periodes": periods,
        "libelles": [period_text(p) for p in periods],
        "singuliers": {lv: LEVEL[lv].singular for lv in MAP_LEVELS},
        "indicateurs": indicators,
    }
