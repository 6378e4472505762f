"""Import of real Cafdata files (data.caf.fr and its older exports) into the long format.

`parse_file(path, cog)` -> `ImportResult(rows, report, provenance)` (CSV, JSON records, or the
portal's Parquet export); `PortalClient` lists the portal's datasets and downloads them
(`layers/ingest/portal.py`); `layers/ingest/sync.py` does both for every dataset (`cafcarto sync`).
"""

from layers.ingest.errors import CafdataDownloadError, CafdataFormatError
from layers.ingest.parse import parse_file
from layers.ingest.portal import PortalClient, PortalDataset, PortalError, PortalUnreachable
from layers.ingest.report import ROW_COLUMNS, ImportReport, ImportResult

__all__ = [
    "ROW_COLUMNS",
    "CafdataDownloadError",
    "CafdataFormatError",
    "ImportReport",
    "ImportResult",
    "PortalClient",
    "PortalDataset",
    "PortalError",
    "PortalUnreachable",
    "parse_file",
]
