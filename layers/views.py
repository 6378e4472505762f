"""What every page, export and API route shows: published cells joined to their territories.

Pure functions over a `Store` and a `TerritoryIndex`. They validate every parameter against the
catalogue and the store (French messages) and never see a hidden value: the store holds none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.catalogue import BY_ID, offered
from layers.classify import format_fr
from layers.model import (
    BARE_CODE_LEVELS,
    LEVEL,
    LEVEL_CODES,
    REFERENCE_LEVELS,
    SINGLE_IRIS,
    Indicator,
    level_name,
    parent_levels,
)
from layers.periods import label as period_label
from layers.store import MISSING, NOT_APPLICABLE, PUBLISHED, SECRET, Store
from layers.territory_index import TerritoryIndex

STATUS_API = {
    PUBLISHED: "published",
    SECRET: "secret",
    MISSING: "missing",
    NOT_APPLICABLE: "not_applicable",
}
STATUS_FR = {
    PUBLISHED: "publié",
    SECRET: "secret",
    MISSING: "pas de données",
    NOT_APPLICABLE: "non concerné",
}
MAX_QUERY_CHARS = 100


class ViewError(ValueError):
    """A request the data cannot answer; `message` is French, `status` an HTTP code."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def indicator(ident: str | None) -> Indicator:
    ind = BY_ID.get(str(ident or "")[:MAX_QUERY_CHARS])
    if ind is None or not offered(ind.id):
        raise ViewError(
            f"Indicateur inconnu : « {_short(ident)} ». La liste est dans /api/v1/catalog."
        )
    return ind


def level_of(ind: Indicator, level: str | None, index: TerritoryIndex | None = None) -> str:
    """The level asked, checked against the indicator (400) and, given the index, against the
    levels built on this server (404)."""
    if level not in LEVEL:
        raise ViewError(
            f"Niveau inconnu : « {_short(level)} ». Niveaux possibles : {', '.join(LEVEL_CODES)}."
        )
    if level not in ind.levels:
        raise ViewError(
            f"L'indicateur « {ind.title} » n'existe pas au niveau {level_name(level)} "
            f"(niveaux : {', '.join(ind.levels)})."
        )
    if index is not None and level not in index.levels():
        name = level_name(level)
        raise ViewError(f"Le niveau {name} n'est pas construit sur ce serveur.", 404)
    return level


def period_of(store: Store, ind: Indicator, level: str, period: str | None) -> str:
    """The period asked, checked; the latest one when none is asked."""
    periods = store.periods(ind.id, level)
    if not periods:
        raise ViewError(f"Aucune donnée pour « {ind.title} » à ce niveau.", 404)
    if period in (None, "", "derniere"):
        return periods[-1]
    if period not in periods:
        raise ViewError(
            f"Période inconnue : « {_short(period)} ». Périodes disponibles : "
            f"{periods[0]} à {periods[-1]} (format AAAA-MM)."
        )
    return str(period)


def parent_of(index: TerritoryIndex, level: str, parent: str | None) -> tuple[str, str] | None:
    """`departement:69`, or a bare code tried as département, région, EPCI, Caf, commune (a
    code that is both a département and a région is refused as ambiguous)."""
    if not parent:
        return None
    text = str(parent)[:MAX_QUERY_CHARS]
    if ":" in text:
        plevel, code = text.split(":", 1)
        candidates = [plevel]
    else:
        code = text
        candidates = list(BARE_CODE_LEVELS)
    allowed = (*parent_levels(level), level)
    built = index.levels()
    found = [lv for lv in candidates if lv in allowed and lv in built and index.get(lv, code)]
    if {"departement", "region"} <= set(found):  # 84: Vaucluse or Auvergne-Rhône-Alpes?
        raise ViewError(
            f"Code ambigu : « {_short(code)} » est un département et une région. Précisez "
            f"departement:{_short(code)} ou region:{_short(code)}."
        )
    if found:
        return found[0], code
    raise ViewError(
        f"Territoire parent inconnu pour ce niveau : « {_short(parent)} ». "
        "Exemples : departement:69, region:84, epci:200046977."
    )


def layer(
    store: Store,
    index: TerritoryIndex,
    ind: Indicator,
    level: str,
    period: str,
    parent: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """Every territory of the level (or of the parent), in feature order.

    Columns: fid (feature id), code, nom, valeur, statut (store vocabulary); a territory the
    store does not know is "manquant" ("sans objet" for an IRIS of type Z, whose value is its
    commune's).
    """
    table = index.table(level)
    cells = store.layer_columns(ind.id, level, period)
    # Arrays placed by feature id, not a pandas merge: 5-8 ms of a small level's answer.
    every = store.level_codes(level)
    if every is None or "position" not in cells:
        fids = index.positions(level, cells["code"])
    else:  # the level's codes placed once per process, then one take
        fids = index.placed(level, every)[cells["position"]]
    known = fids >= 0
    fids = fids[known]
    status = np.full(len(table), MISSING, dtype=object)
    if "type_iris" in table.columns:  # an IRIS that is its whole commune: see the commune
        status[(table["type_iris"].astype(str) == SINGLE_IRIS).to_numpy()] = NOT_APPLICABLE
    status[fids] = cells["statut"][known]
    values = np.full(len(table), np.nan)
    values[fids] = cells["valeur"][known]
    values[status != PUBLISHED] = np.nan
    merged = pd.DataFrame(
        {
            "fid": np.arange(len(table), dtype=np.int64),
            "code": table["code"].array,
            "nom": table["nom"].array,
            "valeur": values,
            "statut": pd.array(status, dtype="str"),
        }
    )
    if parent is not None:
        merged = merged[index.children(level, *parent).to_numpy()]
    return merged.reset_index(drop=True)


def rank(values: pd.Series) -> pd.Series:
    """Rank 1 = highest published value; None for a hidden cell."""
    return values.rank(ascending=False, method="min")


def series_with_references(
    store: Store, index: TerritoryIndex, ind: Indicator, level: str, code: str
) -> pd.DataFrame:
    """The territory's series and its parents' (EPCI, département, région, France), on the
    territory's own periods. Columns: role, niveau, code, nom, periode, valeur, statut."""
    terr = index.get(level, code)
    if terr is None:
        raise ViewError(f"Territoire inconnu : {level_name(level)} « {code} ».", 404)
    wanted = [(level, code)]
    for plevel in REFERENCE_LEVELS:
        pcode = terr.parents.get(plevel)
        if pcode and plevel in ind.levels:
            wanted.append((plevel, pcode))
    cols = store.series_columns(ind.id, wanted)
    # A few dozen rows: plain arrays and positions, one frame built at the end (a pandas
    # operation per step cost ~8 ms of the evolution chart's callback).
    levels, periods = cols["niveau"].tolist(), cols["periode"].tolist()
    pairs = list(zip(levels, cols["code"].tolist(), strict=True))
    own = {p for pair, p in zip(pairs, periods, strict=True) if pair == (level, code)}
    keep = [i for i, p in enumerate(periods) if not own or p in own]
    names = {pair: index.name(*pair) or pair[1] for pair in set(pairs)}  # one per territory
    values = cols["valeur"][keep].copy()
    values[cols["statut"][keep] != PUBLISHED] = float("nan")
    return pd.DataFrame(
        {
            "role": ["territoire" if pairs[i] == (level, code) else levels[i] for i in keep],
            "niveau": cols["niveau"][keep],
            "code": cols["code"][keep],
            "nom": [names[pairs[i]] for i in keep],
            "periode": cols["periode"][keep],
            "valeur": values,
            "statut": cols["statut"][keep],
        },
        index=pd.RangeIndex(len(levels))[keep],
    )


def value_text(value: float | None, status: str, ind: Indicator) -> str:
    """French text of a cell: "1 234 foyers", "12,3 %", "secret", "pas de données"."""
    if status != PUBLISHED or value is None or pd.isna(value):
        return STATUS_FR.get(status, "pas de données")
    unit = ind.unit
    return f"{format_fr(float(value), ind.decimals)}\u00a0{unit}".strip()


def period_text(period: str) -> str:
    try:
        return period_label(period)
    except (KeyError, ValueError):
        return period


def _short(value: object) -> str:
    text = str(value) if value is not None else ""
    return text[:40] + ("…" if len(text) > 40 else "")
