"""The profile's comparison: key indicators of a few territories side by side, each at its
latest period (secrets stay secret), as plain data for a table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from layers.catalogue import BY_ID
from layers.model import Indicator, level_name
from layers.options import territory_of
from layers.series_notes import APPROX, is_approximate
from layers.store import PUBLISHED, Store
from layers.territory_index import TerritoryIndex
from layers.views import value_text

COMPARED = (
    "allocataires",
    "taux_personnes_couvertes",
    "part_monoparentales",
    "part_aides_logement",
    "part_rsa",
    "part_aah",
    "taux_couverture_eaje",
)
MAX_COMPARED = 6
CHOOSE = "Choisissez un ou plusieurs territoires à comparer."
NOT_CONCERNED = "non concerné"
NO_DATA = "pas de données"


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool  # a value (or its status in words), right-aligned; False for « non concerné »


@dataclass(frozen=True)
class Comparison:
    territories: list[str]  # column headings, « Lyon (commune) »
    rows: list[tuple[str, list[Cell]]]  # indicator title, one cell per territory


def compared(own: str, chosen: Iterable[str] | None) -> list[str]:
    """The profile's own territory first, then the ones chosen ("<level>:<code>")."""
    return [own, *[c for c in (chosen or []) if c != own]]


def _text(store: Store, ind: Indicator, level: str, last: tuple) -> str:
    """« 8,6 % », « ≈ 8,6 % » for a rate computed from rounded counts, « secret »."""
    value, status, period = last
    text = value_text(value, status, ind)
    if status == PUBLISHED and is_approximate(store.provenance(ind.id, level, period)):
        return f"{APPROX} {text}"
    return text


def comparison(
    store: Store, index: TerritoryIndex | None, territories: list[str]
) -> Comparison | None:
    """Up to MAX_COMPARED territories ("<level>:<code>", unknown ones dropped) on the COMPARED
    indicators; None when no territory is known."""
    found = [territory_of(index, item) for item in territories[:MAX_COMPARED]]
    cols = [t for t in found if t is not None]
    if not cols:
        return None
    # One store read for every indicator and territory; the latest period of each series
    # (rows come oldest period first: the last one written wins).
    col = store.series_columns(list(COMPARED), [(t.level, t.code) for t in cols])
    latest = dict(
        zip(
            zip(col["indicateur"], col["niveau"], col["code"], strict=True),
            zip(col["valeur"], col["statut"], col["periode"], strict=True),
            strict=True,
        )
    )
    rows = []
    for ident in COMPARED:
        ind = BY_ID[ident]
        row = []
        for t in cols:
            if t.level not in ind.levels:
                row.append(Cell(NOT_CONCERNED, False))
                continue
            last = latest.get((ind.id, t.level, t.code))
            row.append(Cell(NO_DATA if last is None else _text(store, ind, t.level, last), True))
        rows.append((ind.title, row))
    names = [f"{t.name} ({level_name(t.level)})" for t in cols]
    return Comparison(names, rows)
