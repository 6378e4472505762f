"""The work of the long exports, as plain functions with a progress callback (run by Dash
background callbacks, testable without them)."""

from __future__ import annotations

from collections.abc import Callable

from layers.export_tables import ExportMeta, export_rows, to_xlsx
from layers.model import FILTER_LEVELS, Indicator
from layers.profile import Profile, profile
from layers.profile_pdf import atlas_pdf
from layers.store import Store
from layers.territory_index import TerritoryIndex
from layers.views import ViewError, layer

Progress = Callable[[int, int], None]


def view_xlsx(
    store: Store,
    index: TerritoryIndex,
    ind: Indicator,
    level: str,
    period: str,
    parent: tuple[str, str] | None,
    notice: str | None,
    progress: Progress,
) -> tuple[bytes, str]:
    """Excel of exactly the map's view (every territory of the level or of the filter)."""
    cells = layer(store, index, ind, level, period, parent)
    meta = ExportMeta.of(ind, level, period, notice)
    body = to_xlsx(export_rows(cells, meta), meta, progress)
    return body, meta.filename("xlsx")


def atlas_communes(index: TerritoryIndex, level: str, code: str) -> list[str]:
    """Codes of the communes of an EPCI (or of any level above), by name."""
    if level not in FILTER_LEVELS:
        raise ViewError("Un atlas se fait pour un EPCI, un département, une Caf ou une région.")
    sel = index.table("commune")[index.children("commune", level, code)]
    return sel.sort_values("nom")["code"].astype(str).tolist()


def epci_atlas(
    store: Store,
    index: TerritoryIndex,
    level: str,
    code: str,
    notice: str | None,
    progress: Progress,
    max_communes: int,
) -> tuple[bytes, str]:
    """One PDF: the territory's profile, then each of its communes' (alphabetical)."""
    terr = index.get(level, code)
    if terr is None:
        raise ViewError("Territoire inconnu.", 404)
    codes = atlas_communes(index, level, code)
    if len(codes) > max_communes:
        raise ViewError(
            f"{terr.name} compte {len(codes)} communes : un atlas en compte au plus "
            f"{max_communes}. Choisissez un EPCI plus petit."
        )
    todo = [(level, code), *(("commune", c) for c in codes)]
    profiles: list[Profile] = []
    for i, (lv, c) in enumerate(todo):
        progress(i, len(todo))
        profiles.append(profile(store, index, lv, c, notice))
    title = f"Atlas des communes : {terr.name} ({len(codes)} communes)"
    progress(len(todo), len(todo))
    return atlas_pdf(title, profiles, notice), f"atlas_{level}_{code}.pdf"
