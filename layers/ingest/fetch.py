"""Download a dataset from the Cafdata portal (Opendatasoft Explore API v2.1) as a `;` CSV."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from geodata.cog import Cog
from layers.ingest.errors import CafdataDownloadError
from layers.ingest.parse import parse_file
from layers.ingest.report import ImportResult

PORTAL = "https://data.caf.fr"
EXPORT_PATH = "/api/explore/v2.1/catalog/datasets/{id}/exports/csv?delimiter=%3B"
_DATASET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")


def export_url(dataset_id: str, base_url: str = PORTAL) -> str:
    return base_url.rstrip("/") + EXPORT_PATH.format(id=dataset_id)


def fetch_dataset(
    dataset_id: str, *, base_url: str = PORTAL, timeout: float = 30, dest: Path | None = None
) -> Path:
    """Download `dataset_id` to `<dest>/<dataset_id>.csv` (a new temporary folder by default).

    The file is written under a temporary name and renamed when complete, so a failed download
    never leaves a partial CSV behind. Raises `CafdataDownloadError` (French message) when the
    portal cannot be reached or refuses the request.
    """
    if not _DATASET_ID.match(dataset_id):
        raise CafdataDownloadError(f"identifiant de jeu de données invalide : « {dataset_id} »")
    folder = Path(dest) if dest else Path(tempfile.mkdtemp(prefix="cafdata-"))
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{dataset_id}.csv"
    url = export_url(dataset_id, base_url)
    request = urllib.request.Request(
        url, headers={"User-Agent": "cafdata-carto", "Accept": "text/csv"}
    )
    handle, partial = tempfile.mkstemp(dir=folder, prefix=f".{dataset_id}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as r:
            shutil.copyfileobj(r, out, 1 << 20)
        os.replace(partial, final)
    except urllib.error.HTTPError as exc:
        hint = " : jeu de données introuvable sur le portail" if exc.code == 404 else ""
        raise CafdataDownloadError(
            f"le portail a répondu {exc.code} pour le jeu « {dataset_id} »{hint} ({url})"
        ) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CafdataDownloadError(
            f"impossible de télécharger le jeu « {dataset_id} » depuis {base_url} ({reason}) : "
            "vérifiez la connexion (hors ligne ?) ou importez un fichier CSV déjà téléchargé"
        ) from exc
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return final


def import_dataset(
    dataset_id: str, cog: Cog, *, base_url: str = PORTAL, timeout: float = 30
) -> ImportResult:
    """Download a dataset from the portal and parse it (indicators named after `dataset_id`)."""
    path = fetch_dataset(dataset_id, base_url=base_url, timeout=timeout)
    try:
        return parse_file(path, cog, dataset_id=dataset_id)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
