"""Import of real Cafdata files (data.caf.fr and its older exports) into the long format.

`parse_file(path, cog)` -> `ImportResult(rows, report, provenance)`; `fetch_dataset(id)`
downloads a dataset from the portal's Opendatasoft API; `import_dataset(id, cog)` does both.
"""

from layers.ingest.errors import CafdataDownloadError, CafdataFormatError
from layers.ingest.fetch import fetch_dataset, import_dataset
from layers.ingest.parse import parse_file
from layers.ingest.report import ROW_COLUMNS, ImportReport, ImportResult

__all__ = [
    "ROW_COLUMNS",
    "CafdataDownloadError",
    "CafdataFormatError",
    "ImportReport",
    "ImportResult",
    "fetch_dataset",
    "import_dataset",
    "parse_file",
]
