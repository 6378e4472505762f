"""Client of the Cafdata portal (data.caf.fr, Opendatasoft Explore API v2.1).

The catalogue (`catalog/datasets`, paged by 100) gives each dataset's metadata and fields; a
whole dataset comes from `exports/parquet` (no 10,000-row limit), or from `exports/csv` when the
portal refuses Parquet. A download is written to a `.part` file, resumed with a `Range` header
when the server allows it, checked (length, Parquet footer) and only then renamed: a body that
ends early is an error for that dataset, never a partial file.

Proxies: urllib's default handlers read `http_proxy`, `https_proxy` and `no_proxy` from the
environment, so the standard proxy variables are honoured without any code here (each client
builds its opener, hence reads them when it is created).
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from layers.config import DEFAULT_PORTAL
from layers.ingest.errors import CafdataDownloadError

API = "/api/explore/v2.1/catalog/datasets"
PAGE = 100
USER_AGENT = "cafdata-carto"
CHUNK = 1 << 16
PARQUET_MAGIC = b"PAR1"
_DATASET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")

# bytes received, bytes expected (None when the server does not say)
ProgressFn = Callable[[int, int | None], None]


class PortalError(CafdataDownloadError):
    """A request to the portal failed; the message (French) names the dataset and the cause."""


class PortalUnreachable(PortalError):
    """The portal cannot be reached at all (offline, wrong address, closed port)."""


@dataclass(frozen=True)
class PortalField:
    name: str
    label: str = ""
    type: str = ""
    description: str = ""


@dataclass(frozen=True)
class PortalDataset:
    """One dataset of the catalogue: `metas.default` and `fields` of the Explore API."""

    dataset_id: str
    title: str = ""
    description: str = ""
    modified: str = ""
    data_processed: str = ""
    records_count: int = 0
    theme: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    license: str = ""
    fields: tuple[PortalField, ...] = field(default_factory=tuple)

    @property
    def version(self) -> str:
        """What changes when the portal republishes the data."""
        return self.data_processed or self.modified

    @property
    def updated(self) -> str:
        """The portal's update date, "YYYY-MM-DD" ("" when unknown)."""
        return self.version[:10]

    def field_names(self) -> list[str]:
        return [f.name.lower() for f in self.fields]

    def meta_json(self) -> dict:
        """This dataset's entry of the store's `portail.json`: `mis_a_jour` the update date,
        `traite_le` the portal's version (`data_processed`, else `modified`) in full."""
        return {
            "titre": self.title,
            "description": self.description,
            "mis_a_jour": self.updated,
            "traite_le": self.version,
            "theme": list(self.theme),
            "mots_cles": list(self.keywords),
            "licence": self.license,
            "lignes": self.records_count,
            "champs": {
                f.name: {"libelle": f.label, "description": f.description, "type": f.type}
                for f in self.fields
            },
        }


def _as_tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)  # type: ignore[union-attr]


def dataset_from_api(item: dict) -> PortalDataset:
    """A catalogue result (`dataset_id`, `metas.default`, `fields`) as a `PortalDataset`."""
    meta = (item.get("metas") or {}).get("default") or {}
    return PortalDataset(
        dataset_id=str(item["dataset_id"]),
        title=meta.get("title") or "",
        description=meta.get("description") or "",
        modified=meta.get("modified") or "",
        data_processed=meta.get("data_processed") or "",
        records_count=int(meta.get("records_count") or 0),
        theme=_as_tuple(meta.get("theme")),
        keywords=_as_tuple(meta.get("keyword")),
        license=meta.get("license") or "",
        fields=tuple(
            PortalField(
                str(f.get("name", "")),
                f.get("label") or "",
                f.get("type") or "",
                f.get("description") or "",
            )
            for f in item.get("fields") or []
        ),
    )


def check_dataset_id(dataset_id: str) -> str:
    if not _DATASET_ID.match(dataset_id):
        raise PortalError(f"identifiant de jeu de données invalide : « {dataset_id} »")
    return dataset_id


class PortalClient:
    """Requests to one portal, with a timeout and the project's User-Agent."""

    def __init__(self, base_url: str = DEFAULT_PORTAL, *, timeout: float = 60) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # urllib's default handlers, proxies read from the environment now (urlopen's global
        # opener would keep those of its first use)
        self._opener = urllib.request.build_opener()

    def url(self, path: str) -> str:
        return f"{self.base_url}{API}{path}"

    def unreachable(self, reason: object) -> PortalUnreachable:
        return PortalUnreachable(
            f"le portail {self.base_url} est injoignable (hors ligne ?) : importez des fichiers "
            f"déjà téléchargés avec « cafcarto import fichier.csv » ({reason})"
        )

    def open(self, url: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
        return self._opener.open(request, timeout=self.timeout)

    def catalogue(self) -> list[PortalDataset]:
        """Every dataset of the portal, page by page until `total_count`."""
        found: list[PortalDataset] = []
        offset, total = 0, None
        while total is None or offset < total:
            page = self._json(self.url(f"?limit={PAGE}&offset={offset}"))
            total = int(page.get("total_count") or 0)
            results = page.get("results") or []
            found += [dataset_from_api(item) for item in results]
            if not results:
                break
            offset += len(results)
        return found

    def _json(self, url: str) -> dict:
        try:
            with self.open(url, {"Accept": "application/json"}) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise PortalError(
                f"le catalogue du portail a répondu {exc.code} ({_status_text(exc.code)}) : {url}"
            ) from exc
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise self._failure("", exc) from exc
        except ValueError as exc:
            raise PortalError(f"le catalogue du portail n'est pas du JSON lisible : {url}") from exc

    def download(
        self,
        dataset_id: str,
        folder: Path,
        *,
        tag: str = "",
        progress: ProgressFn | None = None,
    ) -> Path:
        """Download a whole dataset into `folder`: `<id>.parquet`, or `<id>.csv` when the
        portal refuses Parquet. `tag` (the dataset's version) names the `.part` file, so that
        only a download of the same version is resumed. Raises `PortalError` (French) and leaves
        no final file on failure (the `.part` stays, to be resumed)."""
        check_dataset_id(dataset_id)
        folder.mkdir(parents=True, exist_ok=True)
        parquet = folder / f"{dataset_id}.parquet"
        try:
            url = self.url(f"/{dataset_id}/exports/parquet")
            return self._fetch(url, parquet, dataset_id, tag, progress, parquet=True)
        except _ParquetRefused:
            pass
        csv = folder / f"{dataset_id}.csv"
        url = self.url(f"/{dataset_id}/exports/csv?delimiter=%3B")
        return self._fetch(url, csv, dataset_id, tag, progress, parquet=False)

    def _fetch(
        self,
        url: str,
        final: Path,
        dataset_id: str,
        tag: str,
        progress: ProgressFn | None,
        *,
        parquet: bool,
    ) -> Path:
        part = final.with_name(f"{final.name}.{tag or 'v'}.part")
        for stale in final.parent.glob(f"{final.name}.*.part"):
            if stale != part:
                stale.unlink()
        have = part.stat().st_size if part.exists() else 0
        try:
            resp = self.open(url, {"Range": f"bytes={have}-"} if have else None)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # the .part is not a prefix of this body: restart
                part.unlink()
                return self._fetch(url, final, dataset_id, tag, progress, parquet=parquet)
            if parquet and 400 <= exc.code < 500 and exc.code != 404:
                raise _ParquetRefused from exc
            raise PortalError(
                f"jeu « {dataset_id} » : le portail a répondu {exc.code} ({_status_text(exc.code)})"
            ) from exc
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise self._failure(dataset_id, exc) from exc
        with resp:
            if resp.status == 206 and _range_start(resp) != have:
                part.unlink()  # not the rest of our .part: start over without a Range
                return self._fetch(url, final, dataset_id, tag, progress, parquet=parquet)
            self._receive(resp, part, have, dataset_id, progress)
        if parquet and not _looks_parquet(part):
            part.unlink()
            raise _ParquetRefused
        part.replace(final)
        return final

    def _failure(self, dataset_id: str, exc: BaseException) -> PortalError:
        """A timeout, or the portal unreachable (the catalogue when `dataset_id` is "")."""
        reason = getattr(exc, "reason", exc)
        what = f"jeu « {dataset_id} »" if dataset_id else "catalogue"
        if isinstance(reason, TimeoutError) or isinstance(exc, TimeoutError):
            return PortalError(
                f"{what} : le portail n'a pas répondu en {self.timeout:g} s "
                "(délai dépassé ; relancez « cafcarto sync » pour reprendre)"
            )
        return self.unreachable(reason)

    def _receive(
        self,
        resp: http.client.HTTPResponse,
        part: Path,
        have: int,
        dataset_id: str,
        progress: ProgressFn | None,
    ) -> None:
        start, body, total = _expected(resp, have)
        got = 0
        try:
            with part.open("ab" if start else "wb") as out:
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    got += len(chunk)
                    if progress:
                        progress(start + got, total)
        except http.client.IncompleteRead:
            pass  # counted below: fewer bytes than announced
        except (TimeoutError, OSError) as exc:
            raise self._failure(dataset_id, exc) from exc
        if body is not None and got < body:
            raise PortalError(
                f"jeu « {dataset_id} » : réponse tronquée ({start + got} octets reçus sur "
                f"{start + body} annoncés) ; relancez « cafcarto sync » pour reprendre"
            )


class _ParquetRefused(Exception):
    """The portal answered the Parquet export with a refusal or a body that is not Parquet."""


def _looks_parquet(path: Path) -> bool:
    size = path.stat().st_size
    if size < 12:
        return False
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(size - 4)
        return head == PARQUET_MAGIC and handle.read(4) == PARQUET_MAGIC


def _expected(resp: http.client.HTTPResponse, have: int) -> tuple[int, int | None, int | None]:
    """(offset the body starts at, its length, the whole file's length) from the headers: a
    206 continues the `.part` (Content-Range), anything else starts over."""
    length = resp.headers.get("Content-Length")
    body = int(length) if length and length.isdigit() else None
    if resp.status == 206:
        total = _CONTENT_RANGE.match(resp.headers.get("Content-Range", "")).group(2)
        return have, body, int(total) if total.isdigit() else None
    return 0, body, body


_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")


def _range_start(resp: http.client.HTTPResponse) -> int | None:
    """Where a 206 body starts (None when its Content-Range is missing or unreadable)."""
    match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _status_text(code: int) -> str:
    if code == 404:
        return "jeu introuvable"
    if code >= 500:
        return "erreur du portail, réessayez plus tard"
    return "requête refusée"
