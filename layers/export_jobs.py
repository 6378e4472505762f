"""The work of the long exports, as plain functions with a progress callback (run by Dash
background callbacks, testable without them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from layers.appdata import AppData
from layers.catalogue import BY_ID
from layers.export_files import ATLAS_MAX_COMMUNES, save_export
from layers.export_tables import ExportMeta, export_rows, to_xlsx, with_uncontoured
from layers.model import FILTER_LEVELS, Indicator
from layers.profile import Profile, profile
from layers.profile_pdf import atlas_pdf
from layers.qpv_uncontoured import listed_cells
from layers.store import Store
from layers.territory_index import TerritoryIndex
from layers.views import ViewError, layer, parent_of

Progress = Callable[[int, int], None]
# What the page's progress bar shows: (percent, its label, the step in words).
ProgressSetter = Callable[[tuple[int, str, str]], None]
ExportKind = Literal["xlsx", "atlas"]

ERR_NO_DATA = "Les données ne sont pas disponibles : l'export est impossible."
ERR_NO_FILTER = (
    "Pour un atlas, choisissez d'abord un EPCI (ou un autre territoire) dans « Territoire "
    "affiché » : l'atlas réunit sa fiche et celles de ses communes."
)
STEP = {"atlas": "fiche", "xlsx": "ligne"}


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
    cells = with_uncontoured(cells, listed_cells(store, index, ind.id, level, period, parent))
    meta = ExportMeta.of(ind, level, period, notice, store.provenance(ind.id, level, period))
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


def megabytes(n: int) -> str:
    """« 1,2 Mo »."""
    return f"{n / 1e6:.1f}".replace(".", ",") + " Mo"


def progress_reporter(kind: ExportKind, set_progress: ProgressSetter) -> Progress:
    """The (done, total) callback of a job turned into the page's percent and French step."""
    step = STEP[kind]

    def progress(done: int, total: int) -> None:
        pct = int(100 * done / total) if total else 100
        text = (
            f"{step.capitalize()} {min(done + 1, total)} sur {total}"
            if done < total
            else "Mise en page du fichier…"
        )
        set_progress((pct, f"{pct} %", text))

    return progress


def run_export(
    data: AppData, kind: ExportKind, state: Mapping[str, str | None], set_progress: ProgressSetter
) -> tuple[str, str]:
    """Do the job of the explore page's state (indicateur, niveau, periode, filtre); returns
    (URL of the file, French status). Raises ViewError (French message)."""
    info, index = data.store(), data.index()
    if info is None or index is None:
        raise ViewError(ERR_NO_DATA, 503)
    progress = progress_reporter(kind, set_progress)
    if kind == "atlas":
        level, _, code = (state.get("filtre") or "").partition(":")
        if not code:
            raise ViewError(ERR_NO_FILTER)
        body, name = epci_atlas(
            info.store, index, level, code, info.notice, progress, ATLAS_MAX_COMMUNES
        )
        what = "Atlas PDF"
    else:
        ind = BY_ID.get(state.get("indicateur") or "")
        niveau, periode = state.get("niveau"), state.get("periode")
        if ind is None or not niveau or not periode:
            raise ViewError(ERR_NO_DATA)
        parent = parent_of(index, niveau, state.get("filtre"))
        body, name = view_xlsx(
            info.store, index, ind, niveau, periode, parent, info.notice, progress
        )
        what = "Classeur Excel"
    url = save_export(data.settings, name, body)
    return url, f"{what} prêt ({megabytes(len(body))}) : le téléchargement démarre."
