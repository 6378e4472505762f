"""The data the server answers from: the geometry build in service and the indicator store.

The imported store (real Cafdata files) wins over the demonstration when it exists; `demo`
says which one is in use, so that every page and export can carry the notice. Both follow their
`current` symlink: a new build is picked up without restarting the server.

Callbacks and routes reach the app's `AppData` through `current_data()`: the Flask app's
extension (`init_app`) inside a request, else the process's own (a background job's process,
a Celery worker), set by `use_settings`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

if TYPE_CHECKING:
    from flask import Flask

from geodata.cache import active_dir as _active_dir
from layers import catalogue as catalogue_module
from layers.catalogue import CURATED, Catalogue
from layers.cell_tables import CellTables
from layers.config import Settings
from layers.portal_catalogue import store_catalogue
from layers.store import Store, StoreError
from layers.territory_index import TerritoryIndex

DEMO_NOTICE = (
    "Données de démonstration : valeurs générées à partir des populations réelles, "
    "après secret statistique. Ce ne sont pas des chiffres de la Cnaf. "
    "Pour afficher les données réelles : make sync (ou cafcarto sync)."
)

FACILITIES_DEMO_NOTICE = (
    "Équipements fictifs (données de démonstration) : points générés dans les communes réelles, "
    "ce ne sont pas des établissements existants."
)


@dataclass(frozen=True)
class StoreInfo:
    store: Store
    demo: bool
    folder: Path
    # The catalogue this store serves: curated only for the demonstration (its generator
    # makes the curated series), curated + the portal's series for a real store.
    catalogue: Catalogue = CURATED

    @classmethod
    def open(cls, folder: Path, demo: bool) -> StoreInfo:
        store = Store(folder)
        if demo:
            return cls(store, demo, folder)
        return cls(store, demo, folder, store_catalogue(folder, store.availability()))

    @property
    def notice(self) -> str | None:
        return DEMO_NOTICE if self.demo else None


@dataclass(frozen=True)
class FacilitySet:
    """Facility points and where they come from (generated ones carry the notice)."""

    table: pd.DataFrame
    demo: bool
    path: Path

    @property
    def notice(self) -> str | None:
        return FACILITIES_DEMO_NOTICE if self.demo else None

    @property
    def version(self) -> str:
        """Changes whenever the facilities file in service changes (a new import or build)."""
        stat = self.path.stat()
        key = f"{self.path}:{stat.st_mtime_ns}:{stat.st_size}"
        return hashlib.sha256(key.encode()).hexdigest()[:12]


class AppData:
    """Thread-safe, lazily (re)loaded access to the build and the store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._index: tuple[Path, TerritoryIndex] | None = None
        self._store: tuple[Path, StoreInfo] | None = None
        self._facilities: tuple[Path, FacilitySet] | None = None

    def index(self) -> TerritoryIndex | None:
        build = active_dir(self.settings.cache)  # resolved
        if build is None:
            return None
        with self._lock:
            if self._index is None or self._index[0] != build:
                self._index = (build, TerritoryIndex(build))
            return self._index[1]

    def warm(self) -> None:
        """Read the build's per-process tables now: the index, and the store's periods and level
        codes when its cell tables answer them (no DuckDB connection, which must not cross a
        fork)."""
        index = self.index()
        if index is not None:
            index.warm()
        folder = active_dir(self.settings.store_import) or active_dir(self.settings.store_demo)
        if folder is not None and CellTables.open(folder) is not None:
            info = self.store()
            if info is not None:
                info.store.availability()
                info.store.warm_layers()

    def store(self) -> StoreInfo | None:
        """The imported store when there is one, else the demonstration (None if neither).

        Its catalogue becomes the process's catalogue in service (`layers.catalogue.activate`):
        every caller reaches the data through here first, so pages, callbacks, exports and the
        API list the series of the store they answer from."""
        info = self._open_store()
        catalogue_module.activate(None if info is None else info.catalogue)
        return info

    def _open_store(self) -> StoreInfo | None:
        for root, demo in ((self.settings.store_import, False), (self.settings.store_demo, True)):
            folder = active_dir(root)  # resolved
            if folder is None:
                continue
            with self._lock:
                if self._store is None or self._store[0] != folder:
                    try:
                        self._store = (folder, StoreInfo.open(folder, demo))
                    except (StoreError, OSError, json.JSONDecodeError, duckdb.Error):
                        continue
                return self._store[1]
        return None

    def facilities(self) -> FacilitySet | None:
        """EAJE and LAEP points: the file imported with `cafcarto equipements`, else the
        demonstration's (generated beside the demonstration store, whatever store serves)."""
        for root, demo in (
            (self.settings.facilities_import, False),
            (self.settings.store_demo, True),
        ):
            folder = active_dir(root)
            path = None if folder is None else folder / "equipements.parquet"
            if path is not None and path.is_file():
                path = path.resolve()
                with self._lock:
                    if self._facilities is None or self._facilities[0] != path:
                        table = pd.read_parquet(path)
                        self._facilities = (path, FacilitySet(table, demo, path))
                    return self._facilities[1]
        return None


def active_dir(root: Path) -> Path | None:
    """The build in service under `root`, the same for the whole request: a build published
    while a request runs must not give it the old geometry and the new store (or the old
    answer under the new build's header). Outside a request, the `current` link now."""
    return active_dirs((root,))[0]


def active_dirs(roots: tuple[Path, ...]) -> list[Path | None]:
    """active_dir of each root, looking up the request's pins once for all."""
    from flask import g, has_request_context

    if not has_request_context():
        return [_active_dir(root) for root in roots]
    pins = g.get("cafcarto_builds")
    if pins is None:
        pins = g.cafcarto_builds = {}
    found = []
    for root in roots:
        pinned = pins.get(root, _UNSEEN)
        if pinned is _UNSEEN:
            pinned = pins[root] = _active_dir(root)
        found.append(pinned)
    return found


_UNSEEN = object()  # a root not looked up yet in this request (None: nothing built there)


EXTENSION = "cafcarto"
_process_data: AppData | None = None


def init_app(server: Flask, data: AppData) -> None:
    """Attach the data to a Flask app (`server.extensions`), and make it the process default."""
    global _process_data
    server.extensions[EXTENSION] = data
    _process_data = data


def use_settings(settings: Settings) -> AppData:
    """The process default outside any request: a background job's process, a Celery worker."""
    global _process_data
    _process_data = AppData(settings)
    return _process_data


def current_data() -> AppData:
    """The AppData of the app serving the request, else the process default."""
    from flask import current_app, has_app_context

    if has_app_context() and EXTENSION in current_app.extensions:
        return current_app.extensions[EXTENSION]
    if _process_data is None:
        raise RuntimeError("AppData non initialisée : create_app() ou use_settings() d'abord")
    return _process_data
