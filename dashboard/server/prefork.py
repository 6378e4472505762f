"""What the gunicorn master loads before the fork, so that the workers share it.

Each worker otherwise built its own copy on its first requests, private memory three times
over: the build's index and the store's periods (`AppData.warm`), and the per-build objects
every visit reads: the store's provenance table, the facilities and their rows by commune,
Plotly's validator tables (read by the profile's figure template), the map filter's options,
the profile's lookups (a city's arrondissements, an EPCI's communes) and the component classes
the Dash request check reads (`dashboard.server.dash_requests`). Nothing here opens the
store's DuckDB connection, which must not cross a fork: the page layouts (profiles) are built
only when the store's cell tables answer them.
"""

from __future__ import annotations

import dash

from dashboard.server import dash_requests
from layers import facility_search
from layers.appdata import EXTENSION, AppData, active_dir
from layers.cell_tables import CellTables
from layers.options import filter_options
from layers.profile import warm_lookups
from layers.profile_figures import template_json


def warm_before_fork(app: dash.Dash) -> None:
    """Load the build's shared read-only objects in this (the master) process."""
    server = app.server
    data: AppData = server.extensions[EXTENSION]
    data.warm()
    with server.app_context():
        index, info = data.index(), data.store()
        if index is not None:
            filter_options(index)
            warm_lookups(index)
        points = data.facilities()
        if points is not None:
            facility_search.warm(points.table)
        template_json()
        if info is None:
            return
        info.store.provenance("", "", "")  # reads the store's provenance table once
        folder = active_dir(data.settings.store_import) or active_dir(data.settings.store_demo)
        if folder is not None and CellTables.open(folder) is not None:
            dash_requests.component_classes(app)
