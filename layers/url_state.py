"""The view's state in the URL: parsed and checked, with a French notice for what was dropped.

Every parameter is optional; a stale or forged value falls back to its default (never an
error page), and the notice says which ones were ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from urllib.parse import urlencode

from layers.catalogue import BY_ID, INDICATORS, offered
from layers.classify import MAX_CLASSES, METHODS, MIN_CLASSES
from layers.map_options import (
    ALL_PALETTES,
    default_representation,
    parse_breaks,
    representation_allowed,
)
from layers.model import FACILITY_BY_SLUG, FACILITY_TYPES
from layers.store import Store
from layers.territory_index import TerritoryIndex

DEFAULT_INDICATOR = "taux_personnes_couvertes"
DEFAULT_LEVEL = "departement"
MAX_PARAM = 200


@dataclass(frozen=True)
class ViewState:
    indicateur: str = DEFAULT_INDICATOR
    niveau: str = DEFAULT_LEVEL
    periode: str = ""
    methode: str = "quantiles"
    classes: int = 5
    palette: str = "YlGnBu"
    bornes: str = ""
    representation: str = ""  # "" = the indicator's default (default_representation)
    filtre: str = ""  # "departement:69"
    territoire: str = ""  # selected territory "commune:69123"
    equipements: str = ""  # facility types shown over the map "creche_collective,laep"
    vue: str = ""  # "lon,lat,zoom"

    def query(self) -> str:
        """Query string with only the non-default parameters (the representation is default
        when it is the indicator's own)."""
        default = asdict(ViewState())
        default["representation"] = default_representation(BY_ID.get(self.indicateur))
        items = {k: v for k, v in asdict(self).items() if v != default[k] and v != ""}
        return urlencode(items)


def default_indicator() -> str:
    """The default indicator when the catalogue in service offers it (a real store may lack
    it), else its first indicator."""
    if offered(DEFAULT_INDICATOR) or not INDICATORS:
        return DEFAULT_INDICATOR
    return INDICATORS[0].id


def _float_triplet(text: str) -> bool:
    parts = text.split(",")
    if len(parts) != 3:
        return False
    try:
        lon, lat, zoom = (float(p) for p in parts)
    except ValueError:
        return False
    return -180 <= lon <= 180 and -85 <= lat <= 85 and 0 <= zoom <= 16


def _territory(index: TerritoryIndex | None, text: str) -> bool:
    if index is None or ":" not in text:
        return False
    level, code = text.split(":", 1)
    return level in index.levels() and index.get(level, code) is not None


def parse_state(
    query: Mapping[str, str],
    store: Store | None,
    index: TerritoryIndex | None,
    levels: list[str],
) -> tuple[ViewState, list[str]]:
    """The state asked by a URL, each bad parameter replaced by its default; and the names of
    the parameters that were ignored."""
    q = {k: str(v)[:MAX_PARAM] for k, v in query.items() if isinstance(v, str)}
    state, bad = ViewState(indicateur=default_indicator()), []

    def take(name: str, ok: bool, value: object) -> None:
        nonlocal state
        if name not in q or q[name] == "":
            return
        if ok:
            state = replace(state, **{name: value})
        else:
            bad.append(name)

    take("indicateur", offered(q.get("indicateur")), q.get("indicateur"))
    ind = BY_ID[state.indicateur]
    usable = [lv for lv in ind.levels if lv in levels and lv != "france"]
    lvl = q.get("niveau", "")
    take("niveau", lvl in usable, lvl)
    if state.niveau not in usable and usable:
        state = replace(state, niveau=DEFAULT_LEVEL if DEFAULT_LEVEL in usable else usable[0])
    periods = store.periods(ind.id, state.niveau) if store is not None else []
    take("periode", q.get("periode") in periods, q.get("periode"))
    take("methode", q.get("methode") in METHODS, q.get("methode"))
    try:
        k = int(q.get("classes", "5"))
    except ValueError:
        k = -1
    take("classes", MIN_CLASSES <= k <= MAX_CLASSES, k)
    pal = q.get("palette")
    take("palette", pal in ALL_PALETTES, pal)
    bornes = q.get("bornes", "")
    take("bornes", parse_breaks(bornes) is not None, bornes)
    # A saved choropleth of a count (?representation=choroplethe) is kept; absent, the
    # indicator's nature decides.
    state = replace(state, representation=default_representation(ind))
    rep = q.get("representation", "")
    take("representation", representation_allowed(ind, rep), rep)
    take("filtre", _territory(index, q.get("filtre", "")), q.get("filtre"))
    take("territoire", _territory(index, q.get("territoire", "")), q.get("territoire"))
    take("vue", _float_triplet(q.get("vue", "")), q.get("vue"))
    kinds = [k for k in q.get("equipements", "").split(",") if k]
    take(
        "equipements",
        all(k in FACILITY_BY_SLUG for k in kinds),
        ",".join(ft.slug for ft in FACILITY_TYPES if ft.slug in kinds),
    )
    if state.methode == "manual" and not state.bornes:
        state = replace(state, methode="quantiles")
    return state, bad
