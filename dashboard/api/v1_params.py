"""Query parameters of the API v1, checked before the store is read (French 400 messages).

Also the preconditions every view shares: a store, a territory build, a level built.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import request

from dashboard.api.openapi import FORMATS
from layers.appdata import AppData, StoreInfo
from layers.catalogue import fold
from layers.model import EAJE_LABELS, FACILITY_TYPES, Indicator, level_name
from layers.territory_index import TerritoryIndex
from layers.views import MAX_QUERY_CHARS, ViewError, indicator, level_of, parent_of, period_of

DEFAULT_LIMIT = MAX_LIMIT = 50_000  # all ~35,000 communes fit one page
MAX_OFFSET = 10_000_000
# Facility type slugs -> labels of the facilities file.
TYPE_SLUGS: dict[str, tuple[str, ...]] = {
    **{ft.slug: (ft.label,) for ft in FACILITY_TYPES},
    "eaje": EAJE_LABELS,
}

ERR_NO_STORE = (
    "Aucun entrepôt d'indicateurs n'est installé : lancez « cafcarto build » "
    "(données de démonstration) ou « cafcarto import » (fichiers Cafdata)."
)
ERR_NO_BUILD = "Le cache géographique n'est pas construit : lancez « cafcarto build »."
ERR_TOO_LONG = "Paramètre « {name} » trop long ({max} caractères au plus)."


def arg(name: str, default: str | None = None, cap: int = MAX_QUERY_CHARS) -> str | None:
    """A query parameter, refused (400) when longer than `cap` characters."""
    value = request.args.get(name)
    if value is None:
        return default
    if len(value) > cap:
        raise ViewError(ERR_TOO_LONG.format(name=name, max=cap))
    return value.strip()


def int_arg(name: str, default: int, low: int, high: int) -> int:
    text = arg(name)
    if text in (None, ""):
        return default
    # isdigit() alone lets "²" through, which int() refuses: ASCII digits only
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ViewError(f"Paramètre « {name} » invalide : un entier de {low} à {high} est attendu.")
    return int(text)


def bool_arg(name: str) -> bool:
    text = (arg(name) or "").lower()
    if text in ("", "0", "false", "non", "no"):
        return False
    if text in ("1", "true", "oui", "yes"):
        return True
    raise ViewError(f"Paramètre « {name} » invalide : 1 ou 0 est attendu.")


def facility_types(text: str | None) -> set[str] | None:
    """Labels wanted by `type` (comma-separated slugs or labels); None = every type."""
    if not text:
        return None
    labels = {fold(lab): lab for labs in TYPE_SLUGS.values() for lab in labs}
    wanted: set[str] = set()
    for part in text.split(","):
        key = fold(part.strip())
        if key in TYPE_SLUGS:
            wanted.update(TYPE_SLUGS[key])
        elif key in labels:
            wanted.add(labels[key])
        else:
            raise ViewError(
                f"Type d'équipement inconnu : « {part.strip()[:40]} ». Types possibles : "
                f"{', '.join(TYPE_SLUGS)}."
            )
    return wanted


def require_store(data: AppData) -> StoreInfo:
    info = data.store()
    if info is None:
        raise ViewError(ERR_NO_STORE, 503)
    return info


def require_index(data: AppData) -> TerritoryIndex:
    index = data.index()
    if index is None or not index.levels():
        raise ViewError(ERR_NO_BUILD, 503)
    return index


def require_level_built(index: TerritoryIndex, level: str) -> None:
    if level not in index.levels():
        raise ViewError(f"Le niveau {level_name(level)} n'est pas construit sur ce serveur.", 404)


@dataclass(frozen=True)
class DataQuery:
    """What /api/v1/data was asked for, every part checked."""

    ind: Indicator
    level: str
    period: str
    parent: tuple[str, str] | None
    fmt: str
    limit: int
    offset: int


def data_query(info: StoreInfo, index: TerritoryIndex) -> DataQuery:
    """The parameters of /api/v1/data, checked in the order their errors are reported."""
    if not arg("indicator"):
        raise ViewError("Paramètre « indicator » requis. La liste est dans /api/v1/catalog.")
    ind = indicator(arg("indicator"))
    level = level_of(ind, arg("level"), index)
    period = period_of(info.store, ind, level, arg("period"))
    parent = parent_of(index, level, arg("parent"))
    fmt = (arg("format") or "json").lower()
    if fmt not in FORMATS:
        raise ViewError(
            f"Format inconnu : « {fmt[:40]} ». Formats possibles : {', '.join(FORMATS)}."
        )
    limit = int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = int_arg("offset", 0, 0, MAX_OFFSET)
    return DataQuery(ind, level, period, parent, fmt, limit, offset)
