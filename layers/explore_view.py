"""What the explore page shows beside the map, as plain data: the rows of the data table (the
map's text alternative), the metadata of an indicator, the note over a territory's series.
The callbacks turn them into Dash components."""

from __future__ import annotations

import pandas as pd

from layers.model import LEVEL, Indicator, level_name
from layers.qpv_uncontoured import listed_cells
from layers.store import PUBLISHED, Store
from layers.territory_index import TerritoryIndex
from layers.views import layer, parent_of, period_text, rank, value_text

NO_DATA = "Pas de données."
UNKNOWN_TERRITORY = "Territoire inconnu."


def table_rows(
    store: Store,
    index: TerritoryIndex,
    ind: Indicator,
    level: str,
    period: str,
    filtre: str | None,
) -> list[dict]:
    """One row per territory of the map's view: name, code, value in words (« secret », « pas
    de données »), the value to sort on (None when hidden) and the rank among published
    values. Raises ViewError (French) for a filter the level cannot take."""
    parent = parent_of(index, level, filtre)
    df = layer(store, index, ind, level, period, parent)
    extra = listed_cells(store, index, ind.id, level, period, parent)  # QPV 2024, no contour
    if len(extra):
        df = pd.concat([df, extra], ignore_index=True)
    df["rang"] = rank(df["valeur"])
    return [
        {
            "nom": r.nom,
            "code": r.code,
            "valeur": value_text(r.valeur, r.statut, ind),
            "tri": None if r.statut != PUBLISHED else r.valeur,
            "rang": "" if r.rang != r.rang else int(r.rang),
        }
        for r in df.itertuples()
    ]


def table_columns(ind: Indicator, period: str) -> list[dict]:
    return [
        {"name": "Territoire", "id": "nom"},
        {"name": "Code", "id": "code"},
        {"name": f"{ind.title} ({period_text(period)})", "id": "valeur"},
        {"name": "Rang", "id": "rang", "type": "numeric"},
    ]


def metadata_rows(ind: Indicator) -> list[tuple[str, str]]:
    """The indicator's « Définition et source » dialog: (term, description) pairs."""
    return [
        ("Définition", ind.definition),
        ("Unité", ind.unit),
        ("Source", ind.source),
        ("Champ", ind.scope),
        ("Fréquence", ", ".join(sorted({ind.frequency(n) for n in ind.levels}))),
        ("Granularité temporelle", ind.granularity),
        ("Niveaux", ", ".join(level_name(n) for n in ind.levels if not LEVEL[n].composite)),
        ("Première période", ind.first_period),
        ("Dernière mise à jour", ind.last_update),
        ("Observations", ind.observations or "—"),
        ("Série labellisée", "oui" if ind.labelled_series else "non"),
        ("Mots-clés", ", ".join(ind.keywords) or "—"),
    ]


def series_note(ind: Indicator) -> str:
    return f"{ind.title} ({ind.unit}), secrets en blanc"
