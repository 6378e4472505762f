"""The charts the pages draw beside the map and in the profile: a territory's series with its
references, and its neighbours' values. Figures from `layers.profile`'s builders, fed from the
store; no Dash here."""

from __future__ import annotations

from layers.model import Indicator
from layers.profile import neighbours
from layers.profile_figures import Figure, neighbours_figure, series_figure
from layers.store import Store
from layers.territory_index import TerritoryIndex
from layers.views import series_with_references


def readable_scale(fig: Figure, ind: Indicator) -> Figure:
    """Counts of a commune and of France differ a thousandfold: a log axis keeps both legible."""
    if ind.nature != "taux":
        yaxis = fig["layout"].setdefault("yaxis", {})
        yaxis["type"] = "log"
        yaxis["title"] = {**yaxis.get("title", {}), "text": f"{ind.unit} (échelle logarithmique)"}
    return fig


def series_chart(
    store: Store, index: TerritoryIndex, ind: Indicator, level: str, code: str
) -> Figure:
    """The territory's series beside its EPCI, département, région and France (hidden cells
    stay blank). Raises ViewError for an unknown territory."""
    df = series_with_references(store, index, ind, level, code)
    return readable_scale(series_figure(df, ind), ind)


def neighbours_chart(
    store: Store, index: TerritoryIndex, ind: Indicator, level: str, code: str
) -> Figure:
    """The territory and its neighbours for one indicator."""
    return neighbours_figure(neighbours(store, index, ind, level, code), code)
