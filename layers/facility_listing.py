"""Facilities listed beside the map (a commune and its neighbours, or every facility of a
larger territory) and in the profile, as plain data: heading, coverage context, table rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from layers.catalogue import BY_ID
from layers.facility_search import DISPLAY_COLUMNS, display_rows, in_territory, near_facilities
from layers.model import level_name
from layers.options import territory_of
from layers.store import Store
from layers.territory_index import TerritoryIndex
from layers.views import ViewError, series_with_references, value_text

LIST_LIMIT = 200
CONTEXT_INDICATOR = "taux_couverture_eaje"  # places per 100 children under 3
NO_FILE = "Aucun fichier d'équipements n'est installé."
HINT = (
    "Cliquez une commune de la carte, ou choisissez un territoire dans « Afficher seulement », "
    "pour lister ses équipements."
)
NONE_HERE = "Aucun équipement de ces types ici."
MORE = "Les {limit} premiers sont listés : choisissez une commune pour voir ceux qui l'entourent."
# Data tables of facilities (explore page, profile): the page's font, not DataTable's
# monospace default.
TABLE_CELL_STYLE = {
    "fontFamily": "system-ui, sans-serif",
    "fontSize": "0.85rem",
    "textAlign": "left",
    "whiteSpace": "normal",
    "height": "auto",
}
# The references of the coverage line, nearest first.
_ROLE_ORDER = {"territoire": 0, "epci": 1, "departement": 2, "region": 3, "france": 4}


@dataclass(frozen=True)
class Listing:
    title: str
    context: str | None  # the commune's coverage beside its references
    rows: list[dict]  # at most LIST_LIMIT
    total: int
    with_distance: bool  # a commune's list: nearest first, with the distance column

    @property
    def truncated(self) -> bool:
        return self.total > LIST_LIMIT


def table_columns(with_distance: bool) -> list[dict]:
    return [{"name": n, "id": i} for i, n in DISPLAY_COLUMNS if with_distance or i != "distance"]


def coverage_text(store: Store, index: TerritoryIndex, commune: str) -> str | None:
    """Places in EAJE per 100 children under 3 for the commune beside its references."""
    ind = BY_ID[CONTEXT_INDICATOR]
    try:
        series = series_with_references(store, index, ind, "commune", commune)
    except ViewError:
        return None
    latest = series[series["periode"] == series["periode"].max()]
    latest = latest.sort_values("role", key=lambda r: r.map(_ROLE_ORDER))
    parts = [f"{r.nom} : {value_text(r.valeur, r.statut, ind)}" for r in latest.itertuples()]
    if not parts:
        return None
    return "Taux de couverture en EAJE (places pour 100 enfants de moins de 3 ans) — " + " ; ".join(
        parts
    )


def facility_listing(
    table: pd.DataFrame,
    index: TerritoryIndex,
    labels: Iterable[str],
    target: str | None,
    store: Store | None = None,
) -> Listing | None:
    """Facilities of the types (labels) for a "<level>:<code>" target: a commune and its
    neighbours nearest first (with the coverage context when `store` is given), or every one
    of a larger territory; None when the target is no known territory."""
    terr = territory_of(index, target)
    if terr is None:
        return None
    table = table[table["type"].isin(set(labels))]
    if terr.level == "commune":
        sel = near_facilities(table, index, terr.code, None, near=True)
        title = f"Équipements de {terr.name} et des communes voisines ({len(sel)})"
        context = coverage_text(store, index, terr.code) if store is not None else None
    else:
        sel = in_territory(table, index, terr.level, terr.code)
        title = f"Équipements : {terr.name} ({level_name(terr.level)}) — {len(sel)}"
        context = None
    rows = display_rows(sel, index, LIST_LIMIT)
    return Listing(title, context, rows, len(sel), terr.level == "commune")


def nearby_rows(
    table: pd.DataFrame, index: TerritoryIndex, commune: str, labels: Iterable[str]
) -> list[dict]:
    """Table rows of the facilities of the types (labels) in a commune and its neighbours,
    nearest first (the profile's list)."""
    sel = near_facilities(table, index, commune, set(labels), near=True)
    return display_rows(sel, index, LIST_LIMIT)
